"""Clinics and invitations in the embedded SQLite store (the default without DATABASE_URL).

Shares the file with the booking and account stores; keeps its own schema version in
`schema_versions` under the component "clinics" (the accounts store's mechanism), so the
accounts and bookings versions are untouched. One connection used from a worker thread
under a lock, WAL with synchronous=FULL, every write one `BEGIN IMMEDIATE` transaction.
Statistics read the bookings table of the same file in keyset pages.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from clinics.model import Clinic, Invitation
from clinics.ports import ClinicExistsError, StatScope
from clinics.stats import StatRow
from storage.clinic_rows import (
    CLINIC_COLUMNS,
    INVITATION_COLUMNS,
    clinic_from,
    clinic_values,
    like_key,
)
from storage.sqlite_component import open_component

COMPONENT = "clinics"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_versions (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS clinics (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    timezone TEXT NOT NULL,
    opening_hours TEXT NOT NULL DEFAULT '[]',
    area TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS clinics_with_area ON clinics (id) WHERE area IS NOT NULL;
CREATE TABLE IF NOT EXISTS clinic_invitations (
    token_sha256 TEXT PRIMARY KEY,
    doctor_id TEXT NOT NULL,
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at REAL
);
CREATE INDEX IF NOT EXISTS clinic_invitations_doctor ON clinic_invitations (doctor_id);
"""
_SELECT = f"SELECT {', '.join(CLINIC_COLUMNS)} FROM clinics"
_INSERT = (
    f"INSERT INTO clinics ({', '.join(CLINIC_COLUMNS)}, name_key) "
    f"VALUES ({', '.join('?' * (len(CLINIC_COLUMNS) + 1))})"
)
_UPDATE = (
    "UPDATE clinics SET "
    + ", ".join(f"{c} = ?" for c in (*CLINIC_COLUMNS, "name_key") if c != "id")
    + " WHERE id = ?"
)
_INV_SELECT = f"SELECT {', '.join(INVITATION_COLUMNS)} FROM clinic_invitations"
# Bookings requested in [since, until) after a keyset position, with their first arrival.
_STATS = """
SELECT b.id, b.created_at, b.status, b.call_type, b.doctor_id, b.latitude, b.longitude,
       (SELECT min(u.created_at) FROM booking_status_updates u
         WHERE u.booking_id = b.id AND u.new_status = 'arrived') AS arrived_at
FROM bookings b
WHERE b.created_at >= ? AND b.created_at < ? AND (b.created_at, b.id) > (?, ?) {scope}
ORDER BY b.created_at, b.id LIMIT ?
"""
_CLINIC_SCOPE = (
    "AND (b.clinic_id = ? OR b.doctor_id IN "
    "(SELECT id FROM users WHERE clinic_id = ? AND role = 'doctor'))"
)

T = TypeVar("T")


def _clinic(row: sqlite3.Row) -> Clinic:
    return clinic_from(row, created_s=row["created_at"], updated_s=row["updated_at"])


def _invitation(row: sqlite3.Row) -> Invitation:
    return Invitation(
        row["token_sha256"], row["doctor_id"], row["clinic_id"], row["created_at"],
        row["expires_at"], row["used_at"],
    )  # fmt: skip


class SqliteClinicStore:
    def __init__(self, path: Path | str) -> None:
        self._conn = open_component(path, COMPONENT, SCHEMA_VERSION, _SCHEMA)
        self._lock = threading.Lock()

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(self._locked, fn, *args)

    def _locked(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            return fn(*args)

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

    def _all(self, sql: str, values: tuple[Any, ...]) -> list[sqlite3.Row]:
        return self._conn.execute(sql, values).fetchall()

    async def close(self) -> None:
        await self._run(self._conn.close)

    async def create_clinic(self, clinic: Clinic) -> None:
        try:
            await self._run(self._write, _INSERT, (*clinic_values(clinic), like_key(clinic.name)))
        except sqlite3.IntegrityError as exc:
            raise ClinicExistsError(f"a clinic {clinic.clinic_id!r} exists already") from exc

    async def clinic(self, clinic_id: str) -> Clinic | None:
        rows = await self._run(self._all, f"{_SELECT} WHERE id = ?", (clinic_id,))
        return _clinic(rows[0]) if rows else None

    async def update_clinic(self, clinic: Clinic) -> None:
        values = clinic_values(clinic)
        n = await self._run(
            self._write, _UPDATE, (*values[1:], like_key(clinic.name), clinic.clinic_id)
        )
        if n == 0:
            raise LookupError(f"no clinic {clinic.clinic_id!r}")

    async def list_clinics(
        self, *, q: str | None = None, after: str | None = None, limit: int = 50
    ) -> list[Clinic]:
        where, args = [], []
        if q:
            where.append("instr(name_key, ?) > 0")
            args.append(like_key(q))
        if after is not None:
            where.append("id > ?")
            args.append(after)
        sql = _SELECT + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY id LIMIT ?"
        rows = await self._run(self._all, sql, (*args, limit))
        return [_clinic(r) for r in rows]

    async def clinics_with_area(self) -> list[Clinic]:
        rows = await self._run(self._all, f"{_SELECT} WHERE area IS NOT NULL ORDER BY id", ())
        return [_clinic(r) for r in rows]

    async def add_invitation(self, invitation: Invitation) -> None:
        i = invitation
        await self._run(
            self._write,
            f"INSERT INTO clinic_invitations ({', '.join(INVITATION_COLUMNS)})"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (i.token_sha256, i.doctor_id, i.clinic_id, i.created_s, i.expires_s, i.used_s),
        )

    async def use_invitation(self, token_sha256: str, now_s: float) -> Invitation | None:
        return await self._run(self._use, token_sha256, now_s)

    def _use(self, token_sha256: str, now_s: float) -> Invitation | None:
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            row = c.execute(f"{_INV_SELECT} WHERE token_sha256 = ?", (token_sha256,)).fetchone()
            if row is not None and row["used_at"] is None and now_s < row["expires_at"]:
                c.execute(
                    "UPDATE clinic_invitations SET used_at = ? WHERE token_sha256 = ?",
                    (now_s, token_sha256),
                )
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")
        return None if row is None else _invitation(row)

    async def completed_visits(self, doctor_ids: Sequence[str]) -> dict[str, int]:
        if not doctor_ids:
            return {}
        rows = await self._run(
            self._all,
            "SELECT doctor_id, count(*) AS n FROM bookings WHERE status = 'completed'"
            f" AND doctor_id IN ({', '.join('?' * len(doctor_ids))}) GROUP BY doctor_id",
            tuple(doctor_ids),
        )
        return {r["doctor_id"]: int(r["n"]) for r in rows}

    async def stat_rows(
        self, scope: StatScope, since_s: float, until_s: float, batch: int = 5_000
    ) -> AsyncIterator[Sequence[StatRow]]:
        sql = _STATS.format(scope="" if scope.clinic_id is None else _CLINIC_SCOPE)
        extra: tuple[Any, ...] = () if scope.clinic_id is None else (scope.clinic_id,) * 2
        position: tuple[float, str] = (since_s, "")
        while True:
            rows = await self._run(
                self._all, sql, (since_s, until_s, position[0], position[1], *extra, batch)
            )
            if rows:
                yield [
                    StatRow(
                        r["id"], r["created_at"], r["status"], r["call_type"], r["doctor_id"],
                        r["arrived_at"], r["latitude"], r["longitude"],
                    )
                    for r in rows
                ]  # fmt: skip
            if len(rows) < batch:
                return
            position = (rows[-1]["created_at"], rows[-1]["id"])
