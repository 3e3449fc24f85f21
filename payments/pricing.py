"""Price lists and quotes: validating a clinic's price list, its JSON form for the API,
the platform's default list, quoting a visit, the doctor's extras at completion, the
cancellation fee and when a card hold is made.

Every refusal is a `payments.model.PaymentError` (an `AmountError` for money that does
not fit), with a message that names the field ("services[2].price_kopecks: ...").
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from typing import Any, Final, Literal, TypeVar

from payments.model import (
    MAX_AMOUNT_KOPECKS,
    AmountError,
    CancellationPolicy,
    Commission,
    DoctorShare,
    Extra,
    Kopecks,
    Method,
    PaymentError,
    PriceItemKind,
    PriceList,
    Quote,
    QuoteLine,
    Service,
    Surcharges,
    TaxSettings,
)
from payments.money import check_kopecks, is_kopecks, percent_of

CODE_RE: Final = re.compile(r"[a-z0-9_-]{1,40}")
CALL_TYPE_RE: Final = re.compile(r"[a-z][a-z_]{0,63}")  # as the booking API accepts
NAME_MAX: Final = 128  # a receipt item's description is at most 128 characters
REASON_MAX: Final = 500
MAX_SERVICES: Final = 200
MAX_EXTRAS: Final = 200
MAX_EXTRAS_PER_VISIT: Final = 20
MAX_FREE_DISTANCE_M: Final = 1_000_000
PRIORITIES: Final = ("normal", "urgent", "emergency")
STAGES: Final = ("before_assigned", "after_assigned", "after_arrived")

HOLD_LIFETIME_S: Final = 7 * 86_400  # YooKassa cancels a card hold after 7 days
HOLD_AHEAD_S: Final = 6 * 86_400  # so we hold at most 6 days before the visit

Priority = Literal["normal", "urgent", "emergency"]
Stage = Literal["before_assigned", "after_assigned", "after_arrived"]


MAX_DOCTOR_SHARES = 500  # a list at its longest stays within the 64 KiB body limit
_DOCTOR_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class PriceListError(PaymentError):
    """A price list (or its JSON) that is not acceptable. `field` names the place."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class PriceListAmountError(PriceListError, AmountError):
    """A price list's amount that is not a whole, non-negative number of kopecks."""


class UnknownServiceError(PaymentError):
    """No service in the price list for this call type (and specialty)."""


class UnknownExtraError(PaymentError):
    """The doctor named an extra the clinic's price list does not have."""


# ---------------------------------------------------------------------------- validation


def _int(value: object, where: str, low: int, high: int) -> int:
    if not is_kopecks(value):  # an int, never a bool or a float
        raise PriceListError(where, f"a whole number, not {type(value).__name__}")
    assert isinstance(value, int)
    if not low <= value <= high:
        raise PriceListError(where, f"must be in {low}..{high}")
    return value


def _money(value: object, where: str) -> Kopecks:
    if not is_kopecks(value):
        raise PriceListAmountError(where, f"a whole number of kopecks, not {type(value).__name__}")
    assert isinstance(value, int)
    if not 0 <= value <= MAX_AMOUNT_KOPECKS:
        raise PriceListAmountError(where, f"must be in 0..{MAX_AMOUNT_KOPECKS} kopecks")
    return value


def _text(value: object, where: str, max_len: int = NAME_MAX) -> str:
    if not isinstance(value, str):
        raise PriceListError(where, f"a string, not {type(value).__name__}")
    if not value.strip():
        raise PriceListError(where, "must not be empty")
    if value != value.strip():
        raise PriceListError(where, "no leading or trailing spaces")
    if len(value) > max_len:
        raise PriceListError(where, f"at most {max_len} characters")
    if any(not c.isprintable() for c in value):
        raise PriceListError(where, "no control characters")
    return value


def _pattern(value: object, where: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise PriceListError(where, f"must be {what}")
    return value


def validate_price_list(price_list: PriceList) -> PriceList:
    """Check every field of `price_list` (types too: a float or a bool is never an
    amount); return it unchanged, or raise PriceListError (PriceListAmountError for
    money) naming the first bad field."""
    pl = price_list
    if not isinstance(pl, PriceList):
        raise PriceListError("", "not a price list")
    if pl.clinic_id is not None:
        _text(pl.clinic_id, "clinic_id", 128)
    if pl.currency != "RUB":
        raise PriceListError("currency", "only RUB")
    if not isinstance(pl.services, tuple) or not pl.services:
        raise PriceListError("services", "at least one service")
    if len(pl.services) > MAX_SERVICES:
        raise PriceListError("services", f"at most {MAX_SERVICES}")
    if not isinstance(pl.extras, tuple) or len(pl.extras) > MAX_EXTRAS:
        raise PriceListError("extras", f"a list of at most {MAX_EXTRAS}")
    codes: set[str] = set()
    keys: set[tuple[str, str | None]] = set()
    for i, s in enumerate(pl.services):
        at = f"services[{i}]"
        if not isinstance(s, Service):
            raise PriceListError(at, "not a service")
        code = _pattern(s.code, f"{at}.code", CODE_RE, "1..40 of a-z, 0-9, _ and -")
        if code in codes:
            raise PriceListError(f"{at}.code", f"{code!r} is used twice")
        codes.add(code)
        _pattern(s.call_type, f"{at}.call_type", CALL_TYPE_RE, "a call type like home_visit")
        if s.specialty is not None:
            _pattern(s.specialty, f"{at}.specialty", CALL_TYPE_RE, "a specialty like therapist")
        key = (s.call_type, s.specialty)
        if key in keys:
            raise PriceListError(at, f"a second price for {s.call_type}/{s.specialty or '*'}")
        keys.add(key)
        _text(s.name_ru, f"{at}.name_ru")
        _text(s.name_en, f"{at}.name_en")
        _money(s.price_kopecks, f"{at}.price_kopecks")
    for i, e in enumerate(pl.extras):
        at = f"extras[{i}]"
        if not isinstance(e, Extra):
            raise PriceListError(at, "not an extra")
        code = _pattern(e.code, f"{at}.code", CODE_RE, "1..40 of a-z, 0-9, _ and -")
        if code in codes:
            raise PriceListError(f"{at}.code", f"{code!r} is used twice")
        codes.add(code)
        _text(e.name_ru, f"{at}.name_ru")
        _text(e.name_en, f"{at}.name_en")
        if _money(e.price_kopecks, f"{at}.price_kopecks") == 0:
            raise PriceListAmountError(f"{at}.price_kopecks", "an extra costs something")
    sur = pl.surcharges
    if not isinstance(sur, Surcharges):
        raise PriceListError("surcharges", "not surcharges")
    for name in ("emergency_kopecks", "urgent_kopecks", "night_kopecks", "per_km_kopecks"):
        _money(getattr(sur, name), f"surcharges.{name}")
    _int(sur.night_from_h, "surcharges.night_from_h", 0, 23)
    _int(sur.night_to_h, "surcharges.night_to_h", 0, 23)
    _int(sur.free_distance_m, "surcharges.free_distance_m", 0, MAX_FREE_DISTANCE_M)
    cp = pl.cancellation
    if not isinstance(cp, CancellationPolicy):
        raise PriceListError("cancellation", "not a cancellation policy")
    for stage in STAGES:
        _int(getattr(cp, f"{stage}_percent"), f"cancellation.{stage}_percent", 0, 100)
        _money(getattr(cp, f"{stage}_kopecks"), f"cancellation.{stage}_kopecks")
    tax = pl.tax
    if not isinstance(tax, TaxSettings):
        raise PriceListError("tax", "not tax settings")
    _int(tax.vat_code, "tax.vat_code", 1, 12)
    if tax.tax_system_code is not None:
        _int(tax.tax_system_code, "tax.tax_system_code", 1, 6)
    com = pl.commission
    if not isinstance(com, Commission):
        raise PriceListError("commission", "not a commission")
    _int(com.percent_bp, "commission.percent_bp", 0, 10_000)
    _money(com.fixed_kopecks, "commission.fixed_kopecks")
    _int(com.doctor_share_bp, "commission.doctor_share_bp", 0, 10_000)
    if not isinstance(pl.doctor_shares, tuple) or len(pl.doctor_shares) > MAX_DOCTOR_SHARES:
        raise PriceListError("doctor_shares", f"at most {MAX_DOCTOR_SHARES}")
    seen_doctors: set[str] = set()
    for i, share in enumerate(pl.doctor_shares):
        if not isinstance(share, DoctorShare):
            raise PriceListError(f"doctor_shares[{i}]", "not a doctor's share")
        _pattern(share.doctor_id, f"doctor_shares[{i}].doctor_id", _DOCTOR_ID, "an account id")
        _int(share.share_bp, f"doctor_shares[{i}].share_bp", 0, 10_000)
        if share.doctor_id in seen_doctors:
            raise PriceListError(f"doctor_shares[{i}].doctor_id", "each doctor at most once")
        seen_doctors.add(share.doctor_id)
    _int(pl.extras_cap_percent, "extras_cap_percent", 0, 100)
    if not isinstance(pl.pay_at_visit_allowed, bool):
        raise PriceListError("pay_at_visit_allowed", "true or false")
    if not isinstance(pl.methods, tuple) or not pl.methods:
        raise PriceListError("methods", "at least one way to pay")
    if any(not isinstance(m, Method) for m in pl.methods):
        raise PriceListError("methods", f"each one of {', '.join(m.value for m in Method)}")
    if len(set(pl.methods)) != len(pl.methods):
        raise PriceListError("methods", "each at most once")
    if Method.AT_VISIT in pl.methods and not pl.pay_at_visit_allowed:
        raise PriceListError("methods", "at_visit is listed but pay_at_visit_allowed is false")
    updated = pl.updated_s
    if type(updated) not in (int, float) or not 0 <= updated <= 1e11 or math.isnan(updated):
        raise PriceListError("updated_s", "a finite, non-negative time in seconds")
    return pl


# ---------------------------------------------------------------------------- JSON


_T = TypeVar("_T")


def _object(data: object, where: str, cls: type[_T], *, required: Sequence[str] = ()) -> _T:
    """A dataclass of plain scalar fields from a JSON object: unknown keys refused,
    missing keys take the dataclass's defaults (`required` ones excepted). The values'
    types are checked by validate_price_list afterwards."""
    if not isinstance(data, Mapping):
        raise PriceListError(where, "an object")
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(str(k) for k in data if k not in names)
    if unknown:
        raise PriceListError(where, f"unknown key(s): {', '.join(unknown)[:200]}")
    for name in required:
        if name not in data:
            raise PriceListError(f"{where}.{name}" if where else name, "required")
    for key, value in data.items():
        if isinstance(value, (Mapping, list, tuple)):
            raise PriceListError(f"{where}.{key}" if where else str(key), "not a plain value")
    try:
        return cls(**{str(k): v for k, v in data.items()})
    except TypeError as exc:  # pragma: no cover - keys were checked above
        raise PriceListError(where, "malformed") from exc


def _list(data: object, where: str, limit: int) -> list[object]:
    if not isinstance(data, list):
        raise PriceListError(where, "a list")
    if len(data) > limit:
        raise PriceListError(where, f"at most {limit} items")
    return data


_TOP_KEYS: Final = frozenset(
    {
        "clinic_id",
        "currency",
        "services",
        "extras",
        "surcharges",
        "cancellation",
        "tax",
        "commission",
        "extras_cap_percent",
        "pay_at_visit_allowed",
        "methods",
        "updated_s",
        "doctor_shares",
    }
)


def price_list_from_json(data: Mapping[str, Any]) -> PriceList:
    """A validated PriceList from its JSON form (the shape price_list_to_json writes).
    Unknown keys anywhere are refused; a missing section or scalar takes the model's
    default, except `services` (required). Money must be JSON integers of kopecks: a
    float (even 3500.0), a string or a bool is refused. Raises PriceListError only.

    The caller decides who may set what: a clinic editing its list must not set its own
    `commission` or `clinic_id` (the services layer overwrites them)."""
    if not isinstance(data, Mapping):
        raise PriceListError("", "a price list is a JSON object")
    unknown = sorted(str(k) for k in data if k not in _TOP_KEYS)
    if unknown:
        raise PriceListError("", f"unknown key(s): {', '.join(unknown)[:200]}")
    if "services" not in data:
        raise PriceListError("services", "required")
    services = tuple(
        _object(s, f"services[{i}]", Service, required=[f.name for f in fields(Service)])
        for i, s in enumerate(_list(data["services"], "services", MAX_SERVICES))
    )
    extras = tuple(
        _object(e, f"extras[{i}]", Extra, required=[f.name for f in fields(Extra)])
        for i, e in enumerate(_list(data.get("extras", []), "extras", MAX_EXTRAS))
    )
    at_visit = data.get("pay_at_visit_allowed", True) is not False
    default_methods = [m.value for m in Method if at_visit or m is not Method.AT_VISIT]
    methods_raw = _list(data.get("methods", default_methods), "methods", 10)
    methods: list[Method] = []
    for i, m in enumerate(methods_raw):
        if not isinstance(m, str) or m not in {x.value for x in Method}:
            raise PriceListError(f"methods[{i}]", f"one of {', '.join(x.value for x in Method)}")
        methods.append(Method(m))
    shares = tuple(
        _object(d, f"doctor_shares[{i}]", DoctorShare, required=["doctor_id", "share_bp"])
        for i, d in enumerate(
            _list(data.get("doctor_shares", []), "doctor_shares", MAX_DOCTOR_SHARES)
        )
    )
    kwargs: dict[str, Any] = {
        "services": services,
        "extras": extras,
        "methods": tuple(methods),
        "doctor_shares": shares,
    }
    for key, cls in (
        ("surcharges", Surcharges),
        ("cancellation", CancellationPolicy),
        ("tax", TaxSettings),
        ("commission", Commission),
    ):
        if key in data:
            kwargs[key] = _object(data[key], key, cls)
    for key in ("clinic_id", "currency", "extras_cap_percent", "pay_at_visit_allowed", "updated_s"):
        if key in data:
            value = data[key]
            if isinstance(value, (Mapping, list, tuple)):
                raise PriceListError(key, "not a plain value")
            kwargs[key] = value
    return validate_price_list(PriceList(clinic_id=kwargs.pop("clinic_id", None), **kwargs))


def price_list_to_json(price_list: PriceList) -> dict[str, Any]:
    """The JSON form (plain dicts, lists, ints, strings): amounts in kopecks as ints."""
    pl = price_list

    def plain(obj: object) -> dict[str, Any]:
        return {f.name: getattr(obj, f.name) for f in fields(obj)}  # type: ignore[arg-type]

    return {
        "clinic_id": pl.clinic_id,
        "currency": pl.currency,
        "services": [plain(s) for s in pl.services],
        "extras": [plain(e) for e in pl.extras],
        "surcharges": plain(pl.surcharges),
        "cancellation": plain(pl.cancellation),
        "tax": plain(pl.tax),
        "commission": plain(pl.commission),
        "extras_cap_percent": pl.extras_cap_percent,
        "pay_at_visit_allowed": pl.pay_at_visit_allowed,
        "methods": [m.value for m in pl.methods],
        "updated_s": pl.updated_s,
        "doctor_shares": [plain(d) for d in pl.doctor_shares],
    }


# ---------------------------------------------------------------------------- the default list


def default_price_list() -> PriceList:
    """The platform's list (clinic_id None), for bookings no clinic has taken yet. It
    keeps today's tariff (services.bookings.Tariff): home visit 3,500 RUB, consultation
    2,500, urgent call 5,000; an urgent booking +30 % and an emergency +50 %, here as
    fixed surcharges of 30 % and 50 % of the home visit (1,050 and 1,750 RUB: the same
    price for a home visit, which most bookings are). No night or distance surcharge,
    as today. A few extras a doctor may add at completion; cancellation and tax as the
    model's defaults (free before a doctor is assigned, 500 RUB after, the full price
    once the doctor has arrived; medical services without VAT)."""
    return validate_price_list(
        PriceList(
            clinic_id=None,
            services=(
                Service("home_visit", "home_visit", None, "Вызов врача на дом", "Home visit", 3_500_00),
                Service("consultation", "consultation", None, "Консультация врача", "Doctor's consultation", 2_500_00),
                Service("urgent", "urgent", None, "Срочный вызов врача", "Urgent doctor's call", 5_000_00),
            ),
            extras=(
                Extra("injection", "Инъекция", "Injection", 500_00),
                Extra("ecg", "Электрокардиограмма (ЭКГ)", "Electrocardiogram (ECG)", 1_500_00),
                Extra("certificate", "Медицинская справка", "Medical certificate", 700_00),
                Extra("sick_leave", "Оформление больничного листа", "Sick leave certificate", 500_00),
            ),
            surcharges=Surcharges(urgent_kopecks=1_050_00, emergency_kopecks=1_750_00),
        )
    )  # fmt: skip


# ---------------------------------------------------------------------------- quotes


def find_service(price_list: PriceList, call_type: str, specialty: str | None) -> Service:
    """The service for this call type and specialty: the specialty's own price if the
    list has one, else the call type's price for any specialty. A call type the list does
    not name (call types are open: "chest_pain", "fever", ...) is priced as the list's
    home visit for any specialty, else as its first service for any specialty;
    UnknownServiceError only when the list has no service for any specialty at all."""
    exact = None
    general = None
    for s in price_list.services:
        if s.call_type != call_type:
            continue
        if specialty is not None and s.specialty == specialty:
            exact = s
        elif s.specialty is None:
            general = s
    found = exact or general
    if found is None:
        fallback = [s for s in price_list.services if s.specialty is None]
        found = next((s for s in fallback if s.call_type == "home_visit"), None) or next(
            iter(fallback), None
        )
    if found is None:
        raise UnknownServiceError(
            f"no price for a {str(call_type)[:64]!r} call"
            + (f" ({str(specialty)[:64]})" if specialty else "")
        )
    return found


def is_night(surcharges: Surcharges, local_hour: int) -> bool:
    """Whether `local_hour` (0..23) is in [night_from_h, night_to_h), which may wrap
    past midnight (22 -> 7). Equal ends: no night at all."""
    start, end = surcharges.night_from_h, surcharges.night_to_h
    if start == end:
        return False
    if start < end:
        return start <= local_hour < end
    return local_hour >= start or local_hour < end


def quote(
    price_list: PriceList,
    *,
    call_type: str,
    specialty: str | None,
    priority: str,
    local_hour: int,
    distance_m: float | None,
) -> Quote:
    """Price a visit: the base service, then the surcharges that apply (urgent or
    emergency by `priority`; night by the clinic's local hour; distance for every
    started km of road beyond the free distance; `distance_m` None: not known, no
    distance surcharge). Lines of 0 kopecks are left out. The extras cap is
    total * extras_cap_percent // 100. PaymentError on a bad argument, UnknownServiceError
    when the list has no price for the call, AmountError when the total is too large."""
    if priority not in PRIORITIES:
        raise PaymentError(f"priority: one of {', '.join(PRIORITIES)}")
    if not is_kopecks(local_hour) or not 0 <= local_hour <= 23:
        raise PaymentError("local_hour: a whole hour in 0..23")
    if distance_m is not None and (
        type(distance_m) not in (int, float)
        or not math.isfinite(distance_m)
        or not 0 <= distance_m <= 10_000_000
    ):
        raise PaymentError("distance_m: a finite distance of 0 to 10,000 km, or none")
    service = find_service(price_list, call_type, specialty)
    sur = price_list.surcharges
    lines = [
        QuoteLine(
            PriceItemKind.BASE,
            service.code,
            service.name_ru,
            service.name_en,
            service.price_kopecks,
        )
    ]
    if priority == "urgent" and sur.urgent_kopecks:
        lines.append(
            QuoteLine(
                PriceItemKind.EMERGENCY, "urgent", "Надбавка за срочность", "Urgent call surcharge",
                sur.urgent_kopecks,
            )
        )  # fmt: skip
    if priority == "emergency" and sur.emergency_kopecks:
        lines.append(
            QuoteLine(
                PriceItemKind.EMERGENCY, "emergency", "Надбавка за экстренный вызов",
                "Emergency call surcharge", sur.emergency_kopecks,
            )
        )  # fmt: skip
    if sur.night_kopecks and is_night(sur, local_hour):
        lines.append(
            QuoteLine(
                PriceItemKind.NIGHT, "night", "Надбавка за ночной вызов", "Night call surcharge",
                sur.night_kopecks,
            )
        )  # fmt: skip
    if distance_m is not None and sur.per_km_kopecks and distance_m > sur.free_distance_m:
        km = math.ceil((distance_m - sur.free_distance_m) / 1_000)
        lines.append(
            QuoteLine(
                PriceItemKind.DISTANCE, "distance", f"Выезд за пределы зоны обслуживания, {km} км",
                f"Travel beyond the service area, {km} km", km * sur.per_km_kopecks,
            )
        )  # fmt: skip
    total = sum(line.amount_kopecks for line in lines)
    if total > MAX_AMOUNT_KOPECKS:
        raise AmountError(f"the quote's total is above the limit of {MAX_AMOUNT_KOPECKS} kopecks")
    return Quote(
        lines=tuple(lines),
        total_kopecks=total,
        extras_cap_kopecks=percent_of(total, price_list.extras_cap_percent),
    )


def hold_kopecks(order_quote: Quote) -> Kopecks:
    """What a card hold asks for: the quote plus the extras cap the patient accepted."""
    return order_quote.total_kopecks + order_quote.extras_cap_kopecks


def add_extras(
    order_quote: Quote, price_list: PriceList, extras: Sequence[tuple[str, str]]
) -> tuple[QuoteLine, ...]:
    """The doctor's extras at completion, as quote lines (kind EXTRA, quantity 1 each:
    name the code twice for two). Refuses an unknown code (UnknownExtraError), an empty
    or overlong reason (PaymentError), and extras whose sum is above the quote's extras
    cap (AmountError)."""
    if not isinstance(extras, Sequence) or isinstance(extras, str):
        raise PaymentError("extras: a list of (code, reason)")
    if len(extras) > MAX_EXTRAS_PER_VISIT:
        raise PaymentError(f"extras: at most {MAX_EXTRAS_PER_VISIT} per visit")
    by_code = {e.code: e for e in price_list.extras}
    lines: list[QuoteLine] = []
    for i, item in enumerate(extras):
        if not isinstance(item, tuple) or len(item) != 2:
            raise PaymentError(f"extras[{i}]: a (code, reason) pair")
        code, reason = item
        extra = by_code.get(code) if isinstance(code, str) else None
        if extra is None:
            raise UnknownExtraError(f"extras[{i}]: {str(code)[:40]!r} is not in the price list")
        if not isinstance(reason, str) or not reason.strip():
            raise PaymentError(f"extras[{i}].reason: say why it was added")
        if len(reason.strip()) > REASON_MAX:
            raise PaymentError(f"extras[{i}].reason: at most {REASON_MAX} characters")
        lines.append(
            QuoteLine(
                PriceItemKind.EXTRA, extra.code, extra.name_ru, extra.name_en,
                extra.price_kopecks, reason=reason.strip(),
            )
        )  # fmt: skip
    added = sum(line.amount_kopecks for line in lines)
    if added > order_quote.extras_cap_kopecks:
        raise AmountError(
            f"extras of {added} kopecks are above the cap of "
            f"{order_quote.extras_cap_kopecks} the patient accepted"
        )
    return tuple(lines)


def final_kopecks(order_quote: Quote, extras: Sequence[QuoteLine]) -> Kopecks:
    """What a completed visit costs: the quote plus the extras (at most the hold)."""
    return order_quote.total_kopecks + sum(line.amount_kopecks for line in extras)


def cancellation_fee(
    policy: CancellationPolicy, quote_total_kopecks: Kopecks, stage: str
) -> Kopecks:
    """The fee for cancelling at `stage` (before_assigned | after_assigned |
    after_arrived): total * percent // 100 + the fixed part, never above the total."""
    if stage not in STAGES:
        raise PaymentError(f"stage: one of {', '.join(STAGES)}")
    total = check_kopecks(quote_total_kopecks, "quote_total_kopecks", allow_zero=True)
    percent: int = getattr(policy, f"{stage}_percent")
    fixed: int = getattr(policy, f"{stage}_kopecks")
    return min(total, percent_of(total, percent) + fixed)


def hold_at_s(scheduled_s: float | None, now_s: float) -> float:
    """When to make a card hold: now, or HOLD_AHEAD_S (6 days) before a visit scheduled
    further out, because YooKassa lets a hold live 7 days (HOLD_LIFETIME_S) and a hold
    made at acceptance for a visit weeks away would expire before the capture."""
    if scheduled_s is None:
        return now_s
    return max(now_s, scheduled_s - HOLD_AHEAD_S)


def with_clinic(price_list: PriceList, clinic_id: str | None, commission: Commission) -> PriceList:
    """`price_list` owned by `clinic_id` with the platform's `commission` (what the
    services layer does with a list a clinic sent), validated."""
    return validate_price_list(replace(price_list, clinic_id=clinic_id, commission=commission))
