"""The FHIR outbox (issue 17, H38): a release writes its MedicationDispense and the bedside its
MedicationAdministration in the same transaction as the change; the worker sends them in order as
conditional updates, retries with back-off when the receiver is down, slow or answers 500, never drops one
and never makes a duplicate — against a stand-in that fails on purpose and a real FHIR server (Medplum)."""

from __future__ import annotations

import socket
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from pharmacy.db.models import Bag, FhirOutbox
from pharmacy.services import administration, bags, outbox
from tests import factories
from tests.factories import PASSWORDS
from tests.fhir_resources import validate
from tests.fhir_servers import Medplum, StandIn


def closed_port_url() -> str:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}/fhir"


@pytest.fixture
def stand_in():
    server = StandIn()
    yield server
    server.stop()


@pytest.fixture
def sending(pharmacy):
    """The pharmacy with a FHIR server configured (``sending(url)``; a bearer token for it)."""
    def configure(url: str) -> None:
        pharmacy.settings = replace(pharmacy.settings, fhir_outbound_url=url, fhir_outbound_token="secret-for-the-ehr")
    configure(closed_port_url())
    return configure


def queued(pharmacy, state: str | None = None) -> list[FhirOutbox]:
    with pharmacy.uow(readonly=True) as uow:
        query = select(FhirOutbox).order_by(FhirOutbox.id)
        if state:
            query = query.where(FhirOutbox.state == state)
        return list(uow.session.execute(query).scalars())


def given_bag(pharmacy, clock):
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    factories.start_infusion(pharmacy, bag.serial)
    clock.advance(hours=4)
    administration.end(pharmacy, "nurse", bag.serial)
    return bag


@pytest.mark.hazard("H38")
def test_a_release_queues_its_medication_dispense_with_performers_ingredients_lots_and_use_by(pharmacy, sending, clock):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    [row] = queued(pharmacy)
    dispense = validate(row.body)
    assert (row.event, row.resource_type, row.resource_id, row.search) == (
        "bag.release", "MedicationDispense", bag.serial, f"identifier=urn:pharmacy:bag|{bag.serial}")
    assert dispense["status"] == "completed" and dispense["subject"]["identifier"]["value"] == "P-1"
    functions = {p["function"]["coding"][0]["code"]: p["actor"]["identifier"]["value"] for p in dispense["performer"]}
    assert functions == {"packager": "tech", "checker": "pharm"}
    assert dispense["whenHandedOver"] and dispense["whenPrepared"]
    contained = {c["id"]: c for c in dispense["contained"]}
    assert contained["bag"]["batch"]["expirationDate"] == bag.use_by.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert contained["vial"]["batch"] == {"lotNumber": "K123A", "expirationDate": "2028-06-30"}
    assert contained["diluent"]["batch"]["lotNumber"] and contained["diluent"]["batch"]["expirationDate"]
    assert [i["itemReference"]["reference"] for i in contained["bag"]["ingredient"]] == ["#vial", "#diluent"]
    atc = [c["code"] for c in contained["bag"]["code"]["coding"] if c["system"] == "http://www.whocc.no/atc"]
    assert atc == ["L04AG06"] and dispense["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 12


@pytest.mark.hazard("H38")
def test_the_message_and_the_release_commit_together_or_not_at_all(pharmacy, sending, monkeypatch):
    prep, _ = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(outbox, "enqueue", broken)
    from pharmacy.services import release

    with pytest.raises(RuntimeError):
        release.decide(pharmacy, "pharm", prep.id, prep.version, PASSWORDS["pharm"], "released",
                       bag_scan=factories.in_process_scan(prep.id))
    with pharmacy.uow(readonly=True) as uow:
        assert uow.session.execute(select(Bag.state)).scalar_one().value == "awaiting_check"
    assert queued(pharmacy) == []


@pytest.mark.hazard("H38")
def test_the_bedside_queues_in_progress_then_completed_or_stopped_with_the_reason(pharmacy, sending, clock):
    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    factories.start_infusion(pharmacy, bag.serial)
    clock.advance(hours=1)
    administration.end(pharmacy, "nurse", bag.serial, "patient_reaction", "Rash and fever after one hour")
    rows = [r for r in queued(pharmacy) if r.resource_type == "MedicationAdministration"]
    started, stopped = (validate(r.body) for r in rows)
    assert (started["status"], stopped["status"]) == ("in-progress", "stopped")
    assert "end" not in started["effectivePeriod"] and stopped["effectivePeriod"]["end"]
    assert "Rash and fever" in stopped["statusReason"][0]["text"]
    assert started["performer"][0]["actor"]["identifier"]["value"] == "nurse"
    assert started["dosage"]["dose"] == {"value": 12, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}
    other = factories.bedside_bag(pharmacy, pharmacy.vial_serials[1], factories.patient("P-2", "Bea Other"),
                                   on=factories.today(pharmacy))
    factories.start_infusion(pharmacy, other.serial, wristband="P-2")
    clock.advance(hours=4)
    administration.end(pharmacy, "nurse", other.serial)
    assert validate(queued(pharmacy)[-1].body)["status"] == "completed"


@pytest.mark.hazard("H38")
def test_a_destroyed_bag_corrects_its_dispense_to_stopped(pharmacy, sending):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    bags.dispose_bag(pharmacy, "pharm", bag.serial, "contaminated", "Bag dropped on the floor and leaked", confirmed=True,
                     password=PASSWORDS["pharm"])
    last = validate(queued(pharmacy)[-1].body)
    assert (last["resourceType"], last["status"]) == ("MedicationDispense", "stopped")
    assert "dropped" in last["statusReasonCodeableConcept"]["text"].lower()


def test_nothing_is_queued_without_a_fhir_server(pharmacy):
    factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    assert queued(pharmacy) == []


@pytest.mark.hazard("H38")
def test_a_receiver_that_is_down_slow_or_answers_500_loses_nothing_and_gets_no_duplicate(pharmacy, sending, stand_in,
                                                                                        clock, monkeypatch):
    given_bag(pharmacy, clock)
    assert len(queued(pharmacy)) == 3  # dispense, in-progress, completed
    round_ = outbox.deliver(pharmacy)  # down: nobody listens
    assert (round_.sent, round_.failed) == (0, 2)  # the dispense and the start; the end waits for the start
    failing = queued(pharmacy, "pending")
    assert failing[0].attempts == 1 and "not reached" in failing[0].last_error and failing[2].attempts == 0
    sending(stand_in.base)
    assert outbox.deliver(pharmacy).sent == 0  # not due yet: back-off
    stand_in.mode = "500"
    clock.advance(seconds=11)
    assert outbox.deliver(pharmacy).failed == 2
    assert "the record is down for maintenance" in queued(pharmacy, "pending")[0].last_error
    stand_in.mode, stand_in.delay = "slow", 1.0
    monkeypatch.setattr(outbox, "TIMEOUT_SECONDS", 0.3)
    clock.advance(seconds=21)
    assert outbox.deliver(pharmacy).failed == 2 and "timed out" in queued(pharmacy, "pending")[0].last_error
    stand_in.mode = "ok"
    clock.advance(seconds=41)
    result = outbox.run_until_empty(pharmacy)
    assert (result.failed, result.waiting) == (0, 0)
    assert [r.state for r in queued(pharmacy)] == ["sent"] * 3
    serial = queued(pharmacy)[0].resource_id
    assert set(stand_in.stored) == {("MedicationDispense", f"urn:pharmacy:bag|{serial}"),
                                    ("MedicationAdministration", f"urn:pharmacy:bag|{serial}")}
    assert stand_in.stored[("MedicationAdministration", f"urn:pharmacy:bag|{serial}")]["status"] == "completed"
    assert {auth for _m, _p, auth in stand_in.requests} == {"Bearer secret-for-the-ehr"}


@pytest.mark.hazard("H38")
def test_a_resource_the_receiver_refuses_stays_visible_and_is_retried_not_dropped(pharmacy, sending, stand_in, clock):
    factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    sending(stand_in.base)
    stand_in.mode = "bad-request"
    for _ in range(outbox.FAILING_AFTER):
        outbox.deliver(pharmacy)
        clock.advance(hours=2)
    [row] = outbox.rows(pharmacy)
    assert (row["state"], row["attempts"]) == ("failing", 3) and "HTTP 400: unknown element" in row["last_error"]
    assert outbox.retry_delay(30) == timedelta(hours=1)
    stand_in.mode = "ok"
    assert outbox.retry_now(pharmacy) == 1 and outbox.deliver(pharmacy).sent == 1
    assert outbox.rows(pharmacy) == [] and outbox.rows(pharmacy, include_sent=True)[0]["state"] == "sent"


@pytest.mark.hazard("H38")
def test_a_row_sent_twice_after_a_lost_answer_updates_the_same_resource_on_a_real_fhir_server(pharmacy, sending, clock):
    with Medplum() as server:
        sending(server.base)
        bag = given_bag(pharmacy, clock)
        result = outbox.run_until_empty(pharmacy)
        assert (result.sent, result.failed, result.waiting) == (3, 0, 0), outbox.rows(pharmacy, True)
        with pharmacy.uow() as uow:  # the server took it but its answer was lost: the worker sends it again
            for row in uow.session.execute(select(FhirOutbox)).scalars():
                row.state, row.sent_at = "pending", None
            uow.commit()
        assert outbox.run_until_empty(pharmacy).failed == 0
        for kind, status in (("MedicationDispense", "completed"), ("MedicationAdministration", "completed")):
            found = server.get(f"/{kind}?identifier=urn:pharmacy:bag|{bag.serial}")
            assert len(found.get("entry", [])) == 1 and validate(found["entry"][0]["resource"])["status"] == status
        # the other statuses the server must accept too: a refused start (not-done), a destroyed bag (stopped)
        from pharmacy.domain.errors import AdministrationRefused

        other = factories.bedside_bag(pharmacy, pharmacy.vial_serials[1], factories.patient("P-2", "Bea Other"),
                                      on=factories.today(pharmacy))
        with pytest.raises(AdministrationRefused):
            administration.start(pharmacy, "nurse", other.serial, "P-1")  # the wrong patient's wristband
        bags.dispose_bag(pharmacy, "pharm", other.serial, "contaminated", "Dropped at the bedside", confirmed=True,
                         password=PASSWORDS["pharm"])
        assert outbox.run_until_empty(pharmacy).failed == 0, outbox.rows(pharmacy)
        refused = server.get(f"/MedicationAdministration?identifier=urn:pharmacy:bedside-refusal|{other.serial}-R1")
        assert [e["resource"]["status"] for e in refused["entry"]] == ["not-done"]
        destroyed = server.get(f"/MedicationDispense?identifier=urn:pharmacy:bag|{other.serial}")
        assert [e["resource"]["status"] for e in destroyed["entry"]] == ["stopped"]
        # and the server does validate: a resource it finds invalid stays pending with its words
        with pharmacy.uow() as uow:
            row = uow.session.execute(select(FhirOutbox).order_by(FhirOutbox.id.desc())).scalars().first()
            row.state, row.body = "pending", {**row.body, "whenHandedOver": "yesterday"}
            uow.commit()
        assert outbox.deliver(pharmacy).failed == 1
        assert "Invalid dateTime format" in outbox.rows(pharmacy)[0]["last_error"]


def test_the_worker_thread_runs_bounded_rounds_and_stops(pharmacy, sending, stand_in):
    factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    sending(stand_in.base)
    worker = outbox.Worker(pharmacy, interval=0.01)
    worker.run(rounds=2)
    assert [r.state for r in queued(pharmacy)] == ["sent"]
    thread = outbox.Worker(pharmacy, interval=0.01)
    running = thread.start()
    thread.stop.set()
    running.join(timeout=5)
    assert not running.is_alive()


@pytest.mark.hazard("H38")
@pytest.mark.hazard("H7")
def test_a_refused_start_at_the_bedside_is_sent_as_not_done_of_its_own_and_the_real_start_follows(pharmacy, sending):
    from pharmacy.domain.errors import AdministrationRefused

    bag = factories.bedside_bag(pharmacy, pharmacy.vial_serials[0])
    with pytest.raises(AdministrationRefused):
        administration.start(pharmacy, "nurse", bag.serial, "P-9")  # a wristband that matches no patient
    refused = validate(queued(pharmacy)[-1].body)
    assert (refused["id"], refused["status"]) == (f"{bag.serial}-R1", "not-done")
    assert refused["identifier"][0]["system"] == "urn:pharmacy:bedside-refusal"
    assert "UNKNOWN PATIENT" in refused["statusReason"][0]["text"] and "effectiveDateTime" in refused
    assert refused["subject"]["identifier"]["value"] == "P-1"  # the patient the bag is for
    factories.start_infusion(pharmacy, bag.serial)
    started = validate(queued(pharmacy)[-1].body)
    assert (started["id"], started["status"]) == (bag.serial, "in-progress")
