"""House numbers as Russian (and most European) addresses write them: 5, 5а, 5 а, 5/2,
5 к1, 5 корп. 1, 5с2, 5 стр 2, 3 литК — in Cyrillic or Latin letters — parsed to one
canonical form, and matched with a quality between 0 and 1."""

from __future__ import annotations

import re
from dataclasses import dataclass

from geocoding.text import clean, fold_word

_LETTER = r"(?:zh|kh|ch|sh|[a-zа-я])"  # Ж, Х, Ч, Ш transliterated are two letters
# what may follow a house's letter: корпус, строение, литера
_PART = r"(?:корпус|корп|кор|к|korpus|korp|kor|k|строение|стр|с|stroenie|str|s)"
_HOUSE_RE = re.compile(
    rf"""
    (?<![\w/.-])
    (?:(?:д|дом|d|dom|№|no|n)\.?\s*(?=\d))?
    (?P<num>\d{{1,5}})
    (?:
        -?(?P<letter>{_LETTER})(?=$|[^\w]|{_PART}\.?\s*\d)   # 5а, 5-а, 5ак1
      | \s+(?P<letter2>{_LETTER})(?=\s*(?:$|,|;))            # 5 а, at the end
    )?
    (?:\s*/\s*(?P<slash>\d{{1,4}}(?:{_LETTER}(?!\d))?))?
    (?:\s*,?\s*(?:корпус|корп|кор|к|korpus|korp|kor|k)\.?\s*(?P<building>\d{{1,3}}(?:{_LETTER}(?!\d))?))?
    (?:\s*,?\s*(?:строение|стр|с|stroenie|str|s)\.?\s*(?P<structure>\d{{1,3}})(?!\w))?
    (?:\s*,?\s*(?:литера|лит|litera|lit)\.?\s*(?P<litera>{_LETTER})(?!\w))?
    (?![\w/])
    """,
    re.VERBOSE,
)


def _letter_key(letter: str | None) -> str:
    """Cyrillic and Latin house letters alike: а/a, б/b, в/v (as transliterated)."""
    return fold_word(letter) if letter else ""


@dataclass(frozen=True, slots=True)
class HouseNumber:
    number: int
    letter: str = ""  # folded: "а" and "a" are both "a"
    slash: str = ""  # "5/2": "2" (a corner house's number on the other street)
    building: str = ""  # корпус
    structure: str = ""  # строение

    @property
    def key(self) -> str:
        """Canonical text: equal keys, same house."""
        out = f"{self.number}{self.letter}"
        if self.slash:
            out += f"/{self.slash}"
        if self.building:
            out += f"k{self.building}"
        if self.structure:
            out += f"s{self.structure}"
        return out


def _from_match(m: re.Match[str]) -> HouseNumber:
    letter = m.group("letter") or m.group("letter2") or m.group("litera")
    return HouseNumber(
        number=int(m.group("num")),
        letter=_letter_key(letter),
        slash=fold_word(m.group("slash") or ""),
        building=fold_word(m.group("building") or ""),
        structure=m.group("structure") or "",
    )


def parse_house_number(value: str) -> HouseNumber | None:
    """The first house number in an OSM addr:housenumber value ("165 к13", "27/4",
    "6В", "1-5" reads as 1); None when it holds none."""
    m = _HOUSE_RE.search(clean(value))
    return _from_match(m) if m else None


def split_house_number(query: str) -> tuple[str, HouseNumber | None]:
    """The query's house number (its last number-like group) and the rest, cleaned:
    "ул. Минина 27/4" → ("ул. минина", 27/4); "5 b pokrovskaya" → ("b pokrovskaya", 5)."""
    text = clean(query)
    found = list(_HOUSE_RE.finditer(text))
    if not found:
        return text, None
    m = found[-1]
    return (text[: m.start()] + " " + text[m.end() :]).strip(), _from_match(m)


def house_match(query: HouseNumber, record: HouseNumber) -> float:
    """How well a record's number answers the query's: 1 the same house; less for the
    same number with another part (letter, /, корпус, строение) missing or different; 0
    for another number."""
    if query.number != record.number:
        return 0.0
    if query == record:
        return 1.0
    score = 1.0
    if query.letter != record.letter:
        score -= 0.25 if not query.letter else 0.4
    if query.slash != record.slash:
        score -= 0.1 if not query.slash else 0.3
    if query.building != record.building:
        score -= 0.1 if not query.building else 0.3
    if query.structure != record.structure:
        score -= 0.1 if not query.structure else 0.3
    return max(score, 0.05)
