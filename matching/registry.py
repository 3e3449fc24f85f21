"""The in-memory registry of online doctors: positions, statuses, skills; fast area and KNN questions.

Struct-of-arrays (numpy) so that candidate filters are vectorised and a doctor costs a
few hundred bytes. Pure: time comes in as `now_s` (epoch seconds); nothing here reads
a clock or does I/O.

Candidate search keeps a snapshot cKDTree over projected positions plus the set of
doctors who moved (or joined) since the snapshot; those are searched exactly by brute
force and merged, so results always equal a brute-force search over current positions.
The snapshot is rebuilt when the moved set grows past a threshold (and on demand).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import h3.api.basic_int as h3
import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from matching.model import (
    AreaPredicate,
    CallRequest,
    DoctorProfile,
    DoctorStatus,
    Exclusion,
    FixRejection,
    MatchingPolicy,
)
from routing.geo import EARTH_RADIUS_M, LocalProjection, haversine_scalar_m

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

DEFAULT_H3_RESOLUTION = 8  # hexagons of ~0.7 km²: a few streets, right for city supply/demand
NODE_UNKNOWN = -1  # moved since the last snap
NODE_OFF_NETWORK = -2  # too far from any drivable road
MAX_ACCURACY_M = 10_000.0
MAX_EXPLAINED_EXCLUSIONS = 50  # a decision records at most this many nearby doctors left out  # a fix vaguer than this says nothing about where a doctor is

_AGE_ADULTS = 1
_AGE_CHILDREN = 2


class Vocabulary:
    """Strings interned to small integers (or bits of a 64-bit mask)."""

    def __init__(self, max_size: int | None = None) -> None:
        self._codes: dict[str, int] = {}
        self._names: list[str] = []
        self._max_size = max_size

    def code(self, name: str) -> int:
        code = self._codes.get(name)
        if code is None:
            if self._max_size is not None and len(self._names) >= self._max_size:
                raise ValueError(f"more than {self._max_size} distinct values (adding {name!r})")
            code = self._codes[name] = len(self._names)
            self._names.append(name)
        return code

    def lookup(self, name: str) -> int | None:
        return self._codes.get(name)

    def mask(self, names: Iterable[str], *, create: bool) -> int:
        bits = 0
        for name in names:
            code = self.code(name) if create else self._codes.get(name)
            if code is not None:
                bits |= 1 << code
        return bits

    def name(self, code: int) -> str:
        return self._names[code]


@dataclass(frozen=True, slots=True)
class BatchUpdateResult:
    accepted: int
    rejected: tuple[tuple[int, str, FixRejection], ...]  # (index in the batch, doctor id, reason)


class DoctorRegistry:
    # Columns, one entry per slot (allocated in _allocate).
    _lat: FloatArray
    _lon: FloatArray
    _x: FloatArray
    _y: FloatArray
    _fix_s: FloatArray
    _cred_expires_s: FloatArray
    _visit_started_s: FloatArray
    _accuracy_m: npt.NDArray[np.float32]
    _status: npt.NDArray[np.uint8]
    _cell: npt.NDArray[np.uint64]
    _node: IntArray
    _rating: npt.NDArray[np.float32]
    _visits: npt.NDArray[np.int32]
    _shift_hours: npt.NDArray[np.float32]
    _clinic: npt.NDArray[np.int32]
    _spec: npt.NDArray[np.int32]
    _ages: npt.NDArray[np.uint8]
    _lang_mask: npt.NDArray[np.uint64]
    _equip_mask: npt.NDArray[np.uint64]
    _visit_call_type: npt.NDArray[np.int32]
    _active: npt.NDArray[np.bool_]
    _is_moved: npt.NDArray[np.bool_]
    _cell_stale: npt.NDArray[np.bool_]  # moved since its H3 cell was last computed
    _moved_buf: IntArray  # slots moved since the snapshot; the first _moved_n are live
    _moved_x: FloatArray  # their current projected positions, kept beside them so a
    _moved_y: FloatArray  # search scans two contiguous arrays (inf: removed since)
    _moved_pos: IntArray  # slot -> index in the moved buffer, -1 when not there

    _FLOAT_ARRAYS = ("_lat", "_lon", "_x", "_y", "_fix_s", "_cred_expires_s", "_visit_started_s")

    def __init__(
        self,
        projection: LocalProjection,
        policy: MatchingPolicy | None = None,
        *,
        h3_resolution: int = DEFAULT_H3_RESOLUTION,
        initial_capacity: int = 1024,
    ) -> None:
        self.projection = projection
        self.policy = policy or MatchingPolicy()
        self.h3_resolution = h3_resolution
        self._max_speed_mps = self.policy.max_speed_kph / 3.6
        self.specializations = Vocabulary()
        self.clinics = Vocabulary()
        self.call_types = Vocabulary()
        self.languages = Vocabulary(max_size=64)
        self.equipment = Vocabulary(max_size=64)
        self._ids: list[str | None] = []
        self._slot_of: dict[str, int] = {}
        self._free: list[int] = []
        self._cells: dict[int, set[int]] = {}
        self._capacity = 0
        self._allocate(max(16, initial_capacity))
        self._tree: cKDTree | None = None
        self._tree_slots: IntArray = np.empty(0, dtype=np.int64)
        self._moved_n = 0
        self.index_rebuilds = 0
        # Attaches doctors to the road network as batches of fixes arrive (the matcher
        # sets it); without one, or for single fixes, a decision snaps whom it needs.
        self.snapper: NodeSnapper | None = None
        self._pass_share: dict[Hashable, float] = {}  # see nearest(kind=...)
        # Clinic code -> whether a point lies in its area; a clinic absent serves anywhere.
        self._areas: dict[int, AreaPredicate] = {}
        self._area_memo: tuple[tuple[float, float] | None, dict[int, bool]] = (None, {})

    # -- clinics' areas ----------------------------------------------------------------

    def set_clinic_area(self, clinic_id: str, contains: AreaPredicate | None) -> None:
        """The area a clinic serves (None: anywhere). Calls outside it are not offered to
        its doctors (an operator's assignment may still name them)."""
        if contains is None:
            code = self.clinics.lookup(clinic_id)
            if code is not None:
                self._areas.pop(code, None)
            self._area_memo = (None, {})
            return
        self._areas[self.clinics.code(clinic_id)] = contains
        self._area_memo = (None, {})

    def in_clinic_area(self, doctor_id: str, lat: float, lon: float) -> bool:
        """Whether the doctor's clinic serves the point (True without a clinic or an area)."""
        contains = self._areas.get(int(self._clinic[self.slot(doctor_id)]))
        return contains is None or contains(lat, lon)

    # -- storage ---------------------------------------------------------------------

    def _allocate(self, capacity: int) -> None:
        def grow(name: str, dtype: npt.DTypeLike, fill: float | int) -> None:
            new = np.full(capacity, fill, dtype=dtype)
            old = getattr(self, name, None)
            if old is not None:
                new[: old.shape[0]] = old
            setattr(self, name, new)

        for name in self._FLOAT_ARRAYS:
            grow(name, np.float64, np.nan)
        grow("_accuracy_m", np.float32, np.nan)
        grow("_status", np.uint8, DoctorStatus.OFFLINE)
        grow("_cell", np.uint64, 0)
        grow("_node", np.int64, NODE_UNKNOWN)
        grow("_rating", np.float32, 0.0)
        grow("_visits", np.int32, 0)
        grow("_shift_hours", np.float32, 0.0)
        grow("_clinic", np.int32, -1)
        grow("_spec", np.int32, -1)
        grow("_ages", np.uint8, 0)
        grow("_lang_mask", np.uint64, 0)
        grow("_equip_mask", np.uint64, 0)
        grow("_visit_call_type", np.int32, -1)
        grow("_active", np.bool_, False)
        grow("_is_moved", np.bool_, False)
        grow("_cell_stale", np.bool_, False)
        grow("_moved_buf", np.int64, 0)
        grow("_moved_x", np.float64, np.inf)
        grow("_moved_y", np.float64, np.inf)
        grow("_moved_pos", np.int64, -1)
        self._capacity = capacity

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, doctor_id: object) -> bool:
        return doctor_id in self._slot_of

    def slot(self, doctor_id: str) -> int:
        try:
            return self._slot_of[doctor_id]
        except KeyError:
            raise KeyError(f"unknown doctor {doctor_id!r}") from None

    def doctor_id(self, slot: int) -> str:
        doctor_id = self._ids[slot]
        if doctor_id is None:
            raise KeyError(f"slot {slot} is free")
        return doctor_id

    def doctor_ids(self, slots: Iterable[int]) -> list[str]:
        ids = self._ids
        return [ids[s] or "" for s in slots]

    @property
    def capacity(self) -> int:
        return self._capacity

    # -- doctors come and go ------------------------------------------------------------

    def upsert_doctor(self, profile: DoctorProfile, status: DoctorStatus | None = None) -> int:
        """Add a doctor (or update their profile); a new doctor starts OFFLINE with no fix."""
        if not (0.0 <= profile.rating <= 5.0):
            raise ValueError("rating must be within [0, 5]")
        if profile.visits_today < 0 or profile.shift_hours < 0:
            raise ValueError("visits_today and shift_hours cannot be negative")
        slot = self._slot_of.get(profile.doctor_id)
        if slot is None:
            if self._free:
                slot = self._free.pop()
            else:
                slot = len(self._ids)
                if slot >= self._capacity:
                    self._allocate(self._capacity * 2)
                self._ids.append(None)
            self._ids[slot] = profile.doctor_id
            self._slot_of[profile.doctor_id] = slot
            self._active[slot] = True
            self._status[slot] = DoctorStatus.OFFLINE
            self._fix_s[slot] = np.nan
            self._node[slot] = NODE_UNKNOWN
        self._spec[slot] = self.specializations.code(profile.specialization)
        self._clinic[slot] = (
            -1 if profile.clinic_id is None else self.clinics.code(profile.clinic_id)
        )
        self._ages[slot] = (_AGE_ADULTS if profile.treats_adults else 0) | (
            _AGE_CHILDREN if profile.treats_children else 0
        )
        self._lang_mask[slot] = self.languages.mask(profile.languages, create=True)
        self._equip_mask[slot] = self.equipment.mask(profile.equipment, create=True)
        self._cred_expires_s[slot] = profile.credential_expires_s
        self._rating[slot] = profile.rating
        self._visits[slot] = profile.visits_today
        self._shift_hours[slot] = profile.shift_hours
        if status is not None:
            self._status[slot] = status
        return slot

    def remove_doctor(self, doctor_id: str) -> None:
        slot = self._slot_of.pop(doctor_id)
        self._ids[slot] = None
        self._active[slot] = False
        self._status[slot] = DoctorStatus.OFFLINE
        cell = int(self._cell[slot])
        if cell:
            self._cells[cell].discard(slot)
        self._cell[slot] = 0
        self._cell_stale[slot] = False
        self._fix_s[slot] = np.nan
        # The slot sits in the moved list, out of every search's reach, until the next
        # snapshot; a reused slot's first fix puts it back in place.
        pos = self._moved_entry(slot)  # hides the slot's snapshot entry from the KD-tree too
        self._moved_x[pos] = np.inf
        self._moved_y[pos] = np.inf
        self._free.append(slot)

    def set_status(
        self,
        doctor_id: str,
        status: DoctorStatus,
        *,
        now_s: float | None = None,
        call_type: str | None = None,
    ) -> None:
        """Change a doctor's status; starting a visit records when and what kind of call."""
        slot = self.slot(doctor_id)
        self._status[slot] = status
        if status is DoctorStatus.ON_VISIT:
            if now_s is None:
                raise ValueError("starting a visit needs now_s")
            self._visit_started_s[slot] = now_s
            self._visit_call_type[slot] = self.call_types.code(call_type or "home_visit")
        else:
            self._visit_started_s[slot] = np.nan
            self._visit_call_type[slot] = -1

    def record_visit_completed(self, doctor_id: str) -> None:
        self._visits[self.slot(doctor_id)] += 1

    def status(self, doctor_id: str) -> DoctorStatus:
        return DoctorStatus(int(self._status[self.slot(doctor_id)]))

    def credential_expires_s(self, doctor_id: str) -> float:
        return float(self._cred_expires_s[self.slot(doctor_id)])

    def position(self, doctor_id: str) -> tuple[float, float, float, float] | None:
        """(lat, lon, accuracy_m, fix_s) of the last accepted fix, or None."""
        slot = self.slot(doctor_id)
        if math.isnan(self._fix_s[slot]):
            return None
        return (
            float(self._lat[slot]),
            float(self._lon[slot]),
            float(self._accuracy_m[slot]),
            float(self._fix_s[slot]),
        )

    def fix_age_s(self, doctor_id: str, now_s: float) -> float | None:
        fix = float(self._fix_s[self.slot(doctor_id)])
        return None if math.isnan(fix) else now_s - fix

    def is_stale(self, doctor_id: str, now_s: float) -> bool:
        age = self.fix_age_s(doctor_id, now_s)
        return age is None or age > self.policy.stale_after_s

    # -- position fixes ---------------------------------------------------------------------

    def update_position(
        self,
        doctor_id: str,
        lat: float,
        lon: float,
        accuracy_m: float,
        fix_s: float,
        now_s: float,
    ) -> FixRejection | None:
        """Apply one GPS fix; on rejection return the reason and change nothing."""
        slot = self._slot_of.get(doctor_id)
        if slot is None:
            return FixRejection.UNKNOWN_DOCTOR
        if not (abs(lat) <= 90.0 and abs(lon) <= 180.0):  # also catches NaN
            return FixRejection.INVALID_COORDINATES
        if not (0.0 <= accuracy_m <= MAX_ACCURACY_M):
            return FixRejection.INVALID_ACCURACY
        if not math.isfinite(fix_s):
            return FixRejection.INVALID_TIME
        if fix_s > now_s + self.policy.max_fix_skew_s:
            return FixRejection.FROM_THE_FUTURE
        last_s = float(self._fix_s[slot])
        if last_s == last_s:  # not NaN: there is a previous fix
            if fix_s <= last_s:
                return FixRejection.OUT_OF_ORDER
            moved_m = haversine_scalar_m(float(self._lat[slot]), float(self._lon[slot]), lat, lon)
            # GPS error on both ends is not movement.
            moved_m -= accuracy_m + float(self._accuracy_m[slot])
            if moved_m > self._max_speed_mps * (fix_s - last_s):
                return FixRejection.IMPLAUSIBLE_JUMP
        self._apply(slot, lat, lon, accuracy_m, fix_s)
        if self._moved_n > self._rebuild_threshold():
            self.rebuild_index()
        return None

    def _moved_entry(self, slot: int) -> int:
        """The slot's index in the moved list, adding it there if it is not yet."""
        pos = int(self._moved_pos[slot])
        if pos < 0:
            pos = self._moved_n
            self._is_moved[slot] = True
            self._moved_buf[pos] = slot
            self._moved_pos[slot] = pos
            self._moved_n += 1
        return pos

    def _apply(self, slot: int, lat: float, lon: float, accuracy_m: float, fix_s: float) -> None:
        # The scalar twin of _apply_many: one fix through numpy's vector path costs
        # several times more, and single fixes are the gateway's common case.
        proj = self.projection
        self._lat[slot] = lat
        self._lon[slot] = lon
        self._x[slot] = (lon - proj.lon0) * proj.kx
        self._y[slot] = (lat - proj.lat0) * proj.ky
        self._accuracy_m[slot] = accuracy_m
        self._fix_s[slot] = fix_s
        self._node[slot] = NODE_UNKNOWN
        self._cell_stale[slot] = True
        pos = self._moved_entry(slot)
        self._moved_x[pos] = self._x[slot]
        self._moved_y[pos] = self._y[slot]

    def update_positions(
        self,
        doctor_ids: Sequence[str],
        lat: FloatArray,
        lon: FloatArray,
        accuracy_m: FloatArray,
        fix_s: FloatArray,
        now_s: float,
    ) -> BatchUpdateResult:
        """Apply a batch of fixes, validated with vectorised checks.

        Same rules and reasons as update_position. Several fixes of one doctor in a
        batch are applied in the batch's order, each checked against the one before.
        """
        n = len(doctor_ids)
        lat = np.asarray(lat, dtype=np.float64)
        lon = np.asarray(lon, dtype=np.float64)
        accuracy_m = np.asarray(accuracy_m, dtype=np.float64)
        fix_s = np.asarray(fix_s, dtype=np.float64)
        if not (lat.shape == lon.shape == accuracy_m.shape == fix_s.shape == (n,)):
            raise ValueError("batch arrays must all have one entry per doctor id")
        slot_of = self._slot_of
        slots = np.fromiter((slot_of.get(d, -1) for d in doctor_ids), dtype=np.int64, count=n)
        reasons: list[tuple[int, str, FixRejection]] = []
        accepted = 0
        pending = np.arange(n)
        while pending.size:
            # First fix of each doctor in what is pending; later ones wait for the next round.
            _, first = np.unique(slots[pending], return_index=True)
            first.sort()
            now_idx = pending[first]
            later = np.ones(pending.size, dtype=bool)
            later[first] = False
            pending = pending[later]
            ok, why = self._validate(
                slots[now_idx],
                lat[now_idx],
                lon[now_idx],
                accuracy_m[now_idx],
                fix_s[now_idx],
                now_s,
            )
            good = now_idx[ok]
            for i, reason in zip(now_idx[~ok].tolist(), why[~ok].tolist(), strict=True):
                reasons.append((i, doctor_ids[i], _REJECTIONS[reason]))
            self._apply_many(slots[good], lat[good], lon[good], accuracy_m[good], fix_s[good])
            accepted += int(good.size)
        if self._moved_n > self._rebuild_threshold():
            self.rebuild_index()
        reasons.sort()
        return BatchUpdateResult(accepted, tuple(reasons))

    def _validate(
        self,
        slots: IntArray,
        lat: FloatArray,
        lon: FloatArray,
        accuracy_m: FloatArray,
        fix_s: FloatArray,
        now_s: float,
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.uint8]]:
        why = np.zeros(slots.size, dtype=np.uint8)

        def reject(mask: npt.NDArray[np.bool_], code: int) -> None:
            why[(why == 0) & mask] = code

        known = slots >= 0
        reject(~known, 1)
        safe = np.where(known, slots, 0)
        reject(~((np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0)), 2)
        reject(~((accuracy_m >= 0.0) & (accuracy_m <= MAX_ACCURACY_M)), 3)
        reject(~np.isfinite(fix_s), 4)
        reject(fix_s > now_s + self.policy.max_fix_skew_s, 5)
        last_s = self._fix_s[safe]
        has_last = ~np.isnan(last_s)
        reject(has_last & (fix_s <= last_s), 6)
        check = (why == 0) & has_last
        if check.any():
            p1 = np.radians(self._lat[safe[check]])
            p2 = np.radians(lat[check])
            dl = np.radians(lon[check] - self._lon[safe[check]])
            a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
            moved_m = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
            moved_m -= accuracy_m[check] + self._accuracy_m[safe[check]]
            too_fast = moved_m > self._max_speed_mps * (fix_s[check] - last_s[check])
            idx = np.flatnonzero(check)[too_fast]
            why[idx] = 7
        return why == 0, why

    def _apply_many(
        self,
        slots: IntArray,
        lat: FloatArray,
        lon: FloatArray,
        accuracy_m: FloatArray,
        fix_s: FloatArray,
    ) -> None:
        if slots.size == 0:
            return
        proj = self.projection
        self._lat[slots] = lat
        self._lon[slots] = lon
        self._x[slots] = (lon - proj.lon0) * proj.kx
        self._y[slots] = (lat - proj.lat0) * proj.ky
        self._accuracy_m[slots] = accuracy_m
        self._fix_s[slots] = fix_s
        if self.snapper is not None:
            nodes, dist_m = self.snapper.nearest_nodes(lat, lon)
            self._node[slots] = np.where(
                dist_m <= self.snapper.max_snap_distance_m, nodes, NODE_OFF_NETWORK
            )
        else:
            self._node[slots] = NODE_UNKNOWN
        self._cell_stale[slots] = True
        newly = slots[self._moved_pos[slots] < 0]
        start = self._moved_n
        self._is_moved[newly] = True
        self._moved_buf[start : start + newly.size] = newly
        self._moved_pos[newly] = np.arange(start, start + newly.size)
        self._moved_n += int(newly.size)
        pos = self._moved_pos[slots]
        self._moved_x[pos] = self._x[slots]
        self._moved_y[pos] = self._y[slots]

    # -- the KD-tree snapshot ---------------------------------------------------------

    def _rebuild_threshold(self) -> int:
        return max(512, len(self._slot_of) // 8)

    def rebuild_index(self) -> None:
        """Snapshot every positioned doctor into a fresh KD-tree and clear the moved set."""
        slots = np.flatnonzero(self._active & ~np.isnan(self._fix_s)).astype(np.int64)
        xy = np.column_stack([self._x[slots], self._y[slots]])
        # Unbalanced and uncompacted: builds in about half the time, queries as fast (measured).
        self._tree = cKDTree(xy, balanced_tree=False, compact_nodes=False) if slots.size else None
        self._tree_slots = slots
        moved = self._moved_buf[: self._moved_n]
        self._is_moved[moved] = False
        self._moved_pos[moved] = -1
        self._moved_x[: self._moved_n] = np.inf
        self._moved_y[: self._moved_n] = np.inf
        self._moved_n = 0
        self.index_rebuilds += 1

    @property
    def moved_since_snapshot(self) -> int:
        return self._moved_n

    def nearest(
        self,
        lat: float,
        lon: float,
        k: int,
        radius_m: float,
        exclude: Callable[[IntArray], npt.NDArray[np.uint8]] | None = None,
        kind: Hashable | None = None,
    ) -> tuple[IntArray, FloatArray, IntArray, FloatArray, npt.NDArray[np.uint8]]:
        """The k nearest positioned doctors within radius_m that `exclude` lets through.

        `exclude(slots)` gives a code per slot, 0 for a doctor who may be chosen.
        Distances are in the registry's local projection (within 1 % of true distance in
        a city). Ties are broken by slot, so the answer is deterministic. Returns
        (slots, distances_m) of the chosen, nearest first, then (slots, distances_m,
        codes) of the doctors examined and excluded that were no farther than the last
        chosen one, nearest first and at most MAX_EXPLAINED_EXCLUSIONS (for explanations).

        `kind` names calls that exclude alike (same skills asked for): the share of
        doctors that passed last time sets how many to look at first, so a rare skill
        does not need several rounds. It only tunes speed, never the answer.
        """
        proj = self.projection
        qx = (lon - proj.lon0) * proj.kx
        qy = (lat - proj.lat0) * proj.ky
        r2 = radius_m * radius_m
        empty_i = np.empty(0, dtype=np.int64)
        # Moved doctors (exact, from their live positions), nearest first.
        n = self._moved_n
        if n:
            dx = self._moved_x[:n] - qx
            dy = self._moved_y[:n] - qy
            d2 = dx * dx + dy * dy
            moved_near = np.flatnonzero(d2 <= r2)
            moved_d2 = d2[moved_near]
        else:
            moved_near = empty_i
            moved_d2 = np.empty(0)
        tree = self._tree
        n_tree = self._tree_slots.size if tree is not None else 0
        take = k + max(8, k // 4)  # a little slack for excluded doctors
        hint = self._pass_share.get(kind) if kind is not None else None
        if hint is not None:
            take = max(take, math.ceil(k / hint * 1.25) + 8)
        while True:
            # The `take` nearest of each source (all of them when fewer), judged together.
            bound = math.inf  # no unexamined doctor is nearer than this
            if moved_near.size > take:
                cut = np.partition(moved_d2, take - 1)[take - 1]
                pick = moved_d2 <= cut  # every tie at the edge comes along
                m_slots = self._moved_buf[moved_near[pick]]
                bound = math.sqrt(float(cut))
            else:
                m_slots = self._moved_buf[moved_near]
            if tree is not None and n_tree:
                kq = min(n_tree, take)
                dist, idx = tree.query((qx, qy), k=kq, distance_upper_bound=radius_m)
                idx = np.atleast_1d(idx)
                found = idx < n_tree
                if int(found.sum()) == kq and kq < n_tree:
                    bound = min(bound, float(np.atleast_1d(dist)[kq - 1]))
                t_slots = self._tree_slots[idx[found]]
                # Moved doctors were answered above from their live positions; removed
                # ones are hidden among them.
                t_slots = t_slots[~self._is_moved[t_slots]]
                slots = np.concatenate((m_slots, t_slots)) if m_slots.size else t_slots
            else:
                slots = m_slots
            codes = exclude(slots) if exclude is not None else np.zeros(slots.size, dtype=np.uint8)
            dist_m = np.hypot(self._x[slots] - qx, self._y[slots] - qy)
            ok = codes == 0
            passed = np.sort(dist_m[ok])
            # Done when nothing unexamined can be nearer than the k-th that passed
            # (strictly, so an equally near doctor beyond the edge cannot be missed).
            if math.isinf(bound) or (passed.size >= k and passed[k - 1] < bound - 1e-6):
                if kind is not None and slots.size >= k:
                    self._pass_share[kind] = max(0.005, passed.size / slots.size)
                break
            # Widen by what the pass rate so far says it takes to find k (rare skills
            # need many more doctors looked at); at least double each round.
            share = passed.size / max(1, slots.size)
            need = k / share * 1.25 + 8 if share > 0 else take * 8
            take = max(2 * take, math.ceil(need))
        chosen_s, chosen_d = slots[ok], dist_m[ok]
        order = np.lexsort((chosen_s, chosen_d))[:k]
        chosen_s, chosen_d = chosen_s[order], chosen_d[order]
        rs, rd, rc = slots[~ok], dist_m[~ok], codes[~ok]
        if chosen_d.size == k:
            keep = rd <= chosen_d[-1]
            rs, rd, rc = rs[keep], rd[keep], rc[keep]
        rorder = np.lexsort((rs, rd))[:MAX_EXPLAINED_EXCLUSIONS]
        return chosen_s, chosen_d, rs[rorder], rd[rorder], rc[rorder]

    # -- area questions (H3) -------------------------------------------------------------------

    def _refresh_cells(self) -> None:
        # Cells are only needed for area questions (the operator's map, a few a second),
        # so they are brought up to date here rather than on every fix.
        stale = np.flatnonzero(self._cell_stale)
        if stale.size == 0:
            return
        res = self.h3_resolution
        cells_arr = self._cell
        cells = self._cells
        to_cell = h3.latlng_to_cell
        lat = self._lat[stale].tolist()
        lon = self._lon[stale].tolist()
        for slot, a, b in zip(stale.tolist(), lat, lon, strict=True):
            cell = to_cell(a, b, res)
            old = int(cells_arr[slot])
            if cell != old:
                if old:
                    cells[old].discard(slot)
                bucket = cells.get(cell)
                if bucket is None:
                    bucket = cells[cell] = set()
                bucket.add(slot)
                cells_arr[slot] = cell
        self._cell_stale[stale] = False

    def cell_of(self, doctor_id: str) -> int | None:
        slot = self.slot(doctor_id)
        self._refresh_cells()
        cell = int(self._cell[slot])
        return cell or None

    def doctors_in_cells(self, cells: Iterable[int]) -> list[str]:
        self._refresh_cells()
        found: set[int] = set()
        for cell in cells:
            found |= self._cells.get(cell, set())
        return sorted(self.doctor_ids(found))

    def doctors_in_viewport(
        self,
        south: float,
        west: float,
        north: float,
        east: float,
        statuses: Iterable[DoctorStatus] | None = None,
    ) -> list[str]:
        """Doctors whose last fix lies in the box (an operator's map view), by id.

        H3 cells covering the box narrow the search; each doctor is then checked exactly.
        A box that would take more cells than there are doctors to look at (a country, the
        world: millions of cells, seconds of work) checks every indexed doctor instead, as
        does one 180 degrees wide or more, which an H3 polygon (edges the short way round
        the globe) cannot describe.
        """
        if not (-90 <= south <= north <= 90 and -180 <= west <= east <= 180):
            raise ValueError("viewport must have south <= north and west <= east, in range")
        self._refresh_cells()
        wanted = None if statuses is None else {int(s) for s in statuses}
        indexed = np.flatnonzero(self._cell != 0)
        if (
            east - west >= 180
            or self._viewport_cells_estimate(south, west, north, east) > 4 * indexed.size + 64
        ):
            lat, lon = self._lat[indexed], self._lon[indexed]
            inside = (south <= lat) & (lat <= north) & (west <= lon) & (lon <= east)
            if wanted is not None:
                inside &= np.isin(self._status[indexed], list(wanted))
            return sorted(self.doctor_ids(indexed[inside].tolist()))
        poly = h3.LatLngPoly([(south, west), (south, east), (north, east), (north, west)])
        # Every cell whose bounding box touches the box (a superset; filtered exactly below).
        # "center" containment would miss doctors in cells that straddle a thin box's edge.
        cells: set[int] = set(
            h3.h3shape_to_cells_experimental(poly, self.h3_resolution, "bbox_overlap")
        )
        cells.add(h3.latlng_to_cell((south + north) / 2, (west + east) / 2, self.h3_resolution))
        out = []
        for cell in cells:
            for slot in self._cells.get(cell, ()):
                if wanted is not None and int(self._status[slot]) not in wanted:
                    continue
                if south <= self._lat[slot] <= north and west <= self._lon[slot] <= east:
                    out.append(slot)
        return sorted(self.doctor_ids(out))

    def _viewport_cells_estimate(
        self, south: float, west: float, north: float, east: float
    ) -> float:
        """Roughly how many cells cover the box: its area, plus the cells its edges cut."""
        km_per_deg = math.pi * EARTH_RADIUS_M / 180_000
        height_km = (north - south) * km_per_deg
        width_km = (east - west) * km_per_deg * math.cos(math.radians((south + north) / 2))
        res = self.h3_resolution
        area_cells = height_km * width_km / float(h3.average_hexagon_area(res, "km^2"))
        edge_cells = (
            2
            * (height_km + (east - west) * km_per_deg)
            / float(h3.average_hexagon_edge_length(res, "km"))
        )
        return area_cells + edge_cells

    def supply_and_demand(
        self, demand: Iterable[tuple[float, float]], now_s: float
    ) -> dict[int, tuple[int, int]]:
        """Per H3 cell: (available doctors with a fresh fix, open calls), where either is non-zero."""
        self._refresh_cells()
        table: dict[int, list[int]] = {}
        stale_before = now_s - self.policy.stale_after_s
        for cell, slots in self._cells.items():
            available = sum(
                1
                for s in slots
                if self._status[s] == DoctorStatus.AVAILABLE and self._fix_s[s] >= stale_before
            )
            if available:
                table[cell] = [available, 0]
        for lat, lon in demand:
            cell = h3.latlng_to_cell(lat, lon, self.h3_resolution)
            table.setdefault(cell, [0, 0])[1] += 1
        return {cell: (a, b) for cell, (a, b) in table.items()}

    # -- what the matcher reads --------------------------------------------------------

    def exclusions(
        self, slots: IntArray, call: CallRequest, now_s: float, *, allow_on_visit: bool
    ) -> npt.NDArray[np.uint8]:
        """Per slot, 0 when the doctor may take the call, else the first Exclusion code that applies."""
        why = np.zeros(slots.size, dtype=np.uint8)
        if slots.size == 0:
            return why
        code = _EXCLUDE_CODE
        # (fails, code) in the order reasons are reported; applied last to first, so the
        # first reason that applies is the one that stays.
        checks: list[tuple[npt.NDArray[np.bool_], int]] = []
        status = self._status[slots]
        free = status == DoctorStatus.AVAILABLE
        if allow_on_visit:
            free |= status == DoctorStatus.ON_VISIT
        if call.busy:
            held = [self._slot_of[d] for d in call.busy if d in self._slot_of]
            if held:
                free &= ~np.isin(slots, held)
        checks.append((~free, code[Exclusion.NOT_AVAILABLE]))
        fresh_after = now_s - self.policy.stale_after_s
        checks.append((~(self._fix_s[slots] >= fresh_after), code[Exclusion.STALE_FIX]))
        if call.declined_by:
            declined = [self._slot_of[d] for d in call.declined_by if d in self._slot_of]
            if declined:
                checks.append((np.isin(slots, declined), code[Exclusion.DECLINED_THIS_CALL]))
        checks.append((~(self._cred_expires_s[slots] > now_s), code[Exclusion.CREDENTIAL_EXPIRED]))
        if call.clinic_id is not None:
            clinic = self.clinics.lookup(call.clinic_id)
            checks.append(
                (
                    self._clinic[slots] != (-2 if clinic is None else clinic),
                    code[Exclusion.OTHER_CLINIC],
                )
            )
        if self._areas:
            clinic_codes = self._clinic[slots]
            outside = np.zeros(slots.size, dtype=bool)
            point = (call.lat, call.lon)
            if self._area_memo[0] != point:  # a search asks again for the same call
                self._area_memo = (point, {})
            memo = self._area_memo[1]
            for code_ in np.unique(clinic_codes).tolist():
                contains = self._areas.get(code_)
                if contains is None:
                    continue
                inside = memo.get(code_)
                if inside is None:
                    inside = memo[code_] = contains(call.lat, call.lon)
                if not inside:
                    outside |= clinic_codes == code_
            checks.append((outside, code[Exclusion.OUTSIDE_CLINIC_AREA]))
        if call.specialization is not None:
            spec = self.specializations.lookup(call.specialization)
            checks.append(
                (
                    self._spec[slots] != (-2 if spec is None else spec),
                    code[Exclusion.SPECIALIZATION],
                )
            )
        age_bit = _AGE_CHILDREN if call.patient_is_child else _AGE_ADULTS
        checks.append(((self._ages[slots] & age_bit) == 0, code[Exclusion.AGE_GROUP]))
        if call.languages:
            wanted = np.uint64(self.languages.mask(call.languages, create=False))
            checks.append(((self._lang_mask[slots] & wanted) == 0, code[Exclusion.LANGUAGE]))
        if call.equipment:
            if any(self.equipment.lookup(e) is None for e in call.equipment):
                lacking = np.ones(slots.size, dtype=bool)  # nobody carries it
            else:
                needed = np.uint64(self.equipment.mask(call.equipment, create=False))
                lacking = (self._equip_mask[slots] & needed) != needed
            checks.append((lacking, code[Exclusion.EQUIPMENT]))
        for fails, c in reversed(checks):
            why[fails] = c
        return why

    def road_nodes(self, slots: IntArray, snapper: NodeSnapper) -> IntArray:
        """Road nodes of these doctors, snapping (once per move) those that moved."""
        nodes = self._node[slots]
        unknown = nodes == NODE_UNKNOWN
        if unknown.any():
            todo = slots[unknown]
            snapped, dist_m = snapper.nearest_nodes(self._lat[todo], self._lon[todo])
            snapped = np.where(dist_m <= snapper.max_snap_distance_m, snapped, NODE_OFF_NETWORK)
            self._node[todo] = snapped
            nodes = self._node[slots]
        return nodes

    def visit_remainder_s(self, slots: IntArray, now_s: float) -> FloatArray:
        """Expected time left of the visit each doctor is on (0 for doctors not on a visit)."""
        out = np.zeros(slots.size, dtype=np.float64)
        on_visit = self._status[slots] == DoctorStatus.ON_VISIT
        for i in np.flatnonzero(on_visit).tolist():
            slot = int(slots[i])
            code = int(self._visit_call_type[slot])
            duration = self.policy.visit_duration_for(
                self.call_types.name(code) if code >= 0 else ""
            )
            out[i] = max(0.0, duration - (now_s - float(self._visit_started_s[slot])))
        return out

    def ratings(self, slots: IntArray) -> npt.NDArray[np.float32]:
        return self._rating[slots]

    def visits_today(self, slots: IntArray) -> npt.NDArray[np.int32]:
        return self._visits[slots]

    def lat_lon(self, slots: IntArray) -> tuple[FloatArray, FloatArray]:
        return self._lat[slots], self._lon[slots]

    def positioned_slots(self) -> IntArray:
        """Every doctor with a position (for brute-force checks and batch work)."""
        return np.flatnonzero(self._active & ~np.isnan(self._fix_s)).astype(np.int64)

    def projected_xy(self, slots: IntArray) -> tuple[FloatArray, FloatArray]:
        return self._x[slots], self._y[slots]


class NodeSnapper(Protocol):
    """What the registry needs from routing to attach doctors to the road network."""

    max_snap_distance_m: float

    def nearest_nodes(self, lat: FloatArray, lon: FloatArray) -> tuple[IntArray, FloatArray]: ...


_EXCLUDE_CODE = {reason: i + 1 for i, reason in enumerate(Exclusion)}
EXCLUSION_OF_CODE = {code: reason for reason, code in _EXCLUDE_CODE.items()}
EXCLUSION_CODE = dict(_EXCLUDE_CODE)


_REJECTIONS = {
    1: FixRejection.UNKNOWN_DOCTOR,
    2: FixRejection.INVALID_COORDINATES,
    3: FixRejection.INVALID_ACCURACY,
    4: FixRejection.INVALID_TIME,
    5: FixRejection.FROM_THE_FUTURE,
    6: FixRejection.OUT_OF_ORDER,
    7: FixRejection.IMPLAUSIBLE_JUMP,
}
