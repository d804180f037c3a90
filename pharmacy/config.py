"""Settings from environment variables (``PHARMACY_*``), with defaults that run a single pharmacy."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def local_zone_name() -> str:
    """The machine's IANA zone name, or UTC when it cannot be told."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz:
        return tz
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    except OSError:  # pragma: no cover - platform without /etc/localtime
        pass
    return "UTC"


def _default_instance() -> Path:
    return Path.cwd() / "instance"


@dataclass(frozen=True)
class Settings:
    instance: Path = field(default_factory=_default_instance)
    database_url: str = ""
    timezone: str = field(default_factory=local_zone_name)
    pharmacy_name: str = "Demo Hospital Pharmacy"
    # "end" (default): the infusion must end by the use-by (SmPC 6.3: within 8 h of dilution), so it
    # must start by use-by less the infusion duration (START BY); "start": it must only start before use-by.
    administration_policy: str = "end"
    # The bedside verdict warns (amber) when START BY is this many minutes away or fewer.
    start_by_warning_minutes: int = 30
    # Text that keyboard-wedge scanners send instead of GS (ASCII 29); comma-separated.
    gs_substitutes: tuple[str, ...] = ("<GS>", "^]", "{GS}")
    # "1": a GS1 scan must begin with its symbology identifier (]d2, ]C1, ]Q3; domain/gs1.parse_scan), which
    # refuses typed and garbled input; off by default (some scanners are not set to send it).
    require_symbology_id: bool = False
    # Patient identifier on the bag label: "none", "8018" (GSRN) or an internal AI "91".."99".
    patient_ai: str = "none"
    secret_key: str = ""
    idle_timeout_minutes: int = 15
    # A signed-in session ends this long after sign-in, however active (services/sessions.py, H21).
    session_lifetime_hours: int = 12
    # The default label printer: a name from <instance>/printers.toml (printing/printers.py); unset: the first.
    printer: str = ""
    label_stock: str = "bag-100x70"
    # Fallback fonts after the embedded DejaVu Sans, for scripts it lacks (printing/fonts.py): TrueType files,
    # comma-separated, "path#n" for face n of a .ttc; unset: Debian's CJK fonts where installed; "none": DejaVu only.
    label_fonts: tuple[str, ...] = ()
    # A storage location with no temperature reading for longer than this is flagged on the dashboard.
    reading_interval_minutes: int = 30
    # A bag out of a fitting fridge (from release, and from every move out) for longer than this in
    # total is flagged, and the bedside refuses it until a pharmacist decides (use or discard).
    out_of_fridge_minutes: int = 30
    # What one vial costs (in the pharmacy's currency), for the waste report; unset: no cost shown.
    vial_cost: Decimal | None = None
    # The bench's balance (pharmacy/devices/balance.py), e.g. mt-sics+tcp://10.0.0.7:4001 or
    # serial:///dev/ttyUSB0?protocol=sbi&baud=9600; unset: volumes are typed and shown as unweighed.
    balance: str = ""
    # The Ed25519 key that signs the audit anchors (pharmacy/db/anchor.py); unset: <instance>/audit-anchor.key,
    # created on first use (mode 0600), its public key beside it (.pub) for verifiers.
    audit_key: str = ""
    # Also send each anchor to syslog: "1" (the local /dev/log), host:port (UDP) or a socket path; unset: off.
    audit_syslog: str = ""
    # FHIR R4 (issue 17, docs/fhir.md): the hospital's FHIR server that receives the dispenses and administrations
    # (unset: nothing is queued), the bearer token it wants, and the identifier system of the hospital's patients.
    fhir_outbound_url: str = ""
    fhir_outbound_token: str = ""
    fhir_patient_system: str = "urn:pharmacy:patient"
    # The screens' language for users who chose none, and the language of a label's fixed words (pharmacy/i18n.py:
    # en, fr, nl, de); product facts on a label stay as the monograph says them.
    language: str = "en"
    label_language: str = "en"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.instance / 'pharmacy.sqlite3'}"


_ENV = {
    "instance": "PHARMACY_INSTANCE", "database_url": "PHARMACY_DATABASE_URL",
    "timezone": "PHARMACY_TIMEZONE", "pharmacy_name": "PHARMACY_NAME",
    "administration_policy": "PHARMACY_ADMINISTRATION_POLICY", "gs_substitutes": "PHARMACY_GS_SUBSTITUTES",
    "patient_ai": "PHARMACY_PATIENT_AI", "secret_key": "PHARMACY_SECRET_KEY",
    "idle_timeout_minutes": "PHARMACY_IDLE_TIMEOUT_MINUTES",
    "session_lifetime_hours": "PHARMACY_SESSION_LIFETIME_HOURS", "printer": "PHARMACY_PRINTER",
    "label_stock": "PHARMACY_LABEL_STOCK", "label_fonts": "PHARMACY_LABEL_FONTS",
    "require_symbology_id": "PHARMACY_REQUIRE_SYMBOLOGY_ID",
    "reading_interval_minutes": "PHARMACY_READING_INTERVAL_MINUTES",
    "out_of_fridge_minutes": "PHARMACY_OUT_OF_FRIDGE_MINUTES",
    "vial_cost": "PHARMACY_VIAL_COST",
    "start_by_warning_minutes": "PHARMACY_START_BY_WARNING_MINUTES",
    "balance": "PHARMACY_BALANCE",
    "audit_key": "PHARMACY_AUDIT_KEY", "audit_syslog": "PHARMACY_AUDIT_SYSLOG",
    "fhir_outbound_url": "PHARMACY_FHIR_OUTBOUND_URL", "fhir_outbound_token": "PHARMACY_FHIR_OUTBOUND_TOKEN",
    "fhir_patient_system": "PHARMACY_FHIR_PATIENT_SYSTEM",
    "language": "PHARMACY_LANGUAGE", "label_language": "PHARMACY_LABEL_LANGUAGE",
}


class ConfigError(ValueError):
    pass


def _money(raw: str, name: str) -> Decimal:
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise ConfigError(f"{name} must be an amount such as 8500.00, not “{raw}”.") from None
    if not value.is_finite() or value < 0:
        raise ConfigError(f"{name} must be an amount of zero or more, not “{raw}”.")
    return value


def load(overrides: dict | None = None, environ=None) -> Settings:
    """Settings from the environment, then ``overrides`` (used by tests and ``create_app``)."""
    environ = os.environ if environ is None else environ
    values: dict = {}
    for f in fields(Settings):
        raw = environ.get(_ENV[f.name])
        if raw is None or raw == "":
            continue
        if f.name == "instance":
            values[f.name] = Path(raw)
        elif f.name == "gs_substitutes":
            values[f.name] = tuple(s for s in raw.split(",") if s)
        elif f.name == "require_symbology_id":
            if raw.strip() not in ("0", "1"):
                raise ConfigError(f"PHARMACY_REQUIRE_SYMBOLOGY_ID must be 1 (on) or 0 (off), not “{raw}”.")
            values[f.name] = raw.strip() == "1"
        elif f.name == "label_fonts":
            values[f.name] = tuple(s.strip() for s in raw.split(",") if s.strip())
        elif f.name == "idle_timeout_minutes":
            values[f.name] = int(raw)
        elif f.name == "session_lifetime_hours":
            if not raw.strip().isdigit() or int(raw) < 1:
                raise ConfigError(f"PHARMACY_SESSION_LIFETIME_HOURS must be a whole number of hours, 1 or more, not “{raw}”.")
            values[f.name] = int(raw)
        elif f.name == "reading_interval_minutes":
            if not raw.strip().isdigit():
                raise ConfigError(f"PHARMACY_READING_INTERVAL_MINUTES must be a whole number of minutes, not “{raw}”.")
            values[f.name] = int(raw)
        elif f.name == "start_by_warning_minutes":
            if not raw.strip().isdigit():
                raise ConfigError(f"PHARMACY_START_BY_WARNING_MINUTES must be a whole number of minutes, not “{raw}”.")
            values[f.name] = int(raw)
        elif f.name == "out_of_fridge_minutes":
            if not raw.strip().isdigit():
                raise ConfigError(f"PHARMACY_OUT_OF_FRIDGE_MINUTES must be a whole number of minutes, not “{raw}”.")
            values[f.name] = int(raw)
        elif f.name == "vial_cost":
            values[f.name] = _money(raw, "PHARMACY_VIAL_COST")
        else:
            values[f.name] = raw
    settings = replace(Settings(), **values, **(overrides or {}))
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"PHARMACY_TIMEZONE “{settings.timezone}” is not an IANA time zone name.") from None
    if settings.administration_policy not in ("start", "end"):
        raise ConfigError('PHARMACY_ADMINISTRATION_POLICY must be "start" or "end".')
    if settings.start_by_warning_minutes < 0:
        raise ConfigError("PHARMACY_START_BY_WARNING_MINUTES must be 0 or more.")
    if settings.reading_interval_minutes < 1:
        raise ConfigError("PHARMACY_READING_INTERVAL_MINUTES must be at least 1.")
    if settings.balance:
        from pharmacy.devices.balance import BalanceConfig, BalanceError

        try:
            BalanceConfig.parse(settings.balance)
        except BalanceError as error:
            raise ConfigError(f"PHARMACY_BALANCE: {error.message}") from None
    if settings.fhir_outbound_url and not settings.fhir_outbound_url.startswith(("http://", "https://")):
        raise ConfigError("PHARMACY_FHIR_OUTBOUND_URL must be the FHIR server's base URL (http:// or https://).")
    from pharmacy.i18n import LANGUAGES

    for name, lang in (("PHARMACY_LANGUAGE", settings.language), ("PHARMACY_LABEL_LANGUAGE", settings.label_language)):
        if lang not in LANGUAGES:
            raise ConfigError(f"{name} must be one of {', '.join(LANGUAGES)}, not “{lang}”.")
    ai = settings.patient_ai
    if ai not in ("none", "8018") and not (ai.isdigit() and 91 <= int(ai) <= 99):
        raise ConfigError('PHARMACY_PATIENT_AI must be "none", "8018" or an internal AI from 91 to 99.')
