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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import h3.api.basic_int as h3
import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from matching.model import (
    CallRequest,
    DoctorProfile,
    DoctorStatus,
    Exclusion,
    FixRejection,
    MatchingPolicy,
)
from routing.geo import EARTH_RADIUS_M, LocalProjection

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

DEFAULT_H3_RESOLUTION = 8  # hexagons of ~0.7 km²: a few streets, right for city supply/demand
NODE_UNKNOWN = -1  # moved since the last snap
NODE_OFF_NETWORK = -2  # too far from any drivable road
MAX_ACCURACY_M = 10_000.0  # a fix vaguer than this says nothing about where a doctor is

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


def _haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2.0) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2.0) ** 2
    )
    return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


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
    _moved_buf: IntArray  # slots moved since the snapshot; the first _moved_n are live

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
        grow("_moved_buf", np.int64, 0)
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
        self._fix_s[slot] = np.nan
        # The slot stays in the moved list until the next snapshot; searches skip
        # inactive slots, and a reused slot is then searched exactly, as it should be.
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
            moved_m = _haversine_m(float(self._lat[slot]), float(self._lon[slot]), lat, lon)
            # GPS error on both ends is not movement.
            moved_m -= accuracy_m + float(self._accuracy_m[slot])
            if moved_m > self._max_speed_mps * (fix_s - last_s):
                return FixRejection.IMPLAUSIBLE_JUMP
        self._apply(slot, lat, lon, accuracy_m, fix_s)
        if self._moved_n > self._rebuild_threshold():
            self.rebuild_index()
        return None

    def _apply(self, slot: int, lat: float, lon: float, accuracy_m: float, fix_s: float) -> None:
        proj = self.projection
        self._lat[slot] = lat
        self._lon[slot] = lon
        self._x[slot] = (lon - proj.lon0) * proj.kx
        self._y[slot] = (lat - proj.lat0) * proj.ky
        self._accuracy_m[slot] = accuracy_m
        self._fix_s[slot] = fix_s
        self._node[slot] = NODE_UNKNOWN
        cell = h3.latlng_to_cell(lat, lon, self.h3_resolution)
        old = int(self._cell[slot])
        if cell != old:
            if old:
                self._cells[old].discard(slot)
            self._cells.setdefault(cell, set()).add(slot)
            self._cell[slot] = cell
        if not self._is_moved[slot]:
            self._is_moved[slot] = True
            self._moved_buf[self._moved_n] = slot
            self._moved_n += 1

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
        self._node[slots] = NODE_UNKNOWN
        res = self.h3_resolution
        cells_arr = self._cell
        cells = self._cells
        to_cell = h3.latlng_to_cell
        for slot, a, b in zip(slots.tolist(), lat.tolist(), lon.tolist(), strict=True):
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
        newly = slots[~self._is_moved[slots]]
        self._is_moved[newly] = True
        self._moved_buf[self._moved_n : self._moved_n + newly.size] = newly
        self._moved_n += int(newly.size)

    # -- the KD-tree snapshot ---------------------------------------------------------

    def _rebuild_threshold(self) -> int:
        return max(512, len(self._slot_of) // 8)

    def rebuild_index(self) -> None:
        """Snapshot every positioned doctor into a fresh KD-tree and clear the moved set."""
        slots = np.flatnonzero(self._active & ~np.isnan(self._fix_s)).astype(np.int64)
        self._tree = (
            cKDTree(np.column_stack([self._x[slots], self._y[slots]])) if slots.size else None
        )
        self._tree_slots = slots
        self._is_moved[self._moved_buf[: self._moved_n]] = False
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
        accept: Callable[[IntArray], npt.NDArray[np.bool_]] | None = None,
    ) -> tuple[IntArray, FloatArray, IntArray, FloatArray]:
        """The k nearest positioned doctors within radius_m that `accept` lets through.

        Distances are in the registry's local projection (within 1 % of true distance in
        a city). Ties are broken by slot, so the answer is deterministic. Returns
        (slots, distances_m) of the chosen, nearest first, and (slots, distances_m) of
        the doctors examined and refused by `accept` that were no farther than the
        last chosen one (for explanations).
        """
        proj = self.projection
        qx = (lon - proj.lon0) * proj.kx
        qy = (lat - proj.lat0) * proj.ky
        parts_s: list[IntArray] = []
        parts_d: list[FloatArray] = []
        refused_s: list[IntArray] = []
        refused_d: list[FloatArray] = []

        if self._moved_n:
            moved = self._moved_buf[: self._moved_n]
            moved = moved[self._active[moved] & ~np.isnan(self._fix_s[moved])]
            d = np.hypot(self._x[moved] - qx, self._y[moved] - qy)
            near = d <= radius_m
            moved, d = moved[near], d[near]
            # Check the nearest few first; widen to all only if too few pass.
            take = k + max(8, k // 4)
            if moved.size > take:
                # Everyone as near as the take-th nearest, so ties at the edge are all in.
                head = np.flatnonzero(d <= np.partition(d, take - 1)[take - 1])
                ok_head = (
                    accept(moved[head]) if accept is not None else np.ones(head.size, dtype=bool)
                )
                if int(ok_head.sum()) >= k:
                    moved, d, ok = moved[head], d[head], ok_head
                else:
                    ok = accept(moved) if accept is not None else np.ones(moved.size, dtype=bool)
            else:
                ok = accept(moved) if accept is not None else np.ones(moved.size, dtype=bool)
            parts_s.append(moved[ok])
            parts_d.append(d[ok])
            refused_s.append(moved[~ok])
            refused_d.append(d[~ok])

        tree = self._tree
        if tree is not None:
            n_tree = self._tree_slots.size
            kq = min(n_tree, k + max(8, k // 4))  # a little slack for refused doctors
            while True:
                dist, idx = tree.query((qx, qy), k=kq, distance_upper_bound=radius_m)
                dist = np.atleast_1d(dist)
                idx = np.atleast_1d(idx)
                found = idx < n_tree
                exhausted = int(found.sum()) < kq or kq >= n_tree
                dist = dist[found]
                farthest = float(dist[-1]) if dist.size else 0.0
                slots = self._tree_slots[idx[found]]
                # Moved doctors were answered exactly above; removed ones are gone.
                fresh = self._active[slots] & ~self._is_moved[slots]
                slots, dist = slots[fresh], dist[fresh]
                ok = accept(slots) if accept is not None else np.ones(slots.size, dtype=bool)
                if exhausted:
                    break
                passed = dist[ok]
                # Done when k passed and the k-th is strictly inside what the tree returned,
                # so no equally near doctor can lie just beyond it.
                if passed.size >= k and passed[k - 1] < farthest - 1e-6:
                    break
                kq = min(n_tree, kq * 4)
            # Distances from the live columns, exactly as the moved doctors' are computed.
            dist = np.hypot(self._x[slots] - qx, self._y[slots] - qy)
            parts_s.append(slots[ok])
            parts_d.append(dist[ok])
            refused_s.append(slots[~ok])
            refused_d.append(dist[~ok])

        if not parts_s:
            empty_i = np.empty(0, dtype=np.int64)
            empty_f = np.empty(0, dtype=np.float64)
            return empty_i, empty_f, empty_i, empty_f
        all_s = np.concatenate(parts_s)
        all_d = np.concatenate(parts_d)
        order = np.lexsort((all_s, all_d))[:k]
        chosen_s, chosen_d = all_s[order], all_d[order]
        rs = np.concatenate(refused_s)
        rd = np.concatenate(refused_d)
        if chosen_d.size == k:
            keep = rd <= chosen_d[-1]
            rs, rd = rs[keep], rd[keep]
        rorder = np.lexsort((rs, rd))
        return chosen_s, chosen_d, rs[rorder], rd[rorder]

    # -- area questions (H3) -------------------------------------------------------------------

    def cell_of(self, doctor_id: str) -> int | None:
        cell = int(self._cell[self.slot(doctor_id)])
        return cell or None

    def doctors_in_cells(self, cells: Iterable[int]) -> list[str]:
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
        """
        if not (-90 <= south <= north <= 90 and -180 <= west <= east <= 180):
            raise ValueError("viewport must have south <= north and west <= east, in range")
        poly = h3.LatLngPoly([(south, west), (south, east), (north, east), (north, west)])
        # Every cell whose bounding box touches the box (a superset; filtered exactly below).
        # "center" containment would miss doctors in cells that straddle a thin box's edge.
        cells: set[int] = set(
            h3.h3shape_to_cells_experimental(poly, self.h3_resolution, "bbox_overlap")
        )
        cells.add(h3.latlng_to_cell((south + north) / 2, (west + east) / 2, self.h3_resolution))
        wanted = None if statuses is None else {int(s) for s in statuses}
        out = []
        for cell in cells:
            for slot in self._cells.get(cell, ()):
                if wanted is not None and int(self._status[slot]) not in wanted:
                    continue
                if south <= self._lat[slot] <= north and west <= self._lon[slot] <= east:
                    out.append(slot)
        return sorted(self.doctor_ids(out))

    def supply_and_demand(
        self, demand: Iterable[tuple[float, float]], now_s: float
    ) -> dict[int, tuple[int, int]]:
        """Per H3 cell: (available doctors with a fresh fix, open calls), where either is non-zero."""
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

        def exclude(mask: npt.NDArray[np.bool_], code: int) -> None:
            why[(why == 0) & mask] = code

        status = self._status[slots]
        free = status == DoctorStatus.AVAILABLE
        if allow_on_visit:
            free |= status == DoctorStatus.ON_VISIT
        if call.busy:
            held = [self._slot_of[d] for d in call.busy if d in self._slot_of]
            if held:
                free &= ~np.isin(slots, held)
        exclude(~free, _EXCLUDE_CODE[Exclusion.NOT_AVAILABLE])
        exclude(
            ~(self._fix_s[slots] >= now_s - self.policy.stale_after_s),
            _EXCLUDE_CODE[Exclusion.STALE_FIX],
        )
        if call.declined_by:
            declined = {self._slot_of[d] for d in call.declined_by if d in self._slot_of}
            if declined:
                exclude(np.isin(slots, list(declined)), _EXCLUDE_CODE[Exclusion.DECLINED_THIS_CALL])
        exclude(~(self._cred_expires_s[slots] > now_s), _EXCLUDE_CODE[Exclusion.CREDENTIAL_EXPIRED])
        if call.clinic_id is not None:
            clinic = self.clinics.lookup(call.clinic_id)
            exclude(
                self._clinic[slots] != (-2 if clinic is None else clinic),
                _EXCLUDE_CODE[Exclusion.OTHER_CLINIC],
            )
        if call.specialization is not None:
            spec = self.specializations.lookup(call.specialization)
            exclude(
                self._spec[slots] != (-2 if spec is None else spec),
                _EXCLUDE_CODE[Exclusion.SPECIALIZATION],
            )
        age_bit = _AGE_CHILDREN if call.patient_is_child else _AGE_ADULTS
        exclude((self._ages[slots] & age_bit) == 0, _EXCLUDE_CODE[Exclusion.AGE_GROUP])
        if call.languages:
            wanted = np.uint64(self.languages.mask(call.languages, create=False))
            exclude((self._lang_mask[slots] & wanted) == 0, _EXCLUDE_CODE[Exclusion.LANGUAGE])
        if call.equipment:
            needed_mask = self.equipment.mask(call.equipment, create=False)
            if any(self.equipment.lookup(e) is None for e in call.equipment):
                exclude(np.ones(slots.size, dtype=bool), _EXCLUDE_CODE[Exclusion.EQUIPMENT])
            else:
                needed = np.uint64(needed_mask)
                exclude(
                    (self._equip_mask[slots] & needed) != needed, _EXCLUDE_CODE[Exclusion.EQUIPMENT]
                )
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


_REJECTIONS = {
    1: FixRejection.UNKNOWN_DOCTOR,
    2: FixRejection.INVALID_COORDINATES,
    3: FixRejection.INVALID_ACCURACY,
    4: FixRejection.INVALID_TIME,
    5: FixRejection.FROM_THE_FUTURE,
    6: FixRejection.OUT_OF_ORDER,
    7: FixRejection.IMPLAUSIBLE_JUMP,
}
