"""The raw material of the offline geocoder, as read from an OpenStreetMap extract:
addresses (points, with their building's outline when they have one), named streets
(line geometry, one entry per way) and named places. Columnar, so it caches as arrays."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# place=* values that name a settlement an address can be said to be in, and how far from
# its point a settlement of that kind reaches (metres).
SETTLEMENT_REACH_M = {"city": 30_000.0, "town": 10_000.0, "village": 3_000.0}


def _floats(values: Any) -> FloatArray:
    return np.asarray(values, dtype=np.float64).reshape(-1)


def _ints(values: Any) -> IntArray:
    return np.asarray(values, dtype=np.int64).reshape(-1)


@dataclass(frozen=True)
class Gazetteer:
    # addresses: a house number on a street (addr:street) or in a place (addr:place)
    addr_street: list[str]
    addr_house: list[str]
    addr_city: list[str]  # addr:city, "" when not tagged
    addr_is_place: BoolArray
    addr_lat: FloatArray
    addr_lon: FloatArray
    ring_offsets: IntArray  # len(addresses) + 1: the outline of address i is [o[i], o[i+1])
    ring_lat: FloatArray
    ring_lon: FloatArray
    # named streets: one per OSM way, its line
    way_name: list[str]
    way_name_en: list[str]  # name:en, "" when not tagged
    way_offsets: IntArray  # len(ways) + 1
    way_lat: FloatArray
    way_lon: FloatArray
    # named places (place=*)
    place_name: list[str]
    place_name_en: list[str]
    place_type: list[str]
    place_lat: FloatArray
    place_lon: FloatArray
    meta: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n_addr = len(self.addr_street)
        checks = [
            len(self.addr_house) == n_addr,
            len(self.addr_city) == n_addr,
            self.addr_is_place.shape == (n_addr,),
            self.addr_lat.shape == (n_addr,),
            self.addr_lon.shape == (n_addr,),
            self.ring_offsets.shape == (n_addr + 1,),
            self.ring_lat.shape == self.ring_lon.shape,
            len(self.way_name_en) == len(self.way_name),
            self.way_offsets.shape == (len(self.way_name) + 1,),
            self.way_lat.shape == self.way_lon.shape,
            len(self.place_name_en) == len(self.place_name) == len(self.place_type),
            self.place_lat.shape == self.place_lon.shape == (len(self.place_name),),
        ]
        if not all(checks):
            raise ValueError("inconsistent gazetteer arrays")
        if n_addr and (
            int(self.ring_offsets[0]) != 0 or int(self.ring_offsets[-1]) != self.ring_lat.size
        ):
            raise ValueError("inconsistent building outlines")
        if self.way_name and (
            int(self.way_offsets[0]) != 0 or int(self.way_offsets[-1]) != self.way_lat.size
        ):
            raise ValueError("inconsistent street lines")

    @property
    def address_count(self) -> int:
        return len(self.addr_street)

    def ring(self, i: int) -> tuple[FloatArray, FloatArray]:
        a, b = int(self.ring_offsets[i]), int(self.ring_offsets[i + 1])
        return self.ring_lat[a:b], self.ring_lon[a:b]

    def way(self, i: int) -> tuple[FloatArray, FloatArray]:
        a, b = int(self.way_offsets[i]), int(self.way_offsets[i + 1])
        return self.way_lat[a:b], self.way_lon[a:b]

    # -- arrays in, arrays out (the cache) ---------------------------------------------

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        def text(values: list[str]) -> npt.NDArray[np.str_]:
            return np.asarray(values, dtype=np.str_) if values else np.zeros(0, dtype="<U1")

        return {
            "addr_street": text(self.addr_street),
            "addr_house": text(self.addr_house),
            "addr_city": text(self.addr_city),
            "addr_is_place": self.addr_is_place,
            "addr_lat": self.addr_lat,
            "addr_lon": self.addr_lon,
            "ring_offsets": self.ring_offsets,
            "ring_lat": self.ring_lat,
            "ring_lon": self.ring_lon,
            "way_name": text(self.way_name),
            "way_name_en": text(self.way_name_en),
            "way_offsets": self.way_offsets,
            "way_lat": self.way_lat,
            "way_lon": self.way_lon,
            "place_name": text(self.place_name),
            "place_name_en": text(self.place_name_en),
            "place_type": text(self.place_type),
            "place_lat": self.place_lat,
            "place_lon": self.place_lon,
        }

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, npt.NDArray[Any]], meta: dict[str, str] | None = None
    ) -> Gazetteer:
        def text(key: str) -> list[str]:
            return [str(v) for v in arrays[key].tolist()]

        return cls(
            addr_street=text("addr_street"),
            addr_house=text("addr_house"),
            addr_city=text("addr_city"),
            addr_is_place=np.asarray(arrays["addr_is_place"], dtype=np.bool_).reshape(-1),
            addr_lat=_floats(arrays["addr_lat"]),
            addr_lon=_floats(arrays["addr_lon"]),
            ring_offsets=_ints(arrays["ring_offsets"]),
            ring_lat=_floats(arrays["ring_lat"]),
            ring_lon=_floats(arrays["ring_lon"]),
            way_name=text("way_name"),
            way_name_en=text("way_name_en"),
            way_offsets=_ints(arrays["way_offsets"]),
            way_lat=_floats(arrays["way_lat"]),
            way_lon=_floats(arrays["way_lon"]),
            place_name=text("place_name"),
            place_name_en=text("place_name_en"),
            place_type=text("place_type"),
            place_lat=_floats(arrays["place_lat"]),
            place_lon=_floats(arrays["place_lon"]),
            meta=dict(meta or {}),
        )


class GazetteerBuilder:
    """Collects records one by one (the OSM reader's side) into a Gazetteer."""

    def __init__(self) -> None:
        self.addr_street: list[str] = []
        self.addr_house: list[str] = []
        self.addr_city: list[str] = []
        self.addr_is_place: list[bool] = []
        self.addr_lat: list[float] = []
        self.addr_lon: list[float] = []
        self.ring_offsets: list[int] = [0]
        self.ring_lat: list[float] = []
        self.ring_lon: list[float] = []
        self.way_name: list[str] = []
        self.way_name_en: list[str] = []
        self.way_offsets: list[int] = [0]
        self.way_lat: list[float] = []
        self.way_lon: list[float] = []
        self.place_name: list[str] = []
        self.place_name_en: list[str] = []
        self.place_type: list[str] = []
        self.place_lat: list[float] = []
        self.place_lon: list[float] = []

    def address(
        self,
        street: str,
        house: str,
        lat: float,
        lon: float,
        *,
        city: str = "",
        is_place: bool = False,
        ring: list[tuple[float, float]] | None = None,
    ) -> None:
        self.addr_street.append(street)
        self.addr_house.append(house)
        self.addr_city.append(city)
        self.addr_is_place.append(is_place)
        self.addr_lat.append(lat)
        self.addr_lon.append(lon)
        for rlat, rlon in ring or ():
            self.ring_lat.append(rlat)
            self.ring_lon.append(rlon)
        self.ring_offsets.append(len(self.ring_lat))

    def street(self, name: str, points: list[tuple[float, float]], *, name_en: str = "") -> None:
        if not points:
            return
        self.way_name.append(name)
        self.way_name_en.append(name_en)
        for plat, plon in points:
            self.way_lat.append(plat)
            self.way_lon.append(plon)
        self.way_offsets.append(len(self.way_lat))

    def place(self, name: str, kind: str, lat: float, lon: float, *, name_en: str = "") -> None:
        self.place_name.append(name)
        self.place_name_en.append(name_en)
        self.place_type.append(kind)
        self.place_lat.append(lat)
        self.place_lon.append(lon)

    def build(self, meta: dict[str, str] | None = None) -> Gazetteer:
        return Gazetteer(
            addr_street=self.addr_street,
            addr_house=self.addr_house,
            addr_city=self.addr_city,
            addr_is_place=np.asarray(self.addr_is_place, dtype=np.bool_),
            addr_lat=_floats(self.addr_lat),
            addr_lon=_floats(self.addr_lon),
            ring_offsets=_ints(self.ring_offsets),
            ring_lat=_floats(self.ring_lat),
            ring_lon=_floats(self.ring_lon),
            way_name=self.way_name,
            way_name_en=self.way_name_en,
            way_offsets=_ints(self.way_offsets),
            way_lat=_floats(self.way_lat),
            way_lon=_floats(self.way_lon),
            place_name=self.place_name,
            place_name_en=self.place_name_en,
            place_type=self.place_type,
            place_lat=_floats(self.place_lat),
            place_lon=_floats(self.place_lon),
            meta=dict(meta or {}),
        )
