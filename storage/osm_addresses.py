"""Reading what the offline geocoder indexes out of an OpenStreetMap extract (pyosmium):
addresses, named streets and named places, into a `geocoding.Gazetteer`.

- Addresses: nodes, and building ways and multipolygons (their outer ring kept, the
  point at its centroid), with addr:housenumber and addr:street (or addr:place).
- Streets: named highway ways that people live on or walk along (not footpaths,
  cycleways or steps), as lines.
- Places: named place=* nodes and areas (city, suburb, neighbourhood, square, ...).

Clipped extracts do not fail: nodes outside the file are skipped, a way keeps the nodes
it has, and an area that cannot be assembled falls back to its way's nodes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import osmium

from geocoding import Gazetteer, GazetteerBuilder
from storage.osm_pbf import OsmFileError, check_osm_path

# Kept: named ways of these highway classes.
STREET_HIGHWAYS = frozenset(
    {
        "motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential",
        "living_street", "pedestrian", "service", "road", "motorway_link", "trunk_link",
        "primary_link", "secondary_link", "tertiary_link", "track", "busway",
    }
)  # fmt: skip
READER_VERSION = "1"  # bump when what is read changes; part of the cache key

Point = tuple[float, float]


def _centroid(ring: list[Point]) -> Point:
    """Area centroid of a ring (lat, lon), by the shoelace formula on a local plane;
    the vertices' mean when the ring has no area."""
    lat0, lon0 = ring[0]
    kx = math.cos(math.radians(lat0))
    xs = [(lon - lon0) * kx for _, lon in ring]
    ys = [lat - lat0 for lat, _ in ring]
    area = cx = cy = 0.0
    n = len(ring)
    for i in range(n):
        j = (i + 1) % n
        cross = xs[i] * ys[j] - xs[j] * ys[i]
        area += cross
        cx += (xs[i] + xs[j]) * cross
        cy += (ys[i] + ys[j]) * cross
    if abs(area) < 1e-14:
        return (sum(p[0] for p in ring) / n, sum(p[1] for p in ring) / n)
    return (lat0 + cy / (3.0 * area), lon0 + cx / (3.0 * area) / kx)


def _points(nodes: osmium.osm.WayNodeList | osmium.osm.OuterRing) -> list[Point]:
    out = []
    for ref in nodes:
        location = ref.location
        if location.valid():
            out.append((location.lat, location.lon))
    return out


def read_gazetteer(path: Path, on_object: Callable[[int], None] | None = None) -> Gazetteer:
    """Everything the offline geocoder indexes in the extract at `path`."""
    check_osm_path(path)
    out = GazetteerBuilder()
    way_fallback: dict[int, tuple[str, str, str, bool, list[Point]]] = {}
    ways_with_area: set[int] = set()
    seen = 0
    try:
        processor = (
            osmium.FileProcessor(str(path))
            .with_locations()
            .with_areas(osmium.filter.KeyFilter("addr:housenumber", "place"))
        )
        for obj in processor:
            seen += 1
            if on_object is not None and seen % 100_000 == 0:
                on_object(seen)
            tags = obj.tags
            if isinstance(obj, osmium.osm.Node):
                _node(out, obj, tags)
            elif isinstance(obj, osmium.osm.Way):
                _way(out, obj, tags, way_fallback)
            elif isinstance(obj, osmium.osm.Area) and _area(out, obj, tags) and obj.from_way():
                ways_with_area.add(obj.orig_id())
    except RuntimeError as exc:  # libosmium's parse errors arrive as RuntimeError
        raise OsmFileError(f"{path}: not a readable OpenStreetMap file ({exc})") from exc
    for way_id, (street, house, city, is_place, points) in way_fallback.items():
        if way_id not in ways_with_area and points:
            lat = sum(p[0] for p in points) / len(points)
            lon = sum(p[1] for p in points) / len(points)
            out.address(street, house, lat, lon, city=city, is_place=is_place)
    return out.build({"source": path.name, "reader_version": READER_VERSION})


def _tag(tags: osmium.osm.TagList, key: str) -> str:
    return (tags.get(key) or "").strip()


def _address_tags(tags: osmium.osm.TagList) -> tuple[str, str, str, bool] | None:
    house = _tag(tags, "addr:housenumber")
    if not house:
        return None
    street = _tag(tags, "addr:street")
    is_place = False
    if not street:
        street = _tag(tags, "addr:place")
        is_place = True
    if not street:
        return None
    return street, house, _tag(tags, "addr:city"), is_place


def _node(out: GazetteerBuilder, node: osmium.osm.Node, tags: osmium.osm.TagList) -> None:
    if not node.location.valid():
        return
    lat, lon = node.location.lat, node.location.lon
    address = _address_tags(tags)
    if address is not None:
        street, house, city, is_place = address
        out.address(street, house, lat, lon, city=city, is_place=is_place)
    place, name = _tag(tags, "place"), _tag(tags, "name")
    if place and name:
        out.place(name, place, lat, lon, name_en=_tag(tags, "name:en"))


def _way(
    out: GazetteerBuilder,
    way: osmium.osm.Way,
    tags: osmium.osm.TagList,
    fallback: dict[int, tuple[str, str, str, bool, list[Point]]],
) -> None:
    name = _tag(tags, "name")
    if name and _tag(tags, "highway") in STREET_HIGHWAYS:
        points = _points(way.nodes)
        if points:
            out.street(name, points, name_en=_tag(tags, "name:en"))
    address = _address_tags(tags)
    if address is not None:
        # An area is made of a closed way when it can be; this is the fallback.
        fallback[way.id] = (*address, _points(way.nodes))


def _area(out: GazetteerBuilder, area: osmium.osm.Area, tags: osmium.osm.TagList) -> bool:
    """True when the area was taken (as an address or a place)."""
    rings = [_points(ring) for ring in area.outer_rings()]
    rings = [r for r in rings if len(r) >= 3]
    if not rings:
        return False
    ring = max(rings, key=len)
    lat, lon = _centroid(ring)
    taken = False
    address = _address_tags(tags)
    if address is not None:
        street, house, city, is_place = address
        out.address(street, house, lat, lon, city=city, is_place=is_place, ring=ring)
        taken = True
    place, name = _tag(tags, "place"), _tag(tags, "name")
    if place and name:
        out.place(name, place, lat, lon, name_en=_tag(tags, "name:en"))
        taken = True
    return taken
