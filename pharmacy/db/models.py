"""SQLAlchemy 2.0 typed models. Times are UTC (``UTCDateTime``); defaults are callables, never
values computed at import time. Constraint names follow one convention so migrations stay stable."""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from pharmacy.db.types import JSONText, State, UTCDateTime, utcnow
from pharmacy.domain.lifecycle import BAG, LOT, ORDER, PREPARATION, VIAL, BagState, LotState, OrderState, PrepState, VialState

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # an account an admin creates or resets opens only the change-password page until it is changed
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # the language of the screens this user chose (pharmacy/i18n.py LANGUAGES); none: the pharmacy's PHARMACY_LANGUAGE
    language: Mapped[str | None] = mapped_column(String(8))


class Product(Base):
    """A product known from its monograph; the facts stay in the TOML, the row anchors foreign keys."""

    __tablename__ = "products"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    brand: Mapped[str] = mapped_column(String(100))
    inn: Mapped[str] = mapped_column(String(100))


class Vial(Base):
    __tablename__ = "vials"
    __table_args__ = (UniqueConstraint("gtin", "serial"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    gtin: Mapped[str] = mapped_column(String(14))
    serial: Mapped[str] = mapped_column(String(20))
    lot: Mapped[str] = mapped_column(String(20), index=True)
    expiry: Mapped[date] = mapped_column(Date)
    national_number: Mapped[str | None] = mapped_column(String(20))
    state: Mapped[VialState] = mapped_column(State(VialState), default=VIAL.initial)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    received_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decommissioned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decommission_ref: Mapped[str | None] = mapped_column(String(100))


class DiluentLot(Base):
    """Diluent bags are received by GTIN + lot + expiry; each receipt adds to the count."""

    __tablename__ = "diluent_lots"
    __table_args__ = (UniqueConstraint("gtin", "lot"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    diluent_id: Mapped[str] = mapped_column(String(64))
    gtin: Mapped[str] = mapped_column(String(14))
    lot: Mapped[str] = mapped_column(String(20), index=True)
    expiry: Mapped[date] = mapped_column(Date)
    received_count: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[LotState] = mapped_column(State(LotState), default=LOT.initial)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Patient(Base):
    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    date_of_birth: Mapped[date] = mapped_column(Date, index=True)  # look-alike search (services/orders._patient)
    ward: Mapped[str] = mapped_column(String(100))
    gsrn: Mapped[str | None] = mapped_column(String(18), unique=True)
    # a new patient whose name and date of birth match another's: the pharmacist who confirmed it, and why
    lookalike_confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lookalike_reason: Mapped[str | None] = mapped_column(Text)


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    dose_mg: Mapped[float] = mapped_column(Float)
    course: Mapped[int] = mapped_column(Integer)
    course_day: Mapped[int] = mapped_column(Integer)
    scheduled_on: Mapped[date] = mapped_column(Date, index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[OrderState] = mapped_column(State(OrderState), default=ORDER.initial)  # domain.lifecycle.ORDER
    violations: Mapped[list[dict[str, str]] | None] = mapped_column(JSONText)  # [{"code", "message"}]
    override_reason: Mapped[str | None] = mapped_column(Text)
    override_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    premedication_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    verified_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # who set the order aside, when and why (services/orders.cancel_order / hold_order; every move is audited)
    cancelled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    held_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # the current (or last) hold
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hold_reason: Mapped[str | None] = mapped_column(Text)
    patient: Mapped[Patient] = relationship()


class Preparation(Base):
    __tablename__ = "preparations"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    state: Mapped[PrepState] = mapped_column(State(PrepState), default=PREPARATION.initial)  # domain.lifecycle
    version: Mapped[int] = mapped_column(Integer, default=1)
    vial_id: Mapped[int | None] = mapped_column(ForeignKey("vials.id"), unique=True)
    diluent_lot_id: Mapped[int | None] = mapped_column(ForeignKey("diluent_lots.id"))
    withdrawn_ml: Mapped[float | None] = mapped_column(Float)
    withdrawn_entered: Mapped[str | None] = mapped_column(String(40))
    dilution_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    prepared_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    check_reason: Mapped[str | None] = mapped_column(Text)
    # how the withdrawn volume is known: "weighed" (net mass on a calibrated balance through the density)
    # or "typed" (the preparer's own number, shown as unweighed at the check); None before the volume step
    volume_evidence: Mapped[str | None] = mapped_column(String(10))
    order: Mapped[Order] = relationship()
    vial: Mapped[Vial | None] = relationship()
    diluent_lot: Mapped[DiluentLot | None] = relationship()
    steps: Mapped[list[PreparationStep]] = relationship(order_by="PreparationStep.id")


class PreparationStep(Base):
    __tablename__ = "preparation_steps"
    id: Mapped[int] = mapped_column(primary_key=True)
    preparation_id: Mapped[int] = mapped_column(ForeignKey("preparations.id"), index=True)
    step: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, object] | None] = mapped_column(JSONText)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Balance(Base):
    """A balance known by its serial number (as it reports it, MT-SICS ``I4``/SBI ``x2_``) with the
    calibration a pharmacist recorded: readings from a balance past its due date are refused."""

    __tablename__ = "balances"
    id: Mapped[int] = mapped_column(primary_key=True)
    serial_number: Mapped[str] = mapped_column(String(40), unique=True)
    model: Mapped[str] = mapped_column(String(100))
    calibrated_on: Mapped[date] = mapped_column(Date)
    calibration_due: Mapped[date] = mapped_column(Date)
    certificate: Mapped[str] = mapped_column(String(100))
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Weighing(Base):
    """One reading kept as evidence of a preparation: the tare of the empty syringe, the net mass of the
    filled one, with the balance's raw answer and the volume computed from it."""

    __tablename__ = "weighings"
    id: Mapped[int] = mapped_column(primary_key=True)
    preparation_id: Mapped[int] = mapped_column(ForeignKey("preparations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "tare" or "net"
    grams: Mapped[str] = mapped_column(String(20))  # the decimal as the balance sent it, never rounded by a float
    raw: Mapped[str] = mapped_column(String(80))
    balance_serial: Mapped[str] = mapped_column(String(40))
    density_g_ml: Mapped[str | None] = mapped_column(String(20))
    volume_ml: Mapped[str | None] = mapped_column(String(20))
    accepted: Mapped[bool] = mapped_column(Boolean, default=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Bag(Base):
    __tablename__ = "bags"
    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(20), unique=True)
    batch: Mapped[str] = mapped_column(String(20))
    preparation_id: Mapped[int] = mapped_column(ForeignKey("preparations.id"), unique=True)
    state: Mapped[BagState] = mapped_column(State(BagState), default=BAG.initial, index=True)  # domain.lifecycle
    use_by: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("storage_locations.id"))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the final label scanned back on the bag after printing: the pair label ↔ bag confirmed (H27)
    label_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    preparation: Mapped[Preparation] = relationship()

    @property
    def product_id(self) -> str:
        """The product of the bag (its preparation's order's): what a plain row of the bag names ``product_id``."""
        return self.preparation.order.product_id


class StorageLocation(Base):
    __tablename__ = "storage_locations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    min_celsius: Mapped[float] = mapped_column(Float)
    max_celsius: Mapped[float] = mapped_column(Float)
    printer: Mapped[str | None] = mapped_column(String(100))


class BagMove(Base):
    __tablename__ = "bag_moves"
    id: Mapped[int] = mapped_column(primary_key=True)
    bag_id: Mapped[int] = mapped_column(ForeignKey("bags.id"), index=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("storage_locations.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


class ColdChainDecision(Base):
    """A pharmacist's decision on a bag kept out of the fridge beyond the allowance: use it (the bedside
    then accepts the time out up to ``at``) or discard it. Signed with the password; audited."""

    __tablename__ = "cold_chain_decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    bag_id: Mapped[int] = mapped_column(ForeignKey("bags.id"), index=True)
    decision: Mapped[str] = mapped_column(String(20))  # "use" or "discard"
    reason: Mapped[str] = mapped_column(Text)
    out_minutes: Mapped[int] = mapped_column(Integer)  # the time out of refrigeration it decided on
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExcursionIncident(Base):
    """An out-of-range reading, recorded late, that covers a time when a bag now being infused or
    already given was at that location: a pharmacist sees it and acknowledges it with a note."""

    __tablename__ = "excursion_incidents"
    __table_args__ = (UniqueConstraint("bag_id", "reading_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    bag_id: Mapped[int] = mapped_column(ForeignKey("bags.id"), index=True)
    reading_id: Mapped[int] = mapped_column(ForeignKey("temperature_readings.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("storage_locations.id"))
    bag_state: Mapped[BagState] = mapped_column(State(BagState))  # when the reading came in
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)


class TemperatureReading(Base):
    __tablename__ = "temperature_readings"
    __table_args__ = (UniqueConstraint("location_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("storage_locations.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    celsius: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(40))


class LabelPrint(Base):
    __tablename__ = "label_prints"
    __table_args__ = (UniqueConstraint("bag_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    bag_id: Mapped[int] = mapped_column(ForeignKey("bags.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    stock: Mapped[str] = mapped_column(String(64))
    destination: Mapped[str] = mapped_column(String(100))
    job: Mapped[str | None] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Administration(Base):
    __tablename__ = "administrations"
    id: Mapped[int] = mapped_column(primary_key=True)
    bag_id: Mapped[int] = mapped_column(ForeignKey("bags.id"), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    interrupted_reason: Mapped[str | None] = mapped_column(Text)  # the words of an early end's reason
    nurse_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # an end before 90 % of the planned duration (domain.infusions.END_REASONS code); None: a normal end
    end_reason: Mapped[str | None] = mapped_column(String(20))
    # what the nurse confirmed before the start (SmPC 4.2): [{"what", "given_at" (ISO, UTC)}]
    premedication: Mapped[list[dict[str, str]] | None] = mapped_column(JSONText)
    # each interruption that was resumed: [{"stopped_at", "resumed_at", "reason", "resumed_by"}]
    interruptions: Mapped[list[dict[str, str]] | None] = mapped_column(JSONText)
    # how the patient identifier came in (domain/identity: "scanned" or "typed"; NULL before 0008) and why typed
    patient_entry: Mapped[str | None] = mapped_column(String(10))
    patient_entry_reason: Mapped[str | None] = mapped_column(Text)


class Disposal(Base):
    __tablename__ = "disposals"
    id: Mapped[int] = mapped_column(primary_key=True)
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)  # as a person reads it: the reason's words and the note
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # services/bags.dispose_bag: the reason from domain/disposal.REASONS, the note, who confirmed the bag
    # was in hand, and the pharmacist who signed the destruction of a bag that could still be given
    reason_code: Mapped[str | None] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class FalsificationIncident(Base):
    """A vial serial seen again (EU FMD): at a receipt, or scanned at the vial step although already
    used, in use or rejected. Written in its own transaction, so it is kept though the act is refused;
    a pharmacist resolves it on the dashboard (services/fmd)."""

    __tablename__ = "falsification_incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14))
    serial: Mapped[str] = mapped_column(String(20), index=True)
    lot: Mapped[str | None] = mapped_column(String(20))
    seen_at: Mapped[str] = mapped_column(String(20))  # "receipt" or "vial step"
    username: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    vial_id: Mapped[int | None] = mapped_column(ForeignKey("vials.id"))  # the vial already known by that serial
    vial_state: Mapped[VialState | None] = mapped_column(State(VialState))  # its state when the serial was seen
    preparation_id: Mapped[int | None] = mapped_column(ForeignKey("preparations.id"))  # seen at the vial step
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(20))  # services/fmd.OUTCOMES
    note: Mapped[str | None] = mapped_column(Text)


class Recall(Base):
    """A standing recall of a vial lot, one vial serial or a diluent lot (``services.recalls``):
    active until a pharmacist lifts it under their signature. ``lot_or_serial`` is normalised
    (``recalls.normalise``: spaces removed, upper case), as the lots printed on packs are."""

    __tablename__ = "recalls"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # vial_lot, vial_serial, diluent_lot
    gtin: Mapped[str | None] = mapped_column(String(14))  # None: every product with this lot or serial
    lot_or_serial: Mapped[str] = mapped_column(String(40), index=True)
    reason: Mapped[str] = mapped_column(Text)
    recalled_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recalled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lift_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def active(self) -> bool:
        return self.lifted_at is None


class Refusal(Base):
    """A refused action (wrong diluent scanned, expired vial, self-check): the near-miss record a
    safety review asks for. Written in its own transaction; the refused change itself is not."""

    __tablename__ = "refusals"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    username: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    code: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    object_type: Mapped[str | None] = mapped_column(String(20))
    object_id: Mapped[str | None] = mapped_column(String(40))
    entered: Mapped[str | None] = mapped_column(Text)  # what was scanned or typed, for the checker to see


class UserSession(Base):
    """A signed-in (or not yet signed-in) browser session, kept on the server (issue 13): the cookie carries
    a random id, this table only its SHA-256, so a copy of the table opens no session. A session ends
    (``ended_at``, ``end_reason``) at sign-out, idle timeout, absolute lifetime, lock or by an admin; an
    ended session is never reopened (``pharmacy/services/sessions.py``)."""

    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    data: Mapped[str] = mapped_column(Text, default="{}")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(40))


class SecurityEvent(Base):
    """An attempt at unauthorised use (21 CFR 11.300(d)): a failed sign-in with the name as typed, a
    failed signature, a lock, a denied page. Written in its own transaction, like ``Refusal``."""

    __tablename__ = "security_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    username: Mapped[str | None] = mapped_column(String(64), index=True)
    address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    path: Mapped[str | None] = mapped_column(String(300))
    permission: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """Append-only (database triggers refuse UPDATE and DELETE), hash-chained."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_object", "object_type", "object_id"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[str] = mapped_column(String(40))
    # old/new are kept as the exact JSON text that was hashed (see db/audit.py)
    old_json: Mapped[str | None] = mapped_column("old", Text)
    new_json: Mapped[str | None] = mapped_column("new", Text)
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    @property
    def old(self) -> dict[str, object] | None:
        return None if self.old_json is None else json.loads(self.old_json)

    @property
    def new(self) -> dict[str, object] | None:
        return None if self.new_json is None else json.loads(self.new_json)


class AuditHead(Base):
    """One row: the last entry's id and hash. Locked (FOR UPDATE) by every append so two
    transactions cannot both chain onto the same entry."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # issue 13: who made it (NULL: the server's operator, "system"), until when, which permissions
    # (space-separated names from domain/permissions.py; NULL: all of the role's), and its revocation
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    scope: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


# --- models of issue 14 point 4 (photographs) ---
class Photo(Base):
    """A photograph kept as evidence of a preparation (``domain/photos``): which one, what it shows, the
    SHA-256 of its stored bytes (``services/photos``: files on SQLite, ``photo_blobs`` on PostgreSQL),
    the figures it passed with, who took it and when. A retake keeps the old row, marked replaced."""

    __tablename__ = "photos"
    id: Mapped[int] = mapped_column(primary_key=True)
    preparation_id: Mapped[int] = mapped_column(ForeignKey("preparations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # a key of domain.photos.PHOTO_KINDS
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(20))  # image/jpeg or image/png
    size: Mapped[int] = mapped_column(Integer)  # bytes
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sharpness: Mapped[float] = mapped_column(Float)  # variance of the Laplacian (domain.photos)
    brightness: Mapped[float] = mapped_column(Float)  # mean grey level 0-255
    prep_version: Mapped[int] = mapped_column(Integer)  # the preparation's version the capture form was loaded at
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a retake of the same kind replaced it
    # the bag serial of the in-process label scanned as the photo was taken (domain.photos.label_in_picture)
    label_scanned: Mapped[str | None] = mapped_column(String(20))


class PhotoBlob(Base):
    """The bytes of a photo on PostgreSQL, so that every app server reads the same evidence; keyed by
    their SHA-256, written once."""

    __tablename__ = "photo_blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)



# --- models of issue 14 point 5 (send back) ---
class LabelConfirmation(Base):
    """The final label scanned back on its bag (``services/bags.confirm_label``, H27): which print of the
    bag's label was the latest then. The bedside gives a bag only when its latest print is confirmed: a
    reprint is a new label on the bag, to be scanned again. ``user_id`` NULL: carried over by migration 0015
    from ``bags.label_confirmed_at``."""

    __tablename__ = "label_confirmations"
    id: Mapped[int] = mapped_column(primary_key=True)
    bag_id: Mapped[int] = mapped_column(ForeignKey("bags.id"), index=True)
    print_number: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)



# --- models of issue 15 point 5 (printers, print jobs) ---
class PrintJob(Base):
    """One label sent (or to be sent) to a printer: a bag's final label (``number``: 1 the first, n the
    REPRINT n−1) or an in-process label. States in ``domain/printjobs``; a failed job stays, with its
    error, until it is retried or cancelled with a reason. Printer fields are copied from
    ``printers.toml`` at the time, so the record says where the label went even after the file changes."""

    __tablename__ = "print_jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    what: Mapped[str] = mapped_column(String(20))  # "label" or "in_process"
    bag_id: Mapped[int | None] = mapped_column(ForeignKey("bags.id"), index=True)
    preparation_id: Mapped[int | None] = mapped_column(ForeignKey("preparations.id"))
    bag_serial: Mapped[str] = mapped_column(String(20))
    number: Mapped[int | None] = mapped_column(Integer)  # the label's print number; None for in-process
    printer: Mapped[str] = mapped_column(String(64))
    destination: Mapped[str] = mapped_column(String(200))  # "download", "zpl:host:port", "cups:queue"
    language: Mapped[str] = mapped_column(String(10))
    stock: Mapped[str] = mapped_column(String(64))
    dpi: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    maybe_printed: Mapped[bool] = mapped_column(Boolean, default=False)  # the last failure may have printed
    reply: Mapped[str | None] = mapped_column(String(200))  # lp's request id, or the printer's status
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)



# --- models of issue 17 (FHIR outbox) ---


class FhirOrder(Base):
    """An order that came from the hospital's record as a FHIR MedicationRequest (services/fhir): its identifier
    there (unique: the same request sent twice is one order), the last status received and what was asked."""

    __tablename__ = "fhir_orders"
    __table_args__ = (UniqueConstraint("identifier_system", "identifier"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    identifier_system: Mapped[str] = mapped_column(String(200))
    identifier: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    fingerprint: Mapped[dict[str, object]] = mapped_column(JSONText)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FhirOutbox(Base):
    """A FHIR resource for the hospital's record, written in the same transaction as the event it tells
    (services/outbox): sent by the worker with retries, never dropped; ``sent_at`` once the server took it."""

    __tablename__ = "fhir_outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(40))
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[str] = mapped_column(String(64), index=True)
    search: Mapped[str] = mapped_column(String(300))  # the conditional update's criteria: identifier=system|value
    body: Mapped[dict[str, object]] = mapped_column(JSONText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(10), default="pending", index=True)  # pending, sent
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a worker is sending it
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
