"""Reading the map's features (roads, water, green, buildings, addresses, places) out of
an OpenStreetMap extract with pyosmium, and caching the compiled result on disk next to
the road graphs (keyed by the extract's SHA-256, the map rules and the format version).

Clipped extracts are normal: a way is split where it references a node the file lacks,
and a multipolygon whose members are missing is left out (libosmium's assembler skips
what it cannot close).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import osmium

from maptiles.features import FEATURES_FORMAT_VERSION, FeatureBuilder, MapFeatures
from maptiles.rules import RULES_VERSION, area_rules, node_rules, road_rule, waterway_rule
from storage.osm_pbf import OsmFileError, check_osm_path

log = logging.getLogger(__name__)


def read_map_features(
    path: Path, meta: dict[str, str] | None = None, on_object: Callable[[int], None] | None = None
) -> MapFeatures:
    """Every feature the map shows, compiled. `on_object(n)` is called every 50,000
    objects read, for a progress display."""
    check_osm_path(path)
    builder = FeatureBuilder()
    seen = 0
    try:
        processor = (
            osmium.FileProcessor(str(path))
            .with_locations()
            .with_areas()
            .with_filter(osmium.filter.EmptyTagFilter())
        )
        for obj in processor:
            seen += 1
            if on_object is not None and seen % 50_000 == 0:
                on_object(seen)
            if isinstance(obj, osmium.osm.Node):
                tags = obj.tags
                if "place" in tags or "addr:housenumber" in tags:
                    location = obj.location
                    if location.valid():
                        for rule in node_rules(tags):
                            builder.add_point(rule, location.lat, location.lon)
            elif isinstance(obj, osmium.osm.Way):
                tags = obj.tags
                rule = None
                if "highway" in tags:
                    rule = road_rule(tags)
                elif "waterway" in tags:
                    rule = waterway_rule(tags)
                if rule is not None:
                    builder.add_line(rule, _way_parts(obj))
            elif isinstance(obj, osmium.osm.Area):
                rules = area_rules(obj.tags)
                if rules:
                    rings = _area_rings(obj)
                    for rule in rules:
                        builder.add_polygon(rule, rings)
    except RuntimeError as exc:  # libosmium's parse errors arrive as RuntimeError
        raise OsmFileError(f"{path}: not a readable OpenStreetMap file ({exc})") from exc
    return builder.build({**(meta or {}), "objects_read": str(seen)})


def _way_parts(way: Any) -> list[tuple[list[float], list[float]]]:
    """The way's points as (lats, lons) runs, split where a node is missing."""
    parts: list[tuple[list[float], list[float]]] = []
    lats: list[float] = []
    lons: list[float] = []
    for ref in way.nodes:
        location = ref.location
        if not location.valid():
            if len(lats) >= 2:
                parts.append((lats, lons))
            lats, lons = [], []
            continue
        lats.append(location.lat)
        lons.append(location.lon)
    if len(lats) >= 2:
        parts.append((lats, lons))
    return parts


def _ring(ring: Any) -> tuple[list[float], list[float]]:
    lats: list[float] = []
    lons: list[float] = []
    for ref in ring:
        location = ref.location
        if location.valid():
            lats.append(location.lat)
            lons.append(location.lon)
    return lats, lons


def _area_rings(area: Any) -> list[tuple[list[float], list[float], bool]]:
    rings: list[tuple[list[float], list[float], bool]] = []
    for outer in area.outer_rings():
        lats, lons = _ring(outer)
        rings.append((lats, lons, True))
        for inner in area.inner_rings(outer):
            ilats, ilons = _ring(inner)
            rings.append((ilats, ilons, False))
    return rings


def features_cache_key(content_sha256: str) -> str:
    """Changes whenever the extract's bytes, the map rules or the array format change."""
    text = f"{content_sha256}:{RULES_VERSION}:{FEATURES_FORMAT_VERSION}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class FeatureCache:
    """A folder of compiled map features, one .npz per (extract content, rules, format)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, osm_path: Path, key: str) -> Path:
        stem = osm_path.name.split(".")[0] or "map"
        return self.directory / f"{stem}-features-{key}.npz"

    def load(self, path: Path) -> MapFeatures | None:
        """The cached features, or None when absent or unreadable (they are then rebuilt)."""
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files if k != "description_json"}
                description = json.loads(str(data["description_json"]))
            return MapFeatures.from_arrays(arrays, description)
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            log.warning("ignoring unreadable map features cache %s: %s", path, exc)
            return None

    def save(self, path: Path, features: MapFeatures) -> None:
        """Written atomically: a reader never sees a half-written file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                arrays, description = features.to_arrays()
                payload: dict[str, Any] = dict(arrays)
                payload["description_json"] = np.array(json.dumps(description, ensure_ascii=False))
                np.savez(fh, **payload)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
