"""The geocoding core on its own: folding, house numbers, the typo index, and search and
reverse over a small made-up town whose answers are known."""

from __future__ import annotations

import math
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geocoding import (
    MAX_QUERY_CHARS,
    GazetteerBuilder,
    GeocodeIndex,
    InvalidQueryError,
    house_match,
    parse_house_number,
    split_house_number,
)
from geocoding.fuzzy import DeletionIndex, osa_distance
from geocoding.text import fold_query_token, fold_word, name_keys, to_latin
from routing import InvalidCoordinateError

# -- folding ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        ("Большая", "Bolshaya"),  # BGN
        ("Большая", "Bol'shaya"),  # soft sign as an apostrophe
        ("Большая", "Bolshaia"),  # ICAO
        ("Большая", "Bol'shaja"),  # informal j
        ("Покровская", "Pokrovskaja"),
        ("Нижний", "Nizhniy"),
        ("Нижний", "Nizhny"),
        ("Нижний", "Nizhnii"),
        ("Печёрский", "Pechyorskiy"),
        ("Печёрский", "Pecherskij"),
        ("Щербинки", "Shcherbinki"),
        ("Щербинки", "Scherbinki"),
        ("Хохлова", "Khokhlova"),
        ("Хохлова", "Hohlova"),
        ("Цветочная", "Tsvetochnaya"),
        ("Цветочная", "Cvetochnaja"),
        ("Александровская", "Aleksandrovskaya"),
        ("Александровская", "Alexandrovskaya"),
        ("Пушкина", "Pushkina"),
        ("Пукшина", "Pukshina"),  # k+sh, not ks+h
        ("Советская", "Sovetskaya"),
        ("Соловьёва", "Solov'yova"),
    ],
)
def test_a_cyrillic_word_and_its_latin_spellings_fold_alike(cyrillic: str, latin: str) -> None:
    assert fold_word(cyrillic.lower().replace("ё", "е")) == fold_word(
        latin.lower().replace("'", "")
    )


def test_different_words_stay_different() -> None:
    assert fold_word("пушкина") != fold_word("пукшина")
    assert fold_word("большая") != fold_word("малая")
    assert fold_word("bandeira") == fold_word("bandeira")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ул. Минина", "улица Минина"),
        ("ul. Minina", "улица Минина"),
        ("Minina street", "улица Минина"),
        ("пр. Гагарина", "проспект Гагарина"),
        ("пр-т Гагарина", "проспект Гагарина"),
        ("пер. Холодный", "переулок Холодный"),
        ("пл. Свободы", "площадь Свободы"),
        ("Верхне-Волжская наб.", "Верхне-Волжская набережная"),
        ("Окское ш.", "Окское шоссе"),
        ("Кремлёвский б-р", "Кремлевский бульвар"),
        ("Av. da Boavista", "Avenida da Boavista"),
    ],
)
def test_abbreviations_both_ways(a: str, b: str) -> None:
    from geocoding.text import words

    assert sorted(fold_query_token(w) for w in words(a)) == sorted(
        fold_query_token(w) for w in words(b)
    )


def test_hyphenated_names_are_indexed_whole_too() -> None:
    keys = name_keys("Верхне-Волжская набережная")
    assert fold_word("верхневолжская") in keys
    assert fold_word("верхне") in keys and fold_word("волжская") in keys


def test_labels_in_latin_letters() -> None:
    assert to_latin("Большая Покровская улица") == "Bolshaya Pokrovskaya ulitsa"


# -- house numbers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "street", "key"),
    [
        ("Минина 5", "минина", "5"),
        ("Минина 5а", "минина", "5a"),
        ("Минина 5 а", "минина", "5a"),
        ("Минина 5-А", "минина", "5a"),
        ("minina 5a", "minina", "5a"),
        ("Минина 27/4", "минина", "27/4"),
        ("Минина 5 к1", "минина", "5k1"),
        ("Минина 5к1", "минина", "5k1"),
        ("ул. Минина, д. 5, корп. 1", "ул. минина,", "5k1"),
        ("minina 5 korp 1", "minina", "5k1"),
        ("Минина 5 стр 2", "минина", "5s2"),
        ("Минина 5с2", "минина", "5s2"),
        ("minina 5 str. 2", "minina", "5s2"),
        ("Минина 5 к1 стр 2", "минина", "5k1s2"),
        ("5 b pokrovskaya", "b pokrovskaya", "5"),
        ("1-я Оранжерейная 5", "1 оранжерейная", "5"),
        ("улица 8 Марта 12", "улица 8 марта", "12"),
        ("rodionova 23zh", "rodionova", "23Z"),
    ],
)
def test_house_numbers_in_queries(query: str, street: str, key: str) -> None:
    rest, house = split_house_number(query)
    assert rest == street
    assert house is not None and house.key == key


@pytest.mark.parametrize(
    ("value", "key"),
    [("165 к13", "165k13"), ("27/4", "27/4"), ("6В", "6v"), ("3 литК", "3k"), ("63 оф9/1", "63")],
)
def test_house_numbers_as_the_map_writes_them(value: str, key: str) -> None:
    house = parse_house_number(value)
    assert house is not None and house.key == key


def test_a_query_without_a_number() -> None:
    assert split_house_number("Большая Покровская") == ("большая покровская", None)
    assert parse_house_number("Keskuskatu") is None


def test_house_match_prefers_the_same_house() -> None:
    def q(text: str) -> float:
        a, b = text.split(" vs ")
        ha, hb = parse_house_number(a), parse_house_number(b)
        assert ha is not None and hb is not None
        return house_match(ha, hb)

    assert q("5 vs 5") == 1.0
    assert q("5а vs 5a") == 1.0
    assert 1.0 > q("5 vs 5а") > q("5б vs 5а") > 0.0
    assert 1.0 > q("5 vs 5 к1") > q("5 к2 vs 5 к1") > 0.0
    assert q("5 vs 6") == 0.0


@given(
    st.integers(1, 9999),
    st.sampled_from(["", "а", "б", "в", "a", "b"]),
    st.sampled_from(["", "/2", "/15"]),
    st.sampled_from(["", " к1", " корп. 3", "k2"]),
    st.sampled_from(["", " стр 2", "с4"]),
)
def test_a_house_number_parses_the_same_alone_and_in_a_query(
    number: int, letter: str, slash: str, building: str, structure: str
) -> None:
    value = f"{number}{letter}{slash}{building}{structure}"
    alone = parse_house_number(value)
    _, in_query = split_house_number(f"улица Минина, {value}")
    assert alone is not None and alone == in_query and alone.number == number


# -- the typo index ---------------------------------------------------------------------


@given(st.text(alphabet="abcdeS", min_size=0, max_size=9), st.text(alphabet="abcdeS", max_size=9))
def test_osa_distance_is_symmetric_and_zero_only_for_equal(a: str, b: str) -> None:
    d = osa_distance(a, b, 10)
    assert d == osa_distance(b, a, 10)
    assert (d == 0) == (a == b)
    assert d <= max(len(a), len(b))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(alphabet="abcdeS", min_size=4, max_size=10), min_size=1, max_size=30),
    st.text(alphabet="abcdeS", min_size=4, max_size=10),
    st.integers(1, 2),
)
def test_the_deletion_index_finds_exactly_what_a_scan_finds(
    vocabulary: list[str], word: str, depth: int
) -> None:
    index = DeletionIndex(vocabulary)
    found = dict(index.lookup(word, depth))
    expected = {}
    for v in set(vocabulary):
        allowed = min(depth, 1 if len(v) < 5 else 2)
        d = osa_distance(word, v, allowed)
        if 0 < d <= allowed:
            expected[v] = d
    assert found == expected


# -- a made-up town ---------------------------------------------------------------------

# A grid near 56.30 N, 44.00 E: about 111 m a millidegree of latitude, 62 m of longitude.
TOWN = (56.30, 44.00)


def _town() -> GeocodeIndex:
    b = GazetteerBuilder()
    b.place("Новоград", "city", 56.30, 44.00, name_en="Novograd")
    b.place("Заречье", "suburb", 56.31, 44.03)
    # Большая Покровская: west-east along 56.300; Малая Покровская along 56.302
    b.street("Большая Покровская улица", [(56.300, 44.000), (56.300, 44.010)])
    b.street("Малая Покровская улица", [(56.302, 44.000), (56.302, 44.010)])
    b.street("улица Минина", [(56.305, 44.000), (56.305, 44.010)])
    b.street("Покровский переулок", [(56.296, 44.000), (56.296, 44.004)])
    b.street("Садовая улица", [(56.290, 44.000), (56.290, 44.002)])  # one name, two places
    b.street("Садовая улица", [(56.320, 44.050), (56.320, 44.052)])
    square = [(56.3001, 44.0010), (56.3001, 44.0020), (56.3005, 44.0020), (56.3005, 44.0010)]
    b.address("Большая Покровская улица", "5", 56.3003, 44.0015, ring=square)
    b.address("Большая Покровская улица", "5а", 56.3003, 44.0030)
    b.address("Большая Покровская улица", "7", 56.3003, 44.0050)
    b.address("Большая Покровская улица", "5", 56.3003, 44.0016)  # a shop in No. 5: one house
    b.address("Малая Покровская улица", "5", 56.3023, 44.0015)
    b.address("улица Минина", "27/4", 56.3053, 44.0040)
    b.address("улица Минина", "5 к1", 56.3053, 44.0060)
    b.address("Заречье", "12", 56.3100, 44.0300, is_place=True)
    return GeocodeIndex(b.build())


@pytest.fixture(scope="module")
def town() -> GeocodeIndex:
    return _town()


def first(town: GeocodeIndex, query: str, **kw: object) -> tuple[str, str, str | None]:
    found = town.search(query, **kw)  # type: ignore[arg-type]
    assert found, query
    return found[0].kind, found[0].label, found[0].house_number


@pytest.mark.parametrize(
    "query",
    [
        "Большая Покровская 5",
        "большая покровская улица, д. 5",
        "ул. Большая Покровская 5",
        "Bolshaya Pokrovskaya 5",
        "ulitsa Bolshaya Pokrovskaya 5",
        "Bol'shaya Pokrovskaya ul 5",
        "b pokrovskaya 5",
        "Б. Покровская 5",
        "Болшая Покровская 5",  # a letter dropped
        "Большая Поксровская 5",  # one added
        "Bolshaya Pokrovskya 5",
        "5 Большая Покровская",
        "Новоград, Большая Покровская 5",
        "Bolshaya Pokrovskaya street 5",
    ],
)
def test_a_house_found_however_it_is_written(town: GeocodeIndex, query: str) -> None:
    assert first(town, query) == ("address", "Большая Покровская улица, 5, Новоград", "5")


def test_the_malaya_street_when_asked_for(town: GeocodeIndex) -> None:
    assert first(town, "m pokrovskaya 5")[1] == "Малая Покровская улица, 5, Новоград"
    assert first(town, "Малая Покровская 5")[1] == "Малая Покровская улица, 5, Новоград"


def test_house_number_forms(town: GeocodeIndex) -> None:
    assert first(town, "Большая Покровская 5а")[2] == "5а"
    assert first(town, "Bolshaya Pokrovskaya 5a")[2] == "5а"
    assert first(town, "Минина 27/4")[2] == "27/4"
    assert first(town, "Минина 5 к1")[2] == "5 к1"
    assert first(town, "minina 5 korp 1")[2] == "5 к1"
    assert first(town, "Минина 27")[2] == "27/4"  # the house, with its other number


def test_a_repeated_address_is_one_house(town: GeocodeIndex) -> None:
    found = town.search("Большая Покровская 5", limit=10)
    assert [r.label for r in found].count("Большая Покровская улица, 5, Новоград") == 1


def test_a_missing_house_gives_the_street(town: GeocodeIndex) -> None:
    kind, label, house = first(town, "Большая Покровская 99")
    assert (kind, label, house) == ("street", "Большая Покровская улица, Новоград", None)


def test_exact_beats_prefix_beats_typo(town: GeocodeIndex) -> None:
    exact = town.search("Минина")[0]
    prefix = town.search("Мини")[0]
    typo = town.search("Минниа")[0]
    assert exact.label == prefix.label == typo.label == "улица Минина, Новоград"
    assert exact.score > prefix.score > typo.score > 0


def test_streets_and_places(town: GeocodeIndex) -> None:
    assert first(town, "Покровский пер") == ("street", "Покровский переулок, Новоград", None)
    assert first(town, "Заречье")[:2] == ("place", "Заречье, Новоград")
    assert first(town, "Заречье 12") == ("address", "Заречье, 12, Новоград", "12")


def test_near_picks_the_nearer_of_two_streets_of_one_name(town: GeocodeIndex) -> None:
    south = town.search("Садовая", near=(56.289, 44.001))
    north = town.search("Садовая", near=(56.321, 44.051))
    assert south[0].lat == pytest.approx(56.290) and north[0].lat == pytest.approx(56.320)
    assert south[0].distance_m is not None and south[0].distance_m < 200


def test_english_labels(town: GeocodeIndex) -> None:
    found = town.search("Bolshaya Pokrovskaya 5", language="en")[0]
    assert found.label == "Bolshaya Pokrovskaya ulitsa, 5, Novograd"
    assert found.street == "Bolshaya Pokrovskaya ulitsa"


def test_nothing_for_nonsense(town: GeocodeIndex) -> None:
    assert town.search("qqqqqqq zzzzzz") == []
    assert town.search("5") == []


@pytest.mark.parametrize("query", ["", "   ", "x" * (MAX_QUERY_CHARS + 1), "a\x00b"])
def test_bad_queries_are_refused(town: GeocodeIndex, query: str) -> None:
    with pytest.raises(InvalidQueryError):
        town.search(query)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=MAX_QUERY_CHARS), st.integers(1, 20))
def test_any_text_is_answered_or_refused_clearly(text: str, limit: int) -> None:
    town = _TOWN
    try:
        found = town.search(text, limit=limit)
    except InvalidQueryError:
        assert not text.strip() or "\x00" in text or len(text.strip()) > MAX_QUERY_CHARS
        return
    assert len(found) <= limit
    for r in found:
        assert 0.0 <= r.score <= 1.0 and math.isfinite(r.lat) and math.isfinite(r.lon)


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=string.ascii_lowercase + "абвгдежзийклмнопрстуфхцчшщыьэюя ", max_size=60))
def test_letters_in_any_order_never_fail(text: str) -> None:
    if text.strip():
        _TOWN.search(text)


_TOWN = _town()


# -- reverse ----------------------------------------------------------------------------


def test_reverse_inside_a_building(town: GeocodeIndex) -> None:
    found = town.reverse(56.30045, 44.00195)  # inside No. 5's outline, 30 m from its middle
    assert found is not None and found.house_number == "5" and found.distance_m == 0.0


def test_reverse_near_an_address(town: GeocodeIndex) -> None:
    found = town.reverse(56.3003, 44.0052)
    assert found is not None and found.kind == "address" and found.house_number == "7"
    assert found.distance_m is not None and found.distance_m < 20


def test_reverse_by_a_street_with_no_house(town: GeocodeIndex) -> None:
    found = town.reverse(56.3052, 44.0090)  # by улица Минина, no house within 60 m
    assert found is not None and found.kind == "street" and found.street == "улица Минина"
    assert found.house_number is None
    assert found.distance_m is not None and 20 < found.distance_m < 30  # 0.0002° of latitude
    assert found.lat == pytest.approx(56.305, abs=1e-6)


def test_reverse_in_a_place_off_the_streets(town: GeocodeIndex) -> None:
    found = town.reverse(56.3130, 44.0330)
    assert found is not None and found.kind == "place" and found.label.startswith("Заречье")


def test_reverse_far_away_finds_nothing(town: GeocodeIndex) -> None:
    assert town.reverse(10.0, 10.0) is None


@pytest.mark.parametrize(("lat", "lon"), [(91.0, 0.0), (0.0, 181.0), (math.nan, 0.0)])
def test_reverse_refuses_bad_coordinates(town: GeocodeIndex, lat: float, lon: float) -> None:
    with pytest.raises(InvalidCoordinateError):
        town.reverse(lat, lon)


@settings(max_examples=100, deadline=None)
@given(st.floats(56.28, 56.33), st.floats(43.99, 44.06))
def test_reverse_answers_anywhere_in_town(lat: float, lon: float) -> None:
    found = _TOWN.reverse(lat, lon)
    if found is not None:
        assert found.distance_m is not None and found.distance_m <= 2_000.0


def test_an_empty_gazetteer_answers_nothing() -> None:
    empty = GeocodeIndex(GazetteerBuilder().build())
    assert empty.search("Минина 5") == []
    assert empty.reverse(*TOWN) is None
