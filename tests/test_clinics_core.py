"""The clinics core: areas (point in polygon, validation), opening hours, time zones, and
the statistics (percentiles, rates, local days and hours)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinics import (
    ClinicValidationError,
    StatRow,
    StatsAccumulator,
    parse_hours,
    percentile,
    validate_area,
    validate_timezone,
)
from clinics.stats import period_bounds

SQUARE = [[(60.0, 24.0), (60.0, 25.0), (61.0, 25.0), (61.0, 24.0), (60.0, 24.0)]]
HOLE = [(60.4, 24.4), (60.4, 24.6), (60.6, 24.6), (60.6, 24.4), (60.4, 24.4)]


def test_point_in_area_with_a_hole_and_two_polygons() -> None:
    far = [[(10.0, 10.0), (10.0, 11.0), (11.0, 10.5), (10.0, 10.0)]]
    area = validate_area([[SQUARE[0], HOLE], far])
    assert area.contains(60.2, 24.2)
    assert not area.contains(60.5, 24.5)  # in the hole
    assert not area.contains(59.9, 24.5)
    assert area.contains(10.2, 10.5)  # the triangle
    assert not area.contains(10.9, 10.1)


@settings(deadline=None)
@given(
    st.floats(-89, 89),
    st.floats(-179, 179),
    st.floats(0.01, 5),
    st.floats(0.01, 5),
    st.floats(-1, 2),
    st.floats(-1, 2),
)
def test_rectangles_contain_exactly_their_inside(
    lat: float, lon: float, h: float, w: float, fy: float, fx: float
) -> None:
    n, e = min(lat + h, 90.0), min(lon + w, 180.0)
    area = validate_area([[[(lat, lon), (lat, e), (n, e), (n, lon), (lat, lon)]]])
    py, px = lat + fy * (n - lat), lon + fx * (e - lon)
    inside = lat < py < n and lon < px < e
    on_edge = py in (lat, n) or px in (lon, e)
    if not on_edge:
        assert area.contains(py, px) == inside


@pytest.mark.parametrize(
    "rings",
    [
        [[(60.0, 24.0), (60.0, 25.0), (61.0, 25.0), (61.0, 24.0)]],  # open
        [[(60.0, 24.0), (60.0, 25.0), (60.0, 24.0)]],  # too short
        [[(60.0, 24.0), (61.0, 25.0), (60.0, 25.0), (61.0, 24.0), (60.0, 24.0)]],  # bow tie
        [[(60.0, 24.0), (60.0, 25.0), (60.0, 26.0), (60.0, 24.0)]],  # no area
        [[(91.0, 24.0), (60.0, 25.0), (61.0, 25.0), (91.0, 24.0)]],  # off the globe
        [[(60.0, 24.0), (60.0, 25.0), (61.0, 25.0), (61.0, 24.0), (60.0, 24.0)], [
            (62.0, 24.0), (62.0, 25.0), (63.0, 25.0), (62.0, 24.0)]],  # hole outside
        [[(60.0, float("nan")), (60.0, 25.0), (61.0, 25.0), (60.0, float("nan"))]],
    ],
)  # fmt: skip
def test_bad_polygons_are_refused(rings: list[list[tuple[float, float]]]) -> None:
    with pytest.raises(ClinicValidationError):
        validate_area([rings])


def test_area_size_limits() -> None:
    with pytest.raises(ClinicValidationError):
        validate_area([])
    with pytest.raises(ClinicValidationError):
        validate_area([SQUARE] * 51)


@settings(deadline=None)
@given(st.lists(st.tuples(st.floats(-90, 90), st.floats(-180, 180)), min_size=0, max_size=12))
def test_validation_accepts_or_refuses_cleanly(points: list[tuple[float, float]]) -> None:
    ring = [*points, points[0]] if points else []
    try:
        area = validate_area([[ring]])
    except ClinicValidationError:
        return
    area.contains(0.0, 0.0)
    assert area.to_lists()[0][0][0] == [ring[0][1], ring[0][0]]


def test_opening_hours() -> None:
    hours = parse_hours([(1, "09:00", "18:00"), (0, "08:00", "12:00"), (0, "13:00", "24:00")])
    assert [(h.weekday, h.opens, h.closes) for h in hours] == [
        (0, "08:00", "12:00"),
        (0, "13:00", "24:00"),
        (1, "09:00", "18:00"),
    ]
    for bad in (
        [(7, "09:00", "18:00")],
        [(0, "18:00", "09:00")],
        [(0, "9:00", "18:00")],
        [(0, "24:00", "24:00")],
        [(0, "09:00", "12:00"), (0, "11:00", "13:00")],
    ):
        with pytest.raises(ClinicValidationError):
            parse_hours(bad)


@given(st.text(max_size=40))
def test_timezone_names(name: str) -> None:
    try:
        validate_timezone(name)
    except ClinicValidationError:
        return
    assert name


def test_known_timezones() -> None:
    assert validate_timezone("Europe/Moscow") == "Europe/Moscow"
    with pytest.raises(ClinicValidationError):
        validate_timezone("Mars/Olympus")


def test_percentile_interpolates() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 90) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([float(i) for i in range(11)], 90) == pytest.approx(9.0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=50), st.floats(0, 100))
def test_percentile_is_between_min_and_max(values: list[float], q: float) -> None:
    v = sorted(values)
    p = percentile(v, q)
    assert p is not None and v[0] <= p <= v[-1]


def _ts(y: int, m: int, d: int, h: int, mi: int = 0) -> float:
    return datetime(y, m, d, h, mi, tzinfo=UTC).timestamp()


def test_stats_in_the_clinics_time_zone() -> None:
    acc = StatsAccumulator(date(2026, 3, 1), date(2026, 3, 2), "Europe/Moscow")
    rows = [
        # 22:30 UTC on 1 March is 01:30 on 2 March in Moscow (UTC+3)
        StatRow("a", _ts(2026, 3, 1, 22, 30), "completed", "home_visit", "d1",
                _ts(2026, 3, 1, 22, 50), 55.75, 37.61),
        StatRow("b", _ts(2026, 3, 1, 9), "completed", "urgent", "d1",
                _ts(2026, 3, 1, 9, 40), 55.75, 37.61),
        StatRow("c", _ts(2026, 3, 1, 10), "cancelled", "urgent", None, None, 55.7, 37.6),
        StatRow("d", _ts(2026, 3, 1, 11), "no_doctor_found", "home_visit", None, None, 55.7, 37.6),
        StatRow("e", _ts(2026, 3, 1, 12), "completed", "home_visit", "d2",
                _ts(2026, 3, 1, 12, 10), 55.0, 37.0),
    ]  # fmt: skip
    acc.add(rows[:2])
    acc.add(rows[2:])  # in batches, as the stores stream them
    s = acc.result()
    assert s.bookings == 5 and s.visits == 3
    assert dict(s.by_day) == {date(2026, 3, 1): 2, date(2026, 3, 2): 1}
    hours = dict(s.by_hour)
    assert hours[1] == 1 and hours[12] == 1 and hours[15] == 1 and sum(hours.values()) == 3
    assert s.time_to_doctor_count == 3
    assert s.time_to_doctor_p50_s == 1_200.0
    assert s.time_to_doctor_p90_s == pytest.approx(600 + 0.8 * (2_400 - 1_200) + 600)
    assert s.no_doctor_rate == pytest.approx(0.2)
    assert s.cancellation_rate == pytest.approx(0.2)
    assert s.by_doctor == (("d1", 2, 1_800.0), ("d2", 1, 600.0))
    assert s.by_call_type == (("home_visit", 2, 0.0), ("urgent", 1, 0.5))
    assert sum(n for *_, n in s.by_area) == 3 and len(s.by_area) == 2


def test_empty_stats_have_zero_rates() -> None:
    s = StatsAccumulator(date(2026, 3, 1), date(2026, 3, 1), "UTC").result()
    assert s.no_doctor_rate == 0.0 and s.time_to_doctor_p50_s is None
    assert s.by_day == ((date(2026, 3, 1), 0),)


def test_period_bounds_follow_the_zone() -> None:
    since, until = period_bounds(date(2026, 3, 1), date(2026, 3, 1), "Europe/Moscow")
    assert since == _ts(2026, 2, 28, 21) and until == _ts(2026, 3, 1, 21)


def _brute_force_crossing(ring: list[tuple[float, float]]) -> bool:
    from clinics.model import _segments_cross

    n = len(ring) - 1
    return any(
        _segments_cross(ring[i], ring[i + 1], ring[j], ring[j + 1])
        for i in range(n)
        for j in range(i + 2, n)
        if not (i == 0 and j == n - 1)
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6).map(float), st.integers(0, 6).map(float)),
        min_size=3,
        max_size=9,
        unique=True,
    ),
    st.lists(st.tuples(st.floats(-1, 7), st.floats(-1, 7)), min_size=1, max_size=10),
)
def test_the_fast_checks_agree_with_the_plain_ones(
    points: list[tuple[float, float]], probes: list[tuple[float, float]]
) -> None:
    """On a small grid (many touching and crossing edges): the vectorised self-crossing
    check and point-in-area agree with the plain pairwise loop and ray cast."""
    from clinics.model import _in_ring, _self_crossing

    ring = [*points, points[0]]
    assert _self_crossing(tuple(ring)) == _brute_force_crossing(ring)
    try:
        area = validate_area([[ring]])
    except ClinicValidationError:
        return
    for lat, lon in probes:
        assert area.contains(lat, lon) == _in_ring(lat, lon, tuple(ring))


@settings(max_examples=30, deadline=None)
@given(
    st.integers(3, 200), st.lists(st.tuples(st.floats(-1.5, 1.5), st.floats(-3, 3)), max_size=20)
)
def test_big_polygons_answer_like_small_ones(n: int, probes: list[tuple[float, float]]) -> None:
    """Polygons over the vectorising threshold (and with a hole) answer like the ray cast."""
    import math

    from clinics.model import _in_ring

    outer = [(math.sin(2 * math.pi * i / n), 2 * math.cos(2 * math.pi * i / n)) for i in range(n)]
    hole = [(0.1, 0.1), (0.1, 0.3), (0.3, 0.3), (0.3, 0.1)]
    rings = [[*outer, outer[0]], [*hole, hole[0]]]
    area = validate_area([rings])
    for lat, lon in probes:
        expected = _in_ring(lat, lon, tuple(rings[0])) and not _in_ring(lat, lon, tuple(rings[1]))
        assert area.contains(lat, lon) == expected
