"""Which photos a product needs, when each is taken, and which pictures are refused (issue 14 point 4,
SAFETY.md H28): monograph data checked at load; the sharpness (variance of the Laplacian) and brightness
of pictures drawn here with Pillow — a sharp label against the same blurred, a dark and a glaring one."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from pharmacy.domain import photos
from pharmacy.domain.lifecycle import Event, PrepState
from pharmacy.domain.monograph import load_catalog
from pharmacy.services.photos import measure
from tests.unit.test_monograph_fields import copy_with, refusal

pytestmark = pytest.mark.hazard("H28")


def label_picture(size=(800, 600)) -> Image.Image:
    """A vial label with its lot and a syringe's graduation: the kind of detail the checker must read."""
    image = Image.new("RGB", size, (170, 180, 185))
    draw = ImageDraw.Draw(image)
    for x in range(0, size[0], 25):
        draw.line([(x, size[1] // 2), (x, size[1] // 2 + 40 + 20 * (x % 100 == 0))], fill=(20, 20, 20), width=2)
    draw.rectangle([80, 80, 720, 260], fill=(250, 250, 245), outline=(0, 0, 0), width=3)
    font = ImageFont.load_default(size=30)
    draw.text((100, 100), "LEMTRADA 12 mg/1.2 mL", fill=(0, 0, 0), font=font)
    draw.text((100, 160), "Lot K123A  EXP 06/2028", fill=(0, 0, 0), font=font)
    return image


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def test_the_shipped_monograph_needs_the_syringe_and_the_bag_photo():
    assert load_catalog().products["lemtrada"].photos == ("syringe", "bag")


@pytest.mark.parametrize(("new", "words"), [
    ('photos = ["syringe", "teeth"]', "names the unknown photo “teeth” (known: syringe, bag)"),
    ('photos = ["bag", "bag"]', "names a photo twice"),
    ('photos = "syringe"', "must be list"),
], ids=["unknown", "twice", "not-a-list"])
def test_a_wrong_photo_list_is_refused_at_load_naming_the_field(tmp_path, new, words):
    copy_with(tmp_path, 'photos = ["syringe", "bag"]', new)
    message = refusal(tmp_path)
    assert "evidence.photos" in message and words in message


def test_a_monograph_without_photos_needs_none(tmp_path):
    copy_with(tmp_path, 'photos = ["syringe", "bag"]\n', "", name="nophotos.toml")
    folder_catalog = load_catalog([tmp_path])
    assert folder_catalog.products["lemtrada"].photos == ()


def test_each_photo_is_taken_where_the_step_it_guards_is_allowed():
    syringe, bag = photos.PHOTO_KINDS["syringe"], photos.PHOTO_KINDS["bag"]
    assert (syringe.before, bag.before) == (Event.MIX, Event.SIGN)
    assert [s for s in PrepState if photos.may_take(s, syringe)] == [PrepState.VOLUME_RECORDED]
    assert [s for s in PrepState if photos.may_take(s, bag)] == [PrepState.MIXED]


def test_a_missing_photo_refuses_the_step_it_guards_by_name():
    with pytest.raises(photos.PhotoMissing, match="Take the photo of the syringe at the dose before you inject"):
        photos.check_taken(("syringe", "bag"), set(), Event.MIX)
    photos.check_taken(("syringe", "bag"), {"syringe"}, Event.MIX)
    with pytest.raises(photos.PhotoMissing, match="photo of the finished bag before you sign"):
        photos.check_taken(("syringe", "bag"), {"syringe"}, Event.SIGN)
    photos.check_taken((), set(), Event.SIGN)  # a product that needs none


def test_a_sharp_label_passes_and_the_same_label_blurred_is_refused():
    sharp = measure(jpeg(label_picture())).figures
    assert sharp.sharpness > 4 * photos.MIN_SHARPNESS
    photos.judge(sharp, photos.PHOTO_KINDS["syringe"])
    for radius in (2, 4):
        blurred = measure(jpeg(label_picture().filter(ImageFilter.GaussianBlur(radius)))).figures
        assert blurred.sharpness < photos.MIN_SHARPNESS
        with pytest.raises(photos.PhotoBlurred, match="hold the syringe still"):
            photos.judge(blurred, photos.PHOTO_KINDS["syringe"])


def test_the_figures_do_not_depend_on_the_camera_resolution():
    small = measure(jpeg(label_picture())).figures
    large = measure(jpeg(label_picture().resize((1600, 1200), Image.Resampling.LANCZOS))).figures
    assert large.sharpness > photos.MIN_SHARPNESS and (large.width, large.height) == (1600, 1200)
    assert abs(large.brightness - small.brightness) < 3


def test_a_dark_picture_asks_for_more_light_and_a_glaring_one_for_less():
    dark = measure(jpeg(label_picture().point(lambda v: v // 6))).figures
    with pytest.raises(photos.PhotoTooDark, match="more light on the bag"):
        photos.judge(dark, photos.PHOTO_KINDS["bag"])
    glare = measure(jpeg(label_picture().point(lambda v: 240 + v // 17))).figures
    with pytest.raises(photos.PhotoTooBright, match="away from the glare"):
        photos.judge(glare, photos.PHOTO_KINDS["syringe"])


@pytest.mark.parametrize(("width", "height", "error"), [
    (319, 600, photos.PhotoUnreadable), (5000, 3000, photos.PhotoTooLarge)], ids=["too-small", "too-many-pixels"])
def test_too_small_or_too_many_pixels_is_refused_before_decoding(width, height, error):
    with pytest.raises(error):
        photos.check_dimensions(width, height)
    photos.check_dimensions(640, 480)

