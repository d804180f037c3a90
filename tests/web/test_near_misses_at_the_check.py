"""Every near miss in front of the checker (issue 14 point 2, SAFETY.md H26): the check screen lists
each refused attempt of the preparation — what was scanned or typed, the message, who, when — and
each deviation, above the decision; a release needs each safety near miss acknowledged."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from pharmacy.db.models import AuditEntry
from pharmacy.domain.errors import PharmacyError
from pharmacy.domain.nearmiss import NearMissNotAcknowledged
from pharmacy.services import preparation, release
from tests import factories
from tests.factories import NACL_SCAN, PASSWORDS, WATER_SCAN, vial_scan
from tests.web.conftest import text, version_on


def readable(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", text(response)).split())


def signed_with_near_misses(pharmacy, first: int = 0):
    """Water for injections scanned, 1.4 mL typed, the vial rejected once: then done right."""
    order = factories.verified_order(pharmacy)
    prep = preparation.start(pharmacy, "tech", order.id)
    prep = preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, vial_scan(pharmacy.vial_serials[first]))
    prep = preparation.inspect_vial(pharmacy, "tech", prep.id, prep.version, False, "particles seen")
    prep = preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, vial_scan(pharmacy.vial_serials[first + 1]))
    prep = preparation.inspect_vial(pharmacy, "tech", prep.id, prep.version, True)
    with pytest.raises(PharmacyError):
        preparation.scan_diluent(pharmacy, "tech", prep.id, prep.version, WATER_SCAN)
    prep = preparation.scan_diluent(pharmacy, "tech", prep.id, prep.version, NACL_SCAN)
    for typed in ("1.4 mL", "12"):  # out of tolerance (safety); no unit (not a safety kind)
        with pytest.raises(PharmacyError):
            preparation.record_volume(pharmacy, "tech", prep.id, prep.version, typed)
    prep = factories.photograph(pharmacy, preparation.record_volume(pharmacy, "tech", prep.id, prep.version, "1.2 mL"),
                                "syringe")
    prep = factories.photograph(pharmacy, preparation.confirm_mixing(pharmacy, "tech", prep.id, prep.version), "bag")
    preparation.sign(pharmacy, "tech", prep.id, prep.version, PASSWORDS["tech"])
    return preparation.get(pharmacy, prep.id)


@pytest.mark.hazard("H26")
def test_the_checker_sees_every_refused_attempt_with_what_was_entered(signed_in, pharmacy):
    prep = signed_with_near_misses(pharmacy)
    page = readable(signed_in("pharm").get(f"/check/{prep.id}"))
    section = page[page.index("Near misses and deviations"):page.index("Recorded steps")]
    assert "REFUSED (safety): Water for injections" in section  # the wrong diluent
    assert WATER_SCAN in section  # what was scanned
    assert "1.4 mL" in section and "REFUSED (safety): 1.4 mL withdrawn, but 1.2 mL ± 0.05 mL is required" in section
    assert "Refused:" in section and "12" in section  # the unit missing: shown, not a safety kind
    assert "vial rejected at inspection: particles seen" in section
    assert " Tessa Technician diluent " in section and " Tessa Technician volume " in section  # who, at which step
    assert page.index("Near misses and deviations") < page.index("Decision")  # above the decision
    assert page.count('name="acknowledge"') == 0  # checkboxes are in the form's HTML, not its text
    assert text(signed_in("pharm").get(f"/check/{prep.id}")).count('name="acknowledge"') == 2


@pytest.mark.hazard("H26")
def test_a_release_without_each_safety_near_miss_acknowledged_is_refused_and_changes_nothing(signed_in, pharmacy):
    prep = signed_with_near_misses(pharmacy)
    pharm = signed_in("pharm")
    page = pharm.get(f"/check/{prep.id}")
    ids = re.findall(r'name="acknowledge" type="checkbox" value="(\d+)"', text(page))
    assert len(ids) == 2
    refused = pharm.post(f"/check/{prep.id}", {"version": version_on(page), "decision": "released",
                                               "password": PASSWORDS["pharm"], "acknowledge": ids[:1],
                                               "bag_scan": factories.in_process_scan(prep.id)})
    assert refused.status_code == 422 and "1 safety near miss on the way to this bag is not acknowledged" in text(refused)
    assert preparation.get(pharmacy, prep.id).state == "signed"
    released = pharm.post(f"/check/{prep.id}", {"version": version_on(page), "decision": "released",
                                                "password": PASSWORDS["pharm"], "acknowledge": ids,
                                                "bag_scan": factories.in_process_scan(prep.id)})
    assert released.status_code == 302 and preparation.get(pharmacy, prep.id).state == "released"
    with pharmacy.uow(readonly=True) as uow:
        entry = uow.session.execute(select(AuditEntry).where(AuditEntry.action == "bag.release")).scalar_one()
    assert sorted(entry.new["near_misses_acknowledged"]) == sorted(int(i) for i in ids)


@pytest.mark.hazard("H26")
def test_a_rejection_needs_no_acknowledgement(pharmacy):
    prep = signed_with_near_misses(pharmacy)
    bag = release.decide(pharmacy, "pharm", prep.id, prep.version, PASSWORDS["pharm"], "rejected", "wrong diluent nearly used")
    assert bag.state == "rejected"


@pytest.mark.hazard("H26")
def test_a_clean_preparation_says_so_and_releases_as_before(signed_in, pharmacy):
    prep, _ = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
    page = readable(signed_in("pharm").get(f"/check/{prep.id}"))
    assert "None: every step was accepted at the first attempt." in page
    with pytest.raises(NearMissNotAcknowledged):  # and an acknowledgement list cannot be forged shorter
        other = signed_with_near_misses(pharmacy, first=2)
        release.decide(pharmacy, "pharm", other.id, other.version, PASSWORDS["pharm"], "released", acknowledged={999999},
                       bag_scan=factories.in_process_scan(other.id))
    assert release.decide(pharmacy, "pharm", prep.id, prep.version, PASSWORDS["pharm"], "released",
                          bag_scan=factories.in_process_scan(prep.id)).state == "released"
