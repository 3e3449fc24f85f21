"""The PostGIS adapter for clinics and invitations (migration 0005, schema `clinic`).

The area is kept twice: the GeoJSON as given (`area`, what the API answers) and as
geometry (`area_geom`, for spatial queries). Statistics read a period's bookings in keyset
pages of (created_at, id), each with its first arrival from the status history; nothing
holds a transaction across the caller's awaits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg

from clinics.model import Clinic, Invitation
from clinics.ports import ClinicExistsError, StatScope
from clinics.stats import StatRow
from storage.booking_rows import from_time, to_time
from storage.clinic_rows import CLINIC_COLUMNS, INVITATION_COLUMNS, clinic_from, clinic_values
from storage.pg import Pool, create_pool

_SELECT = f"SELECT {', '.join(CLINIC_COLUMNS)} FROM clinic.clinics"
_INSERT = (
    f"INSERT INTO clinic.clinics ({', '.join(CLINIC_COLUMNS)}, area_geom) VALUES "
    "($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10,"
    " ST_SetSRID(ST_GeomFromGeoJSON($11::text), 4326))"
)
_UPDATE = (
    "UPDATE clinic.clinics SET name = $2, phone = $3, email = $4, address = $5, timezone = $6,"
    " opening_hours = $7::jsonb, area = $8::jsonb, created_at = $9, updated_at = $10,"
    " area_geom = ST_SetSRID(ST_GeomFromGeoJSON($11::text), 4326) WHERE id = $1"
)
_INV_COLUMNS = ", ".join(INVITATION_COLUMNS)
_STATS = """
SELECT b.id, b.created_at, b.status, b.call_type, b.doctor_id, b.latitude, b.longitude,
       (SELECT min(u.created_at) FROM booking.booking_status_updates u
         WHERE u.booking_id = b.id AND u.new_status = 'arrived') AS arrived_at
FROM booking.bookings b
WHERE b.created_at >= $1 AND b.created_at < $2
  AND (b.created_at, b.id COLLATE "C") > ($3, $4 COLLATE "C") {scope}
ORDER BY b.created_at, b.id COLLATE "C" LIMIT $5
"""
_CLINIC_SCOPE = (
    "AND (b.clinic_id = $6 OR b.doctor_id IN "
    "(SELECT id FROM auth.users WHERE clinic_id = $6 AND role = 'doctor'))"
)


def _values(clinic: Clinic) -> tuple[Any, ...]:
    v = clinic_values(clinic)
    return (*v[:8], to_time(v[8]), to_time(v[9]), v[7])


def _clinic(row: asyncpg.Record) -> Clinic:
    created, updated = from_time(row["created_at"]), from_time(row["updated_at"])
    assert created is not None and updated is not None
    return clinic_from(row, created_s=created, updated_s=updated)


def _invitation(row: asyncpg.Record) -> Invitation:
    created, expires = from_time(row["created_at"]), from_time(row["expires_at"])
    assert created is not None and expires is not None
    return Invitation(
        row["token_sha256"], row["doctor_id"], row["clinic_id"], created, expires,
        from_time(row["used_at"]),
    )  # fmt: skip


class PostgisClinicStore:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    @classmethod
    async def connect(
        cls, database_url: str, *, min_size: int = 1, max_size: int = 4
    ) -> PostgisClinicStore:
        return cls(await create_pool(database_url, min_size=min_size, max_size=max_size))

    async def close(self) -> None:
        await self._pool.close()

    async def create_clinic(self, clinic: Clinic) -> None:
        try:
            await self._pool.execute(_INSERT, *_values(clinic))
        except asyncpg.UniqueViolationError as exc:
            raise ClinicExistsError(f"a clinic {clinic.clinic_id!r} exists already") from exc

    async def clinic(self, clinic_id: str) -> Clinic | None:
        row = await self._pool.fetchrow(f"{_SELECT} WHERE id = $1", clinic_id)
        return None if row is None else _clinic(row)

    async def update_clinic(self, clinic: Clinic) -> None:
        status = await self._pool.execute(_UPDATE, *_values(clinic))
        if status.rsplit(" ", 1)[-1] == "0":
            raise LookupError(f"no clinic {clinic.clinic_id!r}")

    async def list_clinics(
        self, *, q: str | None = None, after: str | None = None, limit: int = 50
    ) -> list[Clinic]:
        where: list[str] = []
        args: list[object] = []
        if q:
            args.append(q)
            where.append(f"strpos(lower(name), lower(${len(args)})) > 0")
        if after is not None:
            args.append(after)
            where.append(f'id COLLATE "C" > ${len(args)}')
        args.append(limit)
        sql = (
            _SELECT
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + f' ORDER BY id COLLATE "C" LIMIT ${len(args)}'
        )
        return [_clinic(r) for r in await self._pool.fetch(sql, *args)]

    async def clinics_with_area(self) -> list[Clinic]:
        rows = await self._pool.fetch(f'{_SELECT} WHERE area IS NOT NULL ORDER BY id COLLATE "C"')
        return [_clinic(r) for r in rows]

    async def add_invitation(self, invitation: Invitation) -> None:
        i = invitation
        await self._pool.execute(
            f"INSERT INTO clinic.invitations ({_INV_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)",
            i.token_sha256, i.doctor_id, i.clinic_id, to_time(i.created_s),
            to_time(i.expires_s), to_time(i.used_s),
        )  # fmt: skip

    async def use_invitation(self, token_sha256: str, now_s: float) -> Invitation | None:
        # One statement: the CTE locks the row; the update applies only to a usable one;
        # the answer is the row as it was before.
        row = await self._pool.fetchrow(
            f"""
            WITH old AS (
                SELECT {_INV_COLUMNS} FROM clinic.invitations WHERE token_sha256 = $1 FOR UPDATE
            ), used AS (
                UPDATE clinic.invitations AS i SET used_at = $2 FROM old
                WHERE i.token_sha256 = old.token_sha256 AND old.used_at IS NULL
                  AND $2 < old.expires_at
                RETURNING i.token_sha256
            )
            SELECT * FROM old
            """,
            token_sha256,
            to_time(now_s),
        )
        return None if row is None else _invitation(row)

    async def completed_visits(self, doctor_ids: Sequence[str]) -> dict[str, int]:
        if not doctor_ids:
            return {}
        rows = await self._pool.fetch(
            "SELECT doctor_id, count(*) AS n FROM booking.bookings WHERE status = 'completed'"
            " AND doctor_id = ANY($1::text[]) GROUP BY doctor_id",
            list(doctor_ids),
        )
        return {r["doctor_id"]: int(r["n"]) for r in rows}

    async def stat_rows(
        self, scope: StatScope, since_s: float, until_s: float, batch: int = 5_000
    ) -> AsyncIterator[Sequence[StatRow]]:
        sql = _STATS.format(scope="" if scope.clinic_id is None else _CLINIC_SCOPE)
        extra: tuple[Any, ...] = () if scope.clinic_id is None else (scope.clinic_id,)
        since, until = to_time(since_s), to_time(until_s)
        position: tuple[Any, str] = (since, "")
        while True:
            rows = await self._pool.fetch(sql, since, until, *position, batch, *extra)
            if rows:
                out = []
                for r in rows:
                    requested = from_time(r["created_at"])
                    assert requested is not None
                    out.append(
                        StatRow(
                            r["id"], requested, r["status"], r["call_type"], r["doctor_id"],
                            from_time(r["arrived_at"]), r["latitude"], r["longitude"],
                        )
                    )  # fmt: skip
                yield out
            if len(rows) < batch:
                return
            position = (rows[-1]["created_at"], rows[-1]["id"])
