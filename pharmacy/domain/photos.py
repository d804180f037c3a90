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

from pharmacy.domain import bagid
from pharmacy.domain.errors import PharmacyError, StateConflict
from pharmacy.domain.lifecycle import PREPARATION, Event
from pharmacy.i18n import _, lazy, now


@dataclass(frozen=True)
class PhotoKind:
    """The words are marked ``lazy``; the properties give them in the current language."""

    name: str
    title_text: str  # "Photo of the syringe at the dose"
    instruction_text: str  # what to put in the picture
    before: Event  # the step this photo must precede; taken in the state that allows it
    before_text: str  # "inject the dose and mix the bag"
    phrase_text: str  # the title inside a sentence: "photo of the syringe at the dose"
    subject_text: str  # what is in the picture, inside a sentence: "the syringe"
    label_in_view: bool = False  # the bag's in-process label is in the picture: scanning it takes the photo

    @property
    def title(self) -> str:
        return now(self.title_text)

    @property
    def instruction(self) -> str:
        return now(self.instruction_text)

    @property
    def before_words(self) -> str:
        return now(self.before_text)

    @property
    def phrase(self) -> str:
        return now(self.phrase_text)

    @property
    def subject(self) -> str:
        return now(self.subject_text)


PHOTO_KINDS: dict[str, PhotoKind] = {
    "syringe": PhotoKind(
        "syringe", lazy("Photo of the syringe at the dose"),
        lazy("Hold the filled syringe beside the vial label, plunger and graduation at the dose in view, and the vial's "
             "name, strength and lot readable."), Event.MIX, lazy("inject the dose and mix the bag"),
        lazy("photo of the syringe at the dose"), lazy("the syringe")),
    "bag": PhotoKind(
        "bag", lazy("Photo of the finished bag"),
        lazy("The mixed bag with its in-process label (IN PREPARATION, the bag serial) facing the camera."), Event.SIGN,
        lazy("sign the preparation"), lazy("photo of the finished bag"), lazy("the bag"), label_in_view=True),
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


class LabelNotThisBag(StateConflict):
    """The in-process label scanned on the bag as its photo was taken is not this preparation's (H27)."""

    code = "label_not_this_bag"


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
        return _("{width}×{height}, sharpness {sharpness} (needs {min_sharpness}), brightness {brightness} (needs "
                 "{min_brightness}–{max_brightness})", width=self.width, height=self.height,
                 sharpness=format(self.sharpness, ".0f"), min_sharpness=format(MIN_SHARPNESS, ".0f"),
                 brightness=format(self.brightness, ".0f"), min_brightness=format(MIN_BRIGHTNESS, ".0f"),
                 max_brightness=format(MAX_BRIGHTNESS, ".0f"))


def kind(name: str) -> PhotoKind:
    try:
        return PHOTO_KINDS[name]
    except KeyError:
        raise PharmacyError(_("“{name}” is not a kind of photo (known: {known}).", name=name[:40],
                              known=", ".join(PHOTO_KINDS))) from None


def check_size(size: int) -> None:
    if size == 0:
        raise PhotoUnreadable(_("No picture arrived. Take the photo again."))
    if size > MAX_BYTES:
        raise PhotoTooLarge(_("The picture is {size} kB; at most {most} kB is accepted. Take the photo again from the "
                              "preparation screen (it sends a smaller JPEG). Nothing was stored.",
                              size=format(size / 1000, ",.0f"), most=format(MAX_BYTES / 1000, ",.0f")))


def check_dimensions(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise PhotoTooLarge(_("The picture has {width}×{height} pixels; at most {most} million are accepted. Nothing "
                              "was stored.", width=width, height=height, most=format(MAX_PIXELS / 1e6, "g")))
    if min(width, height) < MIN_SIDE:
        raise PhotoUnreadable(_("The picture is only {width}×{height} pixels: at least {least} on each side is needed "
                                "for the checker to read it. Take the photo again. Nothing was stored.", width=width,
                                height=height, least=MIN_SIDE))


def judge(figures: Figures, what: PhotoKind) -> None:
    """Refuse a picture the checker could not read, saying what to do differently."""
    subject = what.subject
    if figures.brightness < MIN_BRIGHTNESS:
        raise PhotoTooDark(_("The photo is too dark (brightness {brightness}, needs at least {least}): more light on "
                             "{subject} — switch on the hood light or move out of the shadow — and take it again. Nothing "
                             "was stored.", brightness=format(figures.brightness, ".0f"), least=format(MIN_BRIGHTNESS, ".0f"),
                             subject=subject))
    if figures.brightness > MAX_BRIGHTNESS:
        raise PhotoTooBright(_("The photo is too bright (brightness {brightness}, at most {most}): tilt {subject} away "
                               "from the glare or the lamp and take it again. Nothing was stored.",
                               brightness=format(figures.brightness, ".0f"), most=format(MAX_BRIGHTNESS, ".0f"), subject=subject))
    if figures.sharpness < MIN_SHARPNESS:
        raise PhotoBlurred(_("The photo is blurred (sharpness {sharpness}, needs at least {least}): hold {subject} still, "
                             "about 20 cm from the camera, until the preview is sharp, then take it again. Nothing was "
                             "stored.", sharpness=format(figures.sharpness, ".0f"), least=format(MIN_SHARPNESS, ".0f"),
                             subject=subject))


def label_in_picture(what: PhotoKind, prep_id: int, scanned: str) -> str:
    """The bag serial of the in-process label scanned as the photo of ``what`` is taken: the label in the
    picture must be on this preparation's bag. A scan taken here proves the label is on the bag, and the
    photo shows which bag it is on; a wrong or swapped label is refused before anything is stored (H27)."""
    expected = bagid.bag_serial(prep_id)
    if not what.label_in_view:
        raise PharmacyError(_("The {photo} shows no label to scan: take it with its button. Nothing was stored.",
                              photo=what.phrase))
    serial = bagid.in_process_serial(scanned)
    if serial is None:
        raise LabelNotThisBag(_("That scan is not an in-process label: scan the label on the bag (its barcode reads "
                                "{code}). Nothing was stored.", code=bagid.in_process_code(expected)))
    if serial != expected:
        raise LabelNotThisBag(_("STOP: the label on this bag is the in-process label of bag {scanned}, but you are "
                                "preparing bag {expected}: two bags' labels may have been swapped. Nothing was stored. "
                                "Set that label aside, put bag {expected}'s label on this bag (print it again from this "
                                "screen), scan it, and tell the pharmacist.", scanned=serial, expected=expected))
    return serial


def kinds_due_before(required: Iterable[str], event: Event) -> list[PhotoKind]:
    """The required photos that must exist before ``event`` happens."""
    return [PHOTO_KINDS[name] for name in required if PHOTO_KINDS[name].before == event]


def check_taken(required: Iterable[str], taken: Collection[str], event: Event) -> None:
    """``PhotoMissing`` naming the photo to take, if one required before ``event`` is not there."""
    for what in kinds_due_before(required, event):
        if what.name not in taken:
            raise PhotoMissing(_("Take the {photo} before you {step}: {instruction} Nothing was recorded.",
                                 photo=what.phrase, step=what.before_words, instruction=what.instruction), photo=what.name)


def may_take(state: str, what: PhotoKind) -> bool:
    """A photo is taken in the state from which the step it precedes is allowed (retakes included)."""
    return PREPARATION.allows(state, what.before)
