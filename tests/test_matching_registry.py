"""The doctor registry: fix validation, KD candidates equal brute force, area questions."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from matching import DoctorProfile, DoctorRegistry, DoctorStatus, FixRejection, MatchingPolicy
from routing.geo import LocalProjection

NOW = 1_800_000_000.0
CENTER = (60.17, 24.94)


def make_registry(**policy: float) -> DoctorRegistry:
    return DoctorRegistry(LocalProjection(*CENTER), MatchingPolicy(**policy))  # type: ignore[arg-type]


def snapshot(reg: DoctorRegistry, doctor_id: str) -> tuple[object, ...]:
    return (reg.position(doctor_id), reg.cell_of(doctor_id), reg.moved_since_snapshot)


class TestFixValidation:
    @pytest.fixture
    def reg(self) -> DoctorRegistry:
        reg = make_registry()
        reg.upsert_doctor(DoctorProfile("d1"), DoctorStatus.AVAILABLE)
        assert reg.update_position("d1", 60.17, 24.94, 10.0, NOW - 10, NOW) is None
        return reg

    @pytest.mark.parametrize(
        ("fix", "reason"),
        [
            ((math.nan, 24.94, 10.0, NOW - 5), FixRejection.INVALID_COORDINATES),
            ((60.17, math.inf, 10.0, NOW - 5), FixRejection.INVALID_COORDINATES),
            ((90.5, 24.94, 10.0, NOW - 5), FixRejection.INVALID_COORDINATES),
            ((60.17, -180.5, 10.0, NOW - 5), FixRejection.INVALID_COORDINATES),
            ((60.17, 24.94, -1.0, NOW - 5), FixRejection.INVALID_ACCURACY),
            ((60.17, 24.94, math.nan, NOW - 5), FixRejection.INVALID_ACCURACY),
            ((60.17, 24.94, 1e300, NOW - 5), FixRejection.INVALID_ACCURACY),
            ((60.17, 24.94, 10.0, math.nan), FixRejection.INVALID_TIME),
            ((60.17, 24.94, 10.0, NOW + 120), FixRejection.FROM_THE_FUTURE),
            ((60.171, 24.94, 10.0, NOW - 20), FixRejection.OUT_OF_ORDER),
            ((60.171, 24.94, 10.0, NOW - 10), FixRejection.OUT_OF_ORDER),  # same time again
            # 5 km in 10 s is 1800 km/h
            ((60.215, 24.94, 10.0, NOW), FixRejection.IMPLAUSIBLE_JUMP),
        ],
    )
    def test_bad_fix_is_rejected_and_changes_nothing(
        self, reg: DoctorRegistry, fix: tuple[float, float, float, float], reason: FixRejection
    ) -> None:
        before = snapshot(reg, "d1")
        assert reg.update_position("d1", *fix, now_s=NOW) is reason
        assert snapshot(reg, "d1") == before
        # the batch path gives the same verdict and also changes nothing
        lat, lon, acc, t = fix
        result = reg.update_positions(["d1"], [lat], [lon], [acc], [t], NOW)
        assert result.accepted == 0
        assert result.rejected == ((0, "d1", reason),)
        assert snapshot(reg, "d1") == before

    def test_unknown_doctor(self, reg: DoctorRegistry) -> None:
        assert (
            reg.update_position("ghost", 60.17, 24.94, 5.0, NOW, NOW) is FixRejection.UNKNOWN_DOCTOR
        )
        result = reg.update_positions(
            ["ghost", "d1"], [60.17, 60.1701], [24.94, 24.94], [5, 5], [NOW, NOW], NOW
        )
        assert result.accepted == 1
        assert result.rejected == ((0, "ghost", FixRejection.UNKNOWN_DOCTOR),)

    def test_small_skew_and_plausible_moves_are_accepted(self, reg: DoctorRegistry) -> None:
        # 500 m in 20 s is 90 km/h; a fix 10 s ahead of our clock is within the skew
        assert reg.update_position("d1", 60.1745, 24.94, 10.0, NOW + 10, NOW) is None
        position = reg.position("d1")
        assert position is not None
        assert position[0] == 60.1745
        assert position[3] == NOW + 10

    def test_gps_accuracy_is_not_counted_as_movement(self, reg: DoctorRegistry) -> None:
        # 200 m in 1 s would be 720 km/h: a jump when the fix is precise ...
        assert (
            reg.update_position("d1", 60.1718, 24.94, 5.0, NOW - 9, NOW)
            is FixRejection.IMPLAUSIBLE_JUMP
        )
        # ... but not when the new fix is only good to 200 m
        assert reg.update_position("d1", 60.1718, 24.94, 200.0, NOW - 9, NOW) is None

    def test_staleness(self, reg: DoctorRegistry) -> None:
        assert not reg.is_stale("d1", NOW)
        assert reg.fix_age_s("d1", NOW) == 10.0
        assert reg.is_stale("d1", NOW + reg.policy.stale_after_s + 1)
        reg.upsert_doctor(DoctorProfile("d2"))
        assert reg.is_stale("d2", NOW)  # no fix at all

    def test_several_fixes_of_one_doctor_in_a_batch_apply_in_order(
        self, reg: DoctorRegistry
    ) -> None:
        result = reg.update_positions(
            ["d1", "d1", "d1"],
            [60.1701, 60.1702, 60.1703],
            [24.94, 24.94, 24.94],
            [5.0, 5.0, 5.0],
            [NOW - 8, NOW - 9, NOW - 7],  # the second is older than the first: out of order
            NOW,
        )
        assert result.accepted == 2
        assert result.rejected == ((1, "d1", FixRejection.OUT_OF_ORDER),)
        position = reg.position("d1")
        assert position is not None
        assert position[0] == 60.1703

    def test_batch_arrays_must_line_up(self, reg: DoctorRegistry) -> None:
        with pytest.raises(ValueError, match="one entry per doctor"):
            reg.update_positions(["d1"], [60.1, 60.2], [24.9], [5.0], [NOW], NOW)


fix_floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-0.01, max_value=0.01),
)


@given(
    fixes=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "nobody"]),
            fix_floats,  # lat offset (or junk)
            fix_floats,  # lon offset (or junk)
            st.one_of(st.floats(min_value=0, max_value=300), st.floats(allow_nan=True)),
            st.one_of(
                st.floats(min_value=-60, max_value=60),
                st.floats(allow_nan=True, allow_infinity=True),
            ),
        ),
        max_size=30,
    )
)
@settings(max_examples=200, deadline=None)
def test_a_batch_equals_the_same_fixes_one_by_one(
    fixes: list[tuple[str, float, float, float, float]],
) -> None:
    regs = [make_registry(), make_registry()]
    for reg in regs:
        for d in ("a", "b", "c"):
            reg.upsert_doctor(DoctorProfile(d), DoctorStatus.AVAILABLE)
    lat = [CENTER[0] + f[1] if abs(f[1]) <= 0.01 else f[1] for f in fixes]
    lon = [CENTER[1] + f[2] if abs(f[2]) <= 0.01 else f[2] for f in fixes]
    acc = [f[3] for f in fixes]
    t = [NOW + f[4] for f in fixes]
    ids = [f[0] for f in fixes]
    one_by_one = [
        (i, ids[i], why)
        for i in range(len(fixes))
        if (why := regs[0].update_position(ids[i], lat[i], lon[i], acc[i], t[i], NOW)) is not None
    ]
    batch = regs[1].update_positions(
        ids, np.array(lat), np.array(lon), np.array(acc), np.array(t), NOW
    )
    assert batch.rejected == tuple(one_by_one)
    assert batch.accepted == len(fixes) - len(one_by_one)
    for d in ("a", "b", "c"):
        assert regs[0].position(d) == regs[1].position(d)
        assert regs[0].cell_of(d) == regs[1].cell_of(d)


class NearestEqualsBruteForce(RuleBasedStateMachine):
    """Doctors join, move, change status and leave; KNN answers always equal brute force."""

    @initialize()
    def setup(self) -> None:
        self.reg = make_registry()
        self.clock = NOW
        self.next_id = 0
        self.rng = np.random.default_rng(0)

    def _ids(self) -> list[str]:
        return sorted(self.reg._slot_of)

    @rule(count=st.integers(1, 40), spread=st.sampled_from([0.0, 0.001, 0.05]))
    def add_doctors(self, count: int, spread: float) -> None:
        self.clock += 3_600
        ids = []
        for _ in range(count):
            doctor_id = f"d{self.next_id}"
            self.next_id += 1
            self.reg.upsert_doctor(DoctorProfile(doctor_id), DoctorStatus.AVAILABLE)
            ids.append(doctor_id)
        # spread 0 puts everyone on one spot: ties everywhere
        lat = CENTER[0] + self.rng.uniform(-spread, spread, count)
        lon = CENTER[1] + self.rng.uniform(-spread, spread, count)
        result = self.reg.update_positions(
            ids, lat, lon, np.full(count, 5.0), np.full(count, self.clock), self.clock
        )
        assert result.accepted == count

    @precondition(lambda self: len(self.reg) > 0)
    @rule(data=st.data(), batch=st.booleans())
    def move_some(self, data: st.DataObject, batch: bool) -> None:
        self.clock += 3_600  # long enough that any move in the area is plausible
        ids = data.draw(
            st.lists(st.sampled_from(self._ids()), min_size=1, max_size=20, unique=True)
        )
        lat = CENTER[0] + self.rng.uniform(-0.02, 0.02, len(ids))
        lon = CENTER[1] + self.rng.uniform(-0.02, 0.02, len(ids))
        if batch:
            result = self.reg.update_positions(
                ids, lat, lon, np.full(len(ids), 5.0), np.full(len(ids), self.clock), self.clock
            )
            assert result.accepted == len(ids)
        else:
            for d, a, b in zip(ids, lat.tolist(), lon.tolist(), strict=True):
                assert self.reg.update_position(d, a, b, 5.0, self.clock, self.clock) is None

    @precondition(lambda self: len(self.reg) > 0)
    @rule(data=st.data(), status=st.sampled_from(list(DoctorStatus)))
    def change_status(self, data: st.DataObject, status: DoctorStatus) -> None:
        self.reg.set_status(data.draw(st.sampled_from(self._ids())), status, now_s=self.clock)

    @rule()
    def add_without_a_fix(self) -> None:
        # often lands in a slot freed by remove_one: it must not inherit that slot's place
        self.reg.upsert_doctor(DoctorProfile(f"d{self.next_id}"), DoctorStatus.AVAILABLE)
        self.next_id += 1

    @precondition(lambda self: len(self.reg) > 0)
    @rule(data=st.data())
    def remove_one(self, data: st.DataObject) -> None:
        self.reg.remove_doctor(data.draw(st.sampled_from(self._ids())))

    @rule()
    def rebuild(self) -> None:
        self.reg.rebuild_index()

    @rule(
        dlat=st.floats(-0.03, 0.03),
        dlon=st.floats(-0.03, 0.03),
        k=st.integers(1, 30),
        radius_m=st.sampled_from([50.0, 800.0, 3_000.0, 50_000.0]),
        only_available=st.booleans(),
    )
    def query(
        self, dlat: float, dlon: float, k: int, radius_m: float, only_available: bool
    ) -> None:
        reg = self.reg
        lat, lon = CENTER[0] + dlat, CENTER[1] + dlon
        status = reg._status

        def exclude(slots: np.ndarray) -> np.ndarray:
            if only_available:
                return (status[slots] != DoctorStatus.AVAILABLE).astype(np.uint8)
            return np.zeros(slots.size, dtype=np.uint8)

        def accept(slots: np.ndarray) -> np.ndarray:
            return exclude(slots) == 0

        got, got_d, refused, refused_d, codes = reg.nearest(lat, lon, k, radius_m, exclude)
        assert np.all(codes != 0)
        assert not accept(refused).any()  # what is reported as left out really was
        if got_d.size == k:
            assert np.all(refused_d <= got_d[-1])
        slots = reg.positioned_slots()
        x, y = reg.projected_xy(slots)
        qx, qy = reg.projection.to_xy(np.array([lat]), np.array([lon]))[0]
        d = np.hypot(x - qx, y - qy)
        keep = (d <= radius_m) & accept(slots)
        slots, d = slots[keep], d[keep]
        order = np.lexsort((slots, d))[:k]
        assert got.tolist() == slots[order].tolist()
        np.testing.assert_allclose(got_d, d[order], rtol=1e-9, atol=1e-6)

    @invariant()
    def moved_set_is_bounded(self) -> None:
        assert self.reg.moved_since_snapshot <= max(512, len(self.reg) // 8)


TestNearestEqualsBruteForce = NearestEqualsBruteForce.TestCase
TestNearestEqualsBruteForce.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None
)


class TestAreaQuestions:
    @pytest.fixture
    def reg(self) -> DoctorRegistry:
        reg = make_registry()
        rng = np.random.default_rng(5)
        n = 400
        ids = [f"d{i}" for i in range(n)]
        for i, d in enumerate(ids):
            reg.upsert_doctor(
                DoctorProfile(d), DoctorStatus.AVAILABLE if i % 3 else DoctorStatus.ON_VISIT
            )
        lat = CENTER[0] + rng.uniform(-0.05, 0.05, n)
        lon = CENTER[1] + rng.uniform(-0.1, 0.1, n)
        assert (
            reg.update_positions(ids, lat, lon, np.full(n, 5.0), np.full(n, NOW - 1), NOW).accepted
            == n
        )
        self.truth = dict(zip(ids, zip(lat.tolist(), lon.tolist(), strict=True), strict=True))
        return reg

    @given(
        south=st.floats(60.10, 60.22),
        west=st.floats(24.80, 25.05),
        height=st.floats(0.0005, 0.08),
        width=st.floats(0.0005, 0.15),
    )
    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    def test_viewport_is_exact(
        self, reg: DoctorRegistry, south: float, west: float, height: float, width: float
    ) -> None:
        north, east = south + height, west + width
        want = sorted(
            d for d, (a, b) in self.truth.items() if south <= a <= north and west <= b <= east
        )
        assert reg.doctors_in_viewport(south, west, north, east) == want

    def test_viewport_by_status(self, reg: DoctorRegistry) -> None:
        everyone = reg.doctors_in_viewport(60.0, 24.5, 60.4, 25.5)
        on_visit = reg.doctors_in_viewport(60.0, 24.5, 60.4, 25.5, statuses=[DoctorStatus.ON_VISIT])
        assert len(everyone) == 400
        assert len(on_visit) == 134
        assert all(reg.status(d) is DoctorStatus.ON_VISIT for d in on_visit)

    def test_a_huge_viewport_is_quick_and_exact(self, reg: DoctorRegistry) -> None:
        # The world, or a band round it, is millions of H3 cells (it took seconds, with the
        # event loop blocked): the registry then checks its doctors one by one instead.
        started = time.perf_counter()
        assert reg.doctors_in_viewport(-90, -180, 90, 180) == sorted(self.truth)
        assert reg.doctors_in_viewport(-10, -10, 10, 10) == []
        band = reg.doctors_in_viewport(60.1, -180, 60.15, 180, statuses=[DoctorStatus.ON_VISIT])
        assert band == sorted(
            d
            for d, (a, _) in self.truth.items()
            if 60.1 <= a <= 60.15 and reg.status(d) is DoctorStatus.ON_VISIT
        )
        assert band and time.perf_counter() - started < 1.0

    def test_bad_viewport(self, reg: DoctorRegistry) -> None:
        with pytest.raises(ValueError, match="viewport"):
            reg.doctors_in_viewport(60.2, 24.9, 60.1, 25.0)

    def test_supply_and_demand_per_cell(self, reg: DoctorRegistry) -> None:
        demand = [(60.17, 24.94), (60.17, 24.94), (60.15, 24.90)]
        table = reg.supply_and_demand(demand, NOW)
        assert sum(a for a, _ in table.values()) == sum(
            1 for d in self.truth if reg.status(d) is DoctorStatus.AVAILABLE
        )
        assert sum(b for _, b in table.values()) == 3
        cell = reg.cell_of("d1")
        assert cell is not None
        assert "d1" in reg.doctors_in_cells([cell])
        # stale doctors are not supply
        later = reg.supply_and_demand([], NOW + 3_600)
        assert later == {}

    def test_removed_doctor_is_gone_everywhere(self, reg: DoctorRegistry) -> None:
        cell = reg.cell_of("d1")
        reg.remove_doctor("d1")
        assert "d1" not in reg
        assert "d1" not in reg.doctors_in_cells([cell] if cell else [])
        got, _, _, _, _ = reg.nearest(*self.truth["d1"], k=5, radius_m=10_000)
        assert reg.slot("d2") is not None
        assert all(reg.doctor_id(int(s)) != "d1" for s in got)


def test_profile_validation() -> None:
    reg = make_registry()
    with pytest.raises(ValueError, match="rating"):
        reg.upsert_doctor(DoctorProfile("x", rating=7))
    with pytest.raises(ValueError, match="negative"):
        reg.upsert_doctor(DoctorProfile("x", visits_today=-1))
    with pytest.raises(ValueError, match="policy"):
        MatchingPolicy(k=0)
    with pytest.raises(KeyError, match="unknown doctor"):
        reg.status("nobody")


def test_registry_grows_past_its_initial_capacity() -> None:
    reg = DoctorRegistry(LocalProjection(*CENTER), initial_capacity=16)
    n = 1_000
    ids = [f"d{i}" for i in range(n)]
    for d in ids:
        reg.upsert_doctor(DoctorProfile(d), DoctorStatus.AVAILABLE)
    rng = np.random.default_rng(1)
    lat = CENTER[0] + rng.uniform(-0.01, 0.01, n)
    lon = CENTER[1] + rng.uniform(-0.01, 0.01, n)
    assert reg.update_positions(ids, lat, lon, np.full(n, 5.0), np.full(n, NOW), NOW).accepted == n
    assert reg.capacity >= n
    assert reg.position("d999") == (lat[-1], lon[-1], 5.0, NOW)


def test_a_reused_slot_does_not_inherit_its_last_doctors_place() -> None:
    reg = make_registry()
    for d in ("old", "other"):
        reg.upsert_doctor(DoctorProfile(d), DoctorStatus.AVAILABLE)
    reg.update_positions(
        ["old", "other"], [60.17, 60.18], [24.94, 24.94], [5.0, 5.0], [NOW, NOW], NOW
    )
    reg.rebuild_index()  # both in the KD-tree snapshot
    reg.remove_doctor("old")
    reg.upsert_doctor(DoctorProfile("new"), DoctorStatus.AVAILABLE)  # takes the freed slot
    assert reg.slot("new") == 0
    got, _, _, _, _ = reg.nearest(60.17, 24.94, 5, 50_000)
    assert reg.doctor_ids(got.tolist()) == ["other"]  # "new" has no fix yet: nowhere
    assert reg.update_position("new", 60.175, 24.94, 5.0, NOW + 1, NOW + 1) is None
    got, _, _, _, _ = reg.nearest(60.17, 24.94, 5, 50_000)
    assert reg.doctor_ids(got.tolist()) == ["new", "other"]
