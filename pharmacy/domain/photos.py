"""Photographs at the points that matter (issue 14 point 4, SAFETY.md H28).

Which photos a product needs is monograph data (``[evidence] photos``). Each kind of photo is taken
at one point of the preparation — in the state from which the event it guards is allowed — and that
event is refused until it is taken: the syringe at the dose beside the vial label before the dose is
injected and the bag mixed; the finished bag with its in-process label before the preparer signs. A
photo does not move the preparation's state; it is a precondition of the next step.

A picture that cannot show the checker anything is refused at capture, with what to do: blurred (the
variance of the Laplacian of its grey levels below ``MIN_SHARPNESS``), too dark or too bright (mean
grey level outside ``MIN_BRIGHTNESS``–``MAX_BRIGHTNESS``), too small, too large, not a JPEG or PNG.
The figures are measured by ``services/photos`` (Pillow); the judgement is here, pure.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from pharmacy.domain.errors import PharmacyError, StateConflict
from pharmacy.domain.lifecycle import PREPARATION, Event


@dataclass(frozen=True)
class PhotoKind:
    name: str
    title: str  # "Photo of the syringe at the dose"
    instruction: str  # what to put in the picture
    before: Event  # the step this photo must precede; taken in the state that allows it
    before_words: str  # "inject the dose and mix the bag"


PHOTO_KINDS: dict[str, PhotoKind] = {
    "syringe": PhotoKind(
        "syringe", "Photo of the syringe at the dose",
        "Hold the filled syringe beside the vial label, plunger and graduation at the dose in view, and the vial's "
        "name, strength and lot readable.", Event.MIX, "inject the dose and mix the bag"),
    "bag": PhotoKind(
        "bag", "Photo of the finished bag",
        "The mixed bag with its in-process label (IN PREPARATION, the bag serial) facing the camera.", Event.SIGN,
        "sign the preparation"),
}

# Measured on the grey levels of the picture reduced to at most MEASURE_SIDE pixels on its longer side
# (so the figures do not depend on the camera's resolution). The 3×3 Laplacian is taken with an offset
# of 128 and clipped to 0–255, as Pillow's ImageFilter.Kernel computes it. A sharp picture of a label
# scores in the hundreds or thousands; a Gaussian blur of radius 2 px brings it below 60.
MEASURE_SIDE = 800
MIN_SHARPNESS = 100.0  # variance of the Laplacian
MIN_BRIGHTNESS = 50.0  # mean grey level, 0–255
MAX_BRIGHTNESS = 225.0
MIN_SIDE = 320  # pixels: a thumbnail shows the checker nothing
MAX_PIXELS = 12_000_000  # 12 MP; Pillow's decompression-bomb guard is raised as an error, not a warning
MAX_BYTES = 900_000  # under the web's 1 MiB request limit; a 1280 × 720 JPEG at quality 0.9 is 100–300 kB
FORMATS = {"JPEG": "jpg", "PNG": "png"}  # what is accepted, and the stored file's extension


class PhotoMissing(StateConflict):
    """A photo the monograph requires was not taken before the step it guards."""

    code = "photo_missing"


class PhotoRefused(PharmacyError):
    """A picture that cannot serve as evidence; nothing was stored."""

    code = "photo_refused"


class PhotoBlurred(PhotoRefused):
    code = "photo_blurred"


class PhotoTooDark(PhotoRefused):
    code = "photo_too_dark"


class PhotoTooBright(PhotoRefused):
    code = "photo_too_bright"


class PhotoUnreadable(PhotoRefused):
    code = "photo_unreadable"


class PhotoTooLarge(PhotoRefused):
    code = "photo_too_large"


class PhotoReused(PhotoRefused):
    """The very same picture is already the evidence of another preparation."""

    code = "photo_reused"


class PhotoUnverifiable(PharmacyError):
    """A stored photo whose bytes no longer match the SHA-256 recorded when it was taken."""

    code = "photo_unverifiable"


@dataclass(frozen=True)
class Figures:
    width: int
    height: int
    sharpness: float
    brightness: float

    def describe(self) -> str:
        return (f"{self.width}×{self.height}, sharpness {self.sharpness:.0f} (needs {MIN_SHARPNESS:.0f}), "
                f"brightness {self.brightness:.0f} (needs {MIN_BRIGHTNESS:.0f}–{MAX_BRIGHTNESS:.0f})")


def kind(name: str) -> PhotoKind:
    try:
        return PHOTO_KINDS[name]
    except KeyError:
        raise PharmacyError(f"“{name[:40]}” is not a kind of photo (known: {', '.join(PHOTO_KINDS)}).") from None


def check_size(size: int) -> None:
    if size == 0:
        raise PhotoUnreadable("No picture arrived. Take the photo again.")
    if size > MAX_BYTES:
        raise PhotoTooLarge(f"The picture is {size / 1000:,.0f} kB; at most {MAX_BYTES / 1000:,.0f} kB is accepted. "
                            "Take the photo again from the preparation screen (it sends a smaller JPEG). Nothing was stored.")


def check_dimensions(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise PhotoTooLarge(f"The picture has {width}×{height} pixels; at most {MAX_PIXELS / 1e6:g} million are "
                            "accepted. Nothing was stored.")
    if min(width, height) < MIN_SIDE:
        raise PhotoUnreadable(f"The picture is only {width}×{height} pixels: at least {MIN_SIDE} on each side is needed "
                              "for the checker to read it. Take the photo again. Nothing was stored.")


def judge(figures: Figures, what: PhotoKind) -> None:
    """Refuse a picture the checker could not read, saying what to do differently."""
    subject = "the syringe" if what.name == "syringe" else "the bag"
    if figures.brightness < MIN_BRIGHTNESS:
        raise PhotoTooDark(f"The photo is too dark (brightness {figures.brightness:.0f}, needs at least "
                           f"{MIN_BRIGHTNESS:.0f}): more light on {subject} — switch on the hood light or move out of "
                           "the shadow — and take it again. Nothing was stored.")
    if figures.brightness > MAX_BRIGHTNESS:
        raise PhotoTooBright(f"The photo is too bright (brightness {figures.brightness:.0f}, at most "
                             f"{MAX_BRIGHTNESS:.0f}): tilt {subject} away from the glare or the lamp and take it again. "
                             "Nothing was stored.")
    if figures.sharpness < MIN_SHARPNESS:
        raise PhotoBlurred(f"The photo is blurred (sharpness {figures.sharpness:.0f}, needs at least "
                           f"{MIN_SHARPNESS:.0f}): hold {subject} still, about 20 cm from the camera, until the preview is "
                           "sharp, then take it again. Nothing was stored.")


def kinds_due_before(required: Iterable[str], event: Event) -> list[PhotoKind]:
    """The required photos that must exist before ``event`` happens."""
    return [PHOTO_KINDS[name] for name in required if PHOTO_KINDS[name].before == event]


def check_taken(required: Iterable[str], taken: Collection[str], event: Event) -> None:
    """``PhotoMissing`` naming the photo to take, if one required before ``event`` is not there."""
    for what in kinds_due_before(required, event):
        if what.name not in taken:
            raise PhotoMissing(f"Take the {what.title.lower()[0] + what.title[1:]} before you {what.before_words}: "
                               f"{what.instruction} Nothing was recorded.", photo=what.name)


def may_take(state: str, what: PhotoKind) -> bool:
    """A photo is taken in the state from which the step it precedes is allowed (retakes included)."""
    return PREPARATION.allows(state, what.before)
