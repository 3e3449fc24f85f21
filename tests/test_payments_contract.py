"""One contract for every PaymentStore adapter: SQLite (embedded) and PostGIS."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import sqlite3
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments.model import (
    Account,
    CancellationPolicy,
    Commission,
    Entry,
    Extra,
    Method,
    Order,
    OrderStatus,
    Payment,
    PaymentMode,
    PriceItemKind,
    PriceList,
    ProviderStatus,
    Purpose,
    Quote,
    QuoteLine,
    Receipt,
    ReceiptItem,
    Refund,
    RefundStatus,
    Service,
    Surcharges,
    TaxSettings,
    Transaction,
)
from payments.ports import PaymentStore, StaleVersionError
from storage.booking_rows import to_time
from storage.payment_rows import (
    PAYMENT_COLUMNS,
    TIME_COLUMNS,
    payment_values,
    price_list_from,
    price_list_json,
)
from storage.postgis_payments import PostgisPaymentStore
from storage.sqlite_payments import SqlitePaymentStore
from tests.postgis_copies import copy_of, migrated_template

T0 = 1_764_000_000.0


@pytest.fixture(scope="module")
def template() -> Iterator[str]:
    with migrated_template() as name:
        yield name


@dataclasses.dataclass
class Backend:
    """The store under test, and a way around it to the database it writes."""

    kind: str
    store: Any  # SqlitePaymentStore | PostgisPaymentStore, both PaymentStores

    @property
    def payments(self) -> PaymentStore:
        store: PaymentStore = self.store
        return store

    def table(self, name: str) -> str:
        sqlite_names = {"orders": "payment_orders", "refunds": "payment_refunds"}
        if self.kind == "postgis":
            return f"payment.{name}"
        return sqlite_names.get(name, name)

    async def execute(self, *statements: tuple[str, tuple[Any, ...]]) -> None:
        """Run raw statements in one transaction, `?` placeholders (rewritten to $n)."""
        if self.kind == "sqlite":
            s: SqlitePaymentStore = self.store

            def run() -> None:
                with s._lock:
                    c = s._conn
                    c.execute("BEGIN IMMEDIATE")
                    try:
                        for sql, args in statements:
                            c.execute(sql, args)
                    except BaseException:
                        c.execute("ROLLBACK")
                        raise
                    c.execute("COMMIT")

            await asyncio.to_thread(run)
            return
        p: PostgisPaymentStore = self.store
        async with p._pool.acquire() as conn, conn.transaction():
            for sql, args in statements:
                await conn.execute(_dollars(sql), *args)

    async def count(self, table: str) -> int:
        sql = f"SELECT count(*) FROM {self.table(table)}"
        if self.kind == "sqlite":
            s: SqlitePaymentStore = self.store
            return int((await s._run(s._all, sql, ()))[0][0])
        p: PostgisPaymentStore = self.store
        return int(await p._pool.fetchval(sql))

    async def seed_payments(self, payments: Sequence[Payment]) -> None:
        """Many payments at once: COPY on PostGIS, one executemany on SQLite."""
        rows = [payment_values(p) for p in payments]
        if self.kind == "sqlite":
            s: SqlitePaymentStore = self.store
            sql = (
                f"INSERT INTO payments ({', '.join(PAYMENT_COLUMNS)})"
                f" VALUES ({', '.join('?' * len(PAYMENT_COLUMNS))})"
            )

            def run() -> None:
                with s._lock:
                    s._conn.execute("BEGIN IMMEDIATE")
                    s._conn.executemany(sql, rows)
                    s._conn.execute("COMMIT")

            await asyncio.to_thread(run)
            return
        p: PostgisPaymentStore = self.store
        records = [
            tuple(
                to_time(v) if c in TIME_COLUMNS else v
                for c, v in zip(PAYMENT_COLUMNS, r, strict=True)
            )
            for r in rows
        ]
        async with p._pool.acquire() as conn:
            await conn.copy_records_to_table(
                "payments", schema_name="payment", columns=PAYMENT_COLUMNS, records=records
            )


def _dollars(sql: str) -> str:
    n = itertools.count(1)
    return "".join(f"${next(n)}" if ch == "?" else ch for ch in sql)


@pytest.fixture(params=["sqlite", "postgis"])
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, template: str
) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        sqlite_store = SqlitePaymentStore(tmp_path / "tot.sqlite3")
        try:
            yield Backend("sqlite", sqlite_store)
        finally:
            await sqlite_store.close()
        return
    async with copy_of(template) as url:
        pg_store = await PostgisPaymentStore.connect(url, max_size=6)
        try:
            yield Backend("postgis", pg_store)
        finally:
            await pg_store.close()


# ---------------------------------------------------------------------------- objects


def price_list(clinic_id: str | None) -> PriceList:
    return PriceList(
        clinic_id=clinic_id,
        services=(
            Service("home", "home_visit", None, "Вызов на дом", "Home visit", 3_500_00),
            Service("home-ped", "home_visit", "pediatrics", "Педиатр", "Paediatrician", 4_000_00),
        ),
        extras=(Extra("ecg", "ЭКГ", "ECG", 1_200_00),),
        surcharges=Surcharges(
            emergency_kopecks=2_000_00,
            urgent_kopecks=1_000_00,
            night_kopecks=700_00,
            night_from_h=23,
            night_to_h=6,
            free_distance_m=8_000,
            per_km_kopecks=50_00,
        ),
        cancellation=CancellationPolicy(after_assigned_percent=10, after_assigned_kopecks=0),
        tax=TaxSettings(vat_code=1, tax_system_code=2),
        commission=Commission(percent_bp=1_250, fixed_kopecks=30_00, doctor_share_bp=5_500),
        extras_cap_percent=40,
        pay_at_visit_allowed=False,
        methods=(Method.CARD, Method.SBP),
        updated_s=T0 + 0.5,
    )


QUOTE = Quote(
    lines=(
        QuoteLine(PriceItemKind.BASE, "home", "Вызов на дом", "Home visit", 3_500_00),
        QuoteLine(PriceItemKind.NIGHT, "night", "Ночь", "Night", 700_00),
    ),
    total_kopecks=4_200_00,
    extras_cap_kopecks=2_100_00,
)
RECEIPT = Receipt(
    items=(
        ReceiptItem("Вызов врача на дом", 1, 4_200_00, 1, PaymentMode.FULL_PAYMENT),
        ReceiptItem("ЭКГ", 2, 600_00, 1, PaymentMode.FULL_PREPAYMENT, "service"),
    ),
    customer_email="patient@example.com",
    customer_phone="79001234567",
    tax_system_code=2,
)


def order(booking_id: str = "b1", **kw: Any) -> Order:
    base: dict[str, Any] = {
        "patient_id": "p1",
        "clinic_id": "c1",
        "method": Method.CARD,
        "quote": QUOTE,
        "created_s": T0,
        "updated_s": T0,
    }
    return Order(booking_id=booking_id, **(base | kw))


def payment(payment_id: str = "pay-b1-visit-1", booking_id: str = "b1", **kw: Any) -> Payment:
    base: dict[str, Any] = {
        "purpose": Purpose.VISIT,
        "method": Method.CARD,
        "amount_kopecks": 6_300_00,
        "created_s": T0,
        "updated_s": T0,
    }
    return Payment(payment_id=payment_id, booking_id=booking_id, **(base | kw))


def refund(refund_id: str = "ref-pay-b1-visit-1-1", **kw: Any) -> Refund:
    base: dict[str, Any] = {
        "payment_id": "pay-b1-visit-1",
        "booking_id": "b1",
        "amount_kopecks": 1_000_00,
        "reason": "Врач опоздал",
        "requested_by": "admin-1",
        "created_s": T0,
        "updated_s": T0,
    }
    return Refund(refund_id=refund_id, **(base | kw))


def capture(
    payment_id: str, x: int, at_s: float, clinic: str = "c1", doctor: str | None = "d1"
) -> Transaction:
    """The design's capture movement (commission 15 %, doctor 60 % of the rest)."""
    c = min(x, x * 1_500 // 10_000)
    s = (x - c) * 6_000 // 10_000 if doctor else 0
    entries = [
        Entry(Account.TRANSIT, None, x),
        Entry(Account.PLATFORM_COMMISSION, None, -c),
        Entry(Account.CLINIC_REVENUE, clinic, -(x - c)),
    ]
    if doctor:
        entries += [
            Entry(Account.CLINIC_REVENUE, clinic, s),
            Entry(Account.DOCTOR_EARNINGS, doctor, -s),
        ]
    return Transaction(
        f"capture:{payment_id}",
        payment_id.split("-")[1],
        payment_id,
        "capture",
        tuple(entries),
        at_s,
        clinic,
        doctor,
        "home",
    )


async def _ledger(store: PaymentStore, batch: int = 5_000, **kw: Any) -> list[Transaction]:
    return [t async for page in store.transactions(0.0, T0 * 2, batch=batch, **kw) for t in page]


# ---------------------------------------------------------------------------- round trips


async def test_price_lists_round_trip_per_clinic_and_the_default(backend: Backend) -> None:
    s = backend.payments
    assert await s.price_list(None) is None
    assert await s.price_list("c1") is None
    default, clinic = price_list(None), price_list("c1")
    await s.save_price_list(default)
    assert await s.price_list(None) == default
    assert await s.price_list("c1") is None  # a clinic without a list is not the default
    await s.save_price_list(clinic)
    assert await s.price_list("c1") == clinic
    changed = dataclasses.replace(clinic, extras=(), extras_cap_percent=10, updated_s=T0 + 60)
    await s.save_price_list(changed)  # saved again: replaced
    assert await s.price_list("c1") == changed
    assert await s.price_list(None) == default
    plain = PriceList(clinic_id="c2")  # every default survives
    await s.save_price_list(plain)
    assert await s.price_list("c2") == plain


async def test_an_order_round_trips_and_is_added_once(backend: Backend) -> None:
    s = backend.payments
    o = order(
        status=OrderStatus.HELD,
        emergency=True,
        doctor_id="d1",
        extras=(QuoteLine(PriceItemKind.EXTRA, "ecg", "ЭКГ", "ECG", 1_200_00, "по показаниям"),),
        final_kopecks=5_400_00,
        customer_email="a@b.ru",
        customer_phone="79000000000",
        updated_s=T0 + 9.25,
    )
    assert await s.add_order(o) is True
    assert await s.order("b1") == o
    other = order(patient_id="someone-else", method=Method.SBP)
    assert await s.add_order(other) is False  # the booking has an order: nothing changes
    assert await s.order("b1") == o
    bare = order("b2", clinic_id=None, method=Method.AT_VISIT)
    assert await s.add_order(bare) is True
    assert await s.order("b2") == bare
    assert await s.order("nope") is None


async def test_payments_round_trip_and_are_found_by_provider_id_and_booking(
    backend: Backend,
) -> None:
    s = backend.payments
    full = payment(
        status=ProviderStatus.SUCCEEDED,
        provider_payment_id="2f1e-prov",
        captured_kopecks=6_000_00,
        refunded_kopecks=1_000_00,
        fee_kopecks=168_00,
        confirmation_url="https://pay/x",
        confirmation_token="ct-1",
        qr_data="https://qr.nspk.ru/abc",
        expires_s=T0 + 3_600,
        cancellation_reason=None,
        receipt=RECEIPT,
        updated_s=T0 + 30,
    )
    assert await s.add_payment(full) is True
    assert await s.payment(full.payment_id) == full
    assert await s.payment_by_provider_id("2f1e-prov") == full
    assert await s.add_payment(payment(amount_kopecks=1)) is False
    assert await s.payment(full.payment_id) == full
    fee = payment(
        "pay-b1-cancellation_fee-1",
        purpose=Purpose.CANCELLATION_FEE,
        method=Method.SBP,
        amount_kopecks=500_00,
        created_s=T0 + 1,
        status=ProviderStatus.CANCELED,
        cancellation_reason="expired_on_confirmation",
    )
    earlier = payment("pay-b1-visit-0", created_s=T0 - 5)
    for p in (fee, earlier, payment("pay-b2-visit-1", "b2")):
        assert await s.add_payment(p) is True
    assert [p.payment_id for p in await s.payments_for_booking("b1")] == [
        "pay-b1-visit-0",
        "pay-b1-visit-1",
        "pay-b1-cancellation_fee-1",
    ]
    assert await s.payments_for_booking("b9") == []
    assert await s.payment("nope") is None
    assert await s.payment_by_provider_id("nope") is None
    with pytest.raises(ValueError, match="refused"):  # a provider id names one payment only
        await s.add_payment(payment("pay-b3-visit-1", "b3", provider_payment_id="2f1e-prov"))
    assert await s.payment("pay-b3-visit-1") is None


async def test_refunds_round_trip_and_are_added_once(backend: Backend) -> None:
    s = backend.payments
    await s.add_payment(payment(status=ProviderStatus.SUCCEEDED, captured_kopecks=6_300_00))
    first = refund(
        status=RefundStatus.SUCCEEDED,
        provider_refund_id="r-prov-1",
        receipt=RECEIPT,
        updated_s=T0 + 2,
    )
    second = refund("ref-pay-b1-visit-1-2", amount_kopecks=1, created_s=T0 + 1)
    assert await s.add_refund(first) is True
    assert await s.add_refund(second) is True
    assert await s.add_refund(refund(amount_kopecks=5)) is False
    assert await s.refund(first.refund_id) == first
    assert await s.refunds_for_payment("pay-b1-visit-1") == [first, second]
    assert await s.refunds_for_payment("pay-none") == []
    assert await s.refund("nope") is None
    with pytest.raises(ValueError, match="refused"):  # of an unknown payment
        await s.add_refund(refund("ref-x-1", payment_id="pay-unknown"))
    with pytest.raises(ValueError, match="refused"):  # a zero amount
        await s.add_refund(refund("ref-x-2", amount_kopecks=0))
    assert await s.refund("ref-x-1") is None and await s.refund("ref-x-2") is None


_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
)
_kopecks = st.integers(min_value=0, max_value=100_000_000_00)
_lines = st.builds(
    QuoteLine,
    st.sampled_from(PriceItemKind),
    _text,
    _text,
    _text,
    _kopecks,
    st.none() | _text,
)
_receipts = st.builds(
    Receipt,
    st.lists(
        st.builds(
            ReceiptItem,
            _text,
            st.integers(1, 10),
            _kopecks,
            st.integers(1, 12),
            st.sampled_from(PaymentMode),
            _text,
        ),
        max_size=4,
    ).map(tuple),
    st.none() | _text,
    st.none() | _text,
    st.none() | st.integers(1, 6),
)
_times = st.integers(min_value=0, max_value=4_000_000_000).map(lambda s: s / 4)
_orders = st.builds(
    Order,
    booking_id=_text,
    patient_id=_text,
    clinic_id=st.none() | _text,
    method=st.sampled_from(Method),
    quote=st.builds(Quote, st.lists(_lines, max_size=4).map(tuple), _kopecks, _kopecks),
    status=st.sampled_from(OrderStatus),
    emergency=st.booleans(),
    doctor_id=st.none() | _text,
    extras=st.lists(_lines, max_size=3).map(tuple),
    final_kopecks=st.none() | _kopecks,
    customer_email=st.none() | _text,
    customer_phone=st.none() | _text,
    created_s=_times,
    updated_s=_times,
    version=st.integers(0, 1_000),
)
_amounts = st.tuples(_kopecks, _kopecks, _kopecks).map(sorted)
_payments = st.builds(
    lambda amounts, **kw: Payment(
        amount_kopecks=max(1, amounts[2]),
        captured_kopecks=amounts[1],
        refunded_kopecks=amounts[0],
        **kw,
    ),
    amounts=_amounts,
    payment_id=_text,
    booking_id=_text,
    purpose=st.sampled_from(Purpose),
    method=st.sampled_from(Method),
    status=st.sampled_from(ProviderStatus),
    provider_payment_id=st.none() | _text,
    fee_kopecks=_kopecks,
    confirmation_url=st.none() | _text,
    confirmation_token=st.none() | _text,
    qr_data=st.none() | _text,
    expires_s=st.none() | _times,
    cancellation_reason=st.none() | _text,
    receipt=st.none() | _receipts,
    created_s=_times,
    updated_s=_times,
    version=st.integers(0, 1_000),
)
_serial = itertools.count()


@given(o=_orders, p=_payments)
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
async def test_any_order_and_payment_round_trip_exactly(
    backend: Backend, o: Order, p: Payment
) -> None:
    n = next(_serial)  # the store lives across examples: keep the keys unique
    o = dataclasses.replace(o, booking_id=f"{o.booking_id}#{n}")
    p = dataclasses.replace(
        p,
        payment_id=f"{p.payment_id}#{n}",
        provider_payment_id=None
        if p.provider_payment_id is None
        else f"{p.provider_payment_id}#{n}",
    )
    assert await backend.payments.add_order(o)
    assert await backend.payments.order(o.booking_id) == o
    assert await backend.payments.add_payment(p)
    assert await backend.payments.payment(p.payment_id) == p


_price_lists = st.builds(
    PriceList,
    clinic_id=st.none() | _text.filter(bool),
    currency=st.just("RUB"),
    services=st.lists(
        st.builds(Service, _text, _text, st.none() | _text, _text, _text, _kopecks), max_size=3
    ).map(tuple),
    extras=st.lists(st.builds(Extra, _text, _text, _text, _kopecks), max_size=3).map(tuple),
    surcharges=st.builds(
        Surcharges,
        _kopecks,
        _kopecks,
        _kopecks,
        st.integers(0, 23),
        st.integers(0, 23),
        st.integers(0, 100_000),
        _kopecks,
    ),
    cancellation=st.builds(
        CancellationPolicy,
        st.integers(0, 100),
        _kopecks,
        st.integers(0, 100),
        _kopecks,
        st.integers(0, 100),
        _kopecks,
    ),
    tax=st.builds(TaxSettings, st.integers(1, 12), st.none() | st.integers(1, 6)),
    commission=st.builds(Commission, st.integers(0, 10_000), _kopecks, st.integers(0, 10_000)),
    extras_cap_percent=st.integers(0, 100),
    pay_at_visit_allowed=st.booleans(),
    methods=st.lists(st.sampled_from(Method), unique=True).map(tuple),
    updated_s=_times,
)


@given(p=_price_lists)
def test_any_price_list_survives_its_json(p: PriceList) -> None:
    key = "" if p.clinic_id is None else p.clinic_id
    assert price_list_from(price_list_json(p), key, p.updated_s) == p


# ---------------------------------------------------------------------------- record()


async def test_record_updates_all_three_and_bumps_their_versions(backend: Backend) -> None:
    s = backend.payments
    o, p = order(), payment()
    await s.add_order(o)
    await s.add_payment(p)
    await s.add_refund(r := refund())
    o.status, o.doctor_id, o.updated_s = OrderStatus.HELD, "d1", T0 + 10
    p.status, p.provider_payment_id, p.updated_s = (
        ProviderStatus.WAITING_FOR_CAPTURE,
        "pp1",
        T0 + 10,
    )
    r.status, r.provider_refund_id = RefundStatus.CANCELED, "rr1"
    assert await s.record(order=o, payment=p, refund=r) == []
    assert (o.version, p.version, r.version) == (1, 1, 1)
    assert await s.order("b1") == o
    assert await s.payment("pay-b1-visit-1") == p
    assert await s.refund(r.refund_id) == r
    p.status, p.captured_kopecks = ProviderStatus.SUCCEEDED, 6_000_00
    t = capture(p.payment_id, 6_000_00, T0 + 20)
    assert await s.record(payment=p, transactions=[t]) == [t.txn_id]
    assert p.version == 2 and await s.payment(p.payment_id) == p
    assert await _ledger(s) == [t]
    with pytest.raises(LookupError):  # never added: not a stale version
        await s.record(payment=payment("pay-ghost-visit-1"))


async def test_a_stale_version_is_refused_and_nothing_is_written(backend: Backend) -> None:
    s = backend.payments
    await s.add_order(order())
    await s.add_payment(payment())
    first_o, first_p = await s.order("b1"), await s.payment("pay-b1-visit-1")
    assert first_o is not None and first_p is not None
    mine_o, mine_p = dataclasses.replace(first_o), dataclasses.replace(first_p)
    theirs = dataclasses.replace(first_p, status=ProviderStatus.CANCELED)
    await s.record(payment=theirs)  # someone else, in between
    mine_o.status = OrderStatus.PAID
    mine_p.status, mine_p.captured_kopecks = ProviderStatus.SUCCEEDED, 6_300_00
    t = capture(mine_p.payment_id, 6_300_00, T0 + 5)
    with pytest.raises(StaleVersionError):
        await s.record(order=mine_o, payment=mine_p, transactions=[t])
    assert (mine_o.version, mine_p.version) == (0, 0)  # untouched on failure
    assert await s.order("b1") == first_o  # the order, though current, was not written
    assert await s.payment("pay-b1-visit-1") == theirs
    assert await _ledger(s) == [] and await s.balances() == {}


async def test_a_transaction_recorded_again_is_skipped(backend: Backend) -> None:
    s = backend.payments
    t = capture("pay-b1-visit-1", 1_000_00, T0)
    assert await s.record(transactions=[t]) == [t.txn_id]
    other_entries = dataclasses.replace(
        t, entries=(Entry(Account.TRANSIT, None, 5), Entry(Account.REFUNDS, "c1", -5))
    )
    assert await s.record(transactions=[other_entries]) == []  # the first one stays
    u = capture("pay-b2-visit-1", 2_000_00, T0 + 1)
    assert await s.record(transactions=[t, u, u]) == [u.txn_id]
    assert await _ledger(s) == [t, u]
    assert await backend.count("ledger_entries") == len(t.entries) + len(u.entries)


async def test_an_unbalanced_transaction_is_refused_and_nothing_is_written(
    backend: Backend,
) -> None:
    s = backend.payments
    await s.add_payment(p := payment())
    good = capture(p.payment_id, 6_300_00, T0)
    bad = dataclasses.replace(
        capture("pay-b2-visit-1", 100_00, T0),
        entries=(Entry(Account.TRANSIT, None, 100_00), Entry(Account.CLINIC_REVENUE, "c1", -99_99)),
    )
    p.status, p.captured_kopecks = ProviderStatus.SUCCEEDED, 6_300_00
    with pytest.raises(ValueError, match="does not balance"):
        await s.record(payment=p, transactions=[good, bad])
    assert p.version == 0
    stored = await s.payment(p.payment_id)
    assert stored is not None and stored.status is ProviderStatus.PENDING
    assert await _ledger(s) == [] and await backend.count("ledger_entries") == 0


async def test_the_database_itself_refuses_an_unbalanced_transaction(backend: Backend) -> None:
    header = (
        f"INSERT INTO {backend.table('ledger_transactions')}"
        " (txn_id, booking_id, payment_id, kind, at) VALUES (?, 'b1', 'p1', 'capture', ?)"
    )
    entry = (
        f"INSERT INTO {backend.table('ledger_entries')}"
        " (txn_id, n, account, owner, amount_kopecks) VALUES (?, ?, ?, NULL, ?)"
    )
    at: Any = to_time(T0) if backend.kind == "postgis" else T0
    errors = (asyncpg.PostgresError, sqlite3.DatabaseError)
    header_first = (
        (header, ("t1", at)),
        (entry, ("t1", 0, "transit", 100)),
        (entry, ("t1", 1, "platform_commission", -99)),
    )
    if backend.kind == "postgis":  # checked at the commit, whatever the order
        with pytest.raises(errors, match="balance"):
            await backend.execute(*header_first)
    else:  # the header comes last and checks its entries; once written, it is sealed
        with pytest.raises(errors, match="balance"):
            await backend.execute(*header_first[1:], header_first[0])
        with pytest.raises(errors, match="no more entries"):
            await backend.execute(*header_first)
    assert await backend.count("ledger_transactions") == 0
    assert await backend.count("ledger_entries") == 0


async def test_the_database_refuses_to_change_or_delete_the_ledger(backend: Backend) -> None:
    s = backend.payments
    t = capture("pay-b1-visit-1", 1_000_00, T0)
    await s.record(transactions=[t])
    txns, entries = backend.table("ledger_transactions"), backend.table("ledger_entries")
    errors = (asyncpg.PostgresError, sqlite3.DatabaseError)
    for sql in (
        f"UPDATE {entries} SET amount_kopecks = amount_kopecks + 1 WHERE n = 0",
        f"DELETE FROM {entries}",
        f"DELETE FROM {entries} WHERE n = 1",
        f"UPDATE {txns} SET at = at",
        f"UPDATE {txns} SET kind = 'refund'",
        f"DELETE FROM {txns}",
    ):
        with pytest.raises(errors, match="append-only"):
            await backend.execute((sql, ()))
    extra = (
        f"INSERT INTO {entries} (txn_id, n, account, owner, amount_kopecks)"
        " VALUES (?, ?, 'transit', NULL, 0)"
    )
    if backend.kind == "postgis":
        with pytest.raises(errors, match="append-only"):
            await backend.execute((f"TRUNCATE {entries}, {txns}", ()))
    else:  # a recorded transaction takes no further entries, even ones of zero
        with pytest.raises(errors, match="no more entries"):
            await backend.execute((extra, (t.txn_id, 9)))
    assert await _ledger(s) == [t]


async def test_checks_refuse_impossible_amounts_and_nothing_changes(backend: Backend) -> None:
    s = backend.payments
    await s.add_payment(p := payment(status=ProviderStatus.SUCCEEDED, captured_kopecks=5_000_00))
    before = dataclasses.replace(p)
    for change in (
        {"refunded_kopecks": 5_000_01},  # refunded more than captured
        {"captured_kopecks": 6_300_01},  # captured more than asked
        {"refunded_kopecks": -1},
        {"fee_kopecks": -1},
        {"amount_kopecks": 0},
    ):
        bad = dataclasses.replace(p, **change)
        t = capture(p.payment_id, 5_000_00, T0)
        with pytest.raises(ValueError, match="refused"):
            await s.record(payment=bad, transactions=[t])
        assert bad.version == 0
        assert await s.payment(p.payment_id) == before
        assert await _ledger(s) == []
    for bad_new in (
        payment("pay-b1-visit-2", amount_kopecks=0),
        payment("pay-b1-visit-3", amount_kopecks=-5),
    ):
        with pytest.raises(ValueError, match="refused"):
            await s.add_payment(bad_new)
        assert await s.payment(bad_new.payment_id) is None


# ---------------------------------------------------------------------------- lists


def _many(n: int) -> list[Payment]:
    statuses = list(ProviderStatus)
    return [
        payment(
            f"pay-b{i % 5}-visit-{i:05d}",
            f"b{i % 5}",
            created_s=T0 + (i // 7) * 0.25,  # seven at each instant: ties broken by id
            status=statuses[i % 4],
            provider_payment_id=f"prov-{i}",
            receipt=RECEIPT if i % 100 == 0 else None,
        )
        for i in range(n)
    ]


async def test_keyset_pages_read_every_payment_exactly_once(backend: Backend) -> None:
    s = backend.payments
    everything = _many(20_000)
    await backend.seed_payments(everything)
    for b, clinic in (("b0", "c1"), ("b1", "c1"), ("b2", "c2"), ("b3", None)):
        await s.add_order(order(b, clinic_id=clinic))  # b4 has no order

    async def walk(limit: int, **filters: Any) -> list[str]:
        seen: list[str] = []
        before: tuple[float, str] | None = None
        while True:
            page = await s.list_payments(before=before, limit=limit, **filters)
            assert len(page) <= limit
            seen += [p.payment_id for p in page]
            if len(page) < limit:
                return seen
            before = (page[-1].created_s, page[-1].payment_id)

    def newest_first(ps: list[Payment]) -> list[str]:
        return [
            p.payment_id
            for p in sorted(ps, key=lambda p: (p.created_s, p.payment_id), reverse=True)
        ]

    assert await walk(1_000) == newest_first(everything)
    in_c1 = [p for p in everything if p.booking_id in ("b0", "b1")]
    assert await walk(777, clinic_id="c1") == newest_first(in_c1)
    held = [p for p in everything if p.status is ProviderStatus.WAITING_FOR_CAPTURE]
    assert await walk(500, status=ProviderStatus.WAITING_FOR_CAPTURE) == newest_first(held)
    b4_done = [
        p for p in everything if p.booking_id == "b4" and p.status is ProviderStatus.SUCCEEDED
    ]
    assert await walk(100, booking_id="b4", status=ProviderStatus.SUCCEEDED) == newest_first(
        b4_done
    )
    assert await s.list_payments(clinic_id="c9") == []
    [newest] = await s.list_payments(limit=1)
    assert newest == max(everything, key=lambda p: (p.created_s, p.payment_id))

    # the reconciliation's read: a window of creation times, by payment_id
    since, until = T0 + 100, T0 + 300
    want = sorted(p.payment_id for p in everything if since <= p.created_s < until)
    got: list[str] = []
    after: str | None = None
    while page := await s.payments_created_between(since, until, after=after, limit=999):
        got += [p.payment_id for p in page]
        after = page[-1].payment_id
    assert got == want and len(want) == 5_600


async def test_unsettled_payments_are_the_old_pending_and_held_ones(backend: Backend) -> None:
    s = backend.payments
    await backend.seed_payments(_many(40))
    old = await s.unsettled_payments(T0 + 1.0, limit=100)
    want = [
        p
        for p in _many(40)
        if p.created_s < T0 + 1.0
        and p.status in (ProviderStatus.PENDING, ProviderStatus.WAITING_FOR_CAPTURE)
    ]
    assert [p.payment_id for p in old] == [
        p.payment_id for p in sorted(want, key=lambda p: (p.created_s, p.payment_id))
    ]
    assert len(old) == 28 // 2
    assert len(await s.unsettled_payments(T0 + 1.0, limit=3)) == 3


# ---------------------------------------------------------------------------- the ledger


def _ledger_fixture(n: int) -> list[Transaction]:
    out = []
    for i in range(n):
        clinic, doctor = f"c{i % 3}", (None if i % 10 == 0 else f"d{i % 4}")
        t = capture(f"pay-b{i}-visit-1", 1_000_00 + i * 37, T0 + (i // 3), clinic, doctor)
        out.append(t)
        if i % 5 == 0:  # a refund of part of it, and the provider's fee
            r = 100_00 + i
            out.append(
                Transaction(
                    f"refund:ref-{i}",
                    t.booking_id,
                    t.payment_id,
                    "refund",
                    (Entry(Account.REFUNDS, clinic, r), Entry(Account.TRANSIT, None, -r)),
                    T0 + (i // 3) + 0.5,
                    clinic,
                    doctor,
                    "home",
                )
            )
            out.append(
                Transaction(
                    f"fee:{t.payment_id}",
                    t.booking_id,
                    t.payment_id,
                    "fee",
                    (
                        Entry(Account.PROVIDER_FEES, None, 35_00),
                        Entry(Account.TRANSIT, None, -35_00),
                    ),
                    T0 + (i // 3) + 0.5,
                    clinic,
                    doctor,
                )
            )
    return out


async def test_transactions_stream_in_keyset_batches(backend: Backend) -> None:
    s = backend.payments
    ledger = _ledger_fixture(900)
    for i in range(0, len(ledger), 200):
        await s.record(transactions=ledger[i : i + 200])
    in_order = sorted(ledger, key=lambda t: (t.at_s, t.txn_id))
    pages = [list(p) async for p in s.transactions(0.0, T0 * 2, batch=97)]
    assert [len(p) for p in pages[:-1]] == [97] * (len(pages) - 1) and 0 < len(pages[-1]) <= 97
    assert [t for p in pages for t in p] == in_order
    assert len(pages) == -(-len(ledger) // 97)
    # a period: [since, until)
    since, until = T0 + 10, T0 + 50
    window = [t for t in in_order if since <= t.at_s < until]
    got = [t async for p in s.transactions(since, until, batch=7) for t in p]
    assert got == window and window
    # per clinic and per doctor
    assert await _ledger(s, batch=50, clinic_id="c1") == [
        t for t in in_order if t.clinic_id == "c1"
    ]
    assert await _ledger(s, batch=50, doctor_id="d2") == [
        t for t in in_order if t.doctor_id == "d2"
    ]
    both = await _ledger(s, batch=3, clinic_id="c1", doctor_id="d1")
    assert both == [t for t in in_order if t.clinic_id == "c1" and t.doctor_id == "d1"] and both
    assert [p async for p in s.transactions(T0 * 3, T0 * 4)] == []
    # an exact multiple of the batch ends without an empty page
    assert [len(p) async for p in s.transactions(T0 + 2, T0 + 3, batch=3)] == [3]


async def test_balances_are_the_sums_of_the_entries(backend: Backend) -> None:
    s = backend.payments
    assert await s.balances() == {}
    ledger = _ledger_fixture(300)
    await s.record(transactions=ledger)
    want: dict[tuple[Account, str | None], int] = defaultdict(int)
    for t in ledger:
        for e in t.entries:
            want[(e.account, e.owner)] += e.amount_kopecks
    got = await s.balances()
    assert got == want
    assert sum(got.values()) == 0
    assert all(isinstance(v, int) for v in got.values())
    assert got[(Account.TRANSIT, None)] > 0 and got[(Account.PLATFORM_COMMISSION, None)] < 0


# ---------------------------------------------------------------------------- concurrency


async def test_concurrent_records_of_one_version_exactly_one_wins(backend: Backend) -> None:
    s = backend.payments
    await s.add_payment(payment())
    await s.add_order(order())
    read = await s.payment("pay-b1-visit-1")
    assert read is not None
    contenders = [
        dataclasses.replace(
            read, status=ProviderStatus.SUCCEEDED, captured_kopecks=100_00 * (k + 1)
        )
        for k in range(5)
    ]
    results = await asyncio.gather(
        *(
            s.record(payment=c, transactions=[capture(c.payment_id, c.captured_kopecks, T0)])
            for c in contenders
        ),
        return_exceptions=True,
    )
    winners = [i for i, r in enumerate(results) if not isinstance(r, BaseException)]
    assert len(winners) == 1, results
    assert all(isinstance(r, StaleVersionError) for i, r in enumerate(results) if i not in winners)
    [w] = winners
    assert results[w] == ["capture:pay-b1-visit-1"]
    assert await s.payment("pay-b1-visit-1") == contenders[w] and contenders[w].version == 1
    [t] = await _ledger(s)
    assert t.entries[0].amount_kopecks == contenders[w].captured_kopecks
    # the same ledger transaction from many writers at once: appended once
    u = capture("pay-b2-visit-1", 1_000_00, T0 + 1)
    appended = await asyncio.gather(*(s.record(transactions=[u]) for _ in range(5)))
    assert sorted(appended) == [[], [], [], [], [u.txn_id]]
    assert await _ledger(s) == [t, u]


# ---------------------------------------------------------------------------- the embedded file


async def test_the_embedded_store_shares_the_file_and_keeps_its_own_version(
    tmp_path: Path,
) -> None:
    from storage.sqlite import SqliteBookingStore
    from storage.sqlite_accounts import SqliteAccountStore
    from storage.sqlite_clinics import SqliteClinicStore

    path = tmp_path / "tot.sqlite3"
    others = [SqliteBookingStore(path), SqliteAccountStore(path), SqliteClinicStore(path)]
    first = SqlitePaymentStore(path)
    await first.add_payment(payment())
    await first.close()
    again = SqlitePaymentStore(path)  # opening again keeps what was there
    assert await again.payment("pay-b1-visit-1") == payment()
    await again.close()
    for other in others:
        await other.close()
    with sqlite3.connect(path) as db:
        versions = dict(db.execute("SELECT component, version FROM schema_versions").fetchall())
        assert versions["payments"] == 1 and "accounts" in versions and "clinics" in versions
        db.execute("UPDATE schema_versions SET version = 99 WHERE component = 'payments'")
    with pytest.raises(RuntimeError, match="newer than this engine"):
        SqlitePaymentStore(path)
