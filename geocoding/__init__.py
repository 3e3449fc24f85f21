"""Geocoding core: addresses to points and back, offline from an OpenStreetMap extract.

Pure: no file, network or clock access. `storage.osm_addresses` reads the extract into a
`Gazetteer`; `GeocodeIndex` searches it; `Geocoder` is the port the providers implement
(`OfflineGeocoder` here, Nominatim and Yandex in `storage/`).
"""

from geocoding.gazetteer import Gazetteer, GazetteerBuilder
from geocoding.housenumber import HouseNumber, house_match, parse_house_number, split_house_number
from geocoding.index import GeocodeIndex
from geocoding.model import (
    MAX_LIMIT,
    MAX_QUERY_CHARS,
    Geocoder,
    GeocoderError,
    GeocodeResult,
    GeocoderUnavailableError,
    InvalidQueryError,
    Kind,
    Language,
    check_query,
)
from geocoding.offline import OfflineGeocoder

__all__ = [
    "MAX_LIMIT",
    "MAX_QUERY_CHARS",
    "Gazetteer",
    "GazetteerBuilder",
    "GeocodeIndex",
    "GeocodeResult",
    "Geocoder",
    "GeocoderError",
    "GeocoderUnavailableError",
    "HouseNumber",
    "InvalidQueryError",
    "Kind",
    "Language",
    "OfflineGeocoder",
    "check_query",
    "house_match",
    "parse_house_number",
    "split_house_number",
]
