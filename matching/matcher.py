"""Choosing doctors for calls: candidates, road ETAs, ranking, explanations, batch assignment."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from matching.model import CallRequest, Exclusion, MatchingPolicy
from matching.registry import (
    EXCLUSION_CODE,
    EXCLUSION_OF_CODE,
    DoctorRegistry,
    FloatArray,
    IntArray,
    NodeSnapper,
)
from routing.router import Snap

_INFEASIBLE = 1e12


class EtaOracle(NodeSnapper, Protocol):
    """What matching needs from routing (routing.Router provides it)."""

    def snap(self, lat: float, lon: float) -> Snap: ...

    def etas_from_nodes(self, source_nodes: Sequence[int], target_node: int) -> FloatArray: ...


@dataclass(frozen=True, slots=True)
class CandidateRecord:
    """One doctor the matcher looked at for a call: their numbers, or why they were left out."""

    doctor_id: str
    distance_m: float
    eta_s: float | None = None
    visit_remainder_s: float = 0.0
    rating: float | None = None
    visits_today: int | None = None
    cost_s: float | None = None
    rank: int | None = None  # 1 = offered first
    excluded: Exclusion | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "doctor_id": self.doctor_id,
            "distance_m": round(self.distance_m, 1),
            "eta_s": None if self.eta_s is None else round(self.eta_s, 1),
            "visit_remainder_s": round(self.visit_remainder_s, 1),
            "rating": self.rating,
            "visits_today": self.visits_today,
            "cost_s": None if self.cost_s is None else round(self.cost_s, 1),
            "rank": self.rank,
            "excluded": None if self.excluded is None else self.excluded.value,
        }


@dataclass(frozen=True, slots=True)
class _Evidence:
    """The numbers behind a decision, captured when it was made (records are built on demand)."""

    ids: list[str]
    distance_m: FloatArray
    eta_s: FloatArray
    remainder_s: FloatArray
    rating: FloatArray
    visits: npt.NDArray[np.int32]
    cost_s: FloatArray
    rank_of: dict[int, int]
    refused_ids: list[str]
    refused_m: list[float]
    refused_codes: list[int]

    def records(self) -> tuple[CandidateRecord, ...]:
        out = []
        for i, doctor_id in enumerate(self.ids):
            eta = float(self.eta_s[i])
            has_eta = not math.isnan(eta)
            out.append(
                CandidateRecord(
                    doctor_id=doctor_id,
                    distance_m=float(self.distance_m[i]),
                    eta_s=eta if has_eta else None,
                    visit_remainder_s=float(self.remainder_s[i]),
                    rating=float(self.rating[i]),
                    visits_today=int(self.visits[i]),
                    cost_s=float(self.cost_s[i]) if has_eta else None,
                    rank=self.rank_of.get(i),
                    excluded=None if has_eta else Exclusion.NO_ROAD_ETA,
                )
            )
        for doctor_id, d, code in zip(
            self.refused_ids, self.refused_m, self.refused_codes, strict=True
        ):
            out.append(CandidateRecord(doctor_id, d, excluded=EXCLUSION_OF_CODE[code]))
        return tuple(out)


class Decision:
    """The matcher's answer for one call, able to explain itself.

    `ranking` is the offer order. `considered` lists every doctor looked at: the
    candidates with their distance, ETA, visit remainder, cost and rank, and the nearby
    doctors left out with the reason. It is built on first use from numbers captured at
    decision time, so explaining costs nothing on the dispatch path.
    """

    __slots__ = ("_considered", "_evidence", "call_id", "decided_at_s", "patient_node", "ranking")

    def __init__(
        self,
        call_id: str,
        decided_at_s: float,
        ranking: tuple[str, ...],
        patient_node: int,
        evidence: _Evidence,
    ) -> None:
        self.call_id = call_id
        self.decided_at_s = decided_at_s
        self.ranking = ranking
        self.patient_node = patient_node
        self._evidence = evidence
        self._considered: tuple[CandidateRecord, ...] | None = None

    @property
    def best(self) -> str | None:
        return self.ranking[0] if self.ranking else None

    @property
    def considered(self) -> tuple[CandidateRecord, ...]:
        if self._considered is None:
            self._considered = self._evidence.records()
        return self._considered

    def record(self, doctor_id: str) -> CandidateRecord:
        for r in self.considered:
            if r.doctor_id == doctor_id:
                return r
        raise KeyError(doctor_id)

    def explain(self) -> dict[str, Any]:
        """A JSON-ready record for the audit trail and the operator console."""
        return {
            "call_id": self.call_id,
            "decided_at_s": self.decided_at_s,
            "ranking": list(self.ranking),
            "considered": [r.as_dict() for r in self.considered],
        }


@dataclass(frozen=True, slots=True)
class _Scored:
    slots: IntArray
    cost_s: FloatArray  # NaN where there is no road ETA
    time_to_doctor_s: FloatArray
    decision: Decision


@dataclass(frozen=True, slots=True)
class BatchAssignment:
    assignments: dict[str, str]  # call id -> doctor id
    unassigned: tuple[str, ...]
    total_time_to_doctor_s: float  # over assigned calls: ETA plus any visit remainder
    decisions: dict[str, Decision]


class Matcher:
    def __init__(
        self, registry: DoctorRegistry, oracle: EtaOracle, policy: MatchingPolicy | None = None
    ) -> None:
        self.registry = registry
        self.oracle = oracle
        self.policy = policy or registry.policy
        if registry.snapper is None:
            registry.snapper = oracle  # batches of fixes arrive already on the road

    def decide(self, call: CallRequest, now_s: float) -> Decision:
        """Candidates for `call`, ranked: road ETA first, then the policy's tie-breaks.

        Raises routing's InvalidCoordinateError or SnapError when the call's own point
        cannot be routed to.
        """
        return self._score(call, now_s).decision

    def evaluate(self, call: CallRequest, doctor_ids: Sequence[str], now_s: float) -> Decision:
        """`decide` for exactly these doctors, wherever they are (a doctor the patient
        asked for by name): the same constraints, road ETAs and ranking; a doctor the
        registry does not know is left out as not available."""
        return self._score(call, now_s, only=doctor_ids).decision

    def _chosen(
        self, call: CallRequest, only: Sequence[str], now_s: float
    ) -> tuple[IntArray, FloatArray, IntArray, FloatArray, npt.NDArray[np.uint8]]:
        """What `registry.nearest` answers, for a given set of doctors."""
        registry = self.registry
        known = [d for d in dict.fromkeys(only) if d in registry]
        slots = np.array([registry.slot(d) for d in known], dtype=np.int64)
        x, y = registry.projected_xy(slots)
        proj = registry.projection
        qx = (call.lon - proj.lon0) * proj.kx
        qy = (call.lat - proj.lat0) * proj.ky
        dist_m = np.hypot(x - qx, y - qy)  # NaN without a position
        codes = registry.exclusions(
            slots, call, now_s, allow_on_visit=self.policy.offer_doctors_on_visit
        )
        codes = np.where(
            (codes == 0) & np.isnan(dist_m),
            np.uint8(EXCLUSION_CODE[Exclusion.STALE_FIX]),
            codes,
        ).astype(np.uint8)
        ok = codes == 0
        return slots[ok], dist_m[ok], slots[~ok], dist_m[~ok], codes[~ok]

    def _score(self, call: CallRequest, now_s: float, only: Sequence[str] | None = None) -> _Scored:
        policy = self.policy
        registry = self.registry
        patient = self.oracle.snap(call.lat, call.lon)
        allow_on_visit = policy.offer_doctors_on_visit

        def exclude(slots: IntArray) -> npt.NDArray[np.uint8]:
            return registry.exclusions(slots, call, now_s, allow_on_visit=allow_on_visit)

        kind = (
            call.specialization,
            call.patient_is_child,
            call.languages,
            call.equipment,
            call.clinic_id,
        )
        if only is None:
            slots, dist_m, refused, refused_m, refused_codes = registry.nearest(
                call.lat, call.lon, policy.k, policy.search_radius_m, exclude, kind
            )
        else:
            slots, dist_m, refused, refused_m, refused_codes = self._chosen(call, only, now_s)
        nodes = registry.road_nodes(slots, self.oracle)
        eta_s = np.full(slots.size, np.nan)
        routable = nodes >= 0
        if routable.any():
            eta_s[routable] = self.oracle.etas_from_nodes(nodes[routable].tolist(), patient.node)
        remainder_s = registry.visit_remainder_s(slots, now_s)
        rating = registry.ratings(slots).astype(np.float64)
        visits = registry.visits_today(slots)
        time_s = eta_s + remainder_s
        cost_s = (
            time_s
            - policy.rating_weight_s_per_star * rating
            + policy.fairness_weight_s_per_visit * visits
        )
        ranked = np.flatnonzero(~np.isnan(cost_s))
        # cost, then the better rating, then fewer visits, then the id order (deterministic)
        order = ranked[np.lexsort((slots[ranked], visits[ranked], -rating[ranked], cost_s[ranked]))]
        order_list = order.tolist()
        ids = registry.doctor_ids(slots.tolist())
        evidence = _Evidence(
            ids=ids,
            distance_m=dist_m,
            eta_s=eta_s,
            remainder_s=remainder_s,
            rating=rating,
            visits=visits,
            cost_s=cost_s,
            rank_of={i: r + 1 for r, i in enumerate(order_list)},
            refused_ids=registry.doctor_ids(refused.tolist()),
            refused_m=refused_m.tolist(),
            refused_codes=refused_codes.tolist(),
        )
        decision = Decision(
            call.call_id, now_s, tuple(ids[i] for i in order_list), patient.node, evidence
        )
        return _Scored(slots, cost_s, time_s, decision)

    # -- bursts ---------------------------------------------------------------------------

    def assign_batch(self, calls: Sequence[CallRequest], now_s: float) -> BatchAssignment:
        """Assign waiting calls together: emergencies first, then the rest, each group by
        a minimum-cost assignment (scipy linear_sum_assignment) over the candidates' costs.
        Nobody is assigned twice."""
        scored = {c.call_id: self._score(c, now_s) for c in calls}
        taken: set[int] = set()
        assignments: dict[str, str] = {}
        total = 0.0
        for group in (
            [c for c in calls if c.is_emergency],
            [c for c in calls if not c.is_emergency],
        ):
            if not group:
                continue
            doctors = sorted(
                {int(s) for c in group for s in scored[c.call_id].slots.tolist()} - taken
            )
            if not doctors:
                continue
            column = {s: j for j, s in enumerate(doctors)}
            cost = np.full((len(group), len(doctors)), _INFEASIBLE)
            for i, c in enumerate(group):
                sc = scored[c.call_id]
                for s, value in zip(sc.slots.tolist(), sc.cost_s.tolist(), strict=True):
                    j = column.get(s)
                    if j is not None and not math.isnan(value):
                        cost[i, j] = value
            rows, cols = linear_sum_assignment(cost)
            for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
                if cost[i, j] >= _INFEASIBLE:
                    continue
                c = group[i]
                slot = doctors[j]
                taken.add(slot)
                assignments[c.call_id] = self.registry.doctor_id(slot)
                sc = scored[c.call_id]
                total += float(sc.time_to_doctor_s[np.flatnonzero(sc.slots == slot)[0]])
        unassigned = tuple(c.call_id for c in calls if c.call_id not in assignments)
        return BatchAssignment(
            assignments, unassigned, total, {k: v.decision for k, v in scored.items()}
        )

    def assign_greedy(self, calls: Sequence[CallRequest], now_s: float) -> BatchAssignment:
        """First come, first served: each call in arrival order takes its best free candidate."""
        taken: set[int] = set()
        assignments: dict[str, str] = {}
        decisions: dict[str, Decision] = {}
        total = 0.0
        for c in calls:
            sc = self._score(c, now_s)
            decisions[c.call_id] = sc.decision
            best: tuple[float, int, float] | None = None
            for s, value, t in zip(
                sc.slots.tolist(), sc.cost_s.tolist(), sc.time_to_doctor_s.tolist(), strict=True
            ):
                if s in taken or math.isnan(value):
                    continue
                if best is None or value < best[0]:
                    best = (value, s, t)
            if best is not None:
                taken.add(best[1])
                assignments[c.call_id] = self.registry.doctor_id(best[1])
                total += best[2]
        unassigned = tuple(c.call_id for c in calls if c.call_id not in assignments)
        return BatchAssignment(assignments, unassigned, total, decisions)
