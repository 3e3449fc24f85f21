"""Clinics as rows, shared by the SQLite and PostGIS adapters: opening hours and the area
are JSON ([[weekday, opens_min, closes_min]], and GeoJSON MultiPolygon coordinates)."""

from __future__ import annotations

import json
from typing import Any

from clinics.model import Area, Clinic, OpeningHours, Polygon

CLINIC_COLUMNS = (
    "id", "name", "phone", "email", "address", "timezone", "opening_hours", "area",
    "created_at", "updated_at",
)  # fmt: skip
INVITATION_COLUMNS = (
    "token_sha256", "doctor_id", "clinic_id", "created_at", "expires_at", "used_at",
)  # fmt: skip


def hours_json(hours: tuple[OpeningHours, ...]) -> str:
    return json.dumps([[h.weekday, h.opens_min, h.closes_min] for h in hours])


def hours_from(text: str | None) -> tuple[OpeningHours, ...]:
    if not text:
        return ()
    return tuple(OpeningHours(int(w), int(o), int(c)) for w, o, c in json.loads(text))


def area_geojson(area: Area | None) -> str | None:
    """The area as a GeoJSON MultiPolygon ([lon, lat] positions), or None."""
    if area is None:
        return None
    return json.dumps({"type": "MultiPolygon", "coordinates": area.to_lists()})


def area_from(text: str | None) -> Area | None:
    """The stored area back: the rings were validated before they were stored."""
    if not text:
        return None
    coordinates = json.loads(text)["coordinates"]
    polygons = []
    for rings in coordinates:
        closed = [tuple((float(lat), float(lon)) for lon, lat in ring) for ring in rings]
        polygons.append(Polygon(closed[0], tuple(closed[1:])))
    return Area(polygons)


def clinic_values(clinic: Clinic) -> tuple[Any, ...]:
    """In CLINIC_COLUMNS order; times as epoch seconds (the adapters convert)."""
    return (
        clinic.clinic_id, clinic.name, clinic.phone, clinic.email, clinic.address,
        clinic.timezone, hours_json(clinic.opening_hours), area_geojson(clinic.area),
        clinic.created_s, clinic.updated_s,
    )  # fmt: skip


def clinic_from(row: Any, *, created_s: float, updated_s: float) -> Clinic:
    return Clinic(
        clinic_id=row["id"],
        name=row["name"],
        phone=row["phone"],
        email=row["email"],
        address=row["address"],
        timezone=row["timezone"],
        opening_hours=hours_from(row["opening_hours"]),
        area=area_from(row["area"]),
        created_s=created_s,
        updated_s=updated_s,
    )


def like_key(text: str) -> str:
    return text.lower()
