"""Geocoding benchmark: the offline index against a linear fuzzy scan (rapidfuzz) in the
same run.

    .venv/bin/python -m benchmarks.geocode [--quick] [--seed N] [--porto PATH] [--nn PATH]

(a) Search latency over Porto's named streets (../shared/osm/porto.osm.pbf): queries drawn
    (seeded) from the street names — as written, cut to a prefix, or with one typo, some
    lower-cased without accents — timed per query; top-1 and top-5 say whether the
    street asked for came back. The baseline scans every distinct name with
    rapidfuzz's WRatio (C++).
(b) Address recall on central Nizhny Novgorod (data/osm/nizhny_novgorod_center.osm.pbf):
    a seeded sample of the extract's own addresses (10 %; the index holds all of them, as
    it must to find them), each asked once as "street number" in one of four styles —
    Cyrillic with one typo in the street name; Cyrillic with abbreviations (ул., пр.,
    д.) and a typo; transliterated (BGN, ICAO or informal spelling, type words spelled
    out, abbreviated or left out); transliterated with a typo. Found: the first result
    lies within 50 m of the address's own point. The baseline scans "street, number"
    labels of every address with WRatio.

The index's weights were tuned on seed 1; the figures the README reports are from other
seeds (the default is 2026), never looked at while tuning. The last line printed is one
JSON object with `search_p99_ms` and `address_recall` (and the baseline's figures).
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    # `python benchmarks/geocode.py`: run it as `python -m benchmarks.geocode` from the
    # project's root, so the project's packages are importable.
    import runpy
    from pathlib import Path

    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    runpy.run_module("benchmarks.geocode", run_name="__main__", alter_sys=True)
    raise SystemExit(0)

import argparse
import gc
import json
import random
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process, utils

from benchmarks._common import PROJECT_ROOT, SHARED_OSM, p50, p99
from geocoding import GeocodeIndex
from routing.geo import haversine_scalar_m
from services.geocoding import load_gazetteer
from tot.settings import Settings

NN_OSM = PROJECT_ROOT / "data" / "osm" / "nizhny_novgorod_center.osm.pbf"
PORTO_OSM = SHARED_OSM / "porto.osm.pbf"
FOUND_WITHIN_M = 50.0
TARGET_P99_MS = 20.0
TARGET_RECALL = 0.95

# -- making queries ------------------------------------------------------------------------

_BGN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "zh",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "'", "э": "e", "ю": "yu",
    "я": "ya",
}  # fmt: skip
_ICAO = {**_BGN, "ё": "e", "й": "i", "ь": "", "ъ": "ie", "ю": "iu", "я": "ia"}
_INFORMAL = {**_BGN, "х": "h", "ц": "c", "щ": "sch", "ь": "", "й": "j", "ю": "ju", "я": "ja",
             "ё": "e", "ы": "i"}  # fmt: skip
SCHEMES = {"bgn": _BGN, "icao": _ICAO, "informal": _INFORMAL}
# street types: how people write them in Latin letters (None: left out)
_LATIN_TYPES: dict[str, list[str | None]] = {
    "улица": ["ulitsa", "ul.", "ul", None, "street"],
    "проспект": ["prospekt", "pr.", "prosp.", "avenue"],
    "переулок": ["pereulok", "per.", None],
    "площадь": ["ploshchad'", "pl.", "square"],
    "набережная": ["naberezhnaya", "nab.", "embankment"],
    "шоссе": ["shosse", "sh."],
    "бульвар": ["bul'var", "b-r", "boulevard"],
    "съезд": ["s'ezd", "sezd", None],
    "проезд": ["proezd", "pr-d"],
}
_CYRILLIC_ABBREVIATIONS = {
    "улица": "ул.", "проспект": "пр.", "переулок": "пер.", "площадь": "пл.",
    "набережная": "наб.", "шоссе": "ш.", "бульвар": "б-р", "проезд": "пр-д",
}  # fmt: skip
_CYR_LETTERS = "абвгдежзийклмнопрстуфхцчшщыэюя"
_LAT_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def typo(word: str, rng: random.Random) -> str:
    """One edit: a letter dropped, added, replaced, or two swapped."""
    letters = _CYR_LETTERS if any("а" <= c <= "я" for c in word.lower()) else _LAT_LETTERS
    i = rng.randrange(len(word))
    kind = rng.choice(["delete", "insert", "replace", "swap"])
    if kind == "delete" and len(word) > 1:
        return word[:i] + word[i + 1 :]
    if kind == "insert":
        return word[:i] + rng.choice(letters) + word[i:]
    if kind == "swap" and i + 1 < len(word) and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    options = [c for c in letters if c != word[i].lower()]
    return word[:i] + rng.choice(options) + word[i + 1 :]


def typo_in_name(words: list[str], rng: random.Random, skip: set[str]) -> list[str]:
    """One typo in one word of the name: a long word that is not a street type."""
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.lower() not in skip]
    if not candidates:
        candidates = [i for i, w in enumerate(words) if len(w) >= 3] or list(range(len(words)))
    i = rng.choice(candidates)
    out = list(words)
    out[i] = typo(out[i], rng)
    return out


def transliterate(text: str, scheme: dict[str, str]) -> str:
    out = []
    for ch in text:
        low = ch.lower()
        latin = scheme.get(low)
        if latin is None:
            out.append(ch)
        elif ch != low and latin:
            out.append(latin[0].upper() + latin[1:])
        else:
            out.append(latin)
    return "".join(out)


def plain(text: str) -> str:
    """Lower case without accents, as people type in a hurry."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


STYLES = ("cyrillic_typo", "cyrillic_abbrev_typo", "translit", "translit_typo")


def address_query(street: str, house: str, style: str, rng: random.Random) -> str:
    words = street.split()
    types = {w for w in words if w.lower() in _LATIN_TYPES}
    if style in ("cyrillic_typo", "cyrillic_abbrev_typo"):
        words = typo_in_name(words, rng, {t.lower() for t in types})
        if style == "cyrillic_abbrev_typo":
            words = [_CYRILLIC_ABBREVIATIONS.get(w.lower(), w) for w in words]
            return f"{' '.join(words)}, д. {house}"
        return f"{' '.join(words)} {house}"
    scheme = SCHEMES[rng.choice(sorted(SCHEMES))]
    latin_words = []
    for w in words:
        if w.lower() in _LATIN_TYPES:
            spelled: str | None = rng.choice(_LATIN_TYPES[w.lower()])
            if spelled is not None:
                latin_words.append(spelled)
        else:
            latin_words.append(transliterate(w, scheme))
    if style == "translit_typo":
        latin_words = typo_in_name(
            latin_words, rng, {t for v in _LATIN_TYPES.values() for t in v if t}
        )
    if rng.random() < 0.5:
        latin_words = [w.lower() for w in latin_words]
    return f"{' '.join(latin_words)} {transliterate(house, scheme)}"


def street_query(name: str, rng: random.Random) -> tuple[str, str]:
    """A query for a street name: as written, a prefix, or a typo; some plain."""
    roll = rng.random()
    words = name.split()
    if roll < 0.2:
        kind, text = "exact", name
    elif roll < 0.5:
        cut = max(4, int(len(name) * rng.uniform(0.6, 0.9)))
        kind, text = "prefix", name[:cut].rstrip()
    else:
        kind, text = (
            "typo",
            " ".join(typo_in_name(words, rng, {"rua", "de", "da", "do", "dos", "das"})),
        )
    if rng.random() < 0.3:
        text = plain(text)
    return kind, text


# -- measuring -----------------------------------------------------------------------------


def timed(fn: Callable[[str], Any], queries: Sequence[str]) -> tuple[list[Any], np.ndarray]:
    """Answers and per-query wall times (ms); the collector frozen, as in the server."""
    for q in queries[:20]:
        fn(q)
    gc.collect()
    gc.freeze()
    out: list[Any] = []
    times = np.empty(len(queries))
    clock = time.perf_counter_ns
    for i, q in enumerate(queries):
        t0 = clock()
        out.append(fn(q))
        times[i] = (clock() - t0) / 1e6
    gc.unfreeze()
    return out, times


def load_index(path: Path, cache_dir: Path) -> tuple[GeocodeIndex, dict[str, float]]:
    t0 = time.perf_counter()
    loaded = load_gazetteer(path, cache_dir)
    t1 = time.perf_counter()
    index = GeocodeIndex(loaded.gazetteer)
    t2 = time.perf_counter()
    return index, {
        "gazetteer_s": round(t1 - t0, 2),
        "index_s": round(t2 - t1, 2),
        "cached": loaded.cache_hit,
    }


def porto_search(path: Path, cache_dir: Path, n: int, seed: int) -> dict[str, Any]:
    index, load = load_index(path, cache_dir)
    names = sorted({nm for nm in index.gazetteer.way_name if nm.strip()})
    rng = random.Random(seed)
    picked = [rng.choice(names) for _ in range(n)]
    made = [street_query(name, rng) for name in picked]
    queries = [q for _, q in made]

    answers, ours_ms = timed(lambda q: index.search(q, limit=10), queries)
    ours_top1 = np.mean(
        [bool(a) and a[0].street == name for a, name in zip(answers, picked, strict=True)]
    )
    ours_top5 = np.mean(
        [name in [r.street for r in a[:5]] for a, name in zip(answers, picked, strict=True)]
    )

    def scan(q: str) -> list[tuple[str, float, int]]:
        return process.extract(
            q, names, scorer=fuzz.WRatio, processor=utils.default_process, limit=10
        )

    base_answers, base_ms = timed(scan, queries)
    base_top1 = np.mean(
        [bool(a) and a[0][0] == name for a, name in zip(base_answers, picked, strict=True)]
    )
    base_top5 = np.mean(
        [name in [r[0] for r in a[:5]] for a, name in zip(base_answers, picked, strict=True)]
    )
    by_kind = {
        kind: round(
            float(
                np.mean(
                    [
                        bool(a) and a[0].street == nm
                        for (k, _), a, nm in zip(made, answers, picked, strict=True)
                        if k == kind
                    ]
                )
            ),
            3,
        )
        for kind in ("exact", "prefix", "typo")
    }
    return {
        "names": len(names),
        "ways": len(index.gazetteer.way_name),
        "streets": index.stats()["streets"],
        "queries": n,
        "ours_ms": ours_ms,
        "base_ms": base_ms,
        "ours_top1": float(ours_top1),
        "ours_top5": float(ours_top5),
        "ours_top1_by_kind": by_kind,
        "base_top1": float(base_top1),
        "base_top5": float(base_top5),
        "load": load,
    }


def nn_recall(path: Path, cache_dir: Path, share: float, seed: int) -> dict[str, Any]:
    index, load = load_index(path, cache_dir)
    g = index.gazetteer
    kept = [int(i) for i in np.flatnonzero(index.addr_keep) if not g.addr_is_place[i]]
    rng = random.Random(seed)
    sample = sorted(rng.sample(kept, max(1, int(len(kept) * share))))
    styles = [STYLES[k % len(STYLES)] for k in range(len(sample))]
    rng.shuffle(styles)
    queries = [
        address_query(g.addr_street[i], g.addr_house[i], s, rng)
        for i, s in zip(sample, styles, strict=True)
    ]

    answers, ours_ms = timed(lambda q: index.search(q, limit=5), queries)

    def found(i: int, lat: float, lon: float) -> bool:
        return (
            haversine_scalar_m(lat, lon, float(g.addr_lat[i]), float(g.addr_lon[i]))
            <= FOUND_WITHIN_M
        )

    hits = [bool(a) and found(i, a[0].lat, a[0].lon) for a, i in zip(answers, sample, strict=True)]
    by_style = {
        s: round(float(np.mean([h for h, st in zip(hits, styles, strict=True) if st == s])), 3)
        for s in STYLES
    }
    misses = [
        (q, a[0].label if a else None)
        for q, a, h in zip(queries, answers, hits, strict=True)
        if not h
    ]

    labels = [f"{g.addr_street[i]}, {g.addr_house[i]}" for i in kept]

    def scan(q: str) -> list[tuple[str, float, int]]:
        return process.extract(
            q, labels, scorer=fuzz.WRatio, processor=utils.default_process, limit=5
        )

    base_answers, base_ms = timed(scan, queries)
    base_hits = [
        bool(a) and found(i, float(g.addr_lat[kept[a[0][2]]]), float(g.addr_lon[kept[a[0][2]]]))
        for a, i in zip(base_answers, sample, strict=True)
    ]
    return {
        "addresses": len(kept),
        "sample": len(sample),
        "recall": float(np.mean(hits)),
        "recall_by_style": by_style,
        "base_recall": float(np.mean(base_hits)),
        "ours_ms": ours_ms,
        "base_ms": base_ms,
        "misses": misses,
        "load": load,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer Porto queries (within 60 s)")
    parser.add_argument("--seed", type=int, default=2026, help="the queries' seed (tuned on 1)")
    parser.add_argument("--porto", type=Path, default=PORTO_OSM, help="the city-sized extract")
    parser.add_argument("--nn", type=Path, default=NN_OSM, help="the extract with addresses")
    parser.add_argument("--share", type=float, default=0.10, help="share of addresses asked")
    parser.add_argument("--show-misses", type=int, default=10, help="misses to print")
    args = parser.parse_args(argv)
    cache_dir = Settings().graph_cache_dir
    n_porto = 1_000 if args.quick else 5_000

    result: dict[str, Any] = {"seed": args.seed}
    print(f"geocode benchmark, seed {args.seed}")
    porto = None
    if args.porto.is_file():
        porto = porto_search(args.porto, cache_dir, n_porto, args.seed)
        print(
            f"\n(a) {args.porto.name}: {porto['names']:,} distinct street names "
            f"({porto['ways']:,} named ways, {porto['streets']:,} streets), {n_porto:,} queries; "
            f"gazetteer {porto['load']['gazetteer_s']} s ({'cached' if porto['load']['cached'] else 'read'}), "
            f"index {porto['load']['index_s']} s"
        )
        print(f"{'search':<40} {'p50 ms':>8} {'p99 ms':>8} {'top-1':>7} {'top-5':>7}")
        print(
            f"{'offline index':<40} {p50(porto['ours_ms']):>8.2f} {p99(porto['ours_ms']):>8.2f} {porto['ours_top1']:>7.3f} {porto['ours_top5']:>7.3f}"
        )
        print(
            f"{'baseline: rapidfuzz WRatio scan':<40} {p50(porto['base_ms']):>8.2f} {p99(porto['base_ms']):>8.2f} {porto['base_top1']:>7.3f} {porto['base_top5']:>7.3f}"
        )
        print(f"offline top-1 by query kind: {porto['ours_top1_by_kind']}")
        result.update(
            search_p99_ms=round(p99(porto["ours_ms"]), 2),
            search_p50_ms=round(p50(porto["ours_ms"]), 3),
            search_top1=round(porto["ours_top1"], 3),
            search_top5=round(porto["ours_top5"], 3),
            baseline_search_p99_ms=round(p99(porto["base_ms"]), 2),
            baseline_search_p50_ms=round(p50(porto["base_ms"]), 3),
            baseline_search_top1=round(porto["base_top1"], 3),
            porto_street_names=porto["names"],
            porto_queries=n_porto,
        )
    else:
        print(f"(a) skipped: {args.porto} is not there")
        result.update(search_p99_ms=None)

    nn = nn_recall(args.nn, cache_dir, args.share, args.seed)
    print(
        f"\n(b) {args.nn.name}: {nn['addresses']:,} addresses, {nn['sample']} asked "
        f"({args.share:.0%}, seed {args.seed}), found = first result within {FOUND_WITHIN_M:.0f} m"
    )
    print(f"{'address search':<40} {'recall':>8} {'p50 ms':>8} {'p99 ms':>8}")
    print(
        f"{'offline index':<40} {nn['recall']:>8.3f} {p50(nn['ours_ms']):>8.2f} {p99(nn['ours_ms']):>8.2f}"
    )
    print(
        f"{'baseline: rapidfuzz WRatio scan':<40} {nn['base_recall']:>8.3f} {p50(nn['base_ms']):>8.2f} {p99(nn['base_ms']):>8.2f}"
    )
    print(f"offline recall by style: {nn['recall_by_style']}")
    for query, label in nn["misses"][: args.show_misses]:
        print(f"  missed: {query!r} -> {label!r}")
    result.update(
        address_recall=round(nn["recall"], 4),
        address_recall_by_style=nn["recall_by_style"],
        address_queries=nn["sample"],
        address_p99_ms=round(p99(nn["ours_ms"]), 2),
        baseline_address_recall=round(nn["base_recall"], 4),
        baseline_address_p99_ms=round(p99(nn["base_ms"]), 2),
    )
    p99_ok = result.get("search_p99_ms") is not None and result["search_p99_ms"] <= TARGET_P99_MS
    result["targets_met"] = {
        "search_p99_ms<=20": p99_ok,
        "address_recall>=0.95": nn["recall"] >= TARGET_RECALL,
    }
    print()
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
