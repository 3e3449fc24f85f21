"""Which OpenStreetMap ways a car may drive, in which direction, and how fast.

The rules follow OSM's documented defaults (wiki: Key:highway, Key:oneway, Key:access,
Key:maxspeed) and osmnx's "drive_service" filter, so results match what people expect
from OSM-based routers. Changing any table here changes BUILD_PROFILE_VERSION's hash
input, so cached graphs built with old rules are rebuilt automatically.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Protocol

# Free-flow urban speeds used where a way has no usable maxspeed, in km/h.
DEFAULT_SPEED_KPH: dict[str, float] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 60.0,
    "primary_link": 45.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 35.0,
    "unclassified": 35.0,
    "residential": 30.0,
    "living_street": 10.0,
    "service": 15.0,
    "road": 30.0,
}
HIGHWAY_CODES: tuple[str, ...] = tuple(DEFAULT_SPEED_KPH)

# Country and zone speed names seen in the maxspeed tag ("RU:urban", "zone:30").
NAMED_SPEED_KPH: dict[str, float] = {
    "urban": 50.0,
    "rural": 80.0,
    "motorway": 110.0,
    "living_street": 20.0,
    "walk": 6.0,
    "trunk": 90.0,
    "nsl_single": 96.5,
    "nsl_dual": 112.7,
}
RU_URBAN_KPH = 60.0  # Russia's urban limit differs from the common 50

MIN_SPEED_KPH = 5.0
MAX_SPEED_KPH = 130.0

NO_CAR_ACCESS = frozenset({"no", "private", "agricultural", "forestry", "delivery", "customers"})
EXCLUDED_SERVICE = frozenset(
    {"parking_aisle", "parking", "emergency_access", "private", "drive-through"}
)
ONEWAY_FORWARD = frozenset({"yes", "true", "1"})
ONEWAY_BACKWARD = frozenset({"-1", "reverse"})
ONEWAY_TIME_DEPENDENT = frozenset({"reversible", "alternating"})

_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$")


class Tags(Protocol):
    """What classify_way reads: a dict of OSM tags, or pyosmium's TagList."""

    def get(self, key: str, default: str | None = None, /) -> str | None: ...


@dataclass(frozen=True, slots=True)
class WayRule:
    """How a car may use one way: the highway class, allowed directions and speeds."""

    highway: str
    forward: bool
    backward: bool
    speed_forward_kph: float
    speed_backward_kph: float

    @property
    def highway_code(self) -> int:
        return HIGHWAY_CODES.index(self.highway)


def parse_maxspeed_kph(value: str | None) -> float | None:
    """A maxspeed tag value in km/h, or None when it says nothing usable.

    Lists ("50;30") take the lowest, since a doctor's ETA should not be optimistic.
    """
    if value is None:
        return None
    speeds: list[float] = []
    for part in value.split(";"):
        part = part.strip().lower()
        if not part or part in {"none", "signals", "variable"}:
            continue
        m = _NUMBER.match(part)
        if m:
            speed = float(m.group(1)) * (1.609344 if m.group(2) == "mph" else 1.0)
        elif ":" in part:
            country, _, zone = part.partition(":")
            if zone.startswith("zone") or country == "zone":
                digits = re.sub(r"\D", "", zone)
                if not digits:
                    continue
                speed = float(digits)
            elif country == "ru" and zone == "urban":
                speed = RU_URBAN_KPH
            elif zone in NAMED_SPEED_KPH:
                speed = NAMED_SPEED_KPH[zone]
            else:
                continue
        elif part in NAMED_SPEED_KPH:
            speed = NAMED_SPEED_KPH[part]
        else:
            continue
        if math.isfinite(speed) and speed > 0:
            speeds.append(speed)
    if not speeds:
        return None
    return min(max(min(speeds), MIN_SPEED_KPH), MAX_SPEED_KPH)


def _car_allowed(tags: Tags) -> bool:
    # The most specific access tag that is present decides (OSM access hierarchy).
    for key in ("motorcar", "motor_vehicle", "vehicle", "access"):
        value = tags.get(key)
        if value is not None:
            return value.strip().lower() not in NO_CAR_ACCESS
    return True


def classify_way(tags: Tags) -> WayRule | None:
    """The driving rule for a way with these tags, or None when cars may not use it."""
    highway = tags.get("highway")
    if highway not in DEFAULT_SPEED_KPH:
        return None
    if tags.get("area") == "yes" or not _car_allowed(tags):
        return None
    if highway == "service" and tags.get("service") in EXCLUDED_SERVICE:
        return None

    oneway = (tags.get("oneway") or "").strip().lower()
    if oneway in ONEWAY_TIME_DEPENDENT:
        return None  # direction changes by time of day; we cannot know which way is open
    junction = tags.get("junction")
    implied_oneway = highway in {"motorway"} or junction in {"roundabout", "circular"}
    if oneway in ONEWAY_FORWARD or (implied_oneway and oneway != "no"):
        forward, backward = True, False
    elif oneway in ONEWAY_BACKWARD:
        forward, backward = False, True
    else:
        forward, backward = True, True

    default = DEFAULT_SPEED_KPH[highway]
    both = parse_maxspeed_kph(tags.get("maxspeed"))
    speed_fwd = parse_maxspeed_kph(tags.get("maxspeed:forward")) or both or default
    speed_bwd = parse_maxspeed_kph(tags.get("maxspeed:backward")) or both or default
    return WayRule(highway, forward, backward, speed_fwd, speed_bwd)


def _profile_fingerprint() -> str:
    text = repr(
        (
            sorted(DEFAULT_SPEED_KPH.items()),
            sorted(NAMED_SPEED_KPH.items()),
            RU_URBAN_KPH,
            MIN_SPEED_KPH,
            MAX_SPEED_KPH,
            sorted(NO_CAR_ACCESS),
            sorted(EXCLUDED_SERVICE),
            "rules-v1",
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


BUILD_PROFILE_VERSION = _profile_fingerprint()
