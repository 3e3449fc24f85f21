"""Call statistics from booking rows, streamed through an accumulator (memory: counters,
plus 8 bytes per booking that reached its patient, for the percentiles).

Definitions (every figure is over bookings *requested* in the period, in the clinic's
time zone):
- visits: those completed; by_day and by_hour place them at their request's local time;
- time to doctor: arrival (the first "arrived" status) minus the request, over those that
  had an arrival; p50 and p90 by linear interpolation between ranks;
- no_doctor_rate, cancellation_rate: the share that ended no_doctor_found, cancelled.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import h3
import numpy as np
import numpy.typing as npt

AREA_RESOLUTION = 7


def percentile(sorted_values: Sequence[float] | npt.NDArray[np.float64], q: float) -> float | None:
    """The q-th percentile (0..100) of already sorted values, interpolating linearly
    between ranks (numpy's default); None for no values."""
    if not 0 <= q <= 100:
        raise ValueError("q is 0..100")
    n = len(sorted_values)
    if n == 0:
        return None
    pos = (n - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac)


@dataclass(frozen=True, slots=True)
class StatRow:
    """What the statistics read of one booking."""

    booking_id: str
    requested_s: float
    status: str
    call_type: str
    doctor_id: str | None
    arrived_s: float | None
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Stats:
    since: date
    until: date
    timezone: str
    bookings: int
    visits: int
    by_day: tuple[tuple[date, int], ...]
    by_hour: tuple[tuple[int, int], ...]
    time_to_doctor_p50_s: float | None
    time_to_doctor_p90_s: float | None
    time_to_doctor_count: int
    no_doctor_rate: float
    cancellation_rate: float
    by_doctor: tuple[tuple[str, int, float | None], ...]  # (doctor_id, visits, p50)
    by_call_type: tuple[tuple[str, int, float], ...]  # (call_type, visits, cancellation rate)
    by_area: tuple[tuple[str, float, float, int], ...]  # (cell, lat, lon, visits)


def period_bounds(since: date, until: date, tz: str) -> tuple[float, float]:
    """Epoch seconds from the local start of `since` to the local end of `until`."""
    zone = ZoneInfo(tz)
    start = datetime(since.year, since.month, since.day, tzinfo=zone)
    end_day = until + timedelta(days=1)
    end = datetime(end_day.year, end_day.month, end_day.day, tzinfo=zone)
    return start.timestamp(), end.timestamp()


def default_period(now_s: float, tz: str, days: int = 30) -> tuple[date, date]:
    """The last `days` days up to today, in the time zone."""
    today = datetime.fromtimestamp(now_s, ZoneInfo(tz)).date()
    return today - timedelta(days=days - 1), today


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


@dataclass
class StatsAccumulator:
    since: date
    until: date
    timezone: str
    _zone: ZoneInfo = field(init=False)
    _bookings: int = 0
    _visits: int = 0
    _no_doctor: int = 0
    _cancelled: int = 0
    _by_day: Counter[date] = field(default_factory=Counter)
    _by_hour: Counter[int] = field(default_factory=Counter)
    _ttd: array[float] = field(default_factory=lambda: array("d"))  # 8 bytes a visit
    _doc_visits: Counter[str] = field(default_factory=Counter)
    _doc_ttd: defaultdict[str, array[float]] = field(
        default_factory=lambda: defaultdict(lambda: array("d"))
    )
    _type_all: Counter[str] = field(default_factory=Counter)
    _type_visits: Counter[str] = field(default_factory=Counter)
    _type_cancelled: Counter[str] = field(default_factory=Counter)
    _area: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._zone = ZoneInfo(self.timezone)

    def add(self, rows: Iterable[StatRow]) -> None:
        for r in rows:
            self._bookings += 1
            self._type_all[r.call_type] += 1
            if r.status == "no_doctor_found":
                self._no_doctor += 1
            elif r.status == "cancelled":
                self._cancelled += 1
                self._type_cancelled[r.call_type] += 1
            if r.arrived_s is not None and r.arrived_s >= r.requested_s:
                ttd = r.arrived_s - r.requested_s
                self._ttd.append(ttd)
                if r.doctor_id is not None:
                    self._doc_ttd[r.doctor_id].append(ttd)
            if r.status != "completed":
                continue
            self._visits += 1
            local = datetime.fromtimestamp(r.requested_s, UTC).astimezone(self._zone)
            self._by_day[local.date()] += 1
            self._by_hour[local.hour] += 1
            self._type_visits[r.call_type] += 1
            if r.doctor_id is not None:
                self._doc_visits[r.doctor_id] += 1
            self._area[h3.latlng_to_cell(r.lat, r.lon, AREA_RESOLUTION)] += 1

    def result(self) -> Stats:
        days = []
        d = self.since
        while d <= self.until:
            days.append((d, self._by_day.get(d, 0)))
            d += timedelta(days=1)
        ttd: npt.NDArray[np.float64] = np.sort(np.frombuffer(self._ttd, dtype=np.float64))
        doctors = sorted(set(self._doc_visits) | set(self._doc_ttd))
        by_doctor = tuple(
            (doc, self._doc_visits.get(doc, 0), percentile(sorted(self._doc_ttd.get(doc, ())), 50))
            for doc in doctors
        )
        by_type = tuple(
            (t, self._type_visits.get(t, 0), _rate(self._type_cancelled.get(t, 0), n))
            for t, n in sorted(self._type_all.items())
        )
        areas = []
        for cell, n in sorted(self._area.items()):
            lat, lon = h3.cell_to_latlng(cell)
            areas.append((str(cell), float(lat), float(lon), n))
        return Stats(
            since=self.since,
            until=self.until,
            timezone=self.timezone,
            bookings=self._bookings,
            visits=self._visits,
            by_day=tuple(days),
            by_hour=tuple((h, self._by_hour.get(h, 0)) for h in range(24)),
            time_to_doctor_p50_s=percentile(ttd, 50),
            time_to_doctor_p90_s=percentile(ttd, 90),
            time_to_doctor_count=len(ttd),
            no_doctor_rate=_rate(self._no_doctor, self._bookings),
            cancellation_rate=_rate(self._cancelled, self._bookings),
            by_doctor=by_doctor,
            by_call_type=by_type,
            by_area=tuple(areas),
        )


def doctor_names(stats: Stats, names: Mapping[str, str]) -> list[tuple[str, str]]:
    """(doctor_id, name) for the doctors in the stats; unknown names are empty."""
    return [(d, names.get(d, "")) for d, _, _ in stats.by_doctor]
