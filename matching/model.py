"""The matcher's vocabulary: doctors' statuses and skills, calls, fix rejections, policy."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum


class DoctorStatus(IntEnum):
    OFFLINE = 0
    AVAILABLE = 1
    OFFERED = 2
    EN_ROUTE = 3  # assigned and driving to the patient
    ON_VISIT = 4
    ON_BREAK = 5


class FixRejection(StrEnum):
    """Why a position fix was refused (the registry is then unchanged for that doctor)."""

    UNKNOWN_DOCTOR = "unknown_doctor"
    INVALID_COORDINATES = "invalid_coordinates"
    INVALID_ACCURACY = "invalid_accuracy"
    INVALID_TIME = "invalid_time"
    FROM_THE_FUTURE = "from_the_future"
    OUT_OF_ORDER = "out_of_order"
    IMPLAUSIBLE_JUMP = "implausible_jump"


class Exclusion(StrEnum):
    """Why a nearby doctor was not a candidate for a call."""

    NOT_AVAILABLE = "not_available"
    STALE_FIX = "stale_fix"
    DECLINED_THIS_CALL = "declined_this_call"
    CREDENTIAL_EXPIRED = "credential_expired"
    OTHER_CLINIC = "other_clinic"
    SPECIALIZATION = "specialization"
    AGE_GROUP = "age_group"
    LANGUAGE = "language"
    EQUIPMENT = "equipment"
    NO_ROAD_ETA = "no_road_eta"
    OUTSIDE_CLINIC_AREA = "outside_clinic_area"  # the call lies outside their clinic's area


# Whether a point (lat, lon) lies in a clinic's area: the matcher holds one per clinic that
# has an area (clinics without one serve anywhere). Given as data by the services.
AreaPredicate = Callable[[float, float], bool]


@dataclass(frozen=True, slots=True)
class DoctorProfile:
    """What a doctor can do, set when they come online (or their profile changes)."""

    doctor_id: str
    specialization: str = "general"
    treats_adults: bool = True
    treats_children: bool = False
    languages: frozenset[str] = frozenset({"ru"})
    equipment: frozenset[str] = frozenset()
    credential_expires_s: float = math.inf  # epoch seconds; their licence is void after it
    rating: float = 5.0
    clinic_id: str | None = None
    visits_today: int = 0
    shift_hours: float = 0.0


@dataclass(frozen=True, slots=True)
class CallRequest:
    """A visit to be matched: where, and what the doctor must be able to do."""

    call_id: str
    lat: float
    lon: float
    call_type: str = "home_visit"
    specialization: str | None = None  # None: any specialization will do
    patient_is_child: bool = False
    languages: frozenset[str] = frozenset()  # any one of these; empty: no constraint
    equipment: frozenset[str] = frozenset()  # all of these
    clinic_id: str | None = None  # the call names a clinic: only its doctors
    is_emergency: bool = False
    declined_by: frozenset[str] = frozenset()  # doctors who declined or let an offer lapse
    busy: frozenset[str] = frozenset()  # held by the dispatcher elsewhere (offers, visits, offline)


@dataclass(frozen=True, slots=True)
class MatchingPolicy:
    """How candidates are chosen and ranked; every number has its unit in its name."""

    k: int = 20
    search_radius_m: float = 15_000.0
    stale_after_s: float = 120.0
    max_fix_skew_s: float = 30.0  # a fix may be this far in the future (clock skew)
    max_speed_kph: float = 250.0  # fixes implying a faster jump are refused
    # Ranking: cost_s = eta_s + remaining visit - rating_weight * rating + fairness_weight * visits.
    rating_weight_s_per_star: float = 20.0
    fairness_weight_s_per_visit: float = 10.0
    offer_doctors_on_visit: bool = False
    visit_duration_s: dict[str, float] = field(
        default_factory=lambda: {"home_visit": 1_800.0, "urgent": 2_400.0, "consultation": 1_200.0}
    )
    default_visit_duration_s: float = 1_800.0

    def __post_init__(self) -> None:
        checks = {
            "k": self.k >= 1,
            "search_radius_m": self.search_radius_m > 0,
            "stale_after_s": self.stale_after_s > 0,
            "max_fix_skew_s": self.max_fix_skew_s >= 0,
            "max_speed_kph": self.max_speed_kph > 0,
            "rating_weight_s_per_star": math.isfinite(self.rating_weight_s_per_star),
            "fairness_weight_s_per_visit": math.isfinite(self.fairness_weight_s_per_visit),
            "default_visit_duration_s": self.default_visit_duration_s >= 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid matching policy values: {', '.join(bad)}")

    def visit_duration_for(self, call_type: str) -> float:
        return self.visit_duration_s.get(call_type, self.default_visit_duration_s)
