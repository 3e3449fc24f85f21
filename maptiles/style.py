"""The MapLibre GL style (v8) that draws the tiles: water, green, buildings, roads by
class with casings, street names along the lines, places and house numbers, in the
extract's own language (`name`), with fonts the engine serves itself."""

from __future__ import annotations

from typing import Any

from maptiles.features import MAX_ZOOM
from maptiles.rules import BUILDINGS, GREEN, HOUSENUMBERS, PLACES, ROADS, WATER, WATERWAY

SOURCE = "tot"
FONT_REGULAR = "DejaVu Sans Book"
FONT_BOLD = "DejaVu Sans Bold"
FONT_ITALIC = "DejaVu Sans Oblique"
FONTS = (FONT_REGULAR, FONT_BOLD, FONT_ITALIC)

LAND = "#f2efe9"
WATER_COLOR = "#a9cbe8"
WATER_TEXT = "#3d6b99"
CASING = "#bdb3a6"

# road class -> (fill colour, width in px at z10, z14, z18), drawn from the least to the most
ROAD_STYLE: dict[str, tuple[str, float, float, float]] = {
    "path": ("#d4836e", 0.5, 1.0, 2.5),
    "track": ("#b08a5a", 0.5, 1.0, 2.5),
    "service": ("#ffffff", 0.5, 1.5, 8.0),
    "minor": ("#ffffff", 0.5, 2.5, 14.0),
    "tertiary": ("#ffffff", 1.0, 4.0, 18.0),
    "secondary": ("#fcf2b3", 1.5, 5.0, 20.0),
    "primary": ("#fcd98f", 2.0, 6.0, 22.0),
    "trunk": ("#f9b98d", 2.5, 7.0, 24.0),
    "motorway": ("#f4a27a", 3.0, 8.0, 26.0),
}
GREEN_COLORS: dict[str, str] = {
    "forest": "#add19e", "wood": "#add19e", "park": "#c8e6b0", "garden": "#cdebb0",
    "nature_reserve": "#c8e6b0", "cemetery": "#cfdfc6", "allotments": "#d8e6c0",
    "pitch": "#aae0cb", "playground": "#d5f0d0",
}  # fmt: skip
GREEN_DEFAULT = "#d8edc2"


def _road_rank() -> list[Any]:
    expr: list[Any] = ["match", ["get", "class"]]
    for rank, road_class in enumerate(ROAD_STYLE):
        expr += [road_class, rank]
    expr.append(0)
    return expr


def _width(scale: float, extra: float = 0.0) -> list[Any]:
    """The roads' width by class and zoom (exponential, as road widths on screen grow)."""
    stops: list[Any] = ["interpolate", ["exponential", 1.6], ["zoom"]]
    for zoom, index in ((10, 1), (14, 2), (18, 3)):
        by_class: list[Any] = ["match", ["get", "class"]]
        for road_class, style in ROAD_STYLE.items():
            by_class += [road_class, round(float(style[index]) * scale + extra, 2)]
        by_class.append(1)
        stops += [zoom, by_class]
    return stops


def _road_colors() -> list[Any]:
    expr: list[Any] = ["match", ["get", "class"]]
    for road_class, style in ROAD_STYLE.items():
        expr += [road_class, style[0]]
    expr.append("#ffffff")
    return expr


def _sort_key() -> list[Any]:
    return ["+", ["*", ["coalesce", ["get", "layer"], 0], 100], _road_rank()]


def map_style(
    *,
    tiles_url: str,
    glyphs_url: str,
    bounds: tuple[float, float, float, float],
    name: str,
    attribution: str,
) -> dict[str, Any]:
    """The style document. `tiles_url` has {z}/{x}/{y}, `glyphs_url` {fontstack}/{range};
    bounds are (south, west, north, east)."""
    south, west, north, east = bounds
    label = ["get", "name"]  # the extract's own language
    halo = {"text-halo-color": "rgba(255,255,255,0.9)", "text-halo-width": 1.4}
    green_color: list[Any] = ["match", ["get", "class"]]
    for green_class, color in GREEN_COLORS.items():
        green_color += [green_class, color]
    green_color.append(GREEN_DEFAULT)
    minor_classes = ["minor", "service", "track", "path"]
    layers: list[dict[str, Any]] = [
        {"id": "background", "type": "background", "paint": {"background-color": LAND}},
        {
            "id": "green",
            "type": "fill",
            "source": SOURCE,
            "source-layer": GREEN,
            "paint": {"fill-color": green_color, "fill-opacity": 0.9},
        },
        {
            "id": "water",
            "type": "fill",
            "source": SOURCE,
            "source-layer": WATER,
            "paint": {"fill-color": WATER_COLOR},
        },
        {
            "id": "waterway",
            "type": "line",
            "source": SOURCE,
            "source-layer": WATERWAY,
            "layout": {"line-cap": "round", "line-join": "round"},
            "paint": {
                "line-color": WATER_COLOR,
                "line-width": [
                    "interpolate",
                    ["exponential", 1.4],
                    ["zoom"],
                    8,
                    1,
                    14,
                    ["match", ["get", "class"], ["river", "canal"], 6, 2],
                    18,
                    ["match", ["get", "class"], ["river", "canal"], 20, 6],
                ],
            },
        },
        {
            "id": "buildings",
            "type": "fill",
            "source": SOURCE,
            "source-layer": BUILDINGS,
            "minzoom": 14,
            "paint": {
                "fill-color": "#ddd4c8",
                "fill-opacity": ["interpolate", ["linear"], ["zoom"], 14, 0.5, 16, 1],
            },
        },
        {
            "id": "buildings-outline",
            "type": "line",
            "source": SOURCE,
            "source-layer": BUILDINGS,
            "minzoom": 15,
            "paint": {"line-color": "#c2b6a8", "line-width": 0.7},
        },
        {
            "id": "roads-casing",
            "type": "line",
            "source": SOURCE,
            "source-layer": ROADS,
            "filter": ["!", ["in", ["get", "class"], ["literal", ["path", "track"]]]],
            "layout": {"line-cap": "round", "line-join": "round", "line-sort-key": _sort_key()},
            "paint": {
                "line-color": CASING,
                "line-width": _width(1.0, 1.5),
                "line-opacity": ["interpolate", ["linear"], ["zoom"], 11, 0, 12, 1],
            },
        },
        {
            "id": "roads-paths",
            "type": "line",
            "source": SOURCE,
            "source-layer": ROADS,
            "filter": ["in", ["get", "class"], ["literal", ["path", "track"]]],
            "layout": {"line-join": "round"},
            "paint": {
                "line-color": _road_colors(),
                "line-width": _width(1.0),
                "line-dasharray": [2, 1.5],
            },
        },
        {
            "id": "roads",
            "type": "line",
            "source": SOURCE,
            "source-layer": ROADS,
            "filter": ["!", ["in", ["get", "class"], ["literal", ["path", "track"]]]],
            "layout": {"line-cap": "round", "line-join": "round", "line-sort-key": _sort_key()},
            "paint": {"line-color": _road_colors(), "line-width": _width(1.0)},
        },
        {
            "id": "waterway-labels",
            "type": "symbol",
            "source": SOURCE,
            "source-layer": WATERWAY,
            "minzoom": 12,
            "layout": {
                "symbol-placement": "line",
                "text-field": label,
                "text-font": [FONT_ITALIC],
                "text-size": 13,
                "text-max-angle": 30,
            },
            "paint": {"text-color": WATER_TEXT, **halo},
        },
        {
            "id": "water-labels",
            "type": "symbol",
            "source": SOURCE,
            "source-layer": WATER,
            "minzoom": 13,
            "filter": ["has", "name"],
            "layout": {"text-field": label, "text-font": [FONT_ITALIC], "text-size": 13},
            "paint": {"text-color": WATER_TEXT, **halo},
        },
        {
            "id": "green-labels",
            "type": "symbol",
            "source": SOURCE,
            "source-layer": GREEN,
            "minzoom": 15,
            "filter": ["has", "name"],
            "layout": {
                "text-field": label,
                "text-font": [FONT_REGULAR],
                "text-size": 12,
                "text-max-width": 8,
            },
            "paint": {"text-color": "#3f6b35", **halo},
        },
        {
            "id": "road-labels",
            "type": "symbol",
            "source": SOURCE,
            "source-layer": ROADS,
            "minzoom": 13,
            "filter": [
                "all",
                ["has", "name"],
                ["!", ["in", ["get", "class"], ["literal", minor_classes[1:]]]],
            ],
            "layout": {
                "symbol-placement": "line",
                "text-field": label,
                "text-font": [FONT_REGULAR],
                "text-size": ["interpolate", ["linear"], ["zoom"], 13, 10, 18, 15],
                "text-max-angle": 30,
                "symbol-sort-key": ["-", 10, _road_rank()],
            },
            "paint": {"text-color": "#3b3b3b", **halo},
        },
        {
            "id": "minor-road-labels",
            "type": "symbol",
            "source": SOURCE,
            "source-layer": ROADS,
            "minzoom": 16,
            "filter": [
                "all",
                ["has", "name"],
                ["in", ["get", "class"], ["literal", minor_classes[1:]]],
            ],
            "layout": {
                "symbol-placement": "line",
                "text-field": label,
                "text-font": [FONT_REGULAR],
                "text-size": 11,
                "text-max-angle": 30,
            },
            "paint": {"text-color": "#555555", **halo},
        },
        {
            "id": "housenumbers",
            "type": "symbol",
            "source": SOURCE,
            "source-layer": HOUSENUMBERS,
            "minzoom": 17,
            "layout": {
                "text-field": ["get", "housenumber"],
                "text-font": [FONT_REGULAR],
                "text-size": 10,
            },
            "paint": {"text-color": "#6b5f52", **halo},
        },
        {
            "id": "places",
            "type": "symbol",
            "source": SOURCE,
            "source-layer": PLACES,
            "layout": {
                "text-field": label,
                "text-font": [
                    "case",
                    ["<=", ["get", "rank"], 3],
                    ["literal", [FONT_BOLD]],
                    ["literal", [FONT_REGULAR]],
                ],
                "text-size": ["match", ["get", "rank"], 1, 18, 2, 16, 3, 14, 12],
                "text-max-width": 8,
                "symbol-sort-key": ["get", "rank"],
                "text-transform": ["case", ["<=", ["get", "rank"], 3], "none", "uppercase"],
                "text-letter-spacing": ["case", ["<=", ["get", "rank"], 3], 0, 0.08],
            },
            "paint": {"text-color": "#2b2b2b", **halo},
        },
    ]
    return {
        "version": 8,
        "name": f"TOT: {name}",
        "metadata": {"tot:attribution": attribution},
        "center": [round((west + east) / 2, 6), round((south + north) / 2, 6)],
        "zoom": 13,
        "sources": {
            SOURCE: {
                "type": "vector",
                "tiles": [tiles_url],
                "minzoom": 0,
                "maxzoom": MAX_ZOOM,
                "bounds": [round(west, 6), round(south, 6), round(east, 6), round(north, 6)],
                "attribution": attribution,
            }
        },
        "glyphs": glyphs_url,
        "layers": layers,
    }


def style_fonts(style: dict[str, Any]) -> set[str]:
    """Every font the style's symbol layers may ask for."""
    fonts: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, list):
            if value and value[0] == "literal" and len(value) == 2 and isinstance(value[1], list):
                fonts.update(v for v in value[1] if isinstance(v, str))
                return
            if value and all(isinstance(v, str) for v in value) and value[0] in FONTS:
                fonts.update(value)
                return
            for item in value:
                walk(item)

    for layer in style["layers"]:
        font = layer.get("layout", {}).get("text-font")
        if font is not None:
            walk(font)
    return fonts
