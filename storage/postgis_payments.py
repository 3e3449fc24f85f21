"""The PostGIS adapter for payments (migration 0007, schema `payment`).

`record()` is one database transaction: each object is updated only WHERE its version is
the one read (else StaleVersionError and the transaction is rolled back), and each
ledger transaction is inserted ON CONFLICT (txn_id) DO NOTHING, its entries only when
its header was new. A concurrent writer of the same row waits for the first to commit,
then finds the version changed. The database itself refuses an unbalanced transaction
(a constraint trigger at commit) and any change to the ledger (triggers); the adapter
checks the balance before writing anyway, so the caller gets a clear error.

Lists are keyset pages; the ledger streams in keyset batches, each one query (headers
joined to their entries); balances are one GROUP BY.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg

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
from storage.booking_rows import from_time, to_time
from storage.payment_rows import (
    ENTRY_COLUMNS,
    JSON_COLUMNS,
    ORDER_COLUMNS,
    PAYMENT_COLUMNS,
    REFUND_COLUMNS,
    TIME_COLUMNS,
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
from storage.pg import Pool, create_pool


def _placeholders(columns: Sequence[str], start: int = 1) -> list[str]:
    return [f"${i}::jsonb" if c in JSON_COLUMNS else f"${i}" for i, c in enumerate(columns, start)]


def _insert(table: str, columns: Sequence[str], key: str) -> str:
    return (
        f"INSERT INTO payment.{table} ({', '.join(columns)}) VALUES"
        f" ({', '.join(_placeholders(columns))}) ON CONFLICT ({key}) DO NOTHING"
    )


def _update(table: str, columns: Sequence[str]) -> str:
    """UPDATE every column but the key ($1) and version (the last value: the one read)."""
    key, rest = columns[0], [c for c in columns[1:] if c != "version"]
    marks = _placeholders(rest, 2)
    sets = ", ".join(f"{c} = {m}" for c, m in zip(rest, marks, strict=True))
    n = len(columns)
    return (
        f"UPDATE payment.{table} SET {sets}, version = version + 1"
        f" WHERE {key} = $1 AND version = ${n}"
    )


def _pg(columns: Sequence[str], values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Epoch seconds to timestamptz in the time columns."""
    return tuple(
        to_time(v) if c in TIME_COLUMNS else v for c, v in zip(columns, values, strict=True)
    )


_ORDER_INSERT = _insert("orders", ORDER_COLUMNS, "booking_id")
_ORDER_UPDATE = _update("orders", ORDER_COLUMNS)
_PAYMENT_INSERT = _insert("payments", PAYMENT_COLUMNS, "payment_id")
_PAYMENT_UPDATE = _update("payments", PAYMENT_COLUMNS)
_REFUND_INSERT = _insert("refunds", REFUND_COLUMNS, "refund_id")
_REFUND_UPDATE = _update("refunds", REFUND_COLUMNS)
_TXN_INSERT = (
    f"INSERT INTO payment.ledger_transactions ({', '.join(TXN_COLUMNS)}) VALUES"
    f" ({', '.join(f'${i}' for i in range(1, len(TXN_COLUMNS) + 1))})"
    " ON CONFLICT (txn_id) DO NOTHING RETURNING txn_id"
)
_ENTRIES_INSERT = (
    f"INSERT INTO payment.ledger_entries ({', '.join(ENTRY_COLUMNS)})"
    " SELECT $1, n, account, owner, amount"
    " FROM unnest($2::int[], $3::text[], $4::text[], $5::bigint[]) AS e(n, account, owner, amount)"
)
_SELECT_ORDER = f"SELECT {', '.join(ORDER_COLUMNS)} FROM payment.orders"
_SELECT_PAYMENT = f"SELECT {', '.join(PAYMENT_COLUMNS)} FROM payment.payments"
_SELECT_REFUND = f"SELECT {', '.join(REFUND_COLUMNS)} FROM payment.refunds"
_TXN_PAGE = """
SELECT t.txn_id, t.booking_id, t.payment_id, t.kind, t.at, t.clinic_id, t.doctor_id,
       t.service_code, e.n, e.account, e.owner, e.amount_kopecks
FROM (SELECT * FROM payment.ledger_transactions
      WHERE at >= $1 AND at < $2 {where} ORDER BY at, txn_id LIMIT $3) t
LEFT JOIN payment.ledger_entries e ON e.txn_id = t.txn_id
ORDER BY t.at, t.txn_id, e.n
"""


def _payment(row: asyncpg.Record) -> Payment:
    return payment_from(row, from_time)


class PostgisPaymentStore:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    @classmethod
    async def connect(
        cls, database_url: str, *, min_size: int = 1, max_size: int = 4
    ) -> PostgisPaymentStore:
        return cls(await create_pool(database_url, min_size=min_size, max_size=max_size))

    async def close(self) -> None:
        await self._pool.close()

    # price lists ------------------------------------------------------------

    async def price_list(self, clinic_id: str | None) -> PriceList | None:
        row = await self._pool.fetchrow(
            "SELECT clinic_key, body::text AS body, updated_at FROM payment.price_lists"
            " WHERE clinic_key = $1",
            price_list_key(clinic_id),
        )
        if row is None:
            return None
        updated = from_time(row["updated_at"])
        assert updated is not None
        return price_list_from(row["body"], row["clinic_key"], updated)

    async def save_price_list(self, price_list: PriceList) -> None:
        await self._pool.execute(
            "INSERT INTO payment.price_lists (clinic_key, body, updated_at)"
            " VALUES ($1, $2::jsonb, $3) ON CONFLICT (clinic_key)"
            " DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            price_list_key(price_list.clinic_id),
            price_list_json(price_list),
            to_time(price_list.updated_s),
        )

    # orders, payments, refunds ----------------------------------------------

    async def _add(self, sql: str, values: tuple[Any, ...]) -> bool:
        try:
            status = await self._pool.execute(sql, *values)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise ValueError(f"refused by the database: {exc}") from exc
        return status.rsplit(" ", 1)[-1] == "1"

    async def add_order(self, order: Order) -> bool:
        return await self._add(_ORDER_INSERT, _pg(ORDER_COLUMNS, order_values(order)))

    async def order(self, booking_id: str) -> Order | None:
        row = await self._pool.fetchrow(f"{_SELECT_ORDER} WHERE booking_id = $1", booking_id)
        return None if row is None else order_from(row, from_time)

    async def add_payment(self, payment: Payment) -> bool:
        return await self._add(_PAYMENT_INSERT, _pg(PAYMENT_COLUMNS, payment_values(payment)))

    async def payment(self, payment_id: str) -> Payment | None:
        row = await self._pool.fetchrow(f"{_SELECT_PAYMENT} WHERE payment_id = $1", payment_id)
        return None if row is None else _payment(row)

    async def payment_by_provider_id(self, provider_payment_id: str) -> Payment | None:
        row = await self._pool.fetchrow(
            f"{_SELECT_PAYMENT} WHERE provider_payment_id = $1", provider_payment_id
        )
        return None if row is None else _payment(row)

    async def payments_for_booking(self, booking_id: str) -> list[Payment]:
        rows = await self._pool.fetch(
            f"{_SELECT_PAYMENT} WHERE booking_id = $1 ORDER BY created_at, payment_id", booking_id
        )
        return [_payment(r) for r in rows]

    async def add_refund(self, refund: Refund) -> bool:
        return await self._add(_REFUND_INSERT, _pg(REFUND_COLUMNS, refund_values(refund)))

    async def refund(self, refund_id: str) -> Refund | None:
        row = await self._pool.fetchrow(f"{_SELECT_REFUND} WHERE refund_id = $1", refund_id)
        return None if row is None else refund_from(row, from_time)

    async def refunds_for_payment(self, payment_id: str) -> list[Refund]:
        rows = await self._pool.fetch(
            f"{_SELECT_REFUND} WHERE payment_id = $1 ORDER BY created_at, refund_id", payment_id
        )
        return [refund_from(r, from_time) for r in rows]

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
        appended: list[str] = []
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                if order is not None:
                    await _versioned(
                        conn, _ORDER_UPDATE, "orders", "booking_id",
                        _pg(ORDER_COLUMNS, order_values(order)),
                    )  # fmt: skip
                if payment is not None:
                    await _versioned(
                        conn, _PAYMENT_UPDATE, "payments", "payment_id",
                        _pg(PAYMENT_COLUMNS, payment_values(payment)),
                    )  # fmt: skip
                if refund is not None:
                    await _versioned(
                        conn, _REFUND_UPDATE, "refunds", "refund_id",
                        _pg(REFUND_COLUMNS, refund_values(refund)),
                    )  # fmt: skip
                for t in transactions:
                    new = await conn.fetchval(_TXN_INSERT, *_pg(TXN_COLUMNS, txn_values(t)))
                    if new is None:
                        continue  # recorded before: skipped
                    rows = entry_values(t)
                    await conn.execute(
                        _ENTRIES_INSERT,
                        t.txn_id,
                        [r[1] for r in rows],
                        [r[2] for r in rows],
                        [r[3] for r in rows],
                        [r[4] for r in rows],
                    )
                    appended.append(t.txn_id)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise ValueError(f"refused by the database: {exc}") from exc
        for obj in (order, payment, refund):
            if obj is not None:
                obj.version += 1
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
            args.append(str(status))
            where.append(f"status = ${len(args)}")
        if booking_id is not None:
            args.append(booking_id)
            where.append(f"booking_id = ${len(args)}")
        if clinic_id is not None:
            args.append(clinic_id)
            where.append(
                f"booking_id IN (SELECT booking_id FROM payment.orders WHERE clinic_id = ${len(args)})"
            )
        if before is not None:
            args += [to_time(before[0]), before[1]]
            where.append(f"(created_at, payment_id) < (${len(args) - 1}, ${len(args)})")
        args.append(limit)
        sql = (
            _SELECT_PAYMENT
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + f" ORDER BY created_at DESC, payment_id DESC LIMIT ${len(args)}"
        )
        return [_payment(r) for r in await self._pool.fetch(sql, *args)]

    async def payments_created_between(
        self, since_s: float, until_s: float, *, after: str | None = None, limit: int = 1_000
    ) -> list[Payment]:
        rows = await self._pool.fetch(
            f"{_SELECT_PAYMENT} WHERE created_at >= $1 AND created_at < $2"
            " AND ($3::text IS NULL OR payment_id > $3) ORDER BY payment_id LIMIT $4",
            to_time(since_s),
            to_time(until_s),
            after,
            limit,
        )
        return [_payment(r) for r in rows]

    async def unsettled_payments(self, older_than_s: float, limit: int = 100) -> list[Payment]:
        rows = await self._pool.fetch(
            f"{_SELECT_PAYMENT} WHERE status IN ('pending', 'waiting_for_capture')"
            " AND created_at < $1 ORDER BY created_at, payment_id LIMIT $2",
            to_time(older_than_s),
            limit,
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
            extra.append(clinic_id)
            where.append(f"AND clinic_id = ${3 + len(extra)}")
        if doctor_id is not None:
            extra.append(doctor_id)
            where.append(f"AND doctor_id = ${3 + len(extra)}")
        first = _TXN_PAGE.format(where=" ".join(where))
        n = 3 + len(extra)
        following = _TXN_PAGE.format(
            where=" ".join([*where, f"AND (at, txn_id) > (${n + 1}, ${n + 2})"])
        )
        since, until = to_time(since_s), to_time(until_s)
        position: tuple[Any, str] | None = None
        while True:
            if position is None:
                rows = await self._pool.fetch(first, since, until, batch, *extra)
            else:
                rows = await self._pool.fetch(following, since, until, batch, *extra, *position)
            page = transactions_from(rows, from_time)
            if page:
                yield page
            if len(page) < batch:
                return
            position = (rows[-1]["at"], rows[-1]["txn_id"])

    async def balances(self) -> dict[tuple[Account, str | None], Kopecks]:
        rows = await self._pool.fetch(
            "SELECT account, owner, sum(amount_kopecks) AS total FROM payment.ledger_entries"
            " GROUP BY account, owner"
        )
        return balances_from(rows)


async def _versioned(
    conn: asyncpg.Connection, sql: str, table: str, key: str, values: tuple[Any, ...]
) -> None:
    status = await conn.execute(sql, *values)
    if status.rsplit(" ", 1)[-1] != "0":
        return
    found = await conn.fetchval(f"SELECT version FROM payment.{table} WHERE {key} = $1", values[0])
    if found is None:
        raise LookupError(f"no {table[:-1]} {values[0]!r} to update")
    raise StaleVersionError(
        f"{table[:-1]} {values[0]!r} is at version {found}, not {values[-1]}: read it again"
    )
