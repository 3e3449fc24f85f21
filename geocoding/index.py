"""The offline geocoder's index: forward search over street and place names with house
numbers, and reverse lookup, built from a Gazetteer. Pure: arrays in, answers out.

Forward search:

1. The query's house number is split off ("27/4", "5 к1", "5с2", `housenumber`).
2. The rest is cut into words, each folded to its spelling-insensitive key (`text`):
   Cyrillic and Latin spellings of a word share a key; abbreviations of street types
   share their type's key.
3. Each query word is matched against the index's vocabulary: exactly, as a prefix of a
   word (the query is being typed, or abbreviated: "b" for Большая), or within one or two
   edits (`fuzzy`, a deletion dictionary). Quality: exact 1, prefix 0.72-0.95, one edit
   0.65-0.7, two edits 0.55.
4. Each name (a street name, a place name) scores the weighted share of the query's words
   it matches (weights: inverse document frequency; street types and "de", "da" count a
   quarter), times a factor for the share of its own words matched.
5. With a house number, the best names' houses are matched against it (exact, or the
   same number with a part missing); a name without that house answers as the street.
6. `near` adds a proximity bias (up to 0.15 of the score, halved at 2 km).

Reverse: the building the point is in, else the nearest address point within
`address_radius_m`, else the nearest named street line within `street_radius_m`, else the
nearest named place within `place_radius_m`.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from geocoding.fuzzy import DeletionIndex, max_edits
from geocoding.gazetteer import SETTLEMENT_REACH_M, FloatArray, Gazetteer, IntArray
from geocoding.housenumber import HouseNumber, house_match, parse_house_number, split_house_number
from geocoding.model import GeocodeResult, Kind, Language, check_query
from geocoding.text import (
    FOLDED_STOPWORDS,
    TYPE_OF_SPELLING,
    display_name,
    fold_query_token,
    fold_word,
    is_type_word,
    name_keys,
    words,
)
from routing.geo import LocalProjection, haversine_m, haversine_scalar_m, validate_lat_lon

STREET_CLUSTER_GAP_M = 150.0  # ways of one name closer than this are one street
DENSIFY_STEP_M = 10.0  # street lines as points this far apart, for the reverse lookup
LIGHT_WORD_FACTOR = 0.25  # street types and "de", "da" weigh this much of a word
NEAR_BIAS = 0.15  # the most proximity adds to a score
NEAR_HALF_M = 2_000.0  # at this distance proximity adds half of NEAR_BIAS
CLUSTERS_PER_NAME = 3  # one name may be several streets (areas): at most this many answers
MAX_QUERY_WORDS = 12  # words of a query beyond these are not looked at
MAX_FUZZY_CHARS = 32  # longer words match exactly or as a prefix only


@dataclass
class _Entry:
    name: str
    name_en: str
    kind: Kind
    keys: list[str]  # folded words, compounds last
    weight: float = 0.0  # sum of the word weights, compounds excluded
    clusters: list[int] = field(default_factory=list)
    addresses: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Match:
    word_id: int
    quality: float


class GeocodeIndex:
    """Built once per extract (a few seconds at most); search and reverse are then
    read-only and may be called from any thread."""

    def __init__(
        self,
        gazetteer: Gazetteer,
        *,
        address_radius_m: float = 60.0,
        street_radius_m: float = 250.0,
        place_radius_m: float = 2_000.0,
    ) -> None:
        self.gazetteer = g = gazetteer
        self.address_radius_m = address_radius_m
        self.street_radius_m = street_radius_m
        self.place_radius_m = place_radius_m
        lats = np.concatenate([g.addr_lat, g.way_lat, g.place_lat])
        lons = np.concatenate([g.addr_lon, g.way_lon, g.place_lon])
        if lats.size:
            self.projection = LocalProjection(float(lats.mean()), float(lons.mean()))
        else:
            self.projection = LocalProjection(0.0, 0.0)
        self._settlements()
        self.entries: list[_Entry] = []
        self._entry_of: dict[tuple[str, str], int] = {}
        self._streets()
        self._places()
        self._addresses()
        self._finish_entries()
        self._vocabulary()
        self._reverse_structures()

    # -- building ------------------------------------------------------------------------

    def _settlements(self) -> None:
        g = self.gazetteer
        keep = [i for i, t in enumerate(g.place_type) if t in SETTLEMENT_REACH_M]
        self._settle_name = [g.place_name[i] for i in keep]
        self._settle_name_en = [g.place_name_en[i] for i in keep]
        self._settle_lat = g.place_lat[keep] if keep else np.zeros(0)
        self._settle_lon = g.place_lon[keep] if keep else np.zeros(0)
        self._settle_reach = np.array([SETTLEMENT_REACH_M[g.place_type[i]] for i in keep])
        self._settle_keys = [name_keys(n) for n in self._settle_name]

    def _city_index(self, lat: FloatArray, lon: FloatArray) -> IntArray:
        """Per point, the settlement it is in (nearest relative to its reach), else -1."""
        out = np.full(lat.shape, -1, dtype=np.int64)
        if not self._settle_name or not lat.size:
            return out
        best = np.full(lat.shape, np.inf)
        for s in range(len(self._settle_name)):
            ratio = haversine_m(lat, lon, self._settle_lat[s], self._settle_lon[s])
            ratio = ratio / self._settle_reach[s]
            better = (ratio < best) & (ratio <= 1.0)
            out[better] = s
            best = np.where(better, ratio, best)
        return out

    def _entry(self, kind: Kind, name: str, name_en: str = "") -> int:
        keys = name_keys(name)
        key = (kind, " ".join(keys))
        eid = self._entry_of.get(key)
        if eid is None:
            eid = self._entry_of[key] = len(self.entries)
            self.entries.append(_Entry(name, name_en, kind, keys))
        elif name_en and not self.entries[eid].name_en:
            self.entries[eid].name_en = name_en
        return eid

    def _streets(self) -> None:
        """Ways of one name, clustered by proximity: one street per cluster, its
        representative point the vertex nearest the cluster's middle."""
        g = self.gazetteer
        by_name: dict[str, list[int]] = defaultdict(list)
        for w, name in enumerate(g.way_name):
            if name.strip():
                by_name[name].append(w)
        cl_lat: list[float] = []
        cl_lon: list[float] = []
        cl_length: list[float] = []
        cl_entry: list[int] = []
        self._way_entry = np.full(len(g.way_name), -1, dtype=np.int64)
        way_length = _way_lengths_m(g)
        for name, ways in by_name.items():
            name_en = next((g.way_name_en[w] for w in ways if g.way_name_en[w]), "")
            eid = self._entry(name_en=name_en, kind="street", name=name)
            self._way_entry[ways] = eid
            for group in self._cluster_ways(ways):
                lat = np.concatenate([g.way(w)[0] for w in group])
                lon = np.concatenate([g.way(w)[1] for w in group])
                xy = self.projection.to_xy(lat, lon)
                mid = int(np.argmin(((xy - xy.mean(axis=0)) ** 2).sum(axis=1)))
                length = float(way_length[group].sum())
                self.entries[eid].clusters.append(len(cl_lat))
                cl_lat.append(float(lat[mid]))
                cl_lon.append(float(lon[mid]))
                cl_length.append(length)
                cl_entry.append(eid)
        self._cl_lat = cl_lat
        self._cl_lon = cl_lon
        self._cl_length = cl_length
        self._cl_entry = cl_entry

    def _cluster_ways(self, ways: list[int]) -> list[list[int]]:
        if len(ways) == 1:
            return [ways]
        g = self.gazetteer
        owner = np.concatenate([np.full(g.way(w)[0].size, k) for k, w in enumerate(ways)])
        lat = np.concatenate([g.way(w)[0] for w in ways])
        lon = np.concatenate([g.way(w)[1] for w in ways])
        parent = list(range(len(ways)))

        def root(k: int) -> int:
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        pairs = cKDTree(self.projection.to_xy(lat, lon)).query_pairs(
            STREET_CLUSTER_GAP_M, output_type="ndarray"
        )
        for a, b in zip(owner[pairs[:, 0]].tolist(), owner[pairs[:, 1]].tolist(), strict=True):
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[rb] = ra
        groups: dict[int, list[int]] = defaultdict(list)
        for k, w in enumerate(ways):
            groups[root(k)].append(w)
        return list(groups.values())

    def _add_cluster(self, eid: int, lat: float, lon: float, length_m: float = 0.0) -> None:
        self.entries[eid].clusters.append(len(self._cl_lat))
        self._cl_lat.append(lat)
        self._cl_lon.append(lon)
        self._cl_length.append(length_m)
        self._cl_entry.append(eid)

    def _places(self) -> None:
        g = self.gazetteer
        self._place_entry = np.full(len(g.place_name), -1, dtype=np.int64)
        for p, name in enumerate(g.place_name):
            if not name.strip():
                continue
            eid = self._entry("place", name, g.place_name_en[p])
            self._place_entry[p] = eid
            self._add_cluster(eid, float(g.place_lat[p]), float(g.place_lon[p]))

    def _addresses(self) -> None:
        """Each address under its street's (or place's) name; one per house: repeated
        tags of a house (a shop inside the building) within 100 m are the same house."""
        g = self.gazetteer
        n = g.address_count
        self.addr_entry = np.full(n, -1, dtype=np.int64)
        self.addr_number: list[HouseNumber | None] = [None] * n
        self.addr_keep = np.zeros(n, dtype=np.bool_)
        city = self._city_index(g.addr_lat, g.addr_lon)
        self.addr_city = [
            g.addr_city[i] or (self._settle_name[city[i]] if city[i] >= 0 else "") for i in range(n)
        ]
        has_ring = np.diff(g.ring_offsets) > 0
        # buildings first, so a house's outline wins over a point inside it
        order = sorted(range(n), key=lambda i: (not has_ring[i], i))
        seen: dict[tuple[int, str], list[int]] = defaultdict(list)
        for i in order:
            name = g.addr_street[i]
            number = parse_house_number(g.addr_house[i])
            if not name.strip() or number is None:
                continue
            kind: Kind = "place" if g.addr_is_place[i] else "street"
            eid = self._entry(kind, name)
            self.addr_entry[i] = eid
            self.addr_number[i] = number
            twins = seen[(eid, number.key)]
            if any(
                haversine_scalar_m(g.addr_lat[i], g.addr_lon[i], g.addr_lat[j], g.addr_lon[j])
                < 100.0
                for j in twins
            ):
                continue
            twins.append(i)
            self.addr_keep[i] = True
            self.entries[eid].addresses.append(i)

    def _finish_entries(self) -> None:
        """A name known only from its addresses gets a point: its address nearest the
        addresses' middle."""
        g = self.gazetteer
        for eid, entry in enumerate(self.entries):
            if entry.clusters or not entry.addresses:
                continue
            idx = np.asarray(entry.addresses)
            xy = self.projection.to_xy(g.addr_lat[idx], g.addr_lon[idx])
            mid = int(idx[np.argmin(((xy - xy.mean(axis=0)) ** 2).sum(axis=1))])
            self._add_cluster(eid, float(g.addr_lat[mid]), float(g.addr_lon[mid]))
        cl_lat = np.asarray(self._cl_lat, dtype=np.float64)
        cl_lon = np.asarray(self._cl_lon, dtype=np.float64)
        city = self._city_index(cl_lat, cl_lon)
        self._cl_city = [self._settle_name[c] if c >= 0 else "" for c in city.tolist()]
        self._cl_city_en = [self._settle_name_en[c] if c >= 0 else "" for c in city.tolist()]

    def _vocabulary(self) -> None:
        """Words → the names holding them (postings), weights, prefixes and typos."""
        postings: dict[str, set[int]] = defaultdict(set)
        for eid, entry in enumerate(self.entries):
            keys = list(entry.keys)
            if entry.name_en:
                keys += [k for k in name_keys(entry.name_en) if k not in keys]
            entry.keys = keys
            for key in keys:
                postings[key].add(eid)
        self.words_sorted = sorted(postings)
        self.word_id = {w: i for i, w in enumerate(self.words_sorted)}
        n = max(len(self.entries), 1)
        self.postings = [np.fromiter(sorted(postings[w]), np.int64) for w in self.words_sorted]
        weights = []
        for w in self.words_sorted:
            weight = math.log(1.0 + n / len(postings[w]))
            if is_type_word(w) or w in FOLDED_STOPWORDS:
                weight *= LIGHT_WORD_FACTOR
            weights.append(weight)
        self.word_weight = np.asarray(weights, dtype=np.float64)
        self.unmatched_weight = float(np.median(self.word_weight)) if weights else 1.0
        for entry in self.entries:
            own = name_keys(entry.name)
            compounds = {fold_word(k) for k in own[len(words(entry.name)) :]}
            entry.weight = sum(
                self.word_weight[self.word_id[k]] for k in set(own) if k not in compounds
            )
        self.entry_weight = np.asarray([max(e.weight, 1e-9) for e in self.entries])
        self.fuzzy = DeletionIndex(w for w in self.words_sorted if not w.isdigit())
        self._type_fuzzy = DeletionIndex(TYPE_OF_SPELLING)
        self._prefix_cache: dict[str, list[_Match]] = {}

    def _reverse_structures(self) -> None:
        g = self.gazetteer
        keep = np.flatnonzero(self.addr_keep)
        self._rev_addr = keep
        self._rev_addr_tree = (
            cKDTree(self.projection.to_xy(g.addr_lat[keep], g.addr_lon[keep]))
            if keep.size
            else None
        )
        radius = 0.0
        for i in keep.tolist():
            rlat, rlon = g.ring(i)
            if rlat.size:
                d = haversine_m(rlat, rlon, g.addr_lat[i], g.addr_lon[i])
                radius = max(radius, float(d.max()))
        self._max_ring_m = min(radius, 500.0)
        # street lines as points DENSIFY_STEP_M apart, each knowing its segment
        xy = self._way_xy = self.projection.to_xy(g.way_lat, g.way_lon)
        way_of_point = np.repeat(np.arange(len(g.way_name)), np.diff(g.way_offsets))
        named = self._way_entry[way_of_point] >= 0 if xy.shape[0] else np.zeros(0, np.bool_)
        starts = np.flatnonzero(named)
        seg = starts[(starts + 1 < xy.shape[0])]
        seg = seg[way_of_point[np.minimum(seg + 1, xy.shape[0] - 1)] == way_of_point[seg]]
        if seg.size:
            delta = xy[seg + 1] - xy[seg]
            steps = np.maximum(1, np.ceil(np.hypot(delta[:, 0], delta[:, 1]) / DENSIFY_STEP_M))
            steps = steps.astype(np.int64)
            owner = np.repeat(np.arange(seg.size), steps + 1)
            first = np.repeat(np.cumsum(steps + 1) - (steps + 1), steps + 1)
            t = (np.arange(owner.size) - first) / steps[owner]
            points = xy[seg[owner]] + delta[owner] * t[:, None]
            self._seg_a = seg[owner]
            self._seg_way = way_of_point[self._seg_a]
            self._seg_tree: cKDTree | None = cKDTree(points)
        else:
            self._seg_a = self._seg_way = np.zeros(0, dtype=np.int64)
            self._seg_tree = None
        places = np.flatnonzero(self._place_entry >= 0)
        self._rev_place = places
        self._rev_place_tree = (
            cKDTree(self.projection.to_xy(g.place_lat[places], g.place_lon[places]))
            if places.size
            else None
        )

    # -- forward -------------------------------------------------------------------------

    def _prefix_matches(self, word: str) -> list[_Match]:
        cached = self._prefix_cache.get(word)
        if cached is not None:
            return cached
        lo = bisect.bisect_left(self.words_sorted, word)
        hi = bisect.bisect_left(self.words_sorted, word + "\U0010ffff")
        out = [
            _Match(i, 0.72 + 0.23 * len(word) / len(self.words_sorted[i]))
            for i in range(lo, hi)
            if self.words_sorted[i] != word
        ]
        if len(self._prefix_cache) > 20_000:
            self._prefix_cache.clear()
        self._prefix_cache[word] = out
        return out

    def _matches(self, word: str, typed_chars: int, last: bool) -> list[_Match]:
        """Vocabulary words matching a query word (folded; `typed_chars` long as typed):
        the word itself; words it begins (when it is the query's last word, being typed,
        or no word of the index is spelled so: an abbreviation, "b" for Большая); words
        within the edits its length allows; a street type it misspells."""
        out: list[_Match] = []
        exact = self.word_id.get(word)
        if exact is not None:
            out.append(_Match(exact, 1.0))
        if word.isdigit() or is_type_word(word):
            return out
        if last or exact is None:
            out.extend(self._prefix_matches(word))
        if len(word) <= MAX_FUZZY_CHARS:
            for candidate, edits in self.fuzzy.lookup(word, max_edits(typed_chars)):
                quality = (0.7 if typed_chars >= 6 else 0.65) if edits == 1 else 0.55
                out.append(_Match(self.word_id[candidate], quality))
            if exact is None:
                for type_word, _ in self._type_fuzzy.lookup(word, max_edits(typed_chars)):
                    type_id = self.word_id.get(TYPE_OF_SPELLING[type_word])
                    if type_id is not None:
                        out.append(_Match(type_id, 0.8))
        return out

    def _take_city(self, keys: list[tuple[str, int]]) -> tuple[list[tuple[str, int]], int | None]:
        """A settlement named in the query ("Нижний Новгород, ...") is a filter, not a
        street's word: its words are taken out."""
        folded = [k for k, _ in keys]
        for s, settle in enumerate(self._settle_keys):
            if settle and all(k in folded for k in settle):
                rest = list(keys)
                for k in settle:
                    rest.pop([r for r, _ in rest].index(k))
                if rest:
                    return rest, s
        return keys, None

    def name_scores(self, keys: list[tuple[str, int]]) -> npt.NDArray[np.float64]:
        """Per name entry, how well it matches the query's words (0..1): each word
        folded, with its length as typed (which sets the edits allowed)."""
        n = len(self.entries)
        total = np.zeros(n, dtype=np.float64)
        query_weight = 0.0
        keys = keys[:MAX_QUERY_WORDS]
        for k, (key, typed_chars) in enumerate(keys):
            matches = self._matches(key, typed_chars, last=k == len(keys) - 1)
            if not matches:
                query_weight += self.unmatched_weight
                continue
            # A word weighs what its own spelling weighs (else its best match): a match
            # may not count for more, or "da" would weigh as much as "Damão" it begins.
            exact = self.word_id.get(key)
            own = (
                float(self.word_weight[exact])
                if exact is not None
                else max(float(self.word_weight[m.word_id]) for m in matches)
            )
            best = np.zeros(n, dtype=np.float64)
            for m in matches:
                value = m.quality * min(float(self.word_weight[m.word_id]), own)
                idx = self.postings[m.word_id]
                best[idx] = np.maximum(best[idx], value)
            query_weight += own
            total += best
        if query_weight <= 0.0:
            return total
        coverage = np.minimum(total / self.entry_weight, 1.0)
        return np.asarray((total / query_weight) * (0.75 + 0.25 * coverage), dtype=np.float64)

    def search(
        self,
        query: str,
        *,
        near: tuple[float, float] | None = None,
        limit: int = 10,
        language: Language = "ru",
    ) -> list[GeocodeResult]:
        text = check_query(query, limit)
        if near is not None:
            near = validate_lat_lon(*near)
        street_text, house = split_house_number(text)
        keys = [
            (fold_query_token(w), len(w))
            for w in words(street_text)
            if not (w.isdigit() and len(w) >= 5)  # a postcode
        ]
        keys, city = self._take_city(keys)
        if not keys or not self.entries:
            return []
        scores = self.name_scores(keys)
        k = min(len(scores), max(limit * 4, 30))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[scores[top] > 0.2]
        top = top[np.argsort(-scores[top], kind="stable")]
        results: list[tuple[float, float, GeocodeResult]] = []
        for eid in top.tolist():
            text_score = float(scores[eid])
            if house is not None:
                found = self._houses(eid, house, text_score, language)
                if found:
                    results.extend(found)
                    continue
                text_score *= 0.5  # the street without the house asked for
            results.extend(self._clusters(eid, text_score, language))
        final: list[tuple[float, float, GeocodeResult]] = []
        for score, tie, result in results:
            if city is not None and result.city and result.city != self._settle_name[city]:
                score *= 0.8
            distance = None
            if near is not None:
                distance = haversine_scalar_m(near[0], near[1], result.lat, result.lon)
                score = score * (1.0 - NEAR_BIAS) + NEAR_BIAS * NEAR_HALF_M / (
                    NEAR_HALF_M + distance
                )
            final.append(
                (
                    score,
                    tie,
                    _replace(result, score=round(min(score, 1.0), 4), distance_m=distance),
                )
            )
        final.sort(key=lambda item: (-item[0], -item[1]))
        out: list[GeocodeResult] = []
        seen: set[tuple[str, str]] = set()
        for _, _, result in final:
            key = (result.kind, result.label)
            if key in seen:
                continue
            seen.add(key)
            out.append(result)
            if len(out) == limit:
                break
        return out

    def _houses(
        self, eid: int, house: HouseNumber, text_score: float, language: Language
    ) -> list[tuple[float, float, GeocodeResult]]:
        out = []
        for i in self.entries[eid].addresses:
            number = self.addr_number[i]
            if number is None:
                continue
            quality = house_match(house, number)
            if quality <= 0.0:
                continue
            score = text_score * (0.55 + 0.45 * quality)
            out.append((score, 0.0, self._address_result(i, language)))
        return out

    def _address_result(self, i: int, language: Language) -> GeocodeResult:
        g = self.gazetteer
        entry = self.entries[int(self.addr_entry[i])]
        street = self._entry_name(entry, language)
        city = self.addr_city[i]
        city_shown = display_name(city, language) if city else None
        house = g.addr_house[i]
        label = f"{street}, {house}" + (f", {city_shown}" if city_shown else "")
        return GeocodeResult(
            label=label,
            kind="address",
            lat=float(g.addr_lat[i]),
            lon=float(g.addr_lon[i]),
            street=street,
            house_number=house,
            city=city_shown,
        )

    def _entry_name(self, entry: _Entry, language: Language) -> str:
        if language == "en" and entry.name_en:
            return entry.name_en
        return display_name(entry.name, language)

    def _clusters(
        self, eid: int, text_score: float, language: Language
    ) -> list[tuple[float, float, GeocodeResult]]:
        entry = self.entries[eid]
        clusters = sorted(entry.clusters, key=lambda c: -self._cl_length[c])
        return [
            (text_score, self._cl_length[c], self._cluster_result(c, language))
            for c in clusters[: CLUSTERS_PER_NAME if len(clusters) > 1 else 1]
        ]

    def _cluster_result(self, c: int, language: Language) -> GeocodeResult:
        entry = self.entries[self._cl_entry[c]]
        name = self._entry_name(entry, language)
        city = self._cl_city[c]
        if language == "en" and self._cl_city_en[c]:
            city = self._cl_city_en[c]
        city_shown = display_name(city, language) if city else None
        same = city_shown is not None and fold_word(city_shown) == fold_word(name)
        label = name + (f", {city_shown}" if city_shown and not same else "")
        return GeocodeResult(
            label=label,
            kind=entry.kind,
            lat=self._cl_lat[c],
            lon=self._cl_lon[c],
            street=name if entry.kind == "street" else None,
            city=city_shown,
        )

    # -- reverse -------------------------------------------------------------------------

    def reverse(self, lat: float, lon: float, *, language: Language = "ru") -> GeocodeResult | None:
        lat, lon = validate_lat_lon(lat, lon)
        xy = self.projection.to_xy(np.array([lat]), np.array([lon]))[0]
        g = self.gazetteer
        if self._rev_addr_tree is not None:
            inside = self._building_at(xy, lat, lon)
            if inside is not None:
                return _replace(self._address_result(inside, language), distance_m=0.0, score=1.0)
            dist, k = self._rev_addr_tree.query(xy, distance_upper_bound=self.address_radius_m)
            if math.isfinite(dist):
                i = int(self._rev_addr[int(k)])
                d = haversine_scalar_m(lat, lon, float(g.addr_lat[i]), float(g.addr_lon[i]))
                return _replace(
                    self._address_result(i, language),
                    distance_m=round(d, 1),
                    score=round(1.0 - d / (2 * self.address_radius_m), 4),
                )
        if self._seg_tree is not None:
            street = self._street_at(xy, lat, lon, language)
            if street is not None:
                return street
        if self._rev_place_tree is not None:
            dist, k = self._rev_place_tree.query(xy, distance_upper_bound=self.place_radius_m)
            if math.isfinite(dist):
                p = int(self._rev_place[int(k)])
                eid = int(self._place_entry[p])
                c = next(c for c in self.entries[eid].clusters)
                d = haversine_scalar_m(lat, lon, float(g.place_lat[p]), float(g.place_lon[p]))
                result = self._cluster_result(c, language)
                return _replace(
                    result,
                    lat=float(g.place_lat[p]),
                    lon=float(g.place_lon[p]),
                    distance_m=round(d, 1),
                    score=round(0.5 * (1.0 - d / (2 * self.place_radius_m)), 4),
                )
        return None

    def _building_at(self, xy: npt.NDArray[np.float64], lat: float, lon: float) -> int | None:
        assert self._rev_addr_tree is not None
        g = self.gazetteer
        if self._max_ring_m <= 0.0:
            return None
        best: tuple[float, int] | None = None
        for k in self._rev_addr_tree.query_ball_point(xy, self._max_ring_m):
            i = int(self._rev_addr[k])
            rlat, rlon = g.ring(i)
            if rlat.size < 3:
                continue
            if not (rlat.min() <= lat <= rlat.max() and rlon.min() <= lon <= rlon.max()):
                continue
            if _inside(lat, lon, rlat, rlon):
                d = haversine_scalar_m(lat, lon, float(g.addr_lat[i]), float(g.addr_lon[i]))
                if best is None or d < best[0]:
                    best = (d, i)
        return None if best is None else best[1]

    def _street_at(
        self, xy: npt.NDArray[np.float64], lat: float, lon: float, language: Language
    ) -> GeocodeResult | None:
        assert self._seg_tree is not None
        n = int(self._seg_tree.n)
        _, ks = self._seg_tree.query(
            xy, k=min(8, n), distance_upper_bound=self.street_radius_m + DENSIFY_STEP_M
        )
        ks = np.atleast_1d(ks)
        best: tuple[float, int, npt.NDArray[np.float64]] | None = None
        for k in ks.tolist():
            if k >= n:
                continue
            w, a = int(self._seg_way[k]), int(self._seg_a[k])
            end = int(self.gazetteer.way_offsets[w + 1]) - 1
            p = self._way_xy[a]
            q = self._way_xy[min(a + 1, end)]
            foot = _foot(xy, p, q)
            d = float(np.hypot(*(xy - foot)))
            if d <= self.street_radius_m and (best is None or d < best[0]):
                best = (d, w, foot)
        if best is None:
            return None
        d, w, foot = best
        eid = int(self._way_entry[w])
        foot_lat = self.projection.lat0 + float(foot[1]) / self.projection.ky
        foot_lon = self.projection.lon0 + float(foot[0]) / self.projection.kx
        # the street's cluster nearest the point, for its city
        clusters = self.entries[eid].clusters
        c = min(
            clusters,
            key=lambda c: haversine_scalar_m(lat, lon, self._cl_lat[c], self._cl_lon[c]),
        )
        return _replace(
            self._cluster_result(c, language),
            lat=round(foot_lat, 7),
            lon=round(foot_lon, 7),
            distance_m=round(d, 1),
            score=round(0.75 * (1.0 - d / (2 * self.street_radius_m)), 4),
        )

    # -- figures -------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        kinds = Counter(e.kind for e in self.entries)
        return {
            "addresses": int(self.addr_keep.sum()),
            "street_names": kinds["street"],
            "place_names": kinds["place"],
            "streets": len(self._cl_lat),
            "words": len(self.words_sorted),
        }


def _replace(result: GeocodeResult, **changes: object) -> GeocodeResult:
    from dataclasses import replace

    return replace(result, **changes)  # type: ignore[arg-type]


def _way_lengths_m(g: Gazetteer) -> FloatArray:
    """Each way's length."""
    n = len(g.way_name)
    if g.way_lat.size < 2:
        return np.zeros(n)
    step = haversine_m(g.way_lat[:-1], g.way_lon[:-1], g.way_lat[1:], g.way_lon[1:])
    way_of_point = np.repeat(np.arange(n), np.diff(g.way_offsets))
    step = np.where(way_of_point[:-1] == way_of_point[1:], step, 0.0)
    cumulative = np.concatenate([[0.0], np.cumsum(step)])
    ends = np.maximum(g.way_offsets[1:] - 1, g.way_offsets[:-1])
    return np.asarray(cumulative[ends] - cumulative[g.way_offsets[:-1]], dtype=np.float64)


def _inside(lat: float, lon: float, ring_lat: FloatArray, ring_lon: FloatArray) -> bool:
    """Even-odd rule: is (lat, lon) inside the ring?"""
    y0, x0 = ring_lat, ring_lon
    y1, x1 = np.roll(ring_lat, -1), np.roll(ring_lon, -1)
    crosses = (y0 > lat) != (y1 > lat)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x0 + (lat - y0) * (x1 - x0) / (y1 - y0)
    return bool(np.count_nonzero(crosses & (lon < x_at)) % 2 == 1)


def _foot(
    xy: npt.NDArray[np.float64], p: npt.NDArray[np.float64], q: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """The point of segment p-q nearest xy."""
    d = q - p
    length2 = float(d @ d)
    if length2 == 0.0:
        return p
    t = min(1.0, max(0.0, float((xy - p) @ d) / length2))
    return np.asarray(p + t * d, dtype=np.float64)
