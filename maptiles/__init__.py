"""Vector tiles of the map, made from the same OpenStreetMap extract the engine routes on.

Pure: no file, network or clock access. The OSM reader in `storage/` hands features to a
`FeatureBuilder`; `render_tile` answers z/x/y with a Mapbox Vector Tile; `map_style`
writes the MapLibre style that draws them.
"""

from maptiles.features import MAX_ZOOM, FeatureBuilder, LayerData, MapFeatures
from maptiles.rules import LAYERS, RULES_VERSION, MapFeatureRule
from maptiles.tiler import TileOutOfRangeError, check_tile, render_tile

__all__ = [
    "LAYERS",
    "MAX_ZOOM",
    "RULES_VERSION",
    "FeatureBuilder",
    "LayerData",
    "MapFeatureRule",
    "MapFeatures",
    "TileOutOfRangeError",
    "check_tile",
    "render_tile",
]
