"""The questions users ask of the record (PostGIS): where doctors were, how a clinic did."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

_LAST_FIX_BEFORE = """
SELECT DISTINCT ON (doctor_id) doctor_id, latitude, longitude,
       extract(epoch FROM recorded_at)::float8 AS t, location
FROM geo.location_history
WHERE recorded_at > $1 AND recorded_at <= $2
ORDER BY doctor_id, recorded_at DESC
"""


@dataclass(frozen=True, slots=True)
class DoctorAt:
    doctor_id: str
    lat: float
    lon: float
    fix_s: float
    distance_m: float | None = None


def _ts(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def _check_point(lat: float, lon: float) -> None:
    if not (abs(lat) <= 90 and abs(lon) <= 180):
        raise ValueError("latitude must be within [-90, 90] and longitude within [-180, 180]")


async def doctors_within_radius_at(
    conn: Conn, lat: float, lon: float, radius_m: float, at_s: float, max_fix_age_s: float = 300.0
) -> list[DoctorAt]:
    """Doctors whose last fix at `at_s` (no older than max_fix_age_s) lay within radius_m, nearest first."""
    _check_point(lat, lon)
    if not (radius_m > 0 and math.isfinite(radius_m)):
        raise ValueError("radius_m must be a positive number")
    rows = await conn.fetch(
        f"SELECT doctor_id, latitude, longitude, t, ST_Distance(location, q.p) AS d FROM ({_LAST_FIX_BEFORE}) last"
        " CROSS JOIN (SELECT ST_SetSRID(ST_MakePoint($4, $3), 4326)::geography AS p) q"
        " WHERE ST_DWithin(location, q.p, $5) ORDER BY d, doctor_id",
        _ts(at_s - max_fix_age_s), _ts(at_s), lat, lon, radius_m,
    )  # fmt: skip
    return [
        DoctorAt(r["doctor_id"], r["latitude"], r["longitude"], r["t"], float(r["d"])) for r in rows
    ]


async def doctors_in_polygon_at(
    conn: Conn, polygon: Sequence[tuple[float, float]], at_s: float, max_fix_age_s: float = 300.0
) -> list[DoctorAt]:
    """Doctors whose last fix at `at_s` lay inside the polygon (a ring of (lat, lon) points)."""
    if len(polygon) < 3:
        raise ValueError("a polygon needs at least three points")
    for lat, lon in polygon:
        _check_point(lat, lon)
    ring = list(polygon) + ([polygon[0]] if polygon[0] != polygon[-1] else [])
    wkt = "POLYGON((" + ", ".join(f"{lon!r} {lat!r}" for lat, lon in ring) + "))"
    rows = await conn.fetch(
        f"SELECT doctor_id, latitude, longitude, t FROM ({_LAST_FIX_BEFORE}) last"
        " WHERE ST_Covers(ST_GeogFromText('SRID=4326;' || $3), location) ORDER BY doctor_id",
        _ts(at_s - max_fix_age_s), _ts(at_s), wkt,
    )  # fmt: skip
    return [DoctorAt(r["doctor_id"], r["latitude"], r["longitude"], r["t"]) for r in rows]


@dataclass(frozen=True, slots=True)
class ClinicDay:
    clinic_id: str
    day: date
    requested: int
    completed: int
    cancelled: int
    mean_time_to_doctor_s: float | None  # request to the doctor's arrival, over arrived visits


async def clinic_daily_figures(conn: Conn, clinic_id: str, day: date) -> ClinicDay:
    """A clinic's bookings requested on `day` (UTC): how many, how many done or cancelled,
    and the mean time from request to the doctor's arrival."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    row = await conn.fetchrow(
        """
        SELECT count(*) AS requested,
               count(*) FILTER (WHERE b.status = 'completed') AS completed,
               count(*) FILTER (WHERE b.status = 'cancelled') AS cancelled,
               avg(extract(epoch FROM a.arrived_at - b.created_at)) AS mean_s
        FROM booking.bookings b
        LEFT JOIN LATERAL (
            SELECT min(u.created_at) AS arrived_at FROM booking.booking_status_updates u
            WHERE u.booking_id = b.id AND u.new_status = 'arrived'
        ) a ON true
        WHERE b.clinic_id = $1 AND b.created_at >= $2 AND b.created_at < $3
        """,
        clinic_id, start, start + timedelta(days=1),
    )  # fmt: skip
    assert row is not None
    mean = row["mean_s"]
    return ClinicDay(
        clinic_id,
        day,
        row["requested"],
        row["completed"],
        row["cancelled"],
        None if mean is None else float(mean),
    )
