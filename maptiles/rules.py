"""Which OpenStreetMap objects the map shows, in which layer, with which properties, and
from which zoom.

Pure: tags in, a `MapFeatureRule` (or None) out. The reader in `storage/` calls these for
every node, way and area of the extract. Changing any table here changes RULES_VERSION's
hash input, so cached features compiled with old rules are rebuilt.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

# Layer names, as the tiles and the style call them.
ROADS = "roads"
WATER = "water"
WATERWAY = "waterway"
GREEN = "green"
BUILDINGS = "buildings"
HOUSENUMBERS = "housenumbers"
PLACES = "places"

POINT, LINE, POLYGON = 1, 2, 3  # the MVT geometry types

# Every layer in drawing order, its geometry type and the properties its features carry.
LAYERS: dict[str, tuple[int, tuple[str, ...]]] = {
    WATER: (POLYGON, ("class", "name")),
    GREEN: (POLYGON, ("class", "name")),
    WATERWAY: (LINE, ("class", "name")),
    BUILDINGS: (POLYGON, ("building", "housenumber", "levels")),
    ROADS: (
        LINE,
        (
            "class",
            "subclass",
            "name",
            "name_en",
            "name_ru",
            "ref",
            "oneway",
            "layer",
            "bridge",
            "tunnel",
            "ramp",
        ),
    ),
    HOUSENUMBERS: (POINT, ("housenumber",)),
    PLACES: (POINT, ("class", "name", "name_en", "name_ru", "rank")),
}

# highway=* -> (class, min zoom). Links take their road's class and ramp=true.
ROAD_CLASSES: dict[str, tuple[str, int]] = {
    "motorway": ("motorway", 5), "trunk": ("trunk", 6), "primary": ("primary", 8),
    "secondary": ("secondary", 9), "tertiary": ("tertiary", 10),
    "unclassified": ("minor", 12), "residential": ("minor", 13), "living_street": ("minor", 13),
    "road": ("minor", 13), "service": ("service", 14), "track": ("track", 14),
    "pedestrian": ("path", 14), "footway": ("path", 14), "path": ("path", 14),
    "cycleway": ("path", 14), "steps": ("path", 15), "bridleway": ("path", 14),
    "busway": ("service", 14),
}  # fmt: skip
LINK_SUFFIX = "_link"

# waterway=* lines -> (class, min zoom)
WATERWAY_CLASSES: dict[str, tuple[str, int]] = {
    "river": ("river", 8), "canal": ("canal", 11), "stream": ("stream", 13),
    "drain": ("drain", 14), "ditch": ("ditch", 14),
}  # fmt: skip

# (key, value) -> class of the green layer
GREEN_CLASSES: dict[tuple[str, str], str] = {
    ("leisure", "park"): "park", ("leisure", "garden"): "garden",
    ("leisure", "nature_reserve"): "nature_reserve", ("leisure", "playground"): "playground",
    ("leisure", "pitch"): "pitch", ("landuse", "grass"): "grass",
    ("landuse", "forest"): "forest", ("landuse", "recreation_ground"): "recreation_ground",
    ("landuse", "meadow"): "meadow", ("landuse", "cemetery"): "cemetery",
    ("landuse", "village_green"): "grass", ("landuse", "allotments"): "allotments",
    ("natural", "wood"): "wood", ("natural", "scrub"): "scrub", ("natural", "grassland"): "grass",
}  # fmt: skip
GREEN_KEYS = ("leisure", "landuse", "natural")

RIVER_WATER = frozenset({"river", "canal", "stream", "oxbow", "riverbank"})

# place=* -> (min zoom, rank: 1 the most important)
PLACE_CLASSES: dict[str, tuple[int, int]] = {
    "city": (4, 1), "town": (7, 2), "village": (10, 3), "suburb": (11, 3),
    "borough": (11, 3), "quarter": (13, 4), "neighbourhood": (14, 5), "hamlet": (13, 5),
    "locality": (15, 6), "isolated_dwelling": (15, 6), "square": (15, 6),
}  # fmt: skip

# Polygons appear from the zoom at which they cover this many square pixels of a 512-px
# tile (never before their class's zoom): a lake of 1 km² from about z10, a 30 m house
# from z15.
MIN_POLYGON_PX2 = 48.0
BUILDING_MIN_ZOOM = 14
HOUSENUMBER_MIN_ZOOM = 16
WATER_MIN_ZOOM = 4
GREEN_MIN_ZOOM = 8
MAX_TEXT_CHARS = 200  # names longer than this are cut (OSM allows 255)


class Tags(Protocol):
    def get(self, key: str, default: str | None = None, /) -> str | None: ...


@dataclass(frozen=True, slots=True)
class MapFeatureRule:
    """What the map makes of one OSM object: its layer, properties and the zoom it
    appears from (polygons may appear later, by size: see MIN_POLYGON_PX2)."""

    layer: str
    properties: dict[str, str | int | bool]
    min_zoom: int


def _text(tags: Tags, key: str) -> str | None:
    value = tags.get(key)
    if not value:
        return None
    value = value.strip()
    return value[:MAX_TEXT_CHARS] or None


def _names(tags: Tags, props: dict[str, str | int | bool]) -> None:
    for key, prop in (("name", "name"), ("name:en", "name_en"), ("name:ru", "name_ru")):
        value = _text(tags, key)
        if value is not None:
            props[prop] = value


def _int(text: str | None, low: int, high: int) -> int | None:
    if text is None:
        return None
    try:
        value = int(text.strip())
    except ValueError:
        return None
    return value if low <= value <= high else None


def road_rule(tags: Tags) -> MapFeatureRule | None:
    """A line of the roads layer, or None."""
    highway = tags.get("highway")
    if not highway or tags.get("area") == "yes":
        return None
    ramp = highway.endswith(LINK_SUFFIX)
    base = highway.removesuffix(LINK_SUFFIX) if ramp else highway
    found = ROAD_CLASSES.get(base)
    if found is None:
        return None
    road_class, min_zoom = found
    props: dict[str, str | int | bool] = {"class": road_class, "subclass": highway}
    _names(tags, props)
    ref = _text(tags, "ref")
    if ref is not None:
        props["ref"] = ref
    oneway = (tags.get("oneway") or "").strip().lower()
    implied = base == "motorway" or tags.get("junction") in ("roundabout", "circular")
    if oneway in ("yes", "true", "1") or (implied and oneway != "no"):
        props["oneway"] = 1
    elif oneway in ("-1", "reverse"):
        props["oneway"] = -1
    layer = _int(tags.get("layer"), -5, 5)
    if layer:
        props["layer"] = layer
    if tags.get("bridge") not in (None, "no"):
        props["bridge"] = True
    if tags.get("tunnel") not in (None, "no"):
        props["tunnel"] = True
    if ramp:
        props["ramp"] = True
        min_zoom += 1
    return MapFeatureRule(ROADS, props, min_zoom)


def waterway_rule(tags: Tags) -> MapFeatureRule | None:
    """A line of the waterway layer (rivers, canals, streams), or None."""
    found = WATERWAY_CLASSES.get(tags.get("waterway") or "")
    if found is None:
        return None
    props: dict[str, str | int | bool] = {"class": found[0]}
    _names(tags, props)
    props.pop("name_en", None)
    props.pop("name_ru", None)
    return MapFeatureRule(WATERWAY, props, found[1])


def area_rules(tags: Tags) -> list[MapFeatureRule]:
    """What a closed way or multipolygon is: water, green, a building (several may hold)."""
    out: list[MapFeatureRule] = []
    natural = tags.get("natural")
    landuse = tags.get("landuse")
    water = tags.get("water")
    water_class = None
    if tags.get("waterway") == "riverbank" or (natural == "water" and water in RIVER_WATER):
        water_class = "river"
    elif landuse in ("reservoir", "basin") or (natural == "water" and water == "reservoir"):
        water_class = "reservoir" if landuse != "basin" else "basin"
    elif natural == "water":
        water_class = "pond" if water == "pond" else "lake"
    elif tags.get("leisure") == "swimming_pool":
        water_class = "pool"
    if water_class is not None:
        props: dict[str, str | int | bool] = {"class": water_class}
        name = _text(tags, "name")
        if name is not None:
            props["name"] = name
        out.append(MapFeatureRule(WATER, props, WATER_MIN_ZOOM))
    else:
        for key in GREEN_KEYS:
            green_class = GREEN_CLASSES.get((key, tags.get(key) or ""))
            if green_class is not None:
                props = {"class": green_class}
                name = _text(tags, "name")
                if name is not None:
                    props["name"] = name
                out.append(MapFeatureRule(GREEN, props, GREEN_MIN_ZOOM))
                break
    building = tags.get("building")
    if building and building != "no":
        props = {"building": building[:40]}
        number = _text(tags, "addr:housenumber")
        if number is not None:
            props["housenumber"] = number[:20]
        levels = _int(tags.get("building:levels"), 1, 200)
        if levels is not None:
            props["levels"] = levels
        out.append(MapFeatureRule(BUILDINGS, props, BUILDING_MIN_ZOOM))
    return out


def node_rules(tags: Tags) -> list[MapFeatureRule]:
    """A place label, an address point (a node with addr:housenumber), or nothing."""
    out: list[MapFeatureRule] = []
    place = tags.get("place")
    found = PLACE_CLASSES.get(place or "")
    name = _text(tags, "name")
    if found is not None and place is not None and name is not None:
        props: dict[str, str | int | bool] = {"class": place, "rank": found[1]}
        _names(tags, props)
        out.append(MapFeatureRule(PLACES, props, found[0]))
    number = _text(tags, "addr:housenumber")
    if number is not None:
        out.append(MapFeatureRule(HOUSENUMBERS, {"housenumber": number[:20]}, HOUSENUMBER_MIN_ZOOM))
    return out


def _fingerprint() -> str:
    text = repr(
        (LAYERS, ROAD_CLASSES, WATERWAY_CLASSES, GREEN_CLASSES, sorted(RIVER_WATER),
         PLACE_CLASSES, MIN_POLYGON_PX2, BUILDING_MIN_ZOOM, HOUSENUMBER_MIN_ZOOM,
         WATER_MIN_ZOOM, GREEN_MIN_ZOOM, MAX_TEXT_CHARS, "rules-1")
    )  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()[:16]


RULES_VERSION = _fingerprint()
