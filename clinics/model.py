"""The clinic, its area and opening hours, as plain data, with the rules that keep them
valid. Coordinates are (lat, lon) here; GeoJSON's [lon, lat] is the edges' business."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

MAX_POLYGONS = 50
MAX_RING_POINTS = 500  # per ring, closing point included
MAX_AREA_POINTS = 5_000  # over the whole area
MAX_HOLES = 20

Point = tuple[float, float]  # (lat, lon)
Ring = tuple[Point, ...]  # closed: first == last


class ClinicValidationError(ValueError):
    """A clinic's area, hours or time zone is not acceptable (the edges answer 422)."""


@dataclass(frozen=True, slots=True)
class Polygon:
    """One polygon: its outer ring and holes, each closed, with its bounding box."""

    outer: Ring
    holes: tuple[Ring, ...] = ()

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(south, west, north, east)."""
        lats = [p[0] for p in self.outer]
        lons = [p[1] for p in self.outer]
        return min(lats), min(lons), max(lats), max(lons)


def _in_ring(lat: float, lon: float, ring: Ring) -> bool:
    """Even-odd rule (ray cast along the longitude axis). Points on an edge may go either way."""
    inside = False
    n = len(ring) - 1  # closed: the last point repeats the first
    for i in range(n):
        y1, x1 = ring[i]
        y2, x2 = ring[i + 1]
        if (y1 > lat) != (y2 > lat):
            x = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            if lon < x:
                inside = not inside
    return inside


Edge = tuple[float, float, float, float]  # lat1, lon1, lat2, lon2
_MAX_BANDS = 64


class _Slabs:
    """One polygon's edges (outer ring and holes) sorted into horizontal bands of its
    bounding box: a point is ray-cast against the few edges of its band only (an edge that
    straddles the point's latitude always lies in the point's band), so the answer is the
    plain even-odd rule's, at a cost that does not grow with the polygon's size."""

    __slots__ = ("bands", "height", "south")

    def __init__(self, rings: Sequence[Ring], south: float, north: float) -> None:
        edges: list[Edge] = [
            (r[i][0], r[i][1], r[i + 1][0], r[i + 1][1]) for r in rings for i in range(len(r) - 1)
        ]
        count = max(1, min(_MAX_BANDS, len(edges) // 2))
        self.south = south
        self.height = (north - south) / count or 1.0
        self.bands: list[list[Edge]] = [[] for _ in range(count)]
        for e in edges:
            lo = self._band(min(e[0], e[2]))
            hi = self._band(max(e[0], e[2]))
            for k in range(lo, hi + 1):
                self.bands[k].append(e)

    def _band(self, lat: float) -> int:
        return min(len(self.bands) - 1, max(0, int((lat - self.south) / self.height)))

    def contains(self, lat: float, lon: float) -> bool:
        inside = False
        for y1, x1, y2, x2 in self.bands[self._band(lat)]:
            if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
        return inside


class Area:
    """A MultiPolygon the clinic serves. `contains` checks bounding boxes first, so a point
    far from every polygon costs a few comparisons; inside a box, the edges of one band."""

    __slots__ = ("_boxes", "_slabs", "polygons")

    def __init__(self, polygons: Sequence[Polygon]) -> None:
        self.polygons: tuple[Polygon, ...] = tuple(polygons)
        self._boxes = tuple(p.bbox for p in self.polygons)
        self._slabs = tuple(
            _Slabs((p.outer, *p.holes), box[0], box[2])
            for p, box in zip(self.polygons, self._boxes, strict=True)
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Area) and self.polygons == other.polygons

    def __hash__(self) -> int:
        return hash(self.polygons)

    def __repr__(self) -> str:
        return f"Area({len(self.polygons)} polygons)"

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        s, w, n, e = zip(*self._boxes, strict=True)
        return min(s), min(w), max(n), max(e)

    def contains(self, lat: float, lon: float) -> bool:
        for (south, west, north, east), slabs in zip(self._boxes, self._slabs, strict=True):
            if south <= lat <= north and west <= lon <= east and slabs.contains(lat, lon):
                return True
        return False

    def to_lists(self) -> list[list[list[list[float]]]]:
        """As GeoJSON MultiPolygon coordinates: [[[ [lon, lat], ... ]]]."""
        return [
            [[[lon, lat] for lat, lon in ring] for ring in (p.outer, *p.holes)]
            for p in self.polygons
        ]


def _orient(a: Point, b: Point, c: Point) -> float:
    return (b[1] - a[1]) * (c[0] - a[0]) - (b[0] - a[0]) * (c[1] - a[1])


def _segments_cross(p1: Point, p2: Point, p3: Point, p4: Point) -> bool:
    """Whether two segments intersect (touching included)."""
    d1, d2 = _orient(p3, p4, p1), _orient(p3, p4, p2)
    d3, d4 = _orient(p1, p2, p3), _orient(p1, p2, p4)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True

    def on(a: Point, b: Point, c: Point, d: float) -> bool:
        return (
            d == 0
            and min(a[0], b[0]) <= c[0] <= max(a[0], b[0])
            and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])
        )

    return on(p3, p4, p1, d1) or on(p3, p4, p2, d2) or on(p1, p2, p3, d3) or on(p1, p2, p4, d4)


def _ring_area2(ring: Ring) -> float:
    return sum(
        ring[i][1] * ring[i + 1][0] - ring[i + 1][1] * ring[i][0] for i in range(len(ring) - 1)
    )


def _check_ring(raw: Sequence[Sequence[float]], where: str) -> Ring:
    if not 4 <= len(raw) <= MAX_RING_POINTS:
        raise ClinicValidationError(
            f"{where}: a ring has 4 to {MAX_RING_POINTS} positions (closed: last = first)"
        )
    points: list[Point] = []
    for pos in raw:
        if len(pos) != 2:
            raise ClinicValidationError(f"{where}: a position is (lat, lon)")
        lat, lon = float(pos[0]), float(pos[1])
        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise ClinicValidationError(f"{where}: coordinates must be finite")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ClinicValidationError(f"{where}: lat in -90..90, lon in -180..180")
        points.append((lat, lon))
    if points[0] != points[-1]:
        raise ClinicValidationError(f"{where}: a ring is closed (its last position is its first)")
    ring = tuple(points)
    if len(set(ring[:-1])) != len(ring) - 1:
        raise ClinicValidationError(f"{where}: a ring passes through a point twice")
    if abs(_ring_area2(ring)) < 1e-14:
        raise ClinicValidationError(f"{where}: a ring encloses no area")
    if _self_crossing(ring):
        raise ClinicValidationError(f"{where}: a ring crosses itself")
    return ring


def _self_crossing(ring: Ring) -> bool:
    """Whether two edges that are not neighbours meet (touching counts): each edge against
    every later one at once, candidates first by their bounding boxes."""
    n = len(ring) - 1
    p = np.asarray(ring, dtype=np.float64)
    a, b = p[:-1], p[1:]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    for i in range(n - 2):
        j = np.arange(i + 2, n - 1 if i == 0 else n)  # the last edge neighbours the first
        if j.size == 0:
            continue
        near = (
            (lo[j, 0] <= hi[i, 0]) & (hi[j, 0] >= lo[i, 0])
            & (lo[j, 1] <= hi[i, 1]) & (hi[j, 1] >= lo[i, 1])
        )  # fmt: skip
        for k in j[near].tolist():
            if _segments_cross(ring[i], ring[i + 1], ring[k], ring[k + 1]):
                return True
    return False


def validate_area(polygons: Sequence[Sequence[Sequence[Sequence[float]]]]) -> Area:
    """An Area from polygons given as rings of (lat, lon) positions (outer ring first, then
    holes). Refuses open, degenerate or self-crossing rings, holes outside their polygon,
    and areas over the size limits."""
    if not 1 <= len(polygons) <= MAX_POLYGONS:
        raise ClinicValidationError(f"an area has 1 to {MAX_POLYGONS} polygons")
    total = sum(len(r) for p in polygons for r in p)
    if total > MAX_AREA_POINTS:
        raise ClinicValidationError(f"an area has at most {MAX_AREA_POINTS} positions")
    out = []
    for k, rings in enumerate(polygons):
        if not 1 <= len(rings) <= MAX_HOLES + 1:
            raise ClinicValidationError(f"polygon {k}: an outer ring and at most {MAX_HOLES} holes")
        outer = _check_ring(rings[0], f"polygon {k}")
        holes = tuple(_check_ring(r, f"polygon {k} hole {i}") for i, r in enumerate(rings[1:]))
        for h in holes:
            if not all(_in_ring(lat, lon, outer) for lat, lon in h[:-1]):
                raise ClinicValidationError(f"polygon {k}: a hole lies outside its polygon")
        out.append(Polygon(outer, holes))
    return Area(out)


_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


def _minutes(text: str, field: str) -> int:
    if not _HHMM.match(text):
        raise ClinicValidationError(f"{field} is HH:MM (00:00 to 24:00)")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True, slots=True, order=True)
class OpeningHours:
    """Open on `weekday` (Monday = 0) from `opens` to `closes`, minutes after midnight,
    local time; closes > opens (24:00 = 1440 is the end of the day)."""

    weekday: int
    opens_min: int
    closes_min: int

    @property
    def opens(self) -> str:
        return f"{self.opens_min // 60:02d}:{self.opens_min % 60:02d}"

    @property
    def closes(self) -> str:
        return f"{self.closes_min // 60:02d}:{self.closes_min % 60:02d}"


MAX_HOURS = 7 * 4


def parse_hours(entries: Sequence[tuple[int, str, str]]) -> tuple[OpeningHours, ...]:
    """Opening hours from (weekday, "HH:MM", "HH:MM"), sorted; refuses overlaps on a day."""
    if len(entries) > MAX_HOURS:
        raise ClinicValidationError(f"at most {MAX_HOURS} opening-hours entries")
    hours = []
    for weekday, opens, closes in entries:
        if not 0 <= weekday <= 6:
            raise ClinicValidationError("weekday is 0 (Monday) to 6 (Sunday)")
        o, c = _minutes(opens, "opens"), _minutes(closes, "closes")
        if o == 24 * 60:
            raise ClinicValidationError("opens is 00:00 to 23:59")
        if c <= o:
            raise ClinicValidationError("closes is after opens")
        hours.append(OpeningHours(weekday, o, c))
    hours.sort()
    for a, b in itertools.pairwise(hours):
        if a.weekday == b.weekday and b.opens_min < a.closes_min:
            raise ClinicValidationError(f"opening hours overlap on weekday {a.weekday}")
    return tuple(hours)


def validate_timezone(name: str) -> str:
    """An IANA time zone name that zoneinfo knows."""
    if not name or len(name) > 64 or ".." in name or name.startswith("/"):
        raise ClinicValidationError("timezone is an IANA name, e.g. Europe/Moscow")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ClinicValidationError(f"unknown time zone {name!r}") from exc
    return name


@dataclass(slots=True)
class Clinic:
    """One clinic. Times are epoch seconds."""

    clinic_id: str
    name: str
    created_s: float
    updated_s: float
    phone: str = ""
    email: str = ""
    address: str = ""
    timezone: str = "Europe/Moscow"
    opening_hours: tuple[OpeningHours, ...] = ()
    area: Area | None = None  # None: serves anywhere


@dataclass(frozen=True, slots=True)
class Invitation:
    """A doctor invited by e-mail: only the token's SHA-256 is kept."""

    token_sha256: str
    doctor_id: str
    clinic_id: str
    created_s: float
    expires_s: float
    used_s: float | None = None

    def usable(self, now_s: float) -> bool:
        return self.used_s is None and now_s < self.expires_s
