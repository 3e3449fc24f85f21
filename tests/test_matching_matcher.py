"""Choosing doctors: constraints, ranking by road ETA, explanations, batch vs greedy."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching import (
    CallRequest,
    DoctorProfile,
    DoctorRegistry,
    DoctorStatus,
    Exclusion,
    Matcher,
    MatchingPolicy,
)
from routing import InvalidCoordinateError, RoadGraph, Router, SnapError

NOW = 1_800_000_000.0
PATIENT = (60.1673, 24.9534)  # by the Old Market Hall
NEAR = (60.1690, 24.9500)  # a few hundred metres away
FAR = (60.1710, 24.9414)  # the Central Railway Station, about a kilometre away
NO_WEIGHTS = MatchingPolicy(rating_weight_s_per_star=0.0, fairness_weight_s_per_visit=0.0)


def matcher_for(router: Router, policy: MatchingPolicy = NO_WEIGHTS) -> Matcher:
    registry = DoctorRegistry(router._projection, policy)
    return Matcher(registry, router)


def place(
    m: Matcher,
    doctor_id: str,
    at: tuple[float, float],
    *,
    status: DoctorStatus = DoctorStatus.AVAILABLE,
    fix_age_s: float = 5.0,
    **profile: Any,
) -> None:
    m.registry.upsert_doctor(DoctorProfile(doctor_id, **profile), status)
    assert m.registry.update_position(doctor_id, at[0], at[1], 8.0, NOW - fix_age_s, NOW) is None


def call(**kw: Any) -> CallRequest:
    return CallRequest("call-1", PATIENT[0], PATIENT[1], **kw)


CONSTRAINTS = [
    # (exclusion, near doctor's setup, far doctor's setup, call's demands)
    (Exclusion.NOT_AVAILABLE, {"status": DoctorStatus.ON_BREAK}, {}, {}),
    (Exclusion.NOT_AVAILABLE, {"status": DoctorStatus.EN_ROUTE}, {}, {}),
    (Exclusion.NOT_AVAILABLE, {"status": DoctorStatus.OFFERED}, {}, {}),
    (Exclusion.STALE_FIX, {"fix_age_s": 1_000.0}, {}, {}),
    (Exclusion.DECLINED_THIS_CALL, {}, {}, {"declined_by": frozenset({"near"})}),
    (
        Exclusion.CREDENTIAL_EXPIRED,
        {"credential_expires_s": NOW - 1},
        {"credential_expires_s": NOW + 86_400},
        {},
    ),
    (
        Exclusion.OTHER_CLINIC,
        {"clinic_id": "north"},
        {"clinic_id": "south"},
        {"clinic_id": "south"},
    ),
    (Exclusion.OTHER_CLINIC, {}, {"clinic_id": "south"}, {"clinic_id": "south"}),
    (
        Exclusion.SPECIALIZATION,
        {"specialization": "general"},
        {"specialization": "pediatrics"},
        {"specialization": "pediatrics"},
    ),
    (
        Exclusion.AGE_GROUP,
        {"treats_children": False},
        {"treats_children": True},
        {"patient_is_child": True},
    ),
    (Exclusion.AGE_GROUP, {"treats_adults": False, "treats_children": True}, {}, {}),
    (
        Exclusion.LANGUAGE,
        {"languages": frozenset({"ru"})},
        {"languages": frozenset({"ru", "en"})},
        {"languages": frozenset({"en", "fi"})},
    ),
    (
        Exclusion.EQUIPMENT,
        {"equipment": frozenset({"ecg"})},
        {"equipment": frozenset({"ecg", "oxygen"})},
        {"equipment": frozenset({"ecg", "oxygen"})},
    ),
]


@pytest.mark.parametrize(("reason", "near_kw", "far_kw", "call_kw"), CONSTRAINTS)
def test_each_constraint_is_honoured_and_explained(
    helsinki_router: Router,
    reason: Exclusion,
    near_kw: dict[str, Any],
    far_kw: dict[str, Any],
    call_kw: dict[str, Any],
) -> None:
    m = matcher_for(helsinki_router)
    place(m, "near", NEAR, **near_kw)
    place(m, "far", FAR, **far_kw)
    # Without the demand (or the flaw) the near doctor would win: the test can tell.
    control = matcher_for(helsinki_router)
    place(control, "near", NEAR)
    place(control, "far", FAR)
    assert control.decide(call(), NOW).ranking == ("near", "far")

    decision = m.decide(call(**call_kw), NOW)
    assert decision.ranking == ("far",)
    assert decision.record("near").excluded is reason
    assert decision.record("near").eta_s is None
    assert decision.record("far").excluded is None


def test_ranking_follows_road_eta(helsinki_router: Router, helsinki_graph: RoadGraph) -> None:
    m = matcher_for(helsinki_router)
    rng = np.random.default_rng(4)
    nodes = rng.choice(helsinki_graph.node_count, 12, replace=False)
    for i, node in enumerate(nodes.tolist()):
        place(
            m, f"d{i}", (float(helsinki_graph.node_lat[node]), float(helsinki_graph.node_lon[node]))
        )
    decision = m.decide(call(), NOW)
    target = helsinki_router.snap(*PATIENT).node
    etas = helsinki_router.etas_from_nodes(nodes.tolist(), target)
    expected = [f"d{i}" for i in np.lexsort((np.arange(12), etas)).tolist()]
    assert list(decision.ranking) == expected
    for i in range(12):
        assert decision.record(f"d{i}").eta_s == pytest.approx(float(etas[i]))


def test_k_and_radius_limit_the_candidates(
    helsinki_router: Router, helsinki_graph: RoadGraph
) -> None:
    policy = dataclasses.replace(NO_WEIGHTS, k=3, search_radius_m=400.0)
    m = matcher_for(helsinki_router, policy)
    place(m, "a", NEAR)
    place(m, "b", (NEAR[0] + 0.0002, NEAR[1]))
    place(m, "c", (NEAR[0] - 0.0002, NEAR[1]))
    place(m, "d", (NEAR[0], NEAR[1] + 0.0003))
    place(m, "far", FAR)  # about 1 km: outside the radius
    decision = m.decide(call(), NOW)
    assert len(decision.ranking) == 3
    assert "far" not in {r.doctor_id for r in decision.considered}


def test_rating_and_fairness_break_ties(helsinki_router: Router) -> None:
    m = matcher_for(helsinki_router, MatchingPolicy())  # default weights
    place(m, "tired", NEAR, rating=4.8, visits_today=6)
    place(m, "fresh", NEAR, rating=4.8, visits_today=1)
    place(m, "star", NEAR, rating=5.0, visits_today=6)
    decision = m.decide(call(), NOW)
    # same spot, same ETA: cost = eta - 20 s/star * rating + 10 s/visit * visits
    assert decision.ranking == ("fresh", "star", "tired")
    costs = [decision.record(d).cost_s for d in decision.ranking]
    assert costs == sorted(costs)


def test_exact_ties_fall_back_to_rating_then_visits(helsinki_router: Router) -> None:
    m = matcher_for(helsinki_router)  # weights 0: cost is the ETA alone
    place(m, "b", NEAR, rating=4.0, visits_today=0)
    place(m, "a", NEAR, rating=4.5, visits_today=3)
    place(m, "c", NEAR, rating=4.5, visits_today=1)
    assert m.decide(call(), NOW).ranking == ("c", "a", "b")


def test_doctor_on_a_visit_counts_the_rest_of_it(helsinki_router: Router) -> None:
    policy = dataclasses.replace(NO_WEIGHTS, offer_doctors_on_visit=True)
    m = matcher_for(helsinki_router, policy)
    place(m, "busy", NEAR)
    place(m, "free", FAR)
    m.registry.set_status("busy", DoctorStatus.ON_VISIT, now_s=NOW - 600, call_type="home_visit")
    decision = m.decide(call(), NOW)
    busy = decision.record("busy")
    assert busy.visit_remainder_s == pytest.approx(1_800 - 600)
    assert busy.cost_s == pytest.approx(busy.eta_s + 1_200)  # type: ignore[operator]
    assert decision.ranking == ("free", "busy")
    # by default a doctor on a visit is not offered at all
    strict = matcher_for(helsinki_router)
    place(strict, "busy", NEAR, status=DoctorStatus.ON_VISIT)
    assert strict.decide(call(), NOW).record("busy").excluded is Exclusion.NOT_AVAILABLE


def test_explanation_is_complete_and_serialisable(helsinki_router: Router) -> None:
    m = matcher_for(helsinki_router, MatchingPolicy())
    place(m, "a", NEAR)
    place(m, "b", FAR, rating=4.0)
    place(m, "gone-quiet", NEAR, fix_age_s=3_600)
    place(m, "on-break", FAR, status=DoctorStatus.ON_BREAK)
    decision = m.decide(call(), NOW)
    explained = orjson.loads(orjson.dumps(decision.explain()))
    assert explained["call_id"] == "call-1"
    assert explained["ranking"] == ["a", "b"]
    by_id = {r["doctor_id"]: r for r in explained["considered"]}
    assert set(by_id) == {"a", "b", "gone-quiet", "on-break"}
    for rank, doctor_id in enumerate(explained["ranking"], start=1):
        record = by_id[doctor_id]
        assert record["rank"] == rank
        assert record["eta_s"] > 0
        assert record["cost_s"] is not None
        assert record["excluded"] is None
        assert record["distance_m"] > 0
    assert by_id["gone-quiet"]["excluded"] == "stale_fix"
    assert by_id["on-break"]["excluded"] == "not_available"
    assert by_id["gone-quiet"]["rank"] is None


def test_doctor_off_the_road_network_has_no_eta(helsinki_router: Router) -> None:
    policy = dataclasses.replace(NO_WEIGHTS, search_radius_m=10_000.0)
    m = matcher_for(helsinki_router, policy)
    place(m, "at-sea", (60.13, 24.99))  # in the sea, kilometres from a road
    place(m, "on-land", FAR)
    decision = m.decide(call(), NOW)
    assert decision.ranking == ("on-land",)
    assert decision.record("at-sea").excluded is Exclusion.NO_ROAD_ETA


def test_a_call_that_cannot_be_routed_is_an_error(helsinki_router: Router) -> None:
    m = matcher_for(helsinki_router)
    place(m, "a", NEAR)
    with pytest.raises(InvalidCoordinateError):
        m.decide(CallRequest("x", float("nan"), 24.9), NOW)
    with pytest.raises(SnapError):
        m.decide(CallRequest("x", 60.5, 25.5), NOW)


def test_no_doctor_at_all(helsinki_router: Router) -> None:
    decision = matcher_for(helsinki_router).decide(call(), NOW)
    assert decision.best is None
    assert decision.considered == ()


class TestBatch:
    def test_batch_beats_greedy_on_a_fixed_scenario(self, helsinki_router: Router) -> None:
        # Call A comes first and X is its nearest; greedy gives X to A and leaves B with
        # Y, far from B. Together, A takes Y and B takes X: a third less time in all.
        # (Points found by a seeded search over the bundled map's road nodes.)
        m = matcher_for(helsinki_router)
        place(m, "X", (60.16428, 24.94608))
        place(m, "Y", (60.17161, 24.94507))
        place(m, "Z", (60.16703, 24.93794))
        calls = [CallRequest("A", 60.1643, 24.94049), CallRequest("B", 60.16477, 24.94891)]
        greedy = m.assign_greedy(calls, NOW)
        batch = m.assign_batch(calls, NOW)
        assert greedy.assignments == {"A": "X", "B": "Y"}
        assert batch.assignments == {"A": "Y", "B": "X"}
        assert batch.total_time_to_doctor_s < 0.8 * greedy.total_time_to_doctor_s

    def test_emergencies_first_when_doctors_are_scarce(self, helsinki_router: Router) -> None:
        m = matcher_for(helsinki_router)
        place(m, "only", NEAR)
        calls = [
            CallRequest("routine", *PATIENT),
            CallRequest("emergency", *FAR, is_emergency=True),
        ]
        batch = m.assign_batch(calls, NOW)
        assert batch.assignments == {"emergency": "only"}
        assert batch.unassigned == ("routine",)
        assert m.assign_greedy(calls, NOW).assignments == {"routine": "only"}

    @given(seed=st.integers(0, 10_000), n_calls=st.integers(1, 12), n_doctors=st.integers(1, 25))
    @settings(max_examples=40, deadline=None)
    def test_batch_never_worse_and_nobody_twice(
        self,
        helsinki_router: Router,
        helsinki_graph: RoadGraph,
        seed: int,
        n_calls: int,
        n_doctors: int,
    ) -> None:
        rng = np.random.default_rng(seed)
        m = matcher_for(helsinki_router)
        nodes = rng.choice(helsinki_graph.node_count, n_doctors + n_calls, replace=False)
        lat = helsinki_graph.node_lat[nodes]
        lon = helsinki_graph.node_lon[nodes]
        for i in range(n_doctors):
            place(m, f"d{i}", (float(lat[i]), float(lon[i])))
        calls = [
            CallRequest(f"c{j}", float(lat[n_doctors + j]), float(lon[n_doctors + j]))
            for j in range(n_calls)
        ]
        greedy = m.assign_greedy(calls, NOW)
        batch = m.assign_batch(calls, NOW)
        assert len(set(batch.assignments.values())) == len(batch.assignments)
        assert len(set(greedy.assignments.values())) == len(greedy.assignments)
        assert len(batch.assignments) == min(n_calls, n_doctors)
        if len(greedy.assignments) == len(batch.assignments):
            assert batch.total_time_to_doctor_s <= greedy.total_time_to_doctor_s + 1e-6
        # a batch decision changes no one's status: that is the dispatch core's job
        assert all(m.registry.status(f"d{i}") is DoctorStatus.AVAILABLE for i in range(n_doctors))


def test_evaluate_judges_a_named_doctor_wherever_they_are(helsinki_router: Router) -> None:
    """A doctor the patient chose: judged alone, past the k nearest, with the same
    constraints and road ETA as decide gives them."""
    m = matcher_for(helsinki_router, dataclasses.replace(NO_WEIGHTS, k=1))
    place(m, "near", NEAR)
    place(m, "far", FAR)
    place(m, "pediatrician", FAR, specialization="pediatrics")
    place(m, "no-fix", FAR)
    m.registry.upsert_doctor(DoctorProfile("never-fixed"), DoctorStatus.AVAILABLE)
    assert m.decide(call(), NOW).ranking == ("near",)  # k=1: far is never looked at
    chosen = m.evaluate(call(), ["far"], NOW)
    assert chosen.ranking == ("far",)
    full = m.decide(call(), NOW + 0.0).record("near").eta_s
    assert chosen.record("far").eta_s is not None and chosen.record("far").eta_s > full  # type: ignore[operator]
    unfit = m.evaluate(call(specialization="general"), ["pediatrician"], NOW)
    assert unfit.ranking == () and unfit.record("pediatrician").excluded is Exclusion.SPECIALIZATION
    busy = m.evaluate(call(busy=frozenset({"far"})), ["far"], NOW)
    assert busy.ranking == () and busy.record("far").excluded is Exclusion.NOT_AVAILABLE
    nowhere = m.evaluate(call(), ["never-fixed"], NOW)
    assert nowhere.ranking == () and nowhere.record("never-fixed").excluded is Exclusion.STALE_FIX
    assert m.evaluate(call(), ["nobody"], NOW).ranking == ()
    orjson.dumps(nowhere.explain())  # explainable, NaN distance included


def _box(lat: float, lon: float, d: float = 0.01) -> Any:
    from clinics import validate_area

    ring = [(lat - d, lon - d), (lat - d, lon + d), (lat + d, lon + d), (lat + d, lon - d)]
    return validate_area([[[*ring, ring[0]]]])


def test_a_call_outside_a_clinics_area_is_not_offered_to_its_doctors(
    helsinki_router: Router,
) -> None:
    m = matcher_for(helsinki_router)
    place(m, "near", NEAR, clinic_id="north")
    place(m, "far", FAR, clinic_id="south")
    place(m, "free", FAR)  # no clinic: serves anywhere
    assert m.decide(call(), NOW).ranking[0] == "near"
    elsewhere = _box(61.0, 25.0)  # nowhere near the patient
    m.registry.set_clinic_area("north", elsewhere.contains)
    m.registry.set_clinic_area("south", _box(*PATIENT).contains)  # the patient is inside
    m.registry.set_clinic_area("nobody", elsewhere.contains)  # a clinic with no doctor on shift
    decision = m.decide(call(), NOW)
    assert "near" not in decision.ranking
    assert set(decision.ranking) == {"far", "free"}
    assert decision.record("near").excluded is Exclusion.OUTSIDE_CLINIC_AREA
    assert not m.registry.in_clinic_area("near", *PATIENT)
    assert m.registry.in_clinic_area("far", *PATIENT) and m.registry.in_clinic_area("free", 0, 0)
    # evaluate (a doctor the patient chose) honours the area too
    assert m.evaluate(call(), ["near"], NOW).ranking == ()
    # an area removed: the clinic serves anywhere again
    m.registry.set_clinic_area("north", None)
    assert m.decide(call(), NOW).ranking[0] == "near"
