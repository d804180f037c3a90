"""HL7 FHIR R4 ⇄ the pharmacy, as pure functions (issue 17; docs/fhir.md has the mapping and examples).

In: a ``MedicationRequest`` (with its ``Patient`` contained or in a transaction ``Bundle``) is read into an
``OrderRequest`` of plain values; every shape error is a ``FhirInvalid`` naming the FHIR path. Meaning (which
patient, which product, the course rules) is decided by the services, as for an order typed on a screen.

Out: the prepared bag as a ``Medication`` (its ingredients contained, each with lot and expiry), its
release as a ``MedicationDispense`` and the bedside as a ``MedicationAdministration``, built from plain facts.
Every resource has a stable id and an identifier, so sending it twice updates, never duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pharmacy.domain.errors import PharmacyError, QuantityError
from pharmacy.domain.units import MASS, Quantity, parse_quantity
from pharmacy.i18n import _

FHIR_JSON = "application/fhir+json"
FHIR_VERSION = "4.0.1"

# code systems of others
ATC = "http://www.whocc.no/atc"
GTIN = "https://www.gs1.org/gtin"
GSRN = "https://www.gs1.org/gsrn"
UCUM = "http://unitsofmeasure.org"
DISPENSE_FUNCTION = "http://terminology.hl7.org/CodeSystem/medicationdispense-performer-function"
ADMIN_FUNCTION = "http://terminology.hl7.org/CodeSystem/med-admin-perform-function"
ROUTE = "http://snomed.info/sct"
# this pharmacy's own identifiers and extensions (a pharmacy may publish them under its own OID)
PHARMACY = "urn:pharmacy"
PRODUCT = f"{PHARMACY}:product"          # the monograph's id (lemtrada)
BAG = f"{PHARMACY}:bag"                  # the bag serial: Medication, MedicationDispense, MedicationAdministration
USER = f"{PHARMACY}:user"                # a performer, by user name
BEDSIDE_REFUSAL = f"{PHARMACY}:bedside-refusal"  # a refused start: MedicationAdministration not-done, BAG…-R1, -R2 …
EXT_COURSE = f"{PHARMACY}:fhir:course"          # MedicationRequest: the course number (1–99), valueInteger
EXT_COURSE_DAY = f"{PHARMACY}:fhir:course-day"  # MedicationRequest: the day of the course (1–31), valueInteger
EXT_WARD = f"{PHARMACY}:fhir:ward"              # MedicationRequest: where the bag goes, valueString
EXT_USE_BY = f"{PHARMACY}:fhir:use-by"          # MedicationDispense: the bag's use-by, valueDateTime

ROUTES = {"IV": ("47625008", "Intravenous route")}
URGENT_PRIORITIES = frozenset({"urgent", "asap", "stat"})
REQUEST_STATUSES = frozenset({"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown"})


class FhirInvalid(PharmacyError):
    """A FHIR resource of the wrong shape: a missing or mistyped element, named by its path (a 400)."""

    code = "fhir_invalid"


class FhirUnprocessable(PharmacyError):
    """A well-formed resource the pharmacy cannot act on: an unknown medication, a dose that is not the product's."""

    code = "fhir_unprocessable"


@dataclass(frozen=True)
class PatientFacts:
    identifier_system: str
    identifier: str
    name: str
    birth_date: date
    gsrn: str | None


@dataclass(frozen=True)
class OrderRequest:
    """What a MedicationRequest asks, in plain values."""

    identifier_system: str
    identifier: str
    status: str
    status_reason: str | None
    patient: PatientFacts | None   # None: only the subject's identifier was sent (an update)
    subject_identifier: tuple[str, str] | None
    codings: tuple[tuple[str, str], ...]
    dose: Quantity | None
    scheduled_on: date | None
    course: int | None
    course_day: int | None
    ward: str | None
    urgent: bool

    def fingerprint(self) -> dict[str, object]:
        """What makes a retry the same request (compared when the identifier comes again)."""
        return {"patient": [self.patient.identifier, self.patient.birth_date.isoformat()] if self.patient else None,
                "codings": sorted(map(list, self.codings)), "dose_mg": None if self.dose is None else
                round(float(self.dose.to("mg").magnitude), 6), "scheduled_on": self.scheduled_on.isoformat()
                if self.scheduled_on else None, "course": self.course, "course_day": self.course_day}


# --- reading ------------------------------------------------------------------------------------


def _get(data: Any, key: str, path: str, kind: type | tuple[type, ...], required: bool = True) -> Any:
    if not isinstance(data, dict):
        raise FhirInvalid(_("{path} must be a JSON object.", path=path.rsplit(".", 1)[0]))
    value = data.get(key)
    if value is None:
        if required:
            raise FhirInvalid(_("{path} is required.", path=path))
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = {str: _("a string"), int: _("a whole number"), list: _("an array"), dict: _("an object"),
                 bool: _("true or false")}
        wanted = ""
        for k in kind if isinstance(kind, tuple) else (kind,):
            name = names.get(k, k.__name__)
            wanted = _("{either} or {other}", either=wanted, other=name) if wanted else name
        raise FhirInvalid(_("{path} must be {wanted}.", path=path, wanted=wanted))
    if isinstance(value, str) and not value.strip():
        raise FhirInvalid(_("{path} must not be empty.", path=path))
    return value


def _identifier(data: Any, path: str) -> tuple[str, str]:
    system = _get(data, "system", f"{path}.system", str)
    value = _get(data, "value", f"{path}.value", str)
    return system.strip(), value.strip()


def _date(text: str, path: str) -> date:
    try:
        return date.fromisoformat(text[:10]) if len(text) >= 10 else _bad_date(path)
    except ValueError:
        return _bad_date(path)


def _bad_date(path: str) -> date:
    raise FhirInvalid(_("{path} must be a date like 2026-11-20.", path=path))


def human_name(names: Any, path: str) -> str:
    """The official name (else the first) as one line: its text, or the given names and the family name."""
    if not isinstance(names, list) or not names:
        raise FhirInvalid(_("{path} is required (a list of HumanName).", path=path))
    chosen = next((n for n in names if isinstance(n, dict) and n.get("use") == "official"), names[0])
    if not isinstance(chosen, dict):
        raise FhirInvalid(_("{path}[0] must be a HumanName object.", path=path))
    if isinstance(chosen.get("text"), str) and chosen["text"].strip():
        return " ".join(chosen["text"].split())
    given = chosen.get("given") or []
    if not isinstance(given, list) or not all(isinstance(g, str) for g in given):
        raise FhirInvalid(_("{path}.given must be a list of strings.", path=path))
    family = _get(chosen, "family", f"{path}.family", str, required=False) or ""
    words = " ".join([*given, family]).split()
    if not words:
        raise FhirInvalid(_("{path} has neither text nor given and family names.", path=path))
    return " ".join(words)


def read_patient(resource: Any, patient_system: str, path: str = "Patient") -> PatientFacts:
    """The identifier of ``patient_system`` (the hospital's), the GSRN if sent, the name and the birth date."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Patient":
        raise FhirInvalid(_("{path} must be a Patient resource.", path=path))
    identifiers = _get(resource, "identifier", f"{path}.identifier", list)
    pairs = [_identifier(item, f"{path}.identifier[{n}]") for n, item in enumerate(identifiers)]
    ours = [value for system, value in pairs if system == patient_system]
    if len(ours) != 1:
        seen = ", ".join(sorted({system for system, _value in pairs})) or _("none")
        raise FhirUnprocessable(_("{path}.identifier must hold exactly one identifier of the hospital's patient system "
                                  "{system} (systems sent: {seen}). Nothing was recorded.", path=path,
                                  system=patient_system, seen=seen))
    gsrns = [value for system, value in pairs if system == GSRN]
    born = _date(_get(resource, "birthDate", f"{path}.birthDate", str), f"{path}.birthDate")
    return PatientFacts(patient_system, ours[0], human_name(resource.get("name"), f"{path}.name"), born,
                        gsrns[0] if gsrns else None)


def _extension(resource: dict[str, Any], url: str, kind: str, path: str) -> Any:
    found = [e for e in resource.get("extension") or [] if isinstance(e, dict) and e.get("url") == url]
    if len(found) > 1:
        raise FhirInvalid(_("{path}.extension {url} is given {count} times; send it once.", path=path, url=url,
                            count=len(found)))
    if not found:
        return None
    value = found[0].get(kind)
    wanted = int if kind == "valueInteger" else str
    if not isinstance(value, wanted) or isinstance(value, bool):
        raise FhirInvalid(_("{path}.extension {url} must carry {kind}.", path=path, url=url, kind=kind))
    return value


def _whole(value: Any, low: int, high: int, path: str) -> int | None:
    if value is None:
        return None
    if not low <= value <= high:
        raise FhirInvalid(_("{path} must be a whole number from {low} to {high}, not {value}.", path=path, low=low,
                            high=high, value=value))
    return int(value)


def read_dose(dose: Any, path: str) -> Quantity:
    """A UCUM ``Quantity`` (``{"value": 12, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}``)
    read through the one pint registry (``domain/units``): a mass, or it is refused."""
    if not isinstance(dose, dict) or dose.get("system") != UCUM:
        raise FhirInvalid(_("{path}.system must be {ucum} (UCUM units), with the unit in {path}.code.", path=path,
                            ucum=UCUM))
    code = _get(dose, "code", f"{path}.code", str)
    value = _get(dose, "value", f"{path}.value", (int, float))
    try:
        return parse_quantity(f"{value} {code}", MASS)
    except QuantityError as error:
        raise FhirUnprocessable(_("{path}: {message}", path=path, message=error.message)) from None


def _scheduled(dosage: dict[str, Any], path: str, zone: ZoneInfo) -> date | None:
    timing = _get(dosage, "timing", f"{path}.timing", dict, required=False)
    if timing is None:
        return None
    events = _get(timing, "event", f"{path}.timing.event", list, required=False) or []
    if len(events) != 1 or not isinstance(events[0], str):
        raise FhirInvalid(_("{path}.timing.event must hold the one day of the dose (2026-11-20 or a dateTime).",
                            path=path))
    text = events[0]
    if "T" in text:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise FhirInvalid(_("{path}.timing.event[0] is not a FHIR dateTime: “{text}”.", path=path,
                                text=text[:40])) from None
        if moment.tzinfo is None:
            raise FhirInvalid(_("{path}.timing.event[0] must carry its UTC offset.", path=path))
        return moment.astimezone(zone).date()
    return _date(text, f"{path}.timing.event[0]")


def _contained_patient(resource: dict[str, Any], reference: str) -> Any:
    for item in resource.get("contained") or []:
        if isinstance(item, dict) and item.get("resourceType") == "Patient" and f"#{item.get('id')}" == reference:
            return item
    raise FhirInvalid(_("MedicationRequest.subject refers to {reference}, which is not contained in the request.",
                        reference=reference))


def read_medication_request(resource: Any, patient_system: str, zone: ZoneInfo,
                            bundled: dict[str, Any] | None = None) -> OrderRequest:
    """A MedicationRequest as plain values; ``bundled``: the transaction Bundle's entries by fullUrl."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "MedicationRequest":
        raise FhirInvalid(_("The body must be a MedicationRequest resource (resourceType MedicationRequest)."))
    path = "MedicationRequest"
    identifiers = _get(resource, "identifier", f"{path}.identifier", list)
    if len(identifiers) != 1:
        raise FhirInvalid(_("{path}.identifier must hold exactly one identifier (the order's in the hospital's "
                            "record): it makes a retry harmless.", path=path))
    system, value = _identifier(identifiers[0], f"{path}.identifier[0]")
    status = _get(resource, "status", f"{path}.status", str)
    if status not in REQUEST_STATUSES:
        raise FhirInvalid(_("{path}.status “{status}” is not a MedicationRequest status.", path=path,
                            status=status[:40]))
    intent = _get(resource, "intent", f"{path}.intent", str)
    if intent != "order":
        raise FhirUnprocessable(_("{path}.intent must be order (a {intent} is not something the pharmacy prepares).",
                                  path=path, intent=intent[:40]))
    reason_cc = _get(resource, "statusReason", f"{path}.statusReason", dict, required=False)
    status_reason = None
    if reason_cc is not None:
        status_reason = reason_cc.get("text") if isinstance(reason_cc.get("text"), str) else None
        if status_reason is None:
            reasons = reason_cc.get("coding") or []
            status_reason = next((c.get("display") or c.get("code") for c in reasons if isinstance(c, dict)), None)
    subject = _get(resource, "subject", f"{path}.subject", dict)
    patient: PatientFacts | None = None
    subject_identifier = None
    if subject.get("identifier") is not None:
        subject_identifier = _identifier(subject["identifier"], f"{path}.subject.identifier")
    reference = _get(subject, "reference", f"{path}.subject.reference", str, required=False)
    if reference is not None:
        if reference.startswith("#"):
            patient = read_patient(_contained_patient(resource, reference), patient_system, f"{path}.contained[Patient]")
        elif bundled is not None and reference in bundled:
            patient = read_patient(bundled[reference], patient_system, "Bundle.entry[Patient]")
        else:
            raise FhirUnprocessable(_(
                "{path}.subject.reference {reference} is neither a contained Patient (#…) nor a Patient in the "
                "same transaction Bundle: send the Patient with the order, so its identifier, name and birth date can be "
                "checked (H16). Nothing was recorded.", path=path, reference=reference[:80]))
    if patient is None and subject_identifier is None:
        raise FhirInvalid(_("{path}.subject must name the Patient (a reference to it, or its identifier).", path=path))
    medication = _get(resource, "medicationCodeableConcept", f"{path}.medicationCodeableConcept", dict,
                      required=resource.get("medicationReference") is None and status == "active")
    if resource.get("medicationReference") is not None:
        raise FhirUnprocessable(_("{path}.medicationReference is not read: name the medicine with "
                                  "medicationCodeableConcept (ATC or the pharmacy's product code).", path=path))
    codings: list[tuple[str, str]] = []
    for n, coding in enumerate((medication or {}).get("coding") or []):
        codings.append(_identifier({"system": coding.get("system") if isinstance(coding, dict) else None,
                                    "value": coding.get("code") if isinstance(coding, dict) else None},
                                   f"{path}.medicationCodeableConcept.coding[{n}]"))
    dosages = _get(resource, "dosageInstruction", f"{path}.dosageInstruction", list, required=status == "active") or []
    dose = scheduled = None
    if dosages:
        if len(dosages) != 1:
            raise FhirUnprocessable(_("{path}.dosageInstruction must hold one dosage: one order is one dose on one day.",
                                      path=path))
        dosage = dosages[0]
        rates = _get(dosage, "doseAndRate", f"{path}.dosageInstruction[0].doseAndRate", list)
        if len(rates) != 1:
            raise FhirInvalid(_("{path}.dosageInstruction[0].doseAndRate must hold one doseQuantity.", path=path))
        dose = read_dose(_get(rates[0], "doseQuantity", f"{path}.dosageInstruction[0].doseAndRate[0].doseQuantity", dict),
                         f"{path}.dosageInstruction[0].doseAndRate[0].doseQuantity")
        scheduled = _scheduled(dosage, f"{path}.dosageInstruction[0]", zone)
    course = _whole(_extension(resource, EXT_COURSE, "valueInteger", path), 1, 99, f"{path}.extension course")
    day = _whole(_extension(resource, EXT_COURSE_DAY, "valueInteger", path), 1, 31, f"{path}.extension course-day")
    ward = _extension(resource, EXT_WARD, "valueString", path)
    priority = _get(resource, "priority", f"{path}.priority", str, required=False) or "routine"
    request = OrderRequest(system, value, status, status_reason, patient, subject_identifier, tuple(codings), dose,
                           scheduled, course, day, ward.strip() if ward else None, priority in URGENT_PRIORITIES)
    if status == "active":
        missing = [name for name, given in ((_("the Patient with name and birth date"), patient),
                                            (_("a medication coding"), codings),
                                            (_("dosageInstruction[0].timing.event (the day)"), scheduled),
                                            (_("extension {url}", url=EXT_COURSE), course),
                                            (_("extension {url}", url=EXT_COURSE_DAY), day))
                   if not given]
        if missing:
            raise FhirInvalid(_("A new order (status active) needs {missing}. Nothing was recorded.",
                                missing=", ".join(missing)))
    return request


def read_transaction(bundle: Any) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """A transaction Bundle: its resources by fullUrl, and its MedicationRequests with their request method."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirInvalid(_("The body must be a Bundle."))
    if bundle.get("type") != "transaction":
        raise FhirUnprocessable(_("Only a Bundle of type transaction is accepted here."))
    entries = _get(bundle, "entry", "Bundle.entry", list)
    if not entries or len(entries) > 50:
        raise FhirInvalid(_("Bundle.entry must hold 1 to 50 entries."))
    by_url: dict[str, Any] = {}
    requests: list[tuple[str, dict[str, Any]]] = []
    for n, entry in enumerate(entries):
        resource = _get(entry, "resource", f"Bundle.entry[{n}].resource", dict)
        kind = resource.get("resourceType")
        if kind not in ("Patient", "MedicationRequest"):
            raise FhirUnprocessable(_("Bundle.entry[{n}] is a {kind}: only Patient and MedicationRequest are read.", n=n,
                                      kind=str(kind)[:40]))
        full_url = _get(entry, "fullUrl", f"Bundle.entry[{n}].fullUrl", str, required=False)
        if full_url:
            by_url[full_url] = resource
        method = _get(_get(entry, "request", f"Bundle.entry[{n}].request", dict), "method",
                      f"Bundle.entry[{n}].request.method", str)
        if kind == "MedicationRequest":
            requests.append((method, resource))
    if not requests:
        raise FhirUnprocessable(_("The Bundle holds no MedicationRequest."))
    return by_url, requests


def product_for(codings: tuple[tuple[str, str], ...], products: dict[str, tuple[tuple[str, str], ...]]) -> str:
    """The one product whose codes (``codes_of``) include a coding sent; else a refusal listing the codes known."""
    matches = sorted({pid for pid, codes in products.items() for coding in codings if coding in codes})
    if len(matches) == 1:
        return matches[0]
    sent = ", ".join(f"{s}|{c}" for s, c in codings) or _("none")
    if matches:
        raise FhirUnprocessable(_("The medication codes sent ({sent}) name more than one product ({products}). "
                                  "Nothing was recorded.", sent=sent, products=", ".join(matches)))
    known = "; ".join(f"{pid}: " + ", ".join(f"{s}|{c}" for s, c in codes) for pid, codes in sorted(products.items()))
    raise FhirUnprocessable(_("No product of this pharmacy has the medication codes sent ({sent}). Known: {known}. "
                              "Nothing was recorded.", sent=sent, known=known))


def codes_of(product_id: str, atc: str, preparation_gtin: str, vial_gtins: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The codings that name a product: its ATC code, the pharmacy's product id and the GTINs of bag and vial."""
    codes = [(PRODUCT, product_id), (GTIN, preparation_gtin), *((GTIN, g) for g in vial_gtins)]
    return tuple([(ATC, atc)] + codes if atc else codes)


# --- writing ------------------------------------------------------------------------------------


def instant(moment: datetime) -> str:
    """A FHIR instant/dateTime: UTC, seconds, with its offset."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def operation_outcome(message: str, code: str = "processing", severity: str = "error",
                      details: str | None = None) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": message}
    if details:
        issue["details"] = {"text": details}
    return {"resourceType": "OperationOutcome", "issue": [issue]}


@dataclass(frozen=True)
class Ingredient:
    """A vial or a diluent that went into the bag, as the record has it."""

    key: str  # "vial" or "diluent": the contained resource's id
    name: str
    gtin: str
    lot: str
    expiry: date
    amount: Quantity | None  # the volume withdrawn or the diluent's volume


@dataclass(frozen=True)
class BagFacts:
    serial: str
    batch: str
    product_id: str
    product_name: str
    codes: tuple[tuple[str, str], ...]
    form: str
    dose: Quantity
    route: str
    route_text: str
    use_by: datetime
    prepared_at: datetime | None
    ingredients: tuple[Ingredient, ...]


@dataclass(frozen=True)
class Performer:
    function: str  # dispense: packager, checker; administration: performer
    username: str
    full_name: str


@dataclass(frozen=True)
class PatientRef:
    system: str
    identifier: str
    name: str


def _codeable(codes: tuple[tuple[str, str], ...], text: str) -> dict[str, Any]:
    return {"coding": [{"system": s, "code": c} for s, c in codes], "text": text}


def _quantity(amount: Quantity, unit: str) -> dict[str, Any]:
    value = round(float(amount.to(unit).magnitude), 6)
    return {"value": int(value) if value.is_integer() else value, "unit": unit, "system": UCUM, "code": unit}


def _subject(patient: PatientRef) -> dict[str, Any]:
    return {"identifier": {"system": patient.system, "value": patient.identifier}, "display": patient.name}


def _actor(performer: Performer) -> dict[str, Any]:
    return {"identifier": {"system": USER, "value": performer.username}, "display": performer.full_name}


def medication(bag: BagFacts) -> list[dict[str, Any]]:
    """The bag as a Medication (id: its serial) with each ingredient a contained Medication with lot and expiry
    (their ids: ``vial``, ``diluent``), the bag's own batch and its use-by as ``batch.expirationDate``."""
    ingredients = [{"resourceType": "Medication", "id": i.key, "code": {"coding": [{"system": GTIN, "code": i.gtin}],
                                                                        "text": i.name},
                    "batch": {"lotNumber": i.lot, "expirationDate": i.expiry.isoformat()}} for i in bag.ingredients]
    strength = {i.key: i.amount for i in bag.ingredients if i.amount is not None}
    diluent = next((i.name for i in bag.ingredients if i.key == "diluent"), None)
    bag_medication = {
        "resourceType": "Medication", "id": bag.serial,
        "identifier": [{"system": BAG, "value": bag.serial}],
        "code": _codeable(bag.codes, f"{bag.product_name} {bag.dose:~P}" + (f" in {diluent}" if diluent else "")
                          + ", infusion bag"),
        "status": "active", "form": {"text": bag.form},
        "ingredient": [{"itemReference": {"reference": f"#{i.key}", "display": i.name}, "isActive": i.key == "vial",
                        **({"strength": {"numerator": _quantity(strength[i.key], "mL"),
                                         "denominator": {"value": 1, "unit": "bag", "system": UCUM, "code": "1"}}}
                           if i.key in strength else {})} for i in bag.ingredients],
        "batch": {"lotNumber": bag.batch, "expirationDate": instant(bag.use_by)},
    }
    return [bag_medication, *ingredients]


def medication_resource(bag: BagFacts) -> dict[str, Any]:
    """``GET Medication/{bag}``: the bag's Medication with its ingredients contained."""
    main, *ingredients = medication(bag)
    return {**main, "contained": ingredients} if ingredients else main


def _contained(bag: BagFacts) -> list[dict[str, Any]]:
    main, *ingredients = medication(bag)
    return [{**main, "id": "bag"}, *ingredients]


def medication_dispense(bag: BagFacts, patient: PatientRef, performers: tuple[Performer, ...], status: str,
                        handed_over: datetime | None, ward: str, prescription: tuple[str, str] | None,
                        reason: str | None = None) -> dict[str, Any]:
    """The release of the bag (``completed``), or later what became of it: ``declined`` (rejected at the check),
    ``stopped`` (destroyed after release, never given). Id and identifier: the bag serial."""
    resource: dict[str, Any] = {
        "resourceType": "MedicationDispense", "id": bag.serial,
        "identifier": [{"system": BAG, "value": bag.serial}],
        "contained": _contained(bag), "status": status,
        "medicationReference": {"reference": "#bag", "display": bag.product_name},
        "subject": _subject(patient),
        "performer": [{"function": {"coding": [{"system": DISPENSE_FUNCTION, "code": p.function}]}, "actor": _actor(p)}
                      for p in performers],
        "quantity": {"value": 1, "unit": "bag", "system": UCUM, "code": "1"},
        "destination": {"display": ward},
        "dosageInstruction": [{"text": f"{bag.dose:~P} {bag.route_text}",
                               "route": _route(bag), "doseAndRate": [{"doseQuantity": _quantity(bag.dose, "mg")}]}],
        "extension": [{"url": EXT_USE_BY, "valueDateTime": instant(bag.use_by)}],
    }
    if bag.prepared_at is not None:
        resource["whenPrepared"] = instant(bag.prepared_at)
    if handed_over is not None:
        resource["whenHandedOver"] = instant(handed_over)
    if prescription is not None:
        resource["authorizingPrescription"] = [{"identifier": {"system": prescription[0], "value": prescription[1]}}]
    if reason:
        resource["statusReasonCodeableConcept"] = {"text": reason}
    return resource


def _route(bag: BagFacts) -> dict[str, Any]:
    code = ROUTES.get(bag.route)
    return {"coding": [{"system": ROUTE, "code": code[0], "display": code[1]}], "text": bag.route_text} if code \
        else {"text": bag.route_text}


def medication_administration(bag: BagFacts, patient: PatientRef, performer: Performer, status: str, started: datetime,
                              ended: datetime | None, prescription: tuple[str, str] | None,
                              reason: str | None = None, refusal: int | None = None) -> dict[str, Any]:
    """The bedside: ``in-progress`` at the start, ``on-hold`` while interrupted, ``completed`` at the end, ``stopped``
    with its reason for an early end, ``not-done`` for a refused bedside check. Id and identifier: the bag serial."""
    own = f"{bag.serial}-R{refusal}" if refusal is not None else bag.serial  # a refused start: its own record
    resource: dict[str, Any] = {
        "resourceType": "MedicationAdministration", "id": own,
        "identifier": [{"system": BEDSIDE_REFUSAL if refusal is not None else BAG, "value": own}],
        "contained": _contained(bag), "status": status,
        "medicationReference": {"reference": "#bag", "display": bag.product_name},
        "subject": _subject(patient),
        "performer": [{"function": {"coding": [{"system": ADMIN_FUNCTION, "code": performer.function}]},
                       "actor": _actor(performer)}],
        "dosage": {"text": f"{bag.dose:~P} {bag.route_text}", "route": _route(bag), "dose": _quantity(bag.dose, "mg")},
    }
    if status == "not-done":  # a refused bedside check: when it was refused
        resource["effectiveDateTime"] = instant(started)
    else:
        resource["effectivePeriod"] = {"start": instant(started), **({"end": instant(ended)} if ended else {})}
    if prescription is not None:
        resource["request"] = {"identifier": {"system": prescription[0], "value": prescription[1]}}
    if reason:
        resource["statusReason"] = [{"text": reason}]
    return resource


def capability_statement(version: str, software: str, now: datetime) -> dict[str, Any]:
    """What ``/fhir/r4`` does, as ``GET /metadata`` says it."""
    def resource(kind: str, interactions: list[str], params: list[tuple[str, str]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
        item: dict[str, Any] = {"type": kind, "interaction": [{"code": i} for i in interactions]}
        if params:
            item["searchParam"] = [{"name": n, "type": t} for n, t in params]
        return item
    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": instant(now), "kind": "instance",
        "software": {"name": software, "version": version}, "fhirVersion": FHIR_VERSION,
        "format": [FHIR_JSON, "json"],
        "rest": [{"mode": "server",
                  "security": {"description": "Authorization: Bearer <API token> (pharmacy tokens create); the token's "
                                              "scope must include fhir.orders to send orders, fhir.read to read."},
                  "resource": [resource("MedicationRequest", ["create", "update"]),
                               resource("MedicationDispense", ["search-type"], [("patient", "token")]),
                               resource("MedicationAdministration", ["search-type"], [("patient", "token")]),
                               resource("Medication", ["read"])],
                  "interaction": [{"code": "transaction"}]}],
    }


def searchset(resources: list[dict[str, Any]], base: str) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
                      for r in resources]}


# the order's state → the MedicationRequest's status as the pharmacy sees it
REQUEST_STATUS_OF = {"entered": "active", "blocked": "active", "verified": "active", "in_preparation": "active",
                     "prepared": "active", "released": "completed", "held": "on-hold", "cancelled": "cancelled",
                     "rejected": "stopped"}
EXT_ORDER_STATE = f"{PHARMACY}:fhir:order-state"  # MedicationRequest (answered): the pharmacy's state of the order


def medication_request(order_id: int, identifier: tuple[str, str], state: str, patient_identifier: str, patient_name: str,
                       patient_system: str, codes: tuple[tuple[str, str], ...], product_name: str, dose: Quantity,
                       scheduled_on: date, course: int, course_day: int, ward: str, urgent: bool,
                       violations: list[str]) -> dict[str, Any]:
    """The order as the pharmacy holds it (the answer to a POST, PUT or GET), with its state as an extension:
    ``blocked`` waits for a pharmacist (the course rules, SmPC 4.2), whose reasons are in ``note``."""
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest", "id": str(order_id),
        "identifier": [{"system": identifier[0], "value": identifier[1]}],
        "status": REQUEST_STATUS_OF.get(state, "unknown"), "intent": "order", "priority": "urgent" if urgent else "routine",
        "medicationCodeableConcept": _codeable(codes, product_name),
        "subject": {"identifier": {"system": patient_system, "value": patient_identifier}, "display": patient_name},
        "dosageInstruction": [{"timing": {"event": [scheduled_on.isoformat()]},
                               "doseAndRate": [{"doseQuantity": _quantity(dose, "mg")}]}],
        "extension": [{"url": EXT_COURSE, "valueInteger": course}, {"url": EXT_COURSE_DAY, "valueInteger": course_day},
                      {"url": EXT_WARD, "valueString": ward}, {"url": EXT_ORDER_STATE, "valueCode": state}],
    }
    if violations:
        resource["note"] = [{"text": v} for v in violations]
    return resource
