"""The photos of a preparation through the screens (issue 14 point 4, SAFETY.md H28): the camera panel on
the step that needs one, the capture POST (CSRF, version, bad input), the photo behind the right
permission and never cached, the check screen showing it large beside what it must show."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image, ImageFilter

from pharmacy.domain import photos as rules
from pharmacy.services import photos, preparation
from tests import factories
from tests.web.conftest import Browser, text, version_on

pytestmark = pytest.mark.hazard("H28")
JSON = {"Accept": "application/json"}


@pytest.fixture
def tech(signed_in):
    return signed_in("tech")


def at_volume_recorded(pharmacy):
    order = factories.verified_order(pharmacy)
    prep = preparation.start(pharmacy, "tech", order.id)
    prep = preparation.scan_vial(pharmacy, "tech", prep.id, prep.version, factories.vial_scan(pharmacy.vial_serials[0]))
    prep = preparation.inspect_vial(pharmacy, "tech", prep.id, prep.version, True)
    prep = preparation.scan_diluent(pharmacy, "tech", prep.id, prep.version, factories.NACL_SCAN)
    return preparation.record_volume(pharmacy, "tech", prep.id, prep.version, "1.2 mL")


def capture(browser, prep_id: int, kind: str, data: bytes, version: str | None = None, headers=JSON, **kwargs):
    page = browser.get(f"/prep/{prep_id}")
    fields = {"version": version or version_on(page), "photo": (io.BytesIO(data), f"{kind}.jpg", "image/jpeg")}
    return browser.client.post(f"/prep/{prep_id}/photo/{kind}", data={"csrf_token": browser.token, **fields},
                               headers=headers, **kwargs)


def blurred(data: bytes) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).filter(ImageFilter.GaussianBlur(4)).save(out, "JPEG", quality=90)
    return out.getvalue()


def test_the_mixing_screen_asks_for_the_syringe_photo_first_with_a_camera_panel(tech, pharmacy):
    prep = at_volume_recorded(pharmacy)
    page = text(tech.get(f"/prep/{prep.id}"))
    assert "Photo of the syringe at the dose" in page and "REQUIRED before you inject the dose and mix the bag" in page
    assert 'data-photo-form data-kind="syringe"' in page and 'enctype="multipart/form-data"' in page
    assert "Take photo</button>" in page and "photos.js" in page
    assert "No camera at this workstation" in page  # shown by the script when no camera starts
    mix_button = page.split("Bag mixed as instructed")[0].rsplit("<button", 1)[1]
    assert "autofocus" not in mix_button  # the photo comes first: the Take photo button gets the focus


def test_mixing_through_the_screen_without_the_photo_is_refused_by_name(tech, pharmacy):
    prep = at_volume_recorded(pharmacy)
    page = tech.get(f"/prep/{prep.id}")
    response = tech.post(f"/prep/{prep.id}/mixing", {"version": version_on(page)})
    assert response.status_code == 409
    assert "Take the photo of the syringe at the dose before you inject the dose and mix the bag" in text(response)
    assert preparation.get(pharmacy, prep.id).state == "volume_recorded"


def test_a_photo_is_taken_through_the_screen_and_shown_back_never_cached(tech, pharmacy):
    prep = at_volume_recorded(pharmacy)
    response = capture(tech, prep.id, "syringe", factories.picture(prep.id, "syringe"))
    assert response.status_code == 201, response.get_data(as_text=True)
    answer = json.loads(response.get_data(as_text=True))
    assert answer["next"] == f"/prep/{prep.id}" and len(answer["sha256"]) == 64
    page = text(tech.get(f"/prep/{prep.id}"))
    assert "Photo of the syringe at the dose kept" in page and "TAKEN" in page and "Retake photo" in page
    image = tech.get(f"/prep/{prep.id}/photos/{answer['photo']}")
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    assert image.headers["Cache-Control"] == "no-store"
    assert image.get_data() == factories.picture(prep.id, "syringe")


def test_a_plain_form_post_of_a_photo_redirects_to_the_step_screen(tech, pharmacy):
    prep = at_volume_recorded(pharmacy)
    response = capture(tech, prep.id, "syringe", factories.picture(prep.id, "syringe"), headers={})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/prep/{prep.id}")


def test_a_blurred_photo_is_refused_with_its_message_and_nothing_is_stored(tech, pharmacy):
    prep = at_volume_recorded(pharmacy)
    response = capture(tech, prep.id, "syringe", blurred(factories.picture(prep.id, "syringe")))
    assert response.status_code == 422
    answer = json.loads(response.get_data(as_text=True))
    assert answer["code"] == "photo_blurred" and "hold the syringe still" in answer["error"]
    assert photos.evidence(pharmacy, prep.id) == []
    assert preparation.get(pharmacy, prep.id).version == prep.version


@pytest.mark.parametrize(("fields", "status", "words"), [
    ({}, 422, "No picture arrived"),
    ({"photo": (io.BytesIO(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), "x.svg", "image/svg+xml")}, 422,
     "not a readable JPEG or PNG"),
], ids=["no-file", "svg"])
def test_bad_uploads_are_refused(tech, pharmacy, fields, status, words):
    prep = at_volume_recorded(pharmacy)
    page = tech.get(f"/prep/{prep.id}")
    response = tech.client.post(f"/prep/{prep.id}/photo/syringe", headers=JSON,
                                data={"csrf_token": tech.token, "version": version_on(page), **fields})
    assert response.status_code == status and words in json.loads(response.get_data(as_text=True))["error"]


def test_a_stale_version_an_unknown_kind_and_a_missing_csrf_token_are_refused(tech, pharmacy):
    prep = at_volume_recorded(pharmacy)
    data = factories.picture(prep.id, "syringe")
    assert capture(tech, prep.id, "syringe", data, version=str(prep.version - 1)).status_code == 409
    assert capture(tech, prep.id, "teeth", data).status_code == 422
    page = tech.get(f"/prep/{prep.id}")
    no_token = tech.client.post(f"/prep/{prep.id}/photo/syringe", headers=JSON, follow_redirects=True, data={
        "version": version_on(page), "photo": (io.BytesIO(data), "s.jpg", "image/jpeg")})
    assert no_token.status_code == 400  # after the redirect of web/prg, the page shown once with its status
    assert photos.evidence(pharmacy, prep.id) == []


def test_an_upload_over_the_request_limit_is_refused_before_it_is_read(tech, pharmacy):
    prep = at_volume_recorded(pharmacy)
    response = capture(tech, prep.id, "syringe", b"\xff" * (2 * 1024 * 1024), follow_redirects=True)
    assert response.status_code == 413
    assert photos.evidence(pharmacy, prep.id) == []


def test_the_photo_is_shown_to_prep_and_check_roles_only(app, signed_in, pharmacy):
    prep = at_volume_recorded(pharmacy)
    photo = photos.take(pharmacy, "tech", prep.id, prep.version, "syringe", factories.picture(prep.id, "syringe"))
    check_url, prep_url = f"/check/{prep.id}/photos/{photo.id}", f"/prep/{prep.id}/photos/{photo.id}"
    assert signed_in("pharm").get(check_url).status_code == 200
    assert signed_in("auditor").get(check_url).status_code == 200  # reads preparation records
    assert signed_in("tech").get(prep_url).status_code == 200
    assert signed_in("nurse").get(check_url).status_code == 403
    assert signed_in("nurse").get(prep_url).status_code == 403
    assert signed_in("admin").get(check_url).status_code == 403
    anonymous = Browser(app.test_client()).get(check_url)
    assert anonymous.status_code in (302, 401) and anonymous.mimetype != "image/jpeg"
    assert signed_in("pharm").get(f"/check/{prep.id + 1}/photos/{photo.id}").status_code == 404


def test_the_check_screen_shows_the_photos_large_beside_the_expected_values(signed_in, pharmacy):
    prep, bag = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
    page = text(signed_in("pharm").get(f"/check/{prep.id}"))
    section = page.split('class="card photo-evidence"')[1].split("</section>")[0]
    assert section.count('class="photo-large"') == 2 and section.count("data-zoom") == 2
    assert "Photo of the syringe at the dose" in section and "Photo of the finished bag" in section
    assert "12 mg" in section and "1.2 mL" in section and "K123A" in section and bag.serial in section
    assert "(verified)" in section and "data-zoom-dialog" in page


def test_a_changed_photo_is_shown_as_not_evidence_at_the_check(signed_in, pharmacy):
    prep, _ = factories.signed_preparation(pharmacy, pharmacy.vial_serials[0])
    [syringe, _bag] = photos.evidence(pharmacy, prep.id)
    if pharmacy.db.is_sqlite:
        path = photos.FileStore(pharmacy.settings.instance / "photos").path(syringe.photo.sha256, syringe.photo.media_type)
        path.write_bytes(factories.picture(prep.id, "syringe", take=7))
    else:
        from pharmacy.db.models import PhotoBlob

        with pharmacy.uow() as uow:
            uow.session.get(PhotoBlob, syringe.photo.sha256).data = b"changed"
            uow.commit()
    pharm = signed_in("pharm")
    page = text(pharm.get(f"/check/{prep.id}"))
    assert "PHOTO FAILED VERIFICATION — not evidence" in page
    assert pharm.get(f"/check/{prep.id}/photos/{syringe.photo.id}").status_code == 422
    assert rules.PhotoUnverifiable.code == "photo_unverifiable"
