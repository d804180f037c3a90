"""Photographs of a preparation as evidence (issue 14 point 4, SAFETY.md H28): stored content-addressed
(files on SQLite, blobs on PostgreSQL), audited with their SHA-256, verified on every read; a picture the
checker could not read is refused with what to do, kept as a near miss, nothing stored; a required photo
missing refuses the step it guards."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image, ImageFilter
from sqlalchemy import func, select

from pharmacy.db.models import AuditEntry, Photo, PhotoBlob, Preparation, Refusal
from pharmacy.domain import photos as rules
from pharmacy.domain.errors import StateConflict
from pharmacy.services import photos, preparation, release
from tests import factories
from tests.factories import PASSWORDS

pytestmark = pytest.mark.hazard("H28")


def at_volume_recorded(pharmacy, serial: str | None = None, who=None):
    order = factories.verified_order(pharmacy, who)
    prep = preparation.start(pharmacy, "tech", order.id)
    prep = preparation.scan_vial(pharmacy, "tech", prep.id, prep.version,
                                 factories.vial_scan(serial or pharmacy.vial_serials[0]))
    prep = preparation.inspect_vial(pharmacy, "tech", prep.id, prep.version, True)
    prep = preparation.scan_diluent(pharmacy, "tech", prep.id, prep.version, factories.NACL_SCAN)
    return preparation.record_volume(pharmacy, "tech", prep.id, prep.version, "1.2 mL")


def blurred(data: bytes, radius: float = 4) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).filter(ImageFilter.GaussianBlur(radius)).save(out, "JPEG", quality=90)
    return out.getvalue()


def counts(pharmacy) -> tuple[int, int, int]:
    with pharmacy.uow(readonly=True) as uow:
        return (uow.session.scalar(select(func.count()).select_from(Photo)),
                uow.session.scalar(select(func.count()).select_from(PhotoBlob)),
                uow.session.scalar(select(func.count()).select_from(AuditEntry)))


def stored_files(pharmacy) -> list:
    root = pharmacy.settings.instance / "photos"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_photo_is_stored_under_its_sha256_audited_and_read_back_verified(pharmacy):
    prep = at_volume_recorded(pharmacy)
    data = factories.picture(prep.id, "syringe")
    photo = photos.take(pharmacy, "tech", prep.id, prep.version, "syringe", data)
    digest = hashlib.sha256(data).hexdigest()
    assert photo.sha256 == digest and photo.size == len(data) and photo.media_type == "image/jpeg"
    assert photo.sharpness >= rules.MIN_SHARPNESS and rules.MIN_BRIGHTNESS <= photo.brightness <= rules.MAX_BRIGHTNESS
    assert (photo.width, photo.height, photo.prep_version) == (800, 600, prep.version)
    assert preparation.get(pharmacy, prep.id).version == prep.version + 1  # a replay of this capture is stale
    with pharmacy.uow(readonly=True) as uow:
        entry = uow.session.execute(select(AuditEntry).where(AuditEntry.action == "prep.photo")).scalar_one()
    assert entry.object_id == str(prep.id) and f"\"sha256\": \"{digest}\"" in (entry.new_json or "")
    if pharmacy.db.is_sqlite:  # a file in the instance folder, named by its hash
        assert stored_files(pharmacy) == [pharmacy.settings.instance / "photos" / digest[:2] / f"{digest}.jpg"]
        assert counts(pharmacy)[1] == 0
    else:  # a blob in the database, shared by every app server
        assert stored_files(pharmacy) == [] and counts(pharmacy)[1] == 1
    _, back = photos.read(pharmacy, "pharm", prep.id, photo.id)
    assert back == data
    [shown] = photos.evidence(pharmacy, prep.id)
    assert shown.verified and shown.photo.id == photo.id


def test_the_same_bytes_are_stored_once(pharmacy):
    prep = at_volume_recorded(pharmacy)
    data = factories.picture(prep.id, "syringe")
    photos.take(pharmacy, "tech", prep.id, prep.version, "syringe", data)
    again = preparation.get(pharmacy, prep.id)
    photos.take(pharmacy, "tech", prep.id, again.version, "syringe", data)  # a retake that came out identical
    rows, blobs, _ = counts(pharmacy)
    assert rows == 2
    assert (len(stored_files(pharmacy)) if pharmacy.db.is_sqlite else blobs) == 1


def test_a_blurred_picture_is_refused_with_what_to_do_kept_as_a_near_miss_and_nothing_stored(pharmacy):
    prep = at_volume_recorded(pharmacy)
    before = counts(pharmacy)
    with pytest.raises(rules.PhotoBlurred, match="hold the syringe still") as refused:
        photos.take(pharmacy, "tech", prep.id, prep.version, "syringe", blurred(factories.picture(prep.id, "syringe")))
    assert "Nothing was stored" in refused.value.message
    assert counts(pharmacy) == before and stored_files(pharmacy) == []
    assert preparation.get(pharmacy, prep.id).version == prep.version
    [miss] = release.near_misses(pharmacy, prep.id)
    assert miss.action == "prep.photo" and miss.code == "photo_blurred"
    assert "syringe photo" in (miss.entered or "") and "sharpness" in (miss.entered or "")


@pytest.mark.parametrize(("change", "error", "words"), [
    (lambda im: im.point(lambda v: v // 6), rules.PhotoTooDark, "more light"),
    (lambda im: im.point(lambda v: 245 + v // 25), rules.PhotoTooBright, "glare"),
], ids=["dark", "glare"])
def test_a_dark_or_glaring_picture_is_refused(pharmacy, change, error, words):
    prep = at_volume_recorded(pharmacy)
    out = io.BytesIO()
    change(Image.open(io.BytesIO(factories.picture(prep.id, "syringe")))).save(out, "JPEG", quality=90)
    with pytest.raises(error, match=words):
        photos.take(pharmacy, "tech", prep.id, prep.version, "syringe", out.getvalue())
    assert counts(pharmacy)[0] == 0


@pytest.mark.parametrize(("data", "error"), [
    (b"", rules.PhotoUnreadable),
    (b"GIF89a" + b"\0" * 200, rules.PhotoUnreadable),
    (b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 50, rules.PhotoUnreadable),
    (b"\xff" * (rules.MAX_BYTES + 1), rules.PhotoTooLarge),
], ids=["empty", "gif", "broken-jpeg", "too-many-bytes"])
def test_what_is_not_a_jpeg_or_png_or_too_big_is_refused(pharmacy, data, error):
    prep = at_volume_recorded(pharmacy)
    with pytest.raises(error):
        photos.take(pharmacy, "tech", prep.id, prep.version, "syringe", data)
    assert counts(pharmacy)[0] == 0


def test_a_decompression_bomb_is_refused_before_its_pixels_are_decoded(pharmacy):
    prep = at_volume_recorded(pharmacy)
    out = io.BytesIO()
    Image.new("L", (6000, 6000)).save(out, "PNG", optimize=True)  # 36 MP of nothing: a few kB
    assert len(out.getvalue()) < rules.MAX_BYTES
    with pytest.raises(rules.PhotoTooLarge, match="million"):
        photos.take(pharmacy, "tech", prep.id, prep.version, "syringe", out.getvalue())


def test_a_png_is_accepted_and_stored_as_png(pharmacy):
    prep = at_volume_recorded(pharmacy)
    out = io.BytesIO()
    Image.open(io.BytesIO(factories.picture(prep.id, "syringe"))).save(out, "PNG")
    photo = photos.take(pharmacy, "tech", prep.id, prep.version, "syringe", out.getvalue())
    assert photo.media_type == "image/png"


def test_mixing_and_signing_are_refused_until_their_photo_is_taken(pharmacy):
    prep = at_volume_recorded(pharmacy)
    with pytest.raises(rules.PhotoMissing, match="photo of the syringe at the dose before you inject"):
        preparation.confirm_mixing(pharmacy, "tech", prep.id, prep.version)
    with pytest.raises(StateConflict, match="already done or not yet due"):  # the bag photo's moment is not yet
        photos.take(pharmacy, "tech", prep.id, prep.version, "bag", factories.picture(prep.id, "bag"))
    prep = factories.photograph(pharmacy, prep, "syringe")
    prep = preparation.confirm_mixing(pharmacy, "tech", prep.id, prep.version)
    with pytest.raises(rules.PhotoMissing, match="photo of the finished bag before you sign"):
        preparation.sign(pharmacy, "tech", prep.id, prep.version, PASSWORDS["tech"])
    with pytest.raises(StateConflict):  # the syringe is in the bag now: its photo can no longer be taken
        photos.take(pharmacy, "tech", prep.id, prep.version, "syringe", factories.picture(prep.id, "syringe", 2))
    prep = factories.photograph(pharmacy, prep, "bag")
    bag = preparation.sign(pharmacy, "tech", prep.id, prep.version, PASSWORDS["tech"])
    assert bag.serial
    missing = [m for m in release.near_misses(pharmacy, prep.id) if m.code == "photo_missing"]
    assert len(missing) == 2


def test_a_stale_or_replayed_capture_and_another_users_capture_are_refused(pharmacy):
    prep = at_volume_recorded(pharmacy)
    photos.take(pharmacy, "tech", prep.id, prep.version, "syringe", factories.picture(prep.id, "syringe"))
    with pytest.raises(StateConflict, match="changed since your screen was loaded"):  # the same POST again
        photos.take(pharmacy, "tech", prep.id, prep.version, "syringe", factories.picture(prep.id, "syringe", 2))
    current = preparation.get(pharmacy, prep.id)
    with pytest.raises(Exception, match="Only the person who started this preparation"):
        photos.take(pharmacy, "tech2", prep.id, current.version, "syringe", factories.picture(prep.id, "syringe", 3))
    assert counts(pharmacy)[0] == 1


def test_a_picture_kept_for_another_preparation_is_refused(pharmacy):
    first = at_volume_recorded(pharmacy)
    data = factories.picture(first.id, "syringe")
    photos.take(pharmacy, "tech", first.id, first.version, "syringe", data)
    second = at_volume_recorded(pharmacy, pharmacy.vial_serials[1], factories.patient("P-2", "Bruno Other"))
    with pytest.raises(rules.PhotoReused, match=f"already kept as evidence of preparation {first.id}"):
        photos.take(pharmacy, "tech", second.id, second.version, "syringe", data)


def test_a_retake_replaces_the_photo_keeps_both_and_is_a_deviation_at_the_check(pharmacy):
    prep = at_volume_recorded(pharmacy)
    prep = factories.photograph(pharmacy, prep, "syringe")
    prep = factories.photograph(pharmacy, prep, "syringe", take=2)
    current = photos.evidence(pharmacy, prep.id)
    every = photos.evidence(pharmacy, prep.id, replaced=True)
    assert len(current) == 1 and len(every) == 2 and every[0].photo.replaced_at is not None
    names = {u: "Tessa Technician" for u in range(1, 20)}
    found = release.deviations(pharmacy, preparation.get(pharmacy, prep.id), names)
    assert [d.what for d in found] == ["syringe photo retaken: the earlier photo was replaced (both are kept)"]


def test_a_changed_photo_is_an_error_never_shown_as_evidence(pharmacy):
    prep = at_volume_recorded(pharmacy)
    photo = photos.take(pharmacy, "tech", prep.id, prep.version, "syringe", factories.picture(prep.id, "syringe"))
    tampered = factories.picture(prep.id, "syringe", take=99)
    if pharmacy.db.is_sqlite:
        [path] = stored_files(pharmacy)
        path.chmod(0o600)
        path.write_bytes(tampered)
    else:
        with pharmacy.uow() as uow:
            uow.session.get(PhotoBlob, photo.sha256).data = tampered
            uow.commit()
    with pytest.raises(rules.PhotoUnverifiable, match="no longer matches"):
        photos.read(pharmacy, "pharm", prep.id, photo.id)
    [shown] = photos.evidence(pharmacy, prep.id)
    assert not shown.verified and "not evidence" in shown.problem
    with pharmacy.uow(readonly=True) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Refusal).where(Refusal.action == "photo.read")) == 1


def test_a_photo_is_read_only_through_its_own_preparation_and_not_by_a_nurse(pharmacy):
    prep = at_volume_recorded(pharmacy)
    photo = photos.take(pharmacy, "tech", prep.id, prep.version, "syringe", factories.picture(prep.id, "syringe"))
    with pytest.raises(Exception, match="has no photo"):
        photos.read(pharmacy, "pharm", prep.id + 1, photo.id)
    with pytest.raises(Exception, match="A nurse may not"):
        photos.read(pharmacy, "nurse", prep.id, photo.id)


def test_set_aside_asks_for_the_photo_again(pharmacy):
    prep = at_volume_recorded(pharmacy)
    prep = factories.photograph(pharmacy, prep, "syringe")
    with pharmacy.uow() as uow:
        assert len(photos.set_aside(uow.session, prep.id, ["syringe"])) == 1
        uow.commit()
    with pytest.raises(rules.PhotoMissing):
        preparation.confirm_mixing(pharmacy, "tech", prep.id, prep.version)
    with pharmacy.uow(readonly=True) as uow:
        assert uow.session.get(Preparation, prep.id).state == "volume_recorded"


def test_a_bag_is_not_released_on_a_changed_photo_but_may_be_rejected(pharmacy):
    prep, bag = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
    [syringe, _] = photos.evidence(pharmacy, prep.id)
    if pharmacy.db.is_sqlite:
        photos.FileStore(pharmacy.settings.instance / "photos").path(
            syringe.photo.sha256, syringe.photo.media_type).write_bytes(b"changed")
    else:
        with pharmacy.uow() as uow:
            uow.session.get(PhotoBlob, syringe.photo.sha256).data = b"changed"
            uow.commit()
    with pytest.raises(rules.PhotoUnverifiable, match="not evidence"):
        release.decide(pharmacy, "pharm", prep.id, prep.version, PASSWORDS["pharm"], "released",
                       bag_scan=factories.in_process_scan(prep.id))
    assert preparation.get(pharmacy, prep.id).state == "signed"
    rejected = release.decide(pharmacy, "pharm", prep.id, prep.version, PASSWORDS["pharm"], "rejected",
                              reason="syringe photo changed after it was taken")
    assert rejected.state == "rejected"


def test_a_bag_with_its_photos_intact_is_released(pharmacy):
    bag = factories.released_bag(pharmacy, pharmacy.vial_serials[0])
    assert bag.state == "released"


def at_mixed(pharmacy, who=None):
    prep = factories.photograph(pharmacy, at_volume_recorded(pharmacy, who=who), "syringe")
    return preparation.confirm_mixing(pharmacy, "tech", prep.id, prep.version)


@pytest.mark.hazard("H27")
def test_the_bag_photo_taken_by_scanning_its_in_process_label_records_the_label(pharmacy):
    prep = at_mixed(pharmacy)
    photo = photos.take(pharmacy, "tech", prep.id, prep.version, "bag", factories.picture(prep.id, "bag"),
                        label_scan=factories.in_process_scan(prep.id))
    serial = f"BAG{prep.id:07d}"
    assert photo.label_scanned == serial
    [step] = [s for s in preparation.get(pharmacy, prep.id).steps if s.step == "photo" and s.detail["kind"] == "bag"]
    assert step.detail["label_scanned"] == serial
    with pharmacy.uow(readonly=True) as uow:
        entry = uow.session.execute(select(AuditEntry).where(AuditEntry.action == "prep.photo")
                                    .order_by(AuditEntry.id.desc()).limit(1)).scalar_one()
        assert entry.new["label_scanned"] == serial
    # without the scan (the button), the photo says so: the checker reads the label in the picture
    again = preparation.get(pharmacy, prep.id)
    retake = photos.take(pharmacy, "tech", prep.id, again.version, "bag", factories.picture(prep.id, "bag", 2))
    assert retake.label_scanned is None


@pytest.mark.hazard("H27")
@pytest.mark.parametrize(("scan", "words"), [
    ("]C0IP-BAG0009999", r"STOP: the label on this bag is the in-process label of bag BAG0009999, but you are preparing bag BAG"),
    ("]d20109506000134369" "21DEMO000000003\x1d10K123A\x1d17280630",
     r"not an in-process label: scan the label on the bag \(its barcode reads IP-BAG"),
    ("BAG0000001", r"not an in-process label"),
], ids=["another-bags-label", "a-vial", "typed-serial"])
def test_a_label_scan_that_is_not_this_bags_in_process_label_stores_nothing_and_is_a_near_miss(pharmacy, scan, words):
    prep = at_mixed(pharmacy)
    before, files = counts(pharmacy), stored_files(pharmacy)
    with pytest.raises(rules.LabelNotThisBag, match=words) as refused:
        photos.take(pharmacy, "tech", prep.id, prep.version, "bag", factories.picture(prep.id, "bag"), label_scan=scan)
    assert "Nothing was stored" in refused.value.message
    assert counts(pharmacy) == before and stored_files(pharmacy) == files
    assert preparation.get(pharmacy, prep.id).version == prep.version
    [miss] = [m for m in release.near_misses(pharmacy, prep.id) if m.action == "prep.photo"]
    assert miss.code == "label_not_this_bag" and "label scanned" in (miss.entered or "")


def test_the_syringe_photo_takes_no_label_scan(pharmacy):
    prep = at_volume_recorded(pharmacy)
    with pytest.raises(rules.PharmacyError, match="shows no label to scan"):
        photos.take(pharmacy, "tech", prep.id, prep.version, "syringe", factories.picture(prep.id, "syringe"),
                    label_scan=factories.in_process_scan(prep.id))
    assert counts(pharmacy)[0] == 0
