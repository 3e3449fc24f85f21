"""Which OSM ways a car may drive, in which direction and how fast (routing/osm_tags.py)."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing import osm_tags
from routing.osm_tags import (
    BUILD_PROFILE_VERSION,
    DEFAULT_SPEED_KPH,
    MAX_SPEED_KPH,
    MIN_SPEED_KPH,
    WayRule,
    classify_way,
    parse_maxspeed_kph,
)


def rule_for(**tags: str) -> WayRule:
    """classify_way for keyword tags (colons written as '__'), asserting the way is drivable."""
    rule = classify_way({k.replace("__", ":"): v for k, v in tags.items()})
    assert rule is not None, f"expected a drivable way for {tags}"
    return rule


def directions(rule: WayRule) -> tuple[bool, bool]:
    return rule.forward, rule.backward


class TestWhichWaysAreDrivable:
    @pytest.mark.parametrize(
        "highway", ["footway", "cycleway", "path", "steps", "pedestrian", "construction"]
    )
    def test_non_drivable_highways_are_excluded(self, highway: str) -> None:
        assert classify_way({"highway": highway}) is None

    def test_ways_without_a_highway_tag_are_excluded(self) -> None:
        assert classify_way({}) is None
        assert classify_way({"building": "yes", "name": "Kauppatori"}) is None

    @pytest.mark.parametrize("highway", sorted(DEFAULT_SPEED_KPH))
    def test_every_road_class_is_drivable_both_ways_by_default(self, highway: str) -> None:
        rule = rule_for(highway=highway)
        assert rule.highway == highway
        assert rule.highway_code == osm_tags.HIGHWAY_CODES.index(highway)
        if highway != "motorway":  # motorways are implicitly one-way, tested below
            assert directions(rule) == (True, True)

    def test_area_yes_is_a_square_not_a_road(self) -> None:
        assert classify_way({"highway": "residential", "area": "yes"}) is None
        assert classify_way({"highway": "residential", "area": "no"}) is not None

    @pytest.mark.parametrize("access", ["private", "no", "Private", " no "])
    def test_private_or_no_access_excludes_the_way(self, access: str) -> None:
        assert classify_way({"highway": "residential", "access": access}) is None

    @pytest.mark.parametrize("access", ["yes", "destination", "permissive"])
    def test_public_access_values_keep_the_way(self, access: str) -> None:
        assert classify_way({"highway": "residential", "access": access}) is not None

    def test_most_specific_access_tag_wins(self) -> None:
        # access=no, but motor vehicles explicitly allowed: drivable.
        assert directions(rule_for(highway="residential", access="no", motor_vehicle="yes")) == (
            True,
            True,
        )
        assert classify_way({"highway": "residential", "access": "no", "motorcar": "yes"})
        assert classify_way({"highway": "residential", "access": "no", "vehicle": "yes"})
        # access=yes, but motor vehicles explicitly banned: not drivable.
        assert classify_way({"highway": "residential", "access": "yes", "motor_vehicle": "no"}) is (
            None
        )
        # motorcar is more specific than motor_vehicle.
        assert (
            classify_way({"highway": "residential", "motor_vehicle": "yes", "motorcar": "no"})
            is None
        )
        assert classify_way({"highway": "residential", "motor_vehicle": "no", "motorcar": "yes"})

    def test_parking_aisles_are_excluded_but_plain_service_roads_are_drivable(self) -> None:
        assert classify_way({"highway": "service", "service": "parking_aisle"}) is None
        assert classify_way({"highway": "service", "service": "drive-through"}) is None
        plain = rule_for(highway="service")
        assert directions(plain) == (True, True)
        assert plain.speed_forward_kph == DEFAULT_SPEED_KPH["service"]
        assert classify_way({"highway": "service", "service": "alley"}) is not None
        assert classify_way({"highway": "service", "service": "driveway"}) is not None

    def test_service_tag_only_matters_on_service_roads(self) -> None:
        assert classify_way({"highway": "residential", "service": "parking_aisle"}) is not None


class TestDirections:
    @pytest.mark.parametrize("oneway", ["yes", "true", "1", "YES", " yes "])
    def test_oneway_yes_allows_forward_only(self, oneway: str) -> None:
        assert directions(rule_for(highway="residential", oneway=oneway)) == (True, False)

    @pytest.mark.parametrize("oneway", ["-1", "reverse"])
    def test_oneway_minus_one_allows_backward_only(self, oneway: str) -> None:
        assert directions(rule_for(highway="residential", oneway=oneway)) == (False, True)

    @pytest.mark.parametrize("oneway", ["no", "false", "0", "", "maybe"])
    def test_other_oneway_values_allow_both(self, oneway: str) -> None:
        assert directions(rule_for(highway="residential", oneway=oneway)) == (True, True)

    @pytest.mark.parametrize("junction", ["roundabout", "circular"])
    def test_roundabout_implies_forward_only(self, junction: str) -> None:
        assert directions(rule_for(highway="primary", junction=junction)) == (True, False)

    def test_oneway_no_on_a_roundabout_allows_both(self) -> None:
        assert directions(rule_for(highway="primary", junction="roundabout", oneway="no")) == (
            True,
            True,
        )

    def test_motorway_implies_oneway(self) -> None:
        assert directions(rule_for(highway="motorway")) == (True, False)
        assert directions(rule_for(highway="motorway", oneway="no")) == (True, True)
        # Only the motorway itself: its links and trunks are two-way unless tagged.
        assert directions(rule_for(highway="motorway_link")) == (True, True)
        assert directions(rule_for(highway="trunk")) == (True, True)

    @pytest.mark.parametrize("oneway", ["reversible", "alternating"])
    def test_time_dependent_oneway_is_excluded(self, oneway: str) -> None:
        assert classify_way({"highway": "primary", "oneway": oneway}) is None


class TestSpeeds:
    def test_maxspeed_sets_both_directions(self) -> None:
        rule = rule_for(highway="residential", maxspeed="40")
        assert rule.speed_forward_kph == rule.speed_backward_kph == 40.0

    def test_directional_maxspeeds_differ(self) -> None:
        rule = rule_for(highway="primary", maxspeed__forward="60", maxspeed__backward="40")
        assert rule.speed_forward_kph == 60.0
        assert rule.speed_backward_kph == 40.0

    def test_directional_maxspeed_overrides_the_plain_one_on_its_side_only(self) -> None:
        rule = rule_for(highway="primary", maxspeed="50", maxspeed__backward="30")
        assert rule.speed_forward_kph == 50.0
        assert rule.speed_backward_kph == 30.0

    def test_junk_directional_maxspeed_falls_back_to_maxspeed(self) -> None:
        rule = rule_for(highway="primary", maxspeed="70", maxspeed__forward="quick")
        assert rule.speed_forward_kph == rule.speed_backward_kph == 70.0

    @pytest.mark.parametrize(("highway", "expected"), sorted(DEFAULT_SPEED_KPH.items()))
    @pytest.mark.parametrize("maxspeed", [None, "", "fast", "none", "signals", "0"])
    def test_default_speed_per_highway_when_maxspeed_missing_or_junk(
        self, highway: str, expected: float, maxspeed: str | None
    ) -> None:
        tags = {"highway": highway}
        if maxspeed is not None:
            tags["maxspeed"] = maxspeed
        rule = rule_for(**tags)
        assert rule.speed_forward_kph == rule.speed_backward_kph == expected

    def test_defaults_are_ordered_by_road_class(self) -> None:
        d = DEFAULT_SPEED_KPH
        assert d["motorway"] > d["trunk"] > d["primary"] > d["secondary"] > d["tertiary"]
        assert d["tertiary"] > d["residential"] > d["living_street"]
        assert all(MIN_SPEED_KPH <= v <= MAX_SPEED_KPH for v in d.values())

    def test_maxspeed_is_clamped_in_rules(self) -> None:
        assert rule_for(highway="motorway", maxspeed="200").speed_forward_kph == MAX_SPEED_KPH
        assert rule_for(highway="residential", maxspeed="1").speed_forward_kph == MIN_SPEED_KPH


class TestParseMaxspeed:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("50", 50.0),
            ("50.5", 50.5),
            (" 80 ", 80.0),
            ("50 km/h", 50.0),
            ("50kmh", 50.0),
            ("50 kph", 50.0),
            ("30 mph", 30 * 1.609344),
            ("30mph", 30 * 1.609344),
            ("RU:urban", 60.0),
            ("ru:urban", 60.0),
            ("FI:urban", 50.0),
            ("DE:urban", 50.0),
            ("FI:rural", 80.0),
            ("DE:motorway", 110.0),
            ("urban", 50.0),
            ("walk", 6.0),
            ("zone:30", 30.0),
            ("DE:zone30", 30.0),
            ("DE:zone:20", 20.0),
            ("50;30", 30.0),
            ("30;50", 30.0),
            ("none;40", 40.0),
            ("fast;60", 60.0),
        ],
    )
    def test_values(self, value: str, expected: float) -> None:
        result = parse_maxspeed_kph(value)
        assert result is not None
        assert result == pytest.approx(expected)

    def test_thirty_mph_is_about_48_kph(self) -> None:
        assert parse_maxspeed_kph("30 mph") == pytest.approx(48.28, abs=0.01)

    @pytest.mark.parametrize(
        "value",
        [
            None,
            "",
            "   ",
            "none",
            "NONE",
            "signals",
            "variable",
            "fast",
            "0",
            "-30",
            "50 furlongs",
            "XX:nowhere",
            "zone:",
            "DE:zone",
            ";",
        ],
    )
    def test_unusable_values_give_none(self, value: str | None) -> None:
        assert parse_maxspeed_kph(value) is None

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("500", MAX_SPEED_KPH),
            ("200 mph", MAX_SPEED_KPH),
            ("nsl_dual", 112.7),
            ("1", MIN_SPEED_KPH),
            ("0.5", MIN_SPEED_KPH),
            ("zone:3", MIN_SPEED_KPH),
            ("9" * 400, None),  # overflows float to inf: not a speed
        ],
    )
    def test_results_are_clamped(self, value: str, expected: float | None) -> None:
        assert parse_maxspeed_kph(value) == expected


REAL_KEYS = [
    "highway",
    "oneway",
    "junction",
    "access",
    "motor_vehicle",
    "motorcar",
    "vehicle",
    "service",
    "area",
    "maxspeed",
    "maxspeed:forward",
    "maxspeed:backward",
]
REAL_VALUES = [
    *DEFAULT_SPEED_KPH,
    "footway",
    "construction",
    "yes",
    "no",
    "true",
    "1",
    "-1",
    "reverse",
    "reversible",
    "alternating",
    "roundabout",
    "circular",
    "private",
    "destination",
    "parking_aisle",
    "driveway",
    "50",
    "30 mph",
    "RU:urban",
    "DE:zone30",
    "zone:30",
    "50;30",
    "none",
    "signals",
    "0",
    "500",
    "",
]

maxspeed_like = st.one_of(
    st.text(),
    st.sampled_from(REAL_VALUES),
    st.from_regex(
        r"[A-Za-z]{0,3}:?(zone)?:?[0-9]{0,6}(\.[0-9]{0,3})?\s*(mph|km/h)?", fullmatch=True
    ),
    st.lists(st.sampled_from(REAL_VALUES), min_size=1, max_size=4).map(";".join),
)
tag_dicts = st.dictionaries(
    keys=st.one_of(st.sampled_from(REAL_KEYS), st.text(max_size=12)),
    values=st.one_of(st.sampled_from(REAL_VALUES), maxspeed_like),
    max_size=10,
)
drivable_tag_dicts = st.builds(
    lambda highway, rest: {**rest, "highway": highway},
    st.sampled_from(sorted(DEFAULT_SPEED_KPH)),
    tag_dicts,
)


class TestProperties:
    @settings(max_examples=1000, deadline=None)
    @given(maxspeed_like)
    def test_parse_maxspeed_never_raises_and_stays_in_range(self, value: str) -> None:
        result = parse_maxspeed_kph(value)
        assert result is None or (
            math.isfinite(result) and MIN_SPEED_KPH <= result <= MAX_SPEED_KPH
        )

    @settings(max_examples=1000, deadline=None)
    @given(st.one_of(tag_dicts, drivable_tag_dicts))
    def test_classify_way_never_raises_and_rules_are_usable(self, tags: dict[str, str]) -> None:
        rule = classify_way(tags)
        if rule is None:
            return
        assert rule.highway == tags["highway"]
        assert rule.forward or rule.backward
        for speed in (rule.speed_forward_kph, rule.speed_backward_kph):
            assert math.isfinite(speed)
            assert MIN_SPEED_KPH <= speed <= MAX_SPEED_KPH

    @settings(max_examples=300, deadline=None)
    @given(drivable_tag_dicts)
    def test_classify_way_is_a_pure_function_of_the_tags(self, tags: dict[str, str]) -> None:
        assert classify_way(tags) == classify_way(dict(reversed(list(tags.items()))))


class TestBuildProfileVersion:
    def test_is_16_hex_chars(self) -> None:
        assert isinstance(BUILD_PROFILE_VERSION, str)
        assert re.fullmatch(r"[0-9a-f]{16}", BUILD_PROFILE_VERSION)

    def test_is_reproducible_in_process(self) -> None:
        assert osm_tags._profile_fingerprint() == BUILD_PROFILE_VERSION

    def test_is_stable_across_processes_and_hash_seeds(self) -> None:
        code = "from routing.osm_tags import BUILD_PROFILE_VERSION as v; print(v)"
        seen = set()
        for seed in ("0", "1", "12345"):
            out = subprocess.run(
                [sys.executable, "-c", code],
                env={**os.environ, "PYTHONHASHSEED": seed},
                cwd=Path(osm_tags.__file__).resolve().parent.parent,
                capture_output=True,
                text=True,
                check=True,
            )
            seen.add(out.stdout.strip())
        assert seen == {BUILD_PROFILE_VERSION}

    def test_changes_when_a_rule_table_changes(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(osm_tags.DEFAULT_SPEED_KPH, "residential", 31.0)
        assert osm_tags._profile_fingerprint() != BUILD_PROFILE_VERSION
