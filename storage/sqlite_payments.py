"""Payments in the embedded SQLite store (the default without DATABASE_URL).

Same behaviour as storage.postgis_payments, for one machine. Shares the file with the
booking, account and clinic stores and keeps its own schema version in
`schema_versions` under the component "payments". One connection used from a worker
thread under a lock, WAL with synchronous=FULL, every write one `BEGIN IMMEDIATE`
transaction (so `record()` is atomic and serialised against other processes).

The tables are STRICT (a float can never land in a money column) and carry the same
CHECKs as PostGIS. The ledger is append-only by triggers. Balance is enforced by the
database too: a transaction's entries are inserted first (their foreign key to the
header is deferred to the commit), then its header, whose insert trigger refuses a
header whose entries do not sum to zero; an entry for a header already written is
refused, so a recorded transaction is sealed.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from payments.model import (
    Account,
    Kopecks,
    Order,
    Payment,
    PriceList,
    ProviderStatus,
    Refund,
    Transaction,
)
from payments.ports import StaleVersionError
from storage.payment_rows import (
    ENTRY_COLUMNS,
    ORDER_COLUMNS,
    PAYMENT_COLUMNS,
    REFUND_COLUMNS,
    TXN_COLUMNS,
    balances_from,
    check_balanced,
    entry_values,
    order_from,
    order_values,
    payment_from,
    payment_values,
    price_list_from,
    price_list_json,
    price_list_key,
    refund_from,
    refund_values,
    transactions_from,
    txn_values,
)
from storage.sqlite_component import open_component

COMPONENT = "payments"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS payment_price_lists (
    clinic_key TEXT PRIMARY KEY,
    body TEXT NOT NULL CHECK (json_valid(body) AND json_type(body) = 'object'),
    updated_at REAL NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS payment_orders (
    booking_id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL,
    clinic_id TEXT,
    doctor_id TEXT,
    method TEXT NOT NULL CHECK (method IN ('card', 'sbp', 'at_visit')),
    status TEXT NOT NULL CHECK (status IN ('quoted', 'awaiting_payment', 'held', 'paid',
        'pay_at_visit', 'cancelled', 'refunded', 'failed')),
    emergency INTEGER NOT NULL CHECK (emergency IN (0, 1)),
    quote TEXT NOT NULL CHECK (json_valid(quote) AND json_type(quote) = 'object'),
    extras TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(extras) AND json_type(extras) = 'array'),
    final_kopecks INTEGER CHECK (final_kopecks >= 0),
    customer_email TEXT,
    customer_phone TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    version INTEGER NOT NULL DEFAULT 0 CHECK (version >= 0)
) STRICT;
CREATE INDEX IF NOT EXISTS payment_orders_clinic ON payment_orders (clinic_id, booking_id);
CREATE INDEX IF NOT EXISTS payment_orders_patient ON payment_orders (patient_id, created_at);
CREATE TABLE IF NOT EXISTS payments (
    payment_id TEXT PRIMARY KEY,
    booking_id TEXT NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('visit', 'cancellation_fee')),
    method TEXT NOT NULL CHECK (method IN ('card', 'sbp', 'at_visit')),
    amount_kopecks INTEGER NOT NULL CHECK (amount_kopecks > 0),
    status TEXT NOT NULL
        CHECK (status IN ('pending', 'waiting_for_capture', 'succeeded', 'canceled')),
    provider_payment_id TEXT UNIQUE,
    captured_kopecks INTEGER NOT NULL DEFAULT 0,
    refunded_kopecks INTEGER NOT NULL DEFAULT 0,
    fee_kopecks INTEGER NOT NULL DEFAULT 0 CHECK (fee_kopecks >= 0),
    confirmation_url TEXT,
    confirmation_token TEXT,
    qr_data TEXT,
    expires_at REAL,
    cancellation_reason TEXT,
    receipt TEXT CHECK (receipt IS NULL OR (json_valid(receipt) AND json_type(receipt) = 'object')),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    version INTEGER NOT NULL DEFAULT 0 CHECK (version >= 0),
    CONSTRAINT payments_amounts CHECK (
        0 <= refunded_kopecks AND refunded_kopecks <= captured_kopecks
        AND captured_kopecks <= amount_kopecks)
) STRICT;
CREATE INDEX IF NOT EXISTS payments_booking ON payments (booking_id, created_at, payment_id);
CREATE INDEX IF NOT EXISTS payments_created ON payments (created_at, payment_id);
CREATE INDEX IF NOT EXISTS payments_status_created ON payments (status, created_at, payment_id);
CREATE INDEX IF NOT EXISTS payments_unsettled ON payments (created_at, payment_id)
    WHERE status IN ('pending', 'waiting_for_capture');
CREATE TABLE IF NOT EXISTS payment_refunds (
    refund_id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments (payment_id),
    booking_id TEXT NOT NULL,
    amount_kopecks INTEGER NOT NULL CHECK (amount_kopecks > 0),
    reason TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'canceled')),
    provider_refund_id TEXT UNIQUE,
    receipt TEXT CHECK (receipt IS NULL OR (json_valid(receipt) AND json_type(receipt) = 'object')),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    version INTEGER NOT NULL DEFAULT 0 CHECK (version >= 0)
) STRICT;
CREATE INDEX IF NOT EXISTS payment_refunds_payment
    ON payment_refunds (payment_id, created_at, refund_id);
CREATE INDEX IF NOT EXISTS payment_refunds_booking ON payment_refunds (booking_id);
CREATE TABLE IF NOT EXISTS ledger_transactions (
    txn_id TEXT PRIMARY KEY,
    booking_id TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at REAL NOT NULL,
    clinic_id TEXT,
    doctor_id TEXT,
    service_code TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS ledger_transactions_at ON ledger_transactions (at, txn_id);
CREATE INDEX IF NOT EXISTS ledger_transactions_clinic
    ON ledger_transactions (clinic_id, at, txn_id);
CREATE INDEX IF NOT EXISTS ledger_transactions_doctor
    ON ledger_transactions (doctor_id, at, txn_id);
CREATE INDEX IF NOT EXISTS ledger_transactions_payment ON ledger_transactions (payment_id);
CREATE TABLE IF NOT EXISTS ledger_entries (
    txn_id TEXT NOT NULL
        REFERENCES ledger_transactions (txn_id) DEFERRABLE INITIALLY DEFERRED,
    n INTEGER NOT NULL CHECK (n >= 0),
    account TEXT NOT NULL CHECK (account IN ('transit', 'clinic_revenue',
        'platform_commission', 'doctor_earnings', 'refunds', 'provider_fees')),
    owner TEXT,
    amount_kopecks INTEGER NOT NULL,
    PRIMARY KEY (txn_id, n)
) STRICT;
CREATE INDEX IF NOT EXISTS ledger_entries_account ON ledger_entries (account, owner);
CREATE TRIGGER IF NOT EXISTS ledger_transactions_no_update
    BEFORE UPDATE ON ledger_transactions
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only (UPDATE refused)'); END;
CREATE TRIGGER IF NOT EXISTS ledger_transactions_no_delete
    BEFORE DELETE ON ledger_transactions
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only (DELETE refused)'); END;
CREATE TRIGGER IF NOT EXISTS ledger_entries_no_update
    BEFORE UPDATE ON ledger_entries
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only (UPDATE refused)'); END;
CREATE TRIGGER IF NOT EXISTS ledger_entries_no_delete
    BEFORE DELETE ON ledger_entries
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only (DELETE refused)'); END;
CREATE TRIGGER IF NOT EXISTS ledger_transactions_balanced
    BEFORE INSERT ON ledger_transactions
    WHEN (SELECT coalesce(sum(amount_kopecks), 0) FROM ledger_entries
          WHERE txn_id = NEW.txn_id) <> 0
    BEGIN SELECT RAISE(ABORT, 'a ledger transaction does not balance'); END;
CREATE TRIGGER IF NOT EXISTS ledger_entries_sealed
    BEFORE INSERT ON ledger_entries
    WHEN EXISTS (SELECT 1 FROM ledger_transactions WHERE txn_id = NEW.txn_id)
    BEGIN SELECT RAISE(ABORT, 'a recorded ledger transaction takes no more entries'); END;
"""

_ORDER_COLS = ", ".join(ORDER_COLUMNS)
_PAYMENT_COLS = ", ".join(PAYMENT_COLUMNS)
_REFUND_COLS = ", ".join(REFUND_COLUMNS)


def _insert(table: str, columns: Sequence[str]) -> str:
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        f" ON CONFLICT ({columns[0]}) DO NOTHING"
    )


def _update(table: str, columns: Sequence[str]) -> str:
    """Values: every column but the key and version, then the key, then the version read."""
    rest = [c for c in columns[1:] if c != "version"]
    return (
        f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in rest)}, version = version + 1"
        f" WHERE {columns[0]} = ? AND version = ?"
    )


def _update_args(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Values in column order (key first, version last) as _update wants them."""
    return (*values[1:-1], values[0], values[-1])


_ORDER_INSERT = _insert("payment_orders", ORDER_COLUMNS)
_ORDER_UPDATE = _update("payment_orders", ORDER_COLUMNS)
_PAYMENT_INSERT = _insert("payments", PAYMENT_COLUMNS)
_PAYMENT_UPDATE = _update("payments", PAYMENT_COLUMNS)
_REFUND_INSERT = _insert("payment_refunds", REFUND_COLUMNS)
_REFUND_UPDATE = _update("payment_refunds", REFUND_COLUMNS)
_TXN_INSERT = (
    f"INSERT INTO ledger_transactions ({', '.join(TXN_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(TXN_COLUMNS))})"
)
_ENTRY_INSERT = (
    f"INSERT INTO ledger_entries ({', '.join(ENTRY_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(ENTRY_COLUMNS))})"
)
_SELECT_PAYMENT = f"SELECT {_PAYMENT_COLS} FROM payments"
_SELECT_REFUND = f"SELECT {_REFUND_COLS} FROM payment_refunds"
_TXN_PAGE = """
SELECT t.txn_id, t.booking_id, t.payment_id, t.kind, t.at, t.clinic_id, t.doctor_id,
       t.service_code, e.n, e.account, e.owner, e.amount_kopecks
FROM (SELECT * FROM ledger_transactions
      WHERE at >= ? AND at < ? {where} ORDER BY at, txn_id LIMIT ?) t
LEFT JOIN ledger_entries e ON e.txn_id = t.txn_id
ORDER BY t.at, t.txn_id, e.n
"""

T = TypeVar("T")
_NAMES = {"payment_orders": "order", "payments": "payment", "payment_refunds": "refund"}


def _same(value: Any) -> float | None:
    return None if value is None else float(value)


def _payment(row: sqlite3.Row) -> Payment:
    return payment_from(row, _same)


def _refused(exc: sqlite3.IntegrityError) -> ValueError:
    return ValueError(f"refused by the database: {exc}")


class SqlitePaymentStore:
    def __init__(self, path: Path | str) -> None:
        self._conn = open_component(path, COMPONENT, SCHEMA_VERSION, _SCHEMA)
        self._lock = threading.Lock()

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(self._locked, fn, *args)

    def _locked(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            return fn(*args)

    def _all(self, sql: str, values: tuple[Any, ...]) -> list[sqlite3.Row]:
        return self._conn.execute(sql, values).fetchall()

    def _one(self, sql: str, values: tuple[Any, ...]) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._conn.execute(sql, values).fetchone()
        return row

    def _write(self, sql: str, values: tuple[Any, ...]) -> int:
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            n = c.execute(sql, values).rowcount
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")
        return n

    async def close(self) -> None:
        await self._run(self._conn.close)

    # price lists ------------------------------------------------------------

    async def price_list(self, clinic_id: str | None) -> PriceList | None:
        row = await self._run(
            self._one,
            "SELECT clinic_key, body, updated_at FROM payment_price_lists WHERE clinic_key = ?",
            (price_list_key(clinic_id),),
        )
        return None if row is None else price_list_from(row["body"], row["clinic_key"], row[2])

    async def save_price_list(self, price_list: PriceList) -> None:
        await self._run(
            self._write,
            "INSERT INTO payment_price_lists (clinic_key, body, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (clinic_key) DO UPDATE"
            " SET body = excluded.body, updated_at = excluded.updated_at",
            (
                price_list_key(price_list.clinic_id),
                price_list_json(price_list),
                float(price_list.updated_s),
            ),
        )

    # orders, payments, refunds ----------------------------------------------

    async def _add(self, sql: str, values: tuple[Any, ...]) -> bool:
        try:
            return await self._run(self._write, sql, values) == 1
        except sqlite3.IntegrityError as exc:
            raise _refused(exc) from exc

    async def add_order(self, order: Order) -> bool:
        return await self._add(_ORDER_INSERT, order_values(order))

    async def order(self, booking_id: str) -> Order | None:
        row = await self._run(
            self._one, f"SELECT {_ORDER_COLS} FROM payment_orders WHERE booking_id = ?",
            (booking_id,),
        )  # fmt: skip
        return None if row is None else order_from(row, _same)

    async def add_payment(self, payment: Payment) -> bool:
        return await self._add(_PAYMENT_INSERT, payment_values(payment))

    async def payment(self, payment_id: str) -> Payment | None:
        row = await self._run(self._one, f"{_SELECT_PAYMENT} WHERE payment_id = ?", (payment_id,))
        return None if row is None else _payment(row)

    async def payment_by_provider_id(self, provider_payment_id: str) -> Payment | None:
        row = await self._run(
            self._one, f"{_SELECT_PAYMENT} WHERE provider_payment_id = ?", (provider_payment_id,)
        )
        return None if row is None else _payment(row)

    async def payments_for_booking(self, booking_id: str) -> list[Payment]:
        rows = await self._run(
            self._all,
            f"{_SELECT_PAYMENT} WHERE booking_id = ? ORDER BY created_at, payment_id",
            (booking_id,),
        )
        return [_payment(r) for r in rows]

    async def add_refund(self, refund: Refund) -> bool:
        return await self._add(_REFUND_INSERT, refund_values(refund))

    async def refund(self, refund_id: str) -> Refund | None:
        row = await self._run(self._one, f"{_SELECT_REFUND} WHERE refund_id = ?", (refund_id,))
        return None if row is None else refund_from(row, _same)

    async def refunds_for_payment(self, payment_id: str) -> list[Refund]:
        rows = await self._run(
            self._all,
            f"{_SELECT_REFUND} WHERE payment_id = ? ORDER BY created_at, refund_id",
            (payment_id,),
        )
        return [refund_from(r, _same) for r in rows]

    # record -----------------------------------------------------------------

    async def record(
        self,
        *,
        order: Order | None = None,
        payment: Payment | None = None,
        refund: Refund | None = None,
        transactions: Sequence[Transaction] = (),
    ) -> list[str]:
        check_balanced(transactions)
        updates: list[tuple[str, str, str, tuple[Any, ...]]] = []
        if order is not None:
            updates.append((_ORDER_UPDATE, "payment_orders", "booking_id", order_values(order)))
        if payment is not None:
            updates.append((_PAYMENT_UPDATE, "payments", "payment_id", payment_values(payment)))
        if refund is not None:
            updates.append((_REFUND_UPDATE, "payment_refunds", "refund_id", refund_values(refund)))
        try:
            appended = await self._run(self._record, updates, list(transactions))
        except sqlite3.IntegrityError as exc:
            raise _refused(exc) from exc
        for obj in (order, payment, refund):
            if obj is not None:
                obj.version += 1
        return appended

    def _record(
        self,
        updates: list[tuple[str, str, str, tuple[Any, ...]]],
        transactions: list[Transaction],
    ) -> list[str]:
        c = self._conn
        appended: list[str] = []
        c.execute("BEGIN IMMEDIATE")
        try:
            for sql, table, key, values in updates:
                if c.execute(sql, _update_args(values)).rowcount == 0:
                    row = c.execute(
                        f"SELECT version FROM {table} WHERE {key} = ?", (values[0],)
                    ).fetchone()
                    if row is None:
                        raise LookupError(f"no {_NAMES[table]} {values[0]!r} to update")
                    raise StaleVersionError(
                        f"{_NAMES[table]} {values[0]!r} is at version {row[0]}, not {values[-1]}:"
                        " read it again"
                    )
            seen: set[str] = set()
            for t in transactions:
                if (
                    t.txn_id in seen
                    or c.execute(
                        "SELECT 1 FROM ledger_transactions WHERE txn_id = ?", (t.txn_id,)
                    ).fetchone()
                ):
                    continue  # recorded before: skipped
                seen.add(t.txn_id)
                c.executemany(_ENTRY_INSERT, entry_values(t))  # first: the header seals them
                c.execute(_TXN_INSERT, txn_values(t))
                appended.append(t.txn_id)
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")
        return appended

    # lists ------------------------------------------------------------------

    async def list_payments(
        self,
        *,
        status: ProviderStatus | None = None,
        booking_id: str | None = None,
        clinic_id: str | None = None,
        before: tuple[float, str] | None = None,
        limit: int = 50,
    ) -> list[Payment]:
        where: list[str] = []
        args: list[Any] = []
        if status is not None:
            where.append("status = ?")
            args.append(str(status))
        if booking_id is not None:
            where.append("booking_id = ?")
            args.append(booking_id)
        if clinic_id is not None:
            where.append(
                "booking_id IN (SELECT booking_id FROM payment_orders WHERE clinic_id = ?)"
            )
            args.append(clinic_id)
        if before is not None:
            where.append("(created_at, payment_id) < (?, ?)")
            args += [float(before[0]), before[1]]
        sql = (
            _SELECT_PAYMENT
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY created_at DESC, payment_id DESC LIMIT ?"
        )
        rows = await self._run(self._all, sql, (*args, limit))
        return [_payment(r) for r in rows]

    async def payments_created_between(
        self, since_s: float, until_s: float, *, after: str | None = None, limit: int = 1_000
    ) -> list[Payment]:
        rows = await self._run(
            self._all,
            f"{_SELECT_PAYMENT} WHERE created_at >= ? AND created_at < ?"
            " AND (? IS NULL OR payment_id > ?) ORDER BY payment_id LIMIT ?",
            (since_s, until_s, after, after, limit),
        )
        return [_payment(r) for r in rows]

    async def unsettled_payments(self, older_than_s: float, limit: int = 100) -> list[Payment]:
        rows = await self._run(
            self._all,
            f"{_SELECT_PAYMENT} WHERE status IN ('pending', 'waiting_for_capture')"
            " AND created_at < ? ORDER BY created_at, payment_id LIMIT ?",
            (older_than_s, limit),
        )
        return [_payment(r) for r in rows]

    # the ledger -------------------------------------------------------------

    async def transactions(
        self,
        since_s: float,
        until_s: float,
        *,
        clinic_id: str | None = None,
        doctor_id: str | None = None,
        batch: int = 5_000,
    ) -> AsyncIterator[Sequence[Transaction]]:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        where: list[str] = []
        extra: list[Any] = []
        if clinic_id is not None:
            where.append("AND clinic_id = ?")
            extra.append(clinic_id)
        if doctor_id is not None:
            where.append("AND doctor_id = ?")
            extra.append(doctor_id)
        first = _TXN_PAGE.format(where=" ".join(where))
        following = _TXN_PAGE.format(where=" ".join([*where, "AND (at, txn_id) > (?, ?)"]))
        position: tuple[float, str] | None = None
        while True:
            if position is None:
                rows = await self._run(self._all, first, (since_s, until_s, *extra, batch))
            else:
                rows = await self._run(
                    self._all, following, (since_s, until_s, *extra, *position, batch)
                )
            page = transactions_from(rows, _same)
            if page:
                yield page
            if len(page) < batch:
                return
            position = (rows[-1]["at"], rows[-1]["txn_id"])

    async def balances(self) -> dict[tuple[Account, str | None], Kopecks]:
        rows = await self._run(
            self._all,
            "SELECT account, owner, sum(amount_kopecks) AS total FROM ledger_entries"
            " GROUP BY account, owner",
            (),
        )
        return balances_from(rows)
