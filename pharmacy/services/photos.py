"""Photographs of a preparation as evidence for the pharmacist's check (issue 14 point 4, SAFETY.md H28).

``take`` decodes the picture the preparation screen sent (Pillow), measures it (``domain/photos``:
sharpness, brightness, size), refuses what the checker could not read — every refusal kept as a near
miss, nothing stored — and keeps the rest content-addressed: the SHA-256 of the stored bytes names them,
goes into the metadata row and the audit entry. On SQLite the bytes are files in the instance folder
(``photos/ab/<sha256>.jpg``, written atomically, never overwritten); on PostgreSQL they are rows of
``photo_blobs``, so that several app servers share them. Every read verifies the hash: a photo whose
bytes changed is an error, never shown as evidence (``PhotoUnverifiable``).

A photo is taken in the state from which the step it guards is allowed (``domain/photos.may_take``),
under the preparation's lock and version: each accepted photo moves the version on, so a replayed or
stale capture is refused, and a photo already kept for another preparation is refused as reused.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image, ImageFilter, ImageStat, UnidentifiedImageError
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from pharmacy import clock
from pharmacy.db import audit
from pharmacy.db.models import Photo, PhotoBlob, PreparationStep
from pharmacy.domain import photos
from pharmacy.domain.errors import NotAllowed, NotFound, PharmacyError
from pharmacy.domain.permissions import may, refusal
from pharmacy.i18n import _
from pharmacy.services.base import Pharmacy, actor, refusals_recorded
from pharmacy.services.preparation import _load, _record

log = logging.getLogger(__name__)

# the 3×3 Laplacian on grey levels, offset to mid-grey (Pillow clips its output to 0–255)
LAPLACIAN = ImageFilter.Kernel((3, 3), [0, 1, 0, 1, -4, 1, 0, 1, 0], scale=1, offset=128)
MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}
EXTENSIONS = {media: photos.FORMATS[fmt] for fmt, media in MEDIA_TYPES.items()}


@dataclass(frozen=True)
class Measured:
    media_type: str
    figures: photos.Figures


def measure(data: bytes) -> Measured:
    """Decode a picture (JPEG or PNG only) and measure it; ``PhotoRefused`` for what cannot be one. Pillow's
    decompression-bomb warning is an error here, and the pixel count is checked before the pixels are decoded."""
    photos.check_size(len(data))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(MEDIA_TYPES)) as image:
                media_type = MEDIA_TYPES[str(image.format)]
                photos.check_dimensions(*image.size)
                image.load()
                grey = image.convert("L")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise photos.PhotoTooLarge(_("The picture is too large to open safely (more than {MAX_PIXELS:g} "
                                     "million pixels). Nothing was stored.", MAX_PIXELS=photos.MAX_PIXELS / 1e6)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, KeyError, EOFError):
        raise photos.PhotoUnreadable(_("This is not a readable JPEG or PNG picture (the file is damaged or of another "
                                       "kind). Take the photo again from the preparation screen. Nothing was stored.")) from None
    width, height = grey.size
    grey.thumbnail((photos.MEASURE_SIDE, photos.MEASURE_SIDE))
    sharpness = float(ImageStat.Stat(grey.filter(LAPLACIAN)).var[0])
    brightness = float(ImageStat.Stat(grey).mean[0])
    return Measured(media_type, photos.Figures(width, height, round(sharpness, 1), round(brightness, 1)))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class PhotoStore(Protocol):
    """Where the bytes live, by their SHA-256; ``put`` of bytes already there changes nothing."""

    def put(self, session: Session, digest: str, data: bytes, media_type: str) -> None: ...

    def get(self, session: Session, digest: str, media_type: str) -> bytes | None: ...


class FileStore:
    """``<instance>/photos/ab/<sha256>.jpg``: written to a temporary file, synced, then linked into place
    (a link never replaces an existing file), so a reader never sees half a photo."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str, media_type: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a SHA-256: {digest!r}")
        return self.root / digest[:2] / f"{digest}.{EXTENSIONS[media_type]}"

    def put(self, session: Session, digest: str, data: bytes, media_type: str) -> None:
        target = self.path(digest, media_type)
        if target.exists():
            return  # content-addressed: the same name holds the same bytes (read back verifies it)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(temporary, target)
            except FileExistsError:
                pass  # written at the same moment by another request: never overwritten
        finally:
            os.unlink(temporary)
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def get(self, session: Session, digest: str, media_type: str) -> bytes | None:
        try:
            return self.path(digest, media_type).read_bytes()
        except FileNotFoundError:
            return None


class DatabaseStore:
    """``photo_blobs`` rows, written in the transaction that records the photo (PostgreSQL)."""

    def put(self, session: Session, digest: str, data: bytes, media_type: str) -> None:
        if session.get(PhotoBlob, digest) is not None:
            return
        from sqlalchemy.dialects.postgresql import insert

        session.execute(insert(PhotoBlob).values(sha256=digest, data=data, size=len(data), at=clock.now())
                        .on_conflict_do_nothing(index_elements=["sha256"]))

    def get(self, session: Session, digest: str, media_type: str) -> bytes | None:
        blob = session.get(PhotoBlob, digest)
        return None if blob is None else bytes(blob.data)


def store_for(pharmacy: Pharmacy) -> PhotoStore:
    """One interface, chosen by the database: files beside a SQLite database, blobs in PostgreSQL."""
    if pharmacy.db.is_sqlite:
        return FileStore(pharmacy.settings.instance / "photos")
    return DatabaseStore()


def _describe(what: photos.PhotoKind, size: int) -> str:
    return f"{what.name} photo, {size:,} bytes"


def take(pharmacy: Pharmacy, username: str, prep_id: int, version, kind: str, data: bytes,
         label_scan: str | None = None) -> Photo:
    """Keep a photo of the preparation as evidence, or refuse it saying what to do; a photo of the same kind
    taken before is replaced (kept, marked replaced: the check screen shows the retake as a deviation).
    ``label_scan``: the bag's in-process label, scanned as the photo was taken (the screen takes the photo on
    the scan); it must be this bag's (``domain/photos.label_in_picture``), and the photo records it."""
    what = photos.kind(kind)
    described = _describe(what, len(data)) + (f", label scanned {label_scan.strip()[:40]!r}" if label_scan else "")
    with refusals_recorded(pharmacy, username, "prep.photo", "preparation", prep_id, described):
        label = photos.label_in_picture(what, prep_id, label_scan) if label_scan else None
        with pharmacy.uow(readonly=True) as uow:  # the cheap checks first, outside the write lock
            user = actor(uow.session, username, "prep.work")
            prep = _load(uow.session, prep_id, version, what.before, user, lock=False)
            monograph = pharmacy.product(prep.order.product_id)
        if what.name not in monograph.photos:
            raise PharmacyError(_("{brand} needs no {title}: nothing was stored.", brand=monograph.brand, title=what.title.lower()))
        measured = measure(data)  # decoding is work: never under the write lock
    figures = measured.figures
    with refusals_recorded(pharmacy, username, "prep.photo", "preparation", prep_id, f"{described}, {figures.describe()}"):
        photos.judge(figures, what)
        digest = sha256(data)
        store = store_for(pharmacy)
        with pharmacy.uow() as uow:
            user = actor(uow.session, username, "prep.work")
            prep = _load(uow.session, prep_id, version, what.before, user)
            # the very same bytes as evidence of another preparation, or as the other photo of this one: a picture
            # shows one thing (a retake that came out byte for byte the same is the same photo, stored once)
            elsewhere = uow.session.execute(select(Photo.preparation_id, Photo.kind).where(
                Photo.sha256 == digest, (Photo.preparation_id != prep.id) | (Photo.kind != what.name)).limit(1)).first()
            if elsewhere is not None:
                subject = _("this bag") if what.name == "bag" else _("this syringe")
                where = (_("preparation {id}", id=elsewhere.preparation_id) if elsewhere.preparation_id != prep.id
                         else _("the {kind} photo of this preparation", kind=elsewhere.kind))
                raise photos.PhotoReused(_("This very picture is already kept as evidence of {where}: a photo shows one "
                                           "thing only. Take a new photo of {subject}. Nothing was stored.", where=where, subject=subject))
            # a photo the check set aside when it sent the preparation back, taken again byte for byte: the old
            # evidence would pass for the new one (H29)
            set_aside_before = {sha for detail in uow.session.execute(select(PreparationStep.detail).where(
                PreparationStep.preparation_id == prep.id, PreparationStep.step == "send_back")).scalars()
                for sha in _set_aside_in(detail)}
            if digest in set_aside_before:
                subject = _("this bag") if what.name == "bag" else _("this syringe")
                raise photos.PhotoReused(_("This is the very picture the check set aside when it sent the preparation "
                                           "back: take a new photo of {subject}. Nothing was stored.", subject=subject))
            previous = uow.session.execute(select(Photo).where(
                Photo.preparation_id == prep.id, Photo.kind == what.name, Photo.replaced_at.is_(None))).scalars().all()
            now = clock.now()
            for old in previous:
                old.replaced_at = now
            store.put(uow.session, digest, data, measured.media_type)
            photo = Photo(preparation_id=prep.id, kind=what.name, sha256=digest, media_type=measured.media_type,
                          size=len(data), width=figures.width, height=figures.height, sharpness=figures.sharpness,
                          brightness=figures.brightness, prep_version=prep.version, user_id=user.id, at=now,
                          label_scanned=label)
            uow.session.add(photo)
            prep.version += 1  # a replay of this capture, or a form loaded before it, is stale now
            detail = {"kind": what.name, "sha256": digest, "size": len(data), "width": figures.width,
                      "height": figures.height, "sharpness": figures.sharpness, "brightness": figures.brightness,
                      "label_scanned": label, "replaces": [old.sha256 for old in previous]}
            _record(uow.session, prep, user, "photo", detail)
            uow.session.flush()
            audit.append(uow.session, username, "prep.photo", "preparation", prep.id, new={"photo": photo.id, **detail})
            uow.commit()
            uow.session.expunge(photo)
            return photo


@dataclass(frozen=True)
class Evidence:
    """A photo as the check screen shows it: its row and whether its bytes still match their SHA-256."""

    photo: Photo
    verified: bool
    problem: str = ""

    @property
    def what(self) -> photos.PhotoKind:
        return photos.PHOTO_KINDS[self.photo.kind]


def _verified(pharmacy: Pharmacy, session: Session, photo: Photo) -> bytes:
    data = store_for(pharmacy).get(session, photo.sha256, photo.media_type)
    if data is None:
        raise photos.PhotoUnverifiable(_("Photo {id} ({kind}) is missing from the photo store: it cannot be "
                                         "shown as evidence. Tell the pharmacy's system administrator.", id=photo.id, kind=photo.kind))
    if sha256(data) != photo.sha256:
        log.error("photo %s of preparation %s no longer matches its SHA-256", photo.id, photo.preparation_id)
        raise photos.PhotoUnverifiable(_("Photo {id} ({kind}) has changed since it was taken (its SHA-256 no "
                                         "longer matches): it is not evidence. Do not release on it; tell the pharmacy's "
                                         "system administrator.", id=photo.id, kind=photo.kind))
    return data


# by ``replaced``: built once (issue 18: every step screen asks)
_EVIDENCE = {True: select(Photo).where(Photo.preparation_id == bindparam("prep_id")).order_by(Photo.id)}
_EVIDENCE[False] = _EVIDENCE[True].where(Photo.replaced_at.is_(None))


def evidence(pharmacy: Pharmacy, prep_id: int, replaced: bool = False) -> list[Evidence]:
    """The photos of a preparation (the current one of each kind; with ``replaced``, the retaken ones too),
    each verified against its SHA-256."""
    with pharmacy.uow(readonly=True) as uow:
        rows = uow.session.execute(_EVIDENCE[replaced], {"prep_id": prep_id}).scalars().all()
        found = []
        for row in rows:
            try:
                _verified(pharmacy, uow.session, row)
                found.append(Evidence(row, True))
            except photos.PhotoUnverifiable as error:
                found.append(Evidence(row, False, error.message))
            uow.session.expunge(row)
        return found


def read(pharmacy: Pharmacy, username: str, prep_id: int, photo_id: int) -> tuple[Photo, bytes]:
    """The bytes of one photo of ``prep_id``, verified; a changed or missing one is refused (and recorded)."""
    with refusals_recorded(pharmacy, username, "photo.read", "preparation", prep_id), pharmacy.uow(readonly=True) as uow:
        user = actor(uow.session, username)
        if not (may(user.role, "check.view") or may(user.role, "prep.work")):
            raise NotAllowed(refusal(user.role, "check.view"))
        photo = uow.session.get(Photo, photo_id)
        if photo is None or photo.preparation_id != prep_id:
            raise NotFound(_("Preparation {prep_id} has no photo {photo_id}.", prep_id=prep_id, photo_id=photo_id))
        data = _verified(pharmacy, uow.session, photo)
        uow.session.expunge(photo)
        return photo, data


def set_aside(session: Session, prep_id: int, kinds: list[str]) -> list[str]:
    """For a step redone (a send-back that asks for a photo again): the current photos of ``kinds`` are marked
    replaced — kept, never deleted — so the step they guard asks for a new one. Their SHA-256s, for the audit.
    Called inside the caller's transaction."""
    rows = session.execute(select(Photo).where(Photo.preparation_id == prep_id, Photo.kind.in_(kinds),
                                               Photo.replaced_at.is_(None))).scalars().all()
    now = clock.now()
    for row in rows:
        row.replaced_at = now
    return [row.sha256 for row in rows]


def check_evidence(pharmacy: Pharmacy, session: Session, prep_id: int, required: tuple[str, ...]) -> None:
    """Before a release: every photo the monograph requires is there and its bytes still match their
    SHA-256 — a bag is never released on a photo that is missing or changed (a rejection stays possible)."""
    rows = {row.kind: row for row in session.execute(select(Photo).where(
        Photo.preparation_id == prep_id, Photo.replaced_at.is_(None))).scalars()}
    for name in required:
        if name not in rows:
            what = photos.PHOTO_KINDS[name]
            raise photos.PhotoMissing(_("This preparation has no {title}: the check cannot rest on it. Send "
                                        "it back to have the photo taken, or reject the bag. Nothing was recorded.",
                                        title=what.title.lower()),
                                      photo=name)
        _verified(pharmacy, session, rows[name])


def _set_aside_in(detail: dict | None) -> list[str]:
    """The photos (SHA-256) a send-back step's audit detail says were set aside."""
    found = (detail or {}).get("photos_set_aside") or []
    return [str(sha) for sha in found] if isinstance(found, list) else []
