"""The payments package's pure rules: money as text, price lists and quotes, extras,
cancellation fees, 54-FZ receipts, the ledger's postings, reconciliation with the
provider, and the finance reports."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payments import (
    AmountError,
    PaymentError,
    PriceListError,
    UnknownExtraError,
    UnknownServiceError,
    add_extras,
    cancellation_fee,
    capture_transaction,
    commission_for,
    default_price_list,
    fee_transaction,
    hold_at_s,
    hold_kopecks,
    kopecks_to_rub_str,
    price_list_from_json,
    price_list_to_json,
    quote,
    refund_transaction,
    rub_str_to_kopecks,
    validate_price_list,
)
from payments.ledger import balances
from payments.model import (
    MAX_AMOUNT_KOPECKS,
    Account,
    CancellationPolicy,
    Commission,
    DoctorShare,
    Entry,
    Extra,
    Method,
    Order,
    OrderStatus,
    Payment,
    PaymentMode,
    PriceItemKind,
    PriceList,
    ProviderPayment,
    ProviderRefund,
    ProviderStatus,
    Purpose,
    Receipt,
    ReceiptItem,
    Refund,
    RefundStatus,
    Service,
    Surcharges,
    TaxSettings,
    Transaction,
)
from payments.money import (
    amount_from_json,
    amount_json,
    kopecks_to_signed_rub_str,
    split_proportionally,
)
from payments.receipts import (
    ReceiptError,
    fee_receipt,
    hold_receipt,
    normalize_phone,
    receipt_for_lines,
    receipt_to_yookassa,
    refund_receipt,
)
from payments.reconcile import (
    AnomalyCode,
    MismatchKind,
    compare_with_provider,
    observe_payment,
    observe_refund,
    order_status,
)
from payments.reports import (
    clinic_report,
    doctor_earnings,
    earnings_rows,
    finance_rows,
    period_starts,
    platform_report,
    to_csv,
)

MSK = ZoneInfo("Europe/Moscow")
PL = default_price_list()

# ---------------------------------------------------------------------------- money


@pytest.mark.parametrize(
    ("text", "kopecks"),
    [("123.45", 12_345), ("100", 10_000), ("0.10", 10), ("0.1", 10), ("0", 0), ("7.05", 705)],
)
def test_roubles_parse_exactly(text: str, kopecks: int) -> None:
    assert rub_str_to_kopecks(text) == kopecks


@pytest.mark.parametrize(
    "bad",
    ["1e3", "-1", "1.234", "", " 1", "1 ", "01", "1.", ".5", "+1", "1,5", "١٢", "NaN", "inf",
     "1_000", "1000000000000", 1.5, 100, None, b"1.00"],
)  # fmt: skip
def test_roubles_refuse_anything_but_plain_decimals(bad: object) -> None:
    with pytest.raises(AmountError):
        rub_str_to_kopecks(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1, True, 1.0, "100", None])
def test_kopecks_format_refuses_non_amounts(bad: object) -> None:
    with pytest.raises(AmountError):
        kopecks_to_rub_str(bad)  # type: ignore[arg-type]


@given(st.integers(0, MAX_AMOUNT_KOPECKS))
def test_kopecks_round_trip_through_roubles(kopecks: int) -> None:
    text = kopecks_to_rub_str(kopecks)
    roubles, _, fraction = text.partition(".")
    assert len(fraction) == 2 and roubles.isdigit()
    assert rub_str_to_kopecks(text) == kopecks
    assert amount_from_json(amount_json(kopecks)) == kopecks
    assert amount_json(kopecks) == {"value": text, "currency": "RUB"}


@given(st.integers(-MAX_AMOUNT_KOPECKS, MAX_AMOUNT_KOPECKS))
def test_signed_amounts_for_reports(kopecks: int) -> None:
    text = kopecks_to_signed_rub_str(kopecks)
    sign = -1 if text.startswith("-") else 1
    assert sign * rub_str_to_kopecks(text.lstrip("-")) == kopecks


@given(
    st.one_of(st.text(max_size=20), st.from_regex(r"-?[0-9]{1,14}(\.[0-9]{0,4})?", fullmatch=True))
)
def test_any_text_parses_or_is_refused_with_amount_error(text: str) -> None:
    try:
        kopecks = rub_str_to_kopecks(text)
    except AmountError:
        return
    assert 0 <= kopecks <= MAX_AMOUNT_KOPECKS
    assert rub_str_to_kopecks(kopecks_to_rub_str(kopecks)) == kopecks


@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=12), st.data())
def test_split_proportionally_is_exact_and_bounded(weights: list[int], data: st.DataObject) -> None:
    total = data.draw(st.integers(0, sum(weights)))
    parts = split_proportionally(total, weights)
    assert sum(parts) == total
    assert all(0 <= p <= w for p, w in zip(parts, weights, strict=True))


def test_amount_json_refuses_other_currencies() -> None:
    with pytest.raises(AmountError):
        amount_from_json({"value": "1.00", "currency": "USD"})
    with pytest.raises(AmountError):
        amount_from_json({"value": 1.0, "currency": "RUB"})


# ---------------------------------------------------------------------------- quotes


def test_default_list_keeps_todays_tariff() -> None:
    def total(call_type: str, priority: str) -> int:
        return quote(
            PL, call_type=call_type, specialty=None, priority=priority, local_hour=12, distance_m=0
        ).total_kopecks

    assert total("home_visit", "normal") == 3_500_00
    assert total("consultation", "normal") == 2_500_00
    assert total("urgent", "normal") == 5_000_00
    assert total("home_visit", "urgent") == 4_550_00  # 3,500 * 1.3
    assert total("home_visit", "emergency") == 5_250_00  # 3,500 * 1.5
    assert PL.clinic_id is None
    assert all(s.name_ru and s.name_en for s in PL.services)


def test_quote_lines_total_and_extras_cap() -> None:
    q = quote(
        PL, call_type="home_visit", specialty="therapist", priority="urgent", local_hour=3,
        distance_m=25_000,
    )  # fmt: skip
    assert [line.kind for line in q.lines] == [PriceItemKind.BASE, PriceItemKind.EMERGENCY]
    assert q.total_kopecks == sum(line.amount_kopecks for line in q.lines) == 4_550_00
    assert q.extras_cap_kopecks == 4_550_00 * 50 // 100
    assert hold_kopecks(q) == q.total_kopecks + q.extras_cap_kopecks


def _list(**surcharges: int) -> PriceList:
    return validate_price_list(
        PriceList(
            clinic_id="clinic-1",
            services=(
                Service("visit", "home_visit", None, "Вызов", "Visit", 3_000_00),
                Service("visit-ped", "home_visit", "pediatrician", "Педиатр", "Pediatrician", 4_000_00),
            ),
            extras=(Extra("ecg", "ЭКГ", "ECG", 1_000_00),),
            surcharges=Surcharges(**surcharges),
            extras_cap_percent=40,
        )
    )  # fmt: skip


def test_a_specialty_has_its_own_price_else_the_call_types() -> None:
    pl = _list()

    def base(specialty: str | None) -> int:
        q = quote(pl, call_type="home_visit", specialty=specialty, priority="normal", local_hour=12, distance_m=None)  # fmt: skip
        return q.lines[0].amount_kopecks

    assert base("pediatrician") == 4_000_00
    assert base("therapist") == 3_000_00
    assert base(None) == 3_000_00
    # a call type the list does not name is priced as its home visit
    q = quote(pl, call_type="chest_pain", specialty=None, priority="normal", local_hour=1, distance_m=None)  # fmt: skip
    assert q.lines[0].code == "visit" and q.total_kopecks == 3_000_00
    only_specialists = validate_price_list(
        replace(pl, services=(Service("visit-ped", "home_visit", "pediatrician", "Педиатр", "Pediatrician", 4_000_00),))
    )  # fmt: skip
    with pytest.raises(UnknownServiceError):
        quote(only_specialists, call_type="consultation", specialty=None, priority="normal", local_hour=1, distance_m=None)  # fmt: skip


@pytest.mark.parametrize(
    ("hour", "night"), [(21, False), (22, True), (23, True), (0, True), (6, True), (7, False), (12, False)]
)  # fmt: skip
def test_night_surcharge_wraps_past_midnight(hour: int, night: bool) -> None:
    pl = _list(night_kopecks=700_00, night_from_h=22, night_to_h=7)
    q = quote(pl, call_type="home_visit", specialty=None, priority="normal", local_hour=hour, distance_m=0)  # fmt: skip
    assert (PriceItemKind.NIGHT in {line.kind for line in q.lines}) == night


def test_no_night_when_its_ends_are_equal() -> None:
    pl = _list(night_kopecks=700_00, night_from_h=5, night_to_h=5)
    for hour in range(24):
        q = quote(pl, call_type="home_visit", specialty=None, priority="normal", local_hour=hour, distance_m=0)  # fmt: skip
        assert len(q.lines) == 1


@pytest.mark.parametrize(
    ("distance_m", "km"), [(None, 0), (0, 0), (10_000, 0), (10_001, 1), (11_000, 1), (12_001, 3)]
)
def test_distance_surcharge_per_started_km(distance_m: int | None, km: int) -> None:
    pl = _list(per_km_kopecks=50_00, free_distance_m=10_000)
    q = quote(pl, call_type="home_visit", specialty=None, priority="normal", local_hour=12, distance_m=distance_m)  # fmt: skip
    assert q.total_kopecks == 3_000_00 + km * 50_00


@pytest.mark.parametrize(
    "kwargs",
    [
        {"priority": "asap"},
        {"local_hour": 24},
        {"local_hour": -1},
        {"local_hour": 1.0},
        {"local_hour": True},
        {"distance_m": -1},
        {"distance_m": float("nan")},
        {"distance_m": float("inf")},
        {"distance_m": "100"},
    ],
)
def test_quote_refuses_bad_arguments(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"call_type": "home_visit", "specialty": None, "priority": "normal", "local_hour": 12, "distance_m": 0}  # fmt: skip
    args.update(kwargs)
    with pytest.raises(PaymentError):
        quote(PL, **args)


def test_extras_from_the_list_with_reasons_up_to_the_cap() -> None:
    pl = _list()
    q = quote(pl, call_type="home_visit", specialty=None, priority="normal", local_hour=12, distance_m=0)  # fmt: skip
    assert q.extras_cap_kopecks == 1_200_00
    lines = add_extras(q, pl, [("ecg", "  chest pain  ")])
    assert lines[0].kind is PriceItemKind.EXTRA and lines[0].reason == "chest pain"
    assert lines[0].amount_kopecks == 1_000_00
    with pytest.raises(AmountError):
        add_extras(q, pl, [("ecg", "one"), ("ecg", "two")])  # 2,000 > 1,200
    with pytest.raises(UnknownExtraError):
        add_extras(q, pl, [("mri", "why not")])
    for reason in ("", "   ", None, "x" * 501):
        with pytest.raises(PaymentError):
            add_extras(q, pl, [("ecg", reason)])  # type: ignore[list-item]
    assert add_extras(q, pl, []) == ()


@pytest.mark.parametrize(
    ("stage", "fee"),
    [("before_assigned", 0), ("after_assigned", 500_00), ("after_arrived", 3_500_00)],
)
def test_default_cancellation_fees(stage: str, fee: int) -> None:
    assert cancellation_fee(PL.cancellation, 3_500_00, stage) == fee


def test_cancellation_fee_never_above_the_total_and_knows_its_stages() -> None:
    assert cancellation_fee(PL.cancellation, 300_00, "after_assigned") == 300_00
    policy = CancellationPolicy(after_assigned_percent=30, after_assigned_kopecks=100_00)
    assert cancellation_fee(policy, 1_000_00, "after_assigned") == 400_00
    with pytest.raises(PaymentError):
        cancellation_fee(PL.cancellation, 1_000_00, "after_completed")
    with pytest.raises(AmountError):
        cancellation_fee(PL.cancellation, -1, "after_arrived")


@given(
    st.integers(0, 100), st.integers(0, 10**8), st.integers(0, MAX_AMOUNT_KOPECKS),
    st.sampled_from(["before_assigned", "after_assigned", "after_arrived"]),
)  # fmt: skip
def test_cancellation_fee_is_bounded(percent: int, fixed: int, total: int, stage: str) -> None:
    policy = CancellationPolicy(**{f"{stage}_percent": percent, f"{stage}_kopecks": fixed})
    fee = cancellation_fee(policy, total, stage)
    assert 0 <= fee <= total
    assert fee >= min(total, fixed)


def test_hold_is_made_six_days_ahead_at_most() -> None:
    now = 1_000_000.0
    assert hold_at_s(None, now) == now
    assert hold_at_s(now + 3 * 86_400, now) == now
    assert hold_at_s(now + 20 * 86_400, now) == now + 14 * 86_400


# ---------------------------------------------------------------------------- price list validation


def test_price_list_json_round_trip() -> None:
    data = price_list_to_json(PL)
    assert json.loads(json.dumps(data)) == data  # plain JSON
    assert price_list_from_json(data) == PL
    minimal = price_list_from_json({"services": data["services"]})
    assert minimal.services == PL.services and minimal.extras == ()


def _bad(path: str, value: object) -> dict[str, Any]:
    data = price_list_to_json(PL)
    target: Any = data
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("services.0.price_kopecks", 3500.0, "services[0].price_kopecks"),
        ("services.0.price_kopecks", "3500", "services[0].price_kopecks"),
        ("services.0.price_kopecks", True, "services[0].price_kopecks"),
        ("services.0.price_kopecks", -1, "services[0].price_kopecks"),
        ("services.0.price_kopecks", MAX_AMOUNT_KOPECKS + 1, "services[0].price_kopecks"),
        ("services.0.code", "Home Visit", "services[0].code"),
        ("services.1.code", "home_visit", "services[1].code"),
        ("services.0.call_type", "", "services[0].call_type"),
        ("services.0.name_ru", "", "services[0].name_ru"),
        ("services.0.name_en", "x" * 129, "services[0].name_en"),
        ("services.0.name_en", "line\nbreak", "services[0].name_en"),
        ("extras.0.price_kopecks", 0, "extras[0].price_kopecks"),
        ("extras.0.code", "home_visit", "extras[0].code"),
        ("surcharges.night_from_h", 24, "surcharges.night_from_h"),
        ("surcharges.night_to_h", -1, "surcharges.night_to_h"),
        ("surcharges.urgent_kopecks", 1.5, "surcharges.urgent_kopecks"),
        ("cancellation.after_arrived_percent", 101, "cancellation.after_arrived_percent"),
        ("cancellation.after_assigned_kopecks", -5, "cancellation.after_assigned_kopecks"),
        ("tax.vat_code", 13, "tax.vat_code"),
        ("tax.vat_code", 0, "tax.vat_code"),
        ("tax.vat_code", True, "tax.vat_code"),
        ("tax.tax_system_code", 7, "tax.tax_system_code"),
        ("commission.percent_bp", 10_001, "commission.percent_bp"),
        ("extras_cap_percent", 150, "extras_cap_percent"),
        ("currency", "USD", "currency"),
        ("methods", ["card", "cash"], "methods[1]"),
        ("methods", ["card", "card"], "methods"),
        ("methods", [], "methods"),
        ("services", [], "services"),
        ("pay_at_visit_allowed", "yes", "pay_at_visit_allowed"),
        ("updated_s", float("nan"), "updated_s"),
    ],
)
def test_bad_price_lists_are_refused_naming_the_field(path: str, value: object, field: str) -> None:
    with pytest.raises(PriceListError) as caught:
        price_list_from_json(_bad(path, value))
    assert caught.value.field == field
    assert str(caught.value).startswith(field)


def test_money_errors_in_a_price_list_are_amount_errors() -> None:
    with pytest.raises(AmountError):
        price_list_from_json(_bad("services.0.price_kopecks", 3500.0))


def test_unknown_keys_and_missing_services_are_refused() -> None:
    data = price_list_to_json(PL)
    for place in ("", "services.0", "surcharges", "tax", "commission", "cancellation", "extras.1"):
        broken = copy.deepcopy(data)
        target: Any = broken
        for key in filter(None, place.split(".")):
            target = target[int(key)] if key.isdigit() else target[key]
        target["surprise"] = 1
        with pytest.raises(PriceListError, match="unknown key"):
            price_list_from_json(broken)
    with pytest.raises(PriceListError, match="services: required"):
        price_list_from_json({"extras": []})
    missing_price = copy.deepcopy(data)
    del missing_price["services"][0]["price_kopecks"]
    with pytest.raises(PriceListError, match="required"):
        price_list_from_json(missing_price)
    no_at_visit = copy.deepcopy(data)
    no_at_visit["pay_at_visit_allowed"] = False
    with pytest.raises(PriceListError, match="at_visit"):
        price_list_from_json(no_at_visit)
    del no_at_visit["methods"]
    assert Method.AT_VISIT not in price_list_from_json(no_at_visit).methods


def test_validate_catches_wrong_types_built_in_python() -> None:
    with pytest.raises(PriceListError):
        validate_price_list(replace(PL, services=(replace(PL.services[0], price_kopecks=3500.0),)))  # type: ignore[arg-type]
    with pytest.raises(PriceListError):
        validate_price_list(replace(PL, tax=TaxSettings(vat_code=True)))
    with pytest.raises(PriceListError):
        validate_price_list("not a list")  # type: ignore[arg-type]


_json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
    st.text(max_size=50),
)  # fmt: skip
_json = st.recursive(
    _json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=15), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=400, deadline=None)
@given(st.data(), _json, st.booleans())
def test_random_damage_gives_a_payment_error_or_a_valid_list(
    data: st.DataObject, value: Any, delete: bool
) -> None:
    doc: Any = price_list_to_json(PL)
    path = data.draw(st.sampled_from(_paths(doc)))
    target = doc
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    try:
        result = price_list_from_json(doc)
    except PaymentError:
        return
    assert validate_price_list(result) is result
    assert price_list_from_json(price_list_to_json(result)) == result


@settings(max_examples=300, deadline=None)
@given(_json)
def test_any_json_gives_a_payment_error_or_a_valid_list(doc: Any) -> None:
    try:
        result = price_list_from_json(doc)
    except PaymentError:
        return
    assert validate_price_list(result) is result


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True),
            st.one_of(st.none(), st.from_regex(r"[a-z]{1,8}", fullmatch=True)),
            st.integers(0, 10**9),
        ),
        min_size=1,
        max_size=6,
        unique_by=lambda t: (t[0], t[1]),
    ),
    st.integers(0, 100),
    st.integers(0, 23),
    st.integers(0, 23),
)
def test_valid_lists_round_trip_and_quote(
    services: list[tuple[str, str | None, int]], cap: int, night_from: int, night_to: int
) -> None:
    pl = PriceList(
        clinic_id="c",
        services=tuple(
            Service(f"s{i}", ct, sp, "Услуга", "Service", price)
            for i, (ct, sp, price) in enumerate(services)
        ),
        surcharges=Surcharges(night_from_h=night_from, night_to_h=night_to, night_kopecks=1),
        extras_cap_percent=cap,
    )
    assert price_list_from_json(price_list_to_json(validate_price_list(pl))) == pl
    ct, sp, _ = services[0]
    q = quote(pl, call_type=ct, specialty=sp, priority="normal", local_hour=night_from, distance_m=None)  # fmt: skip
    assert q.total_kopecks == sum(line.amount_kopecks for line in q.lines)
    assert q.extras_cap_kopecks == q.total_kopecks * cap // 100


# ---------------------------------------------------------------------------- receipts


def _visit_quote() -> Any:
    return quote(PL, call_type="home_visit", specialty=None, priority="urgent", local_hour=12, distance_m=0)  # fmt: skip


def test_receipt_for_a_visit_with_extras() -> None:
    q = _visit_quote()
    extras = add_extras(q, PL, [("injection", "секретный диагноз")])
    receipt = receipt_for_lines((*q.lines, *extras), PL.tax, customer_email=" a@b.ru ")
    assert receipt.total_kopecks == q.total_kopecks + 500_00
    assert [i.description for i in receipt.items] == [
        "Вызов врача на дом", "Надбавка за срочность", "Инъекция",
    ]  # fmt: skip
    assert all(
        i.quantity == 1 and i.vat_code == 1 and i.payment_mode is PaymentMode.FULL_PAYMENT
        and i.payment_subject == "service"
        for i in receipt.items
    )  # fmt: skip
    assert receipt.customer_email == "a@b.ru" and receipt.customer_phone is None
    as_json = json.dumps(receipt_to_yookassa(receipt), ensure_ascii=False)
    assert "секретный" not in as_json  # the doctor's reason is not on the receipt


def test_hold_receipt_sums_to_the_hold() -> None:
    q = _visit_quote()
    receipt = hold_receipt(q, replace(PL.tax, tax_system_code=2), customer_phone="+7 912 345-67-89")
    assert receipt.total_kopecks == hold_kopecks(q)
    doc = receipt_to_yookassa(receipt)
    assert doc["customer"] == {"phone": "79123456789"}
    assert doc["tax_system_code"] == 2
    assert doc["items"][0] == {
        "description": "Вызов врача на дом",
        "quantity": "1.00",
        "amount": {"value": "3500.00", "currency": "RUB"},
        "vat_code": 1,
        "payment_mode": "full_payment",
        "payment_subject": "service",
    }
    assert sum(rub_str_to_kopecks(i["amount"]["value"]) for i in doc["items"]) == hold_kopecks(q)


@pytest.mark.parametrize(
    ("phone", "digits"),
    [
        ("+7 (912) 345-67-89", "79123456789"),
        ("8 912 345 67 89", "79123456789"),
        ("9123456789", "79123456789"),
        ("+44 20 7946 0958", "442079460958"),
    ],
)
def test_phones_are_normalised_to_digits(phone: str, digits: str) -> None:
    assert normalize_phone(phone) == digits


@pytest.mark.parametrize(
    "phone", ["", "12345", "+7 912 abc", "++79123456789", "٧٩١٢٣٤٥٦٧٨٩", "0" * 12]
)
def test_bad_phones_are_refused(phone: str) -> None:
    with pytest.raises(ReceiptError):
        normalize_phone(phone)


def test_a_receipt_needs_a_customer_and_a_positive_item() -> None:
    with pytest.raises(ReceiptError):
        fee_receipt(500_00, PL.tax)
    with pytest.raises(ReceiptError):
        fee_receipt(500_00, PL.tax, customer_email="not-an-email")
    with pytest.raises(AmountError):
        fee_receipt(0, PL.tax, customer_email="a@b.ru")
    fee = fee_receipt(500_00, PL.tax, customer_email="a@b.ru", customer_phone="89123456789")
    assert fee.total_kopecks == 500_00 and fee.customer_phone == "79123456789"


def test_long_descriptions_are_cut_to_128() -> None:
    line = replace(_visit_quote().lines[0], name_ru="Очень " * 40)
    receipt = receipt_for_lines([line], PL.tax, customer_email="a@b.ru")
    assert len(receipt.items[0].description) == 128
    assert receipt.items[0].description.endswith("…")


@given(st.lists(st.integers(1, 10**7), min_size=1, max_size=8), st.data())
def test_refund_receipts_sum_to_the_refund(amounts: list[int], data: st.DataObject) -> None:
    paid = Receipt(
        tuple(ReceiptItem(f"Услуга {i}", 1, a, 1, PaymentMode.FULL_PAYMENT) for i, a in enumerate(amounts)),
        customer_email="a@b.ru",
    )  # fmt: skip
    refund = data.draw(st.integers(1, paid.total_kopecks))
    back = refund_receipt(paid, refund)
    assert back.total_kopecks == refund
    by_name = {i.description: i.amount_kopecks for i in paid.items}
    assert all(0 < i.amount_kopecks <= by_name[i.description] for i in back.items)
    assert back.customer_email == "a@b.ru"
    with pytest.raises(ReceiptError):
        refund_receipt(paid, paid.total_kopecks + 1)


def test_refund_receipt_gives_the_remainder_to_the_last_item() -> None:
    paid = receipt_for_lines(_visit_quote().lines, PL.tax, customer_email="a@b.ru")  # 3500 + 1050
    back = refund_receipt(paid, 1_000_01)
    first = 3_500_00 * 1_000_01 // 4_550_00
    last_floor = 1_050_00 * 1_000_01 // 4_550_00
    assert [i.amount_kopecks for i in back.items] == [first, 1_000_01 - first]
    assert 1_000_01 - first == last_floor + 1  # the rounding kopeck went to the last item
    assert back.total_kopecks == 1_000_01


# ---------------------------------------------------------------------------- the ledger


def _order(clinic: str | None = "clinic-1", doctor: str | None = "doc-1") -> Order:
    return Order("b1", "patient-1", clinic, Method.CARD, _visit_quote(), doctor_id=doctor)


def _payment(**kw: Any) -> Payment:
    base: dict[str, Any] = {
        "payment_id": "pay-b1-visit-1", "booking_id": "b1", "purpose": Purpose.VISIT,
        "method": Method.CARD, "amount_kopecks": 6_825_00, "provider_payment_id": "yk-1",
    }  # fmt: skip
    base.update(kw)
    return Payment(**base)


COMMISSION = Commission(percent_bp=1_500, fixed_kopecks=0, doctor_share_bp=6_000)


def test_capture_posting_is_the_designs() -> None:
    paid = _payment(status=ProviderStatus.SUCCEEDED, captured_kopecks=4_550_00)
    txn = capture_transaction(paid, _order(), COMMISSION, at_s=10.0)
    c = 4_550_00 * 1_500 // 10_000
    s = (4_550_00 - c) * 6_000 // 10_000
    assert txn.entries == (
        Entry(Account.TRANSIT, None, 4_550_00),
        Entry(Account.PLATFORM_COMMISSION, None, -c),
        Entry(Account.CLINIC_REVENUE, "clinic-1", -(4_550_00 - c)),
        Entry(Account.CLINIC_REVENUE, "clinic-1", s),
        Entry(Account.DOCTOR_EARNINGS, "doc-1", -s),
    )
    assert txn.txn_id == "capture:pay-b1-visit-1" and txn.kind == "capture" and txn.balanced
    assert txn.service_code == "home_visit" and txn.clinic_id == "clinic-1"
    fee = fee_transaction(paid, _order(), 127_40, at_s=11.0)
    assert fee.txn_id == "fee:pay-b1-visit-1"
    assert fee.entries == (
        Entry(Account.PROVIDER_FEES, None, 127_40),
        Entry(Account.TRANSIT, None, -127_40),
    )


def test_without_clinic_or_doctor_the_platform_owns_it_and_nobody_earns() -> None:
    paid = _payment(status=ProviderStatus.SUCCEEDED, captured_kopecks=1_000_00)
    txn = capture_transaction(paid, _order(clinic=None, doctor=None), COMMISSION, at_s=0.0)
    assert {e.owner for e in txn.entries if e.account is Account.CLINIC_REVENUE} == {"platform"}
    assert all(e.account is not Account.DOCTOR_EARNINGS for e in txn.entries)
    assert txn.balanced


@given(
    st.integers(0, MAX_AMOUNT_KOPECKS),
    st.integers(0, 10_000),
    st.integers(0, 10**9),
    st.integers(0, 10_000),
)
def test_commission_never_exceeds_the_capture(x: int, bp: int, fixed: int, share: int) -> None:
    split = commission_for(x, Commission(bp, fixed, share))
    assert 0 <= split.commission_kopecks <= x
    assert split.clinic_kopecks == x - split.commission_kopecks
    assert 0 <= split.doctor_kopecks <= split.clinic_kopecks


@given(
    st.integers(1, 10**8), st.integers(0, 10_000), st.integers(0, 10**6), st.integers(0, 10_000),
    st.lists(st.integers(1, 100), min_size=1, max_size=6),
)  # fmt: skip
def test_refunds_in_parts_reverse_commission_and_share_exactly(
    x: int, bp: int, fixed: int, share: int, weights: list[int]
) -> None:
    commission = Commission(bp, fixed, share)
    paid = _payment(status=ProviderStatus.SUCCEEDED, captured_kopecks=x)
    order = _order()
    parts = [p for p in split_proportionally(x, [w * x for w in weights]) if p > 0]
    txns = [capture_transaction(paid, order, commission, at_s=0.0)]
    before = 0
    for n, part in enumerate(parts):
        refund = Refund(f"ref-{n}", paid.payment_id, "b1", part, "r", "admin")
        txns.append(
            refund_transaction(
                refund, paid, order, commission, refunded_before_kopecks=before, at_s=1.0
            )
        )
        before += part
    assert all(t.balanced for t in txns)
    bal = balances(txns)
    assert bal.get((Account.PLATFORM_COMMISSION, None), 0) == 0
    assert bal.get((Account.DOCTOR_EARNINGS, "doc-1"), 0) == 0
    assert bal.get((Account.TRANSIT, None), 0) == 0
    assert bal.get((Account.CLINIC_REVENUE, "clinic-1"), 0) == -x  # what the refunds took back...
    assert bal.get((Account.REFUNDS, "clinic-1"), 0) == x  # ...is what was given back
    one = Refund("ref-x", paid.payment_id, "b1", 1, "r", "admin")
    with pytest.raises(AmountError):
        refund_transaction(one, paid, order, commission, refunded_before_kopecks=x, at_s=2.0)


def test_a_single_refund_reverses_c_times_r_over_x() -> None:
    paid = _payment(status=ProviderStatus.SUCCEEDED, captured_kopecks=4_550_00)
    refund = Refund("ref-1", paid.payment_id, "b1", 1_000_00, "r", "admin")
    txn = refund_transaction(
        refund, paid, _order(), COMMISSION, refunded_before_kopecks=0, at_s=0.0
    )
    c = 4_550_00 * 1_500 // 10_000
    s = (4_550_00 - c) * 6_000 // 10_000
    assert txn.txn_id == "refund:ref-1"
    assert txn.entries == (
        Entry(Account.REFUNDS, "clinic-1", 1_000_00),
        Entry(Account.TRANSIT, None, -1_000_00),
        Entry(Account.PLATFORM_COMMISSION, None, c * 1_000_00 // 4_550_00),
        Entry(Account.CLINIC_REVENUE, "clinic-1", -(c * 1_000_00 // 4_550_00)),
        Entry(Account.DOCTOR_EARNINGS, "doc-1", s * 1_000_00 // 4_550_00),
        Entry(Account.CLINIC_REVENUE, "clinic-1", -(s * 1_000_00 // 4_550_00)),
    )


# ---------------------------------------------------------------------------- reconciliation


def _seen(status: ProviderStatus, amount: int = 6_825_00, **kw: Any) -> ProviderPayment:
    base: dict[str, Any] = {
        "provider_payment_id": "yk-1", "status": status, "amount_kopecks": amount,
        "income_kopecks": None, "refunded_kopecks": 0, "paid": status is not ProviderStatus.PENDING,
        "method_type": "bank_card", "confirmation_url": None, "confirmation_token": None,
        "qr_data": None, "created_s": 100.0, "captured_s": None, "expires_s": None,
        "cancellation_party": None, "cancellation_reason": None,
        "metadata": {"booking_id": "b1", "payment_id": "pay-b1-visit-1"},
    }  # fmt: skip
    base.update(kw)
    return ProviderPayment(**base)


def _observe(payment: Payment, seen: ProviderPayment) -> Any:
    return observe_payment(payment, seen, order=_order(), commission=COMMISSION, now_s=500.0)


def test_statuses_move_forward_only_and_the_input_is_not_changed() -> None:
    ours = _payment()
    held = _observe(ours, _seen(ProviderStatus.WAITING_FOR_CAPTURE, expires_s=9.0))
    assert ours.status is ProviderStatus.PENDING  # not mutated
    assert held.payment.status is ProviderStatus.WAITING_FOR_CAPTURE and held.changed
    assert held.payment.expires_s == 9.0 and held.payment.updated_s == 500.0
    stale = _observe(held.payment, _seen(ProviderStatus.PENDING))
    assert stale.payment == held.payment and not stale.changed and stale.anomalies == ()
    done = _observe(held.payment, _seen(ProviderStatus.SUCCEEDED, 4_550_00, captured_s=400.0))
    assert done.payment.captured_kopecks == 4_550_00
    assert [t.txn_id for t in done.transactions] == ["capture:pay-b1-visit-1"]
    assert done.transactions[0].at_s == 400.0
    again = _observe(done.payment, _seen(ProviderStatus.SUCCEEDED, 4_550_00, captured_s=400.0))
    assert again.transactions == () and not again.changed
    late_hold = _observe(done.payment, _seen(ProviderStatus.WAITING_FOR_CAPTURE))
    assert late_hold.transactions == () and late_hold.payment.status is ProviderStatus.SUCCEEDED


def test_the_fee_is_posted_once_when_known() -> None:
    done = _observe(_payment(), _seen(ProviderStatus.SUCCEEDED, 4_550_00)).payment
    with_fee = _observe(done, _seen(ProviderStatus.SUCCEEDED, 4_550_00, income_kopecks=4_420_00))
    assert with_fee.payment.fee_kopecks == 130_00
    assert [t.kind for t in with_fee.transactions] == ["fee"]
    assert _observe(with_fee.payment, _seen(ProviderStatus.SUCCEEDED, 4_550_00, income_kopecks=4_420_00)).transactions == ()  # fmt: skip
    changed = _observe(
        with_fee.payment, _seen(ProviderStatus.SUCCEEDED, 4_550_00, income_kopecks=4_400_00)
    )
    assert [a.code for a in changed.anomalies] == [AnomalyCode.FEE_CHANGED]
    assert changed.payment.fee_kopecks == 130_00 and changed.transactions == ()
    odd = _observe(done, _seen(ProviderStatus.SUCCEEDED, 4_550_00, income_kopecks=5_000_00))
    assert [a.code for a in odd.anomalies] == [AnomalyCode.FEE_INVALID] and odd.transactions == ()


def test_terminal_conflicts_are_anomalies_never_flips() -> None:
    done = _observe(_payment(), _seen(ProviderStatus.SUCCEEDED, 4_550_00)).payment
    conflict = _observe(done, _seen(ProviderStatus.CANCELED))
    assert [a.code for a in conflict.anomalies] == [AnomalyCode.TERMINAL_CONFLICT]
    assert conflict.payment.status is ProviderStatus.SUCCEEDED and conflict.transactions == ()
    canceled = _observe(_payment(), _seen(ProviderStatus.CANCELED, cancellation_reason="expired_on_capture")).payment  # fmt: skip
    assert canceled.cancellation_reason == "expired_on_capture"
    revived = _observe(canceled, _seen(ProviderStatus.SUCCEEDED))
    assert revived.anomalies[0].code is AnomalyCode.TERMINAL_CONFLICT
    assert revived.transactions == () and revived.payment.captured_kopecks == 0


def test_over_capture_is_recorded_and_reported() -> None:
    result = _observe(_payment(), _seen(ProviderStatus.SUCCEEDED, 7_000_00))
    assert [a.code for a in result.anomalies] == [AnomalyCode.OVER_CAPTURE]
    assert result.payment.captured_kopecks == 7_000_00  # the money was taken: the ledger follows
    assert result.transactions[0].entries[0] == Entry(Account.TRANSIT, None, 7_000_00)


def test_another_payments_object_changes_nothing() -> None:
    ours = _payment()
    for seen in (
        _seen(ProviderStatus.SUCCEEDED, provider_payment_id="yk-2"),
        _seen(ProviderStatus.SUCCEEDED, metadata={"payment_id": "pay-b9-visit-1"}),
        _seen(ProviderStatus.SUCCEEDED, amount=0),
    ):
        result = _observe(ours, seen)
        assert not result.changed and result.transactions == () and len(result.anomalies) == 1
    adopted = _observe(_payment(provider_payment_id=None), _seen(ProviderStatus.PENDING))
    assert adopted.payment.provider_payment_id == "yk-1" and adopted.changed


def _refund(**kw: Any) -> Refund:
    base: dict[str, Any] = {
        "refund_id": "ref-pay-b1-visit-1-1", "payment_id": "pay-b1-visit-1", "booking_id": "b1",
        "amount_kopecks": 1_000_00, "reason": "doctor late", "requested_by": "admin-1",
    }  # fmt: skip
    base.update(kw)
    return Refund(**base)


def _seen_refund(status: RefundStatus, amount: int = 1_000_00, rid: str = "yr-1") -> ProviderRefund:
    return ProviderRefund(rid, "yk-1", status, amount, 600.0)


def _observe_refund(refund: Refund, seen: ProviderRefund, payment: Payment) -> Any:
    return observe_refund(refund, seen, payment, order=_order(), commission=COMMISSION, now_s=700.0)


def test_a_refund_is_posted_once_and_moves_the_payment() -> None:
    paid = _observe(_payment(), _seen(ProviderStatus.SUCCEEDED, 4_550_00)).payment
    pending = _observe_refund(_refund(), _seen_refund(RefundStatus.PENDING), paid)
    assert pending.refund.provider_refund_id == "yr-1" and pending.transactions == ()
    done = _observe_refund(pending.refund, _seen_refund(RefundStatus.SUCCEEDED), paid)
    assert [t.txn_id for t in done.transactions] == ["refund:ref-pay-b1-visit-1-1"]
    assert (
        done.payment.refunded_kopecks == 1_000_00 and done.refund.status is RefundStatus.SUCCEEDED
    )
    again = _observe_refund(done.refund, _seen_refund(RefundStatus.SUCCEEDED), done.payment)
    assert again.transactions == () and not again.changed
    stale = _observe_refund(done.refund, _seen_refund(RefundStatus.PENDING), done.payment)
    assert not stale.changed and stale.anomalies == ()
    flip = _observe_refund(done.refund, _seen_refund(RefundStatus.CANCELED), done.payment)
    assert [a.code for a in flip.anomalies] == [AnomalyCode.TERMINAL_CONFLICT]
    other = _observe_refund(
        done.refund, _seen_refund(RefundStatus.SUCCEEDED, rid="yr-2"), done.payment
    )
    assert [a.code for a in other.anomalies] == [AnomalyCode.WRONG_OBJECT]


def test_refunds_never_exceed_the_capture_nor_precede_it() -> None:
    held = _observe(_payment(), _seen(ProviderStatus.WAITING_FOR_CAPTURE)).payment
    early = _observe_refund(_refund(), _seen_refund(RefundStatus.SUCCEEDED), held)
    assert [a.code for a in early.anomalies] == [AnomalyCode.REFUND_NOT_CAPTURED]
    assert early.transactions == () and early.refund.status is RefundStatus.PENDING
    paid = _observe(held, _seen(ProviderStatus.SUCCEEDED, 1_500_00)).payment
    big = _observe_refund(_refund(amount_kopecks=2_000_00), _seen_refund(RefundStatus.SUCCEEDED, 2_000_00), paid)  # fmt: skip
    assert [a.code for a in big.anomalies] == [AnomalyCode.REFUND_OVER_CAPTURE]
    assert big.transactions == () and big.payment.refunded_kopecks == 0
    first = _observe_refund(_refund(), _seen_refund(RefundStatus.SUCCEEDED), paid)
    second = _observe_refund(
        _refund(refund_id="ref-2"), _seen_refund(RefundStatus.SUCCEEDED, rid="yr-2"), first.payment
    )
    assert [a.code for a in second.anomalies] == [AnomalyCode.REFUND_OVER_CAPTURE]
    canceled = _observe_refund(_refund(), _seen_refund(RefundStatus.CANCELED), paid)
    assert canceled.refund.status is RefundStatus.CANCELED and canceled.transactions == ()


def test_order_status_follows_the_money() -> None:
    order = _order()
    assert order_status(order, [], []) is OrderStatus.QUOTED
    assert (
        order_status(replace(order, status=OrderStatus.PAY_AT_VISIT), [], [])
        is OrderStatus.PAY_AT_VISIT
    )
    pending = _payment()
    held = replace(pending, status=ProviderStatus.WAITING_FOR_CAPTURE)
    paid = replace(pending, status=ProviderStatus.SUCCEEDED, captured_kopecks=4_550_00)
    gone = replace(pending, status=ProviderStatus.CANCELED)
    assert order_status(order, [pending], []) is OrderStatus.AWAITING_PAYMENT
    assert order_status(order, [gone, held], []) is OrderStatus.HELD
    assert order_status(order, [gone], []) is OrderStatus.FAILED
    assert (
        order_status(replace(order, status=OrderStatus.CANCELLED), [gone], [])
        is OrderStatus.CANCELLED
    )
    assert order_status(order, [gone, paid], []) is OrderStatus.PAID
    part = _refund(status=RefundStatus.SUCCEEDED, amount_kopecks=1_000_00)
    rest = _refund(refund_id="ref-2", status=RefundStatus.SUCCEEDED, amount_kopecks=3_550_00)
    open_ = _refund(refund_id="ref-3", amount_kopecks=3_550_00)
    assert order_status(order, [paid], [part, open_]) is OrderStatus.PAID
    assert order_status(order, [paid], [part, rest]) is OrderStatus.REFUNDED


def test_daily_reconciliation_reports_every_mismatch() -> None:
    day = (1_000.0, 87_400.0)
    ok = replace(
        _payment(), status=ProviderStatus.SUCCEEDED, captured_kopecks=4_550_00, created_s=2_000.0
    )
    ok_seen = _seen(ProviderStatus.SUCCEEDED, 4_550_00, created_s=2_001.0)
    assert compare_with_provider([ok], [ok_seen], since_s=day[0], until_s=day[1]) == []
    drift = replace(ok, refunded_kopecks=100, fee_kopecks=1)
    kinds = {
        m.kind for m in compare_with_provider([drift], [replace(ok_seen, income_kopecks=4_500_00)])
    }
    assert kinds == {MismatchKind.REFUNDED, MismatchKind.FEE}
    status = compare_with_provider(
        [replace(ok, status=ProviderStatus.WAITING_FOR_CAPTURE)], [ok_seen]
    )
    assert [(m.kind, m.ours, m.theirs) for m in status] == [
        (MismatchKind.STATUS, "waiting_for_capture", "succeeded")
    ]
    amount = compare_with_provider([replace(ok, captured_kopecks=4_000_00)], [ok_seen])
    assert [(m.kind, m.ours, m.theirs) for m in amount] == [
        (MismatchKind.AMOUNT, "400000", "455000")
    ]
    lonely = replace(ok, payment_id="pay-b2-visit-1", provider_payment_id="yk-9")
    stranger = _seen(
        ProviderStatus.SUCCEEDED, provider_payment_id="yk-7", metadata={}, created_s=3_000.0
    )
    outside = _seen(
        ProviderStatus.SUCCEEDED, provider_payment_id="yk-8", metadata={}, created_s=90_000.0
    )
    found = compare_with_provider(
        [ok, lonely], [ok_seen, stranger, outside], since_s=day[0], until_s=day[1]
    )
    assert [(m.kind, m.payment_id, m.provider_payment_id) for m in found] == [
        (MismatchKind.MISSING_AT_PROVIDER, "pay-b2-visit-1", "yk-9"),
        (MismatchKind.MISSING_HERE, None, "yk-7"),
    ]
    never_sent = replace(
        ok, provider_payment_id=None, status=ProviderStatus.CANCELED, captured_kopecks=0
    )
    assert compare_with_provider([never_sent], []) == []
    by_metadata = replace(ok, provider_payment_id=None)
    assert compare_with_provider([by_metadata], [ok_seen]) == []


# ---------------------------------------------------------------------------- reports


def _ts(y: int, m: int, d: int, h: int, mi: int = 0) -> float:
    return datetime(y, m, d, h, mi, tzinfo=UTC).timestamp()


def _ledger() -> list[Transaction]:
    order_a = _order()
    order_b = Order("b2", "patient-2", "clinic-1", Method.SBP, quote(PL, call_type="consultation", specialty=None, priority="normal", local_hour=12, distance_m=0), doctor_id="doc-2")  # fmt: skip
    other = Order("b3", "patient-3", "clinic-2", Method.CARD, _visit_quote(), doctor_id="doc-1")
    pa = _payment(status=ProviderStatus.SUCCEEDED, captured_kopecks=4_550_00)
    pb = _payment(payment_id="pay-b2-visit-1", booking_id="b2", status=ProviderStatus.SUCCEEDED, captured_kopecks=2_500_00)  # fmt: skip
    pc = _payment(payment_id="pay-b3-visit-1", booking_id="b3", status=ProviderStatus.SUCCEEDED, captured_kopecks=1_000_00)  # fmt: skip
    refund = Refund("ref-b2", pb.payment_id, "b2", 2_500_00, "r", "admin")
    return [
        # 2024-03-31 21:30 UTC is 1 April 00:30 in Moscow
        capture_transaction(pa, order_a, COMMISSION, at_s=_ts(2024, 3, 31, 21, 30)),
        fee_transaction(pa, order_a, 127_40, at_s=_ts(2024, 3, 31, 21, 31)),
        capture_transaction(pb, order_b, COMMISSION, at_s=_ts(2024, 3, 31, 20, 0)),  # 23:00 MSK
        refund_transaction(refund, pb, order_b, COMMISSION, refunded_before_kopecks=0, at_s=_ts(2024, 4, 2, 9)),
        capture_transaction(pc, other, COMMISSION, at_s=_ts(2024, 4, 1, 9)),
    ]  # fmt: skip


def test_clinic_report_by_local_day_month_doctor_and_service() -> None:
    txns = _ledger()
    report = clinic_report(txns, clinic_id="clinic-1", tz=MSK)
    t = report.totals
    c_a = 4_550_00 * 1_500 // 10_000
    s_a = (4_550_00 - c_a) * 6_000 // 10_000
    assert t.revenue_kopecks == 7_050_00
    assert t.refunds_kopecks == 2_500_00
    assert t.commission_kopecks == c_a  # b2's commission was given back with its refund
    assert t.doctors_kopecks == s_a
    assert t.fees_kopecks == 127_40
    assert t.payable_kopecks == 7_050_00 - c_a - 2_500_00
    assert t.net_kopecks == t.payable_kopecks - s_a
    bal = balances(txns)
    assert t.net_kopecks == -(
        bal[(Account.CLINIC_REVENUE, "clinic-1")] + bal[(Account.REFUNDS, "clinic-1")]
    )
    assert set(report.by_day) == {date(2024, 3, 31), date(2024, 4, 1), date(2024, 4, 2)}
    assert report.by_day[date(2024, 4, 1)].revenue_kopecks == 4_550_00  # Moscow's day, not UTC's
    assert report.by_month["2024-03"].revenue_kopecks == 2_500_00
    assert report.by_month["2024-04"].refunds_kopecks == 2_500_00
    assert report.by_doctor["doc-2"].doctors_kopecks == 0  # refunded in full
    assert report.by_service["consultation"].net_kopecks == 0
    assert report.by_service["home_visit"].captures == 1
    platform = platform_report(txns, tz=MSK)
    assert set(platform.by_clinic) == {"clinic-1", "clinic-2"}
    assert platform.totals.platform_net_kopecks == platform.totals.commission_kopecks - 127_40


def test_report_csv_rows_in_both_languages() -> None:
    report = clinic_report(_ledger(), clinic_id="clinic-1", tz=MSK)
    ru = finance_rows(report, lang="ru")
    en = finance_rows(report, lang="en")
    assert ru[0][:3] == ["Раздел", "Ключ", "Выручка"] and en[0][:3] == ["Group", "Key", "Revenue"]
    assert ru[1][:3] == ["Итого", "", "7050.00"] and en[1][0] == "Total"
    assert all(len(row) == len(ru[0]) for row in ru)
    day_rows = [r for r in en if r[0] == "Day"]
    assert [r[1] for r in day_rows] == ["2024-03-31", "2024-04-01", "2024-04-02"]
    refund_day = day_rows[2]
    assert refund_day[en[0].index("Net")].startswith("-")  # a day of refunds only
    text = to_csv(en)
    assert text.splitlines()[0].startswith("Group,Key,Revenue")
    assert text.count("\r\n") == len(en)
    with pytest.raises(ValueError, match="lang"):
        finance_rows(report, lang="de")


def test_csv_quotes_formula_like_cells() -> None:
    text = to_csv([["=HYPERLINK(1)", "-12.00", "-x", "+1", "@a", "ok"]])
    assert text.strip() == "'=HYPERLINK(1),-12.00,'-x,'+1,'@a,ok"


def test_doctor_earnings_today_week_month_and_per_visit() -> None:
    txns = _ledger()
    now = _ts(2024, 4, 2, 12)  # Tuesday 2 April, 15:00 in Moscow
    day_s, week_s, month_s = period_starts(now, MSK)
    assert datetime.fromtimestamp(day_s, MSK).isoformat() == "2024-04-02T00:00:00+03:00"
    assert datetime.fromtimestamp(week_s, MSK).isoformat() == "2024-04-01T00:00:00+03:00"
    assert datetime.fromtimestamp(month_s, MSK).isoformat() == "2024-04-01T00:00:00+03:00"
    doc1 = doctor_earnings(txns, doctor_id="doc-1", tz=MSK, now_s=now)
    c_a = 4_550_00 * 1_500 // 10_000
    s_a = (4_550_00 - c_a) * 6_000 // 10_000
    s_c = (1_000_00 - 1_000_00 * 1_500 // 10_000) * 6_000 // 10_000
    assert doc1.today_kopecks == 0
    assert doc1.week_kopecks == doc1.month_kopecks == s_a + s_c
    assert [(v.booking_id, v.earned_kopecks) for v in doc1.visits] == [("b3", s_c), ("b1", s_a)]
    doc2 = doctor_earnings(txns, doctor_id="doc-2", tz=MSK, now_s=now)
    s_b = (2_500_00 - 2_500_00 * 1_500 // 10_000) * 6_000 // 10_000
    assert doc2.today_kopecks == -s_b  # the refund today took the share back
    assert doc2.month_kopecks == -s_b  # earned in March, taken back in April
    assert [(v.booking_id, v.earned_kopecks) for v in doc2.visits] == [("b2", 0)]
    rows = earnings_rows(doc1, lang="en")
    assert rows[0] == ["Booking", "Date", "Service", "Earned"]
    assert rows[2][:3] == ["b1", "2024-04-01", "home_visit"]


def test_a_doctors_contract_sets_their_share() -> None:
    """Per-doctor shares override the clinic's default; they round-trip through JSON and
    bad ones are refused with the field named."""
    pl = replace(
        _list(),
        commission=Commission(percent_bp=1_000, fixed_kopecks=0, doctor_share_bp=5_000),
        doctor_shares=(DoctorShare("doc-a", 8_000),),
    )
    assert pl.commission_for_doctor("doc-a").doctor_share_bp == 8_000
    assert pl.commission_for_doctor("doc-b").doctor_share_bp == 5_000
    assert pl.commission_for_doctor(None) == pl.commission
    assert price_list_from_json(price_list_to_json(validate_price_list(pl))) == pl
    split = commission_for(10_000_00, pl.commission_for_doctor("doc-a"))
    assert (split.commission_kopecks, split.doctor_kopecks) == (1_000_00, 7_200_00)
    for bad, field in (
        ((DoctorShare("doc-a", 8_000), DoctorShare("doc-a", 1)), "doctor_shares[1].doctor_id"),
        ((DoctorShare("doc a", 1),), "doctor_shares[0].doctor_id"),
        ((DoctorShare("doc-a", 10_001),), "doctor_shares[0].share_bp"),
    ):
        with pytest.raises(PriceListError) as info:
            validate_price_list(replace(pl, doctor_shares=bad))
        assert info.value.field == field
