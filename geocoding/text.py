"""Text normalisation for address search: case, ё→е, abbreviations both ways,
transliteration Latin↔Cyrillic, and a spelling-insensitive "folded" key per word.

The search compares words by their folded key. Folding maps a Cyrillic word and the
usual ways of writing it in Latin letters to one string:

- Cyrillic is first transliterated (a GOST/BGN-like table: ж zh, х kh, ц ts, ч ch, ш sh,
  щ shch, ю yu, я ya, й y, ы y; ъ ь dropped);
- Latin spellings are then collapsed: shch/sch → щ, ch/tch → ч, sh → ш, zh → ж, kh/h → х,
  ts/tz/tc/cz → ц, x → ks, w → v, q → k, ph → f; i, y and j are one letter, and a run of
  them is one (so ya, ia, ja and iy, ij, y, ii all agree); yo and jo are e (ё is
  written both ways); apostrophes go. Doubled letters stay: a typo often doubles one, and one
  edit is what the typo-tolerant match allows for it.

So "Большая Покровская", "Bolshaya Pokrovskaya", "Bol'shaja Pokrovskaja" and
"Bolshaia Pokrovskaia" (ICAO) fold alike; what differs beyond that (ё written as "o", a
dropped letter) is left to the typo-tolerant match. Portuguese or Finnish names fold too
(diacritics dropped, the same rules on both sides), so they still match themselves.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# -- transliteration ----------------------------------------------------------------------

# Cyrillic → Latin for matching (lossless enough; folding follows).
_CYR_TO_LAT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
    "я": "ya", "і": "i", "ї": "yi", "є": "ye", "ґ": "g",
}  # fmt: skip

# Cyrillic → Latin for display (BGN/PCGN-like, as on Russian street signs in English).
_DISPLAY = {**_CYR_TO_LAT, "е": "e", "ё": "yo", "ъ": "", "ь": "", "й": "y", "ы": "y"}

# Latin → Cyrillic for display of a Latin query's reading (longest first).
_LAT_TO_CYR = [
    ("shch", "щ"), ("sch", "щ"), ("zh", "ж"), ("kh", "х"), ("ts", "ц"), ("ch", "ч"),
    ("sh", "ш"), ("yu", "ю"), ("ya", "я"), ("yo", "ё"), ("ju", "ю"), ("ja", "я"),
    ("iu", "ю"), ("ia", "я"), ("a", "а"), ("b", "б"), ("v", "в"), ("g", "г"), ("d", "д"),
    ("e", "е"), ("z", "з"), ("i", "и"), ("y", "й"), ("j", "й"), ("k", "к"), ("l", "л"),
    ("m", "м"), ("n", "н"), ("o", "о"), ("p", "п"), ("r", "р"), ("s", "с"), ("t", "т"),
    ("u", "у"), ("f", "ф"), ("h", "х"), ("c", "ц"), ("w", "в"), ("x", "кс"), ("q", "к"),
    ("'", "ь"),
]  # fmt: skip
_LAT_TO_CYR_RE = re.compile("|".join(re.escape(k) for k, _ in _LAT_TO_CYR))
_LAT_TO_CYR_MAP = dict(_LAT_TO_CYR)

_CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")


def has_cyrillic(text: str) -> bool:
    return _CYRILLIC_RE.search(text) is not None


def to_latin(text: str) -> str:
    """A readable Latin spelling of Cyrillic text (other letters kept), for labels in
    English: "Большая Покровская улица" → "Bolshaya Pokrovskaya ulitsa"."""
    out = []
    for ch in text:
        low = ch.lower()
        latin = _DISPLAY.get(low)
        if latin is None:
            out.append(ch)
        elif ch != low and latin:
            out.append(latin[0].upper() + latin[1:])
        else:
            out.append(latin)
    return "".join(out)


def to_cyrillic(text: str) -> str:
    """A Cyrillic reading of Latin text (lower case), the inverse of the common schemes
    as far as one can go: "bolshaya pokrovskaya" → "болшая покровская"."""
    return _LAT_TO_CYR_RE.sub(lambda m: _LAT_TO_CYR_MAP[m.group(0)], text.lower())


# -- folding ------------------------------------------------------------------------------

# Applied in one pass, longest first, to lower-case Latin text. Upper-case letters are the
# folded classes of Cyrillic sounds Latin spells with two letters.
_FOLD = [
    ("shch", "W"), ("shh", "W"), ("sch", "W"), ("tsch", "C"), ("tch", "C"), ("ch", "C"),
    ("ksh", "kS"), ("sh", "S"), ("zh", "Z"), ("kh", "h"), ("ts", "c"), ("tz", "c"), ("tc", "c"),
    ("cz", "c"), ("ks", "X"), ("x", "X"), ("ph", "f"), ("w", "v"), ("q", "k"),
    ("yo", "e"), ("jo", "e"), ("y", "i"), ("j", "i"),
]  # fmt: skip
_FOLD_RE = re.compile("|".join(re.escape(k) for k, _ in _FOLD))
_FOLD_MAP = dict(_FOLD)
_I_RUNS_RE = re.compile(r"i+")


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# Cyrillic straight to the folded letters (never through Latin digraphs, which could
# then be misread: "кш" is not "кс" + "ш"). Letter pairs whose Latin spelling folds to
# one letter fold to it here too: кс (ks, x), тс (ts), сч (sch), тч (tch).
_CYR_PAIRS = {"кс": "X", "тс": "c", "сч": "W", "тч": "C"}
_CYR_PAIRS_RE = re.compile("|".join(_CYR_PAIRS))
_CYR_FOLD = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "Z",
    "з": "z", "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "c",
    "ч": "C", "ш": "S", "щ": "W", "ъ": "", "ы": "i", "ь": "", "э": "e", "ю": "iu",
    "я": "ia", "і": "i", "ї": "i", "є": "ie", "ґ": "g",
}  # fmt: skip


@lru_cache(maxsize=65_536)
def fold_word(word: str) -> str:
    """The spelling-insensitive key of one lower-case word (letters and digits only)."""
    if has_cyrillic(word):
        word = _CYR_PAIRS_RE.sub(lambda m: _CYR_PAIRS[m.group(0)], word)
        word = "".join(_CYR_FOLD.get(ch, ch) for ch in word)
    word = strip_accents(word)
    word = _FOLD_RE.sub(lambda m: _FOLD_MAP.get(m.group(0), m.group(0)), word)
    return _I_RUNS_RE.sub("i", word)


# -- words and abbreviations ------------------------------------------------------------

# Street and place types: every spelling (Cyrillic, transliterated, abbreviated, English,
# Portuguese) maps to one canonical word per kind of street, whose folded form is the key.
# They weigh little in a match, so "Bolshaya Pokrovskaya street" finds "Большая
# Покровская улица" and "Av. da Boavista" finds "Avenida da Boavista".
_TYPE_SPELLINGS: dict[str, tuple[str, ...]] = {
    "улица": ("ул", "ulitsa", "ulica", "ulitza", "ulitca", "ul", "street", "st", "str",
              "rua", "r", "katu"),
    "проспект": ("пр", "просп", "прт", "пркт", "prospekt", "prospect", "pr", "prosp",
                 "prt", "avenue", "ave", "av", "avenida", "avda"),
    "переулок": ("пер", "pereulok", "per", "lane", "ln", "travessa", "tv", "trav", "kuja"),
    "площадь": ("пл", "ploshchad", "ploschad", "ploshad", "pl", "square", "sq", "praça",
                "praca", "pç", "pc", "largo", "lg", "tori", "aukio"),
    "набережная": ("наб", "naberezhnaya", "naberezhnaia", "nab", "embankment", "emb",
                   "marginal", "ranta"),
    "шоссе": ("ш", "shosse", "sh", "highway", "hwy", "estrada", "estr", "tie"),
    "бульвар": ("бр", "бул", "bulvar", "br", "blvd", "boulevard", "bd", "puistotie"),
    "проезд": ("прд", "proezd", "prd", "passage", "passagem"),
    "съезд": ("sezd", "syezd", "sjezd", "descent"),
    "тупик": ("туп", "tupik", "beco"),
    "аллея": ("ал", "alleya", "alleia", "alley", "alameda"),
    "спуск": ("spusk", "calçada", "calcada", "cc"),
    "микрорайон": ("мкр", "мкрн", "mikrorayon", "mkr"),
}  # fmt: skip
# Words that name a house, not a street, before a number: "д. 5", "дом 5", "d 5".
HOUSE_MARKERS = frozenset({"д", "дом", "d", "dom", "house", "no", "n", "№"})
STOPWORDS = frozenset({"de", "da", "do", "dos", "das", "e", "the", "of", "и"})

TYPE_WORDS: frozenset[str] = frozenset(fold_word(w) for w in _TYPE_SPELLINGS)
_SPELLING_TO_TYPE: dict[str, str] = {}
for _canonical, _spellings in _TYPE_SPELLINGS.items():
    for _spelling in (_canonical, *_spellings):
        _SPELLING_TO_TYPE[_spelling] = fold_word(_canonical)
# Abbreviations that are also words or initials in names: types in a query only.
_AMBIGUOUS_ABBREVIATIONS = frozenset(
    {"r", "al", "st", "str", "pr", "sh", "av", "br", "bd", "cc", "per", "pl", "tie", "ш", "бр"}
)
FOLDED_STOPWORDS = frozenset(fold_word(w) for w in STOPWORDS)
# Spelled-out types (4 letters and more), folded, to their type: for misspelled types.
TYPE_OF_SPELLING: dict[str, str] = {
    fold_word(spelling): canonical
    for spelling, canonical in _SPELLING_TO_TYPE.items()
    if len(spelling) >= 4 and "." not in spelling
}


def is_type_word(folded: str) -> bool:
    return folded in TYPE_WORDS


_SPLIT_RE = re.compile(r"[^\w/№'’ʼ`-]+")
_APOSTROPHES_RE = re.compile(r"['’ʼ`]")
# 1-я, 2-й, 3-ая, 8-го: ordinals keep their number only
_ORDINAL_RE = re.compile(r"\b(\d{1,3})-?(?:ая|ой|ый|ий|я|й|е|го|ое|aya|ya|yy|iy|ij|y|j|oe)\b")
_TYPE_HYPHENATED = {"б-р": "бульвар", "пр-т": "проспект", "пр-кт": "проспект",
                    "пр-д": "проезд", "b-r": "бульвар", "pr-t": "проспект",
                    "pr-d": "проезд"}  # fmt: skip


_TYPE_HYPHENATED_RE = re.compile(
    r"(?<!\w)(" + "|".join(re.escape(k) for k in _TYPE_HYPHENATED) + r")(?!\w)"
)


@lru_cache(maxsize=16_384)
def clean(text: str) -> str:
    """Lower case, NFKC, ё→е, apostrophes dropped, ordinals to their number, hyphenated
    abbreviations of types spelled out; punctuation other than / and - kept for parsing."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    text = _APOSTROPHES_RE.sub("", text)
    if "-" in text:
        text = _TYPE_HYPHENATED_RE.sub(lambda m: f" {_TYPE_HYPHENATED[m.group(1)]} ", text)
    return _ORDINAL_RE.sub(r"\1", text)


def words(text: str) -> list[str]:
    """The cleaned text's words: split on anything but letters, digits, / and -; hyphens
    join compound words, which come as their parts (the joined form is added by
    `name_keys` for the index)."""
    out: list[str] = []
    for raw in _SPLIT_RE.split(clean(text)):
        for part in raw.split("-"):
            part = part.strip("/_")
            if part:
                out.append(part)
    return out


def fold_token(word: str) -> str:
    """The key of one word as it stands in a name: a type spelling → its canonical type."""
    if word.isdigit():
        return word
    canonical = _SPELLING_TO_TYPE.get(word)
    if canonical is not None and word not in _AMBIGUOUS_ABBREVIATIONS:
        return canonical
    return fold_word(word)


def fold_query_token(word: str) -> str:
    """As fold_token, but short ambiguous abbreviations ("ул", "pr", "st") count as types
    too: a query is where people abbreviate."""
    if word.isdigit():
        return word
    canonical = _SPELLING_TO_TYPE.get(word)
    return canonical if canonical is not None else fold_word(word)


def name_keys(name: str) -> list[str]:
    """The folded words of a name as indexed: each word, plus compounds joined
    ("Верхне-Волжская" also as one word)."""
    keys = [fold_token(w) for w in words(name)]
    cleaned = clean(name)
    for compound in re.findall(r"\w+(?:-\w+)+", cleaned):
        parts = [p for p in compound.split("-") if p]
        if len(parts) > 1 and not any(p.isdigit() for p in parts):
            joined = fold_word("".join(parts))
            if joined not in keys:
                keys.append(joined)
    return keys


def display_name(name: str, language: str) -> str:
    """A name as shown in `language` ("ru": as mapped; "en": Latin letters)."""
    if language == "en" and has_cyrillic(name):
        return to_latin(name)
    return name
