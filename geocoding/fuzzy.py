"""Typo-tolerant word lookup: a SymSpell-style deletion dictionary.

Every indexed word is stored under each string obtained by deleting up to d of its
letters; a query word's own deletions looked up there give every indexed word within d
edits (insertions, deletions, substitutions, adjacent transpositions), which are then
verified with the restricted Damerau-Levenshtein distance. A query word may be up to 1
edit away when it has 4-7 letters as typed and 2 from 8 letters on (folding shortens
words: "щ" is one letter, "shch" four); shorter words must match exactly. Indexed words
are stored deep enough for that (2 deletions from 5 letters on).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations

MIN_FUZZY_CHARS = 4


def max_edits(length: int) -> int:
    """Edits allowed to a query word of `length` letters as typed."""
    if length < MIN_FUZZY_CHARS:
        return 0
    return 1 if length < 8 else 2


def index_depth(length: int) -> int:
    """Deletions stored for an indexed (folded) word of `length` letters."""
    if length < MIN_FUZZY_CHARS:
        return 0
    return 1 if length < 5 else 2


def deletions(word: str, depth: int) -> set[str]:
    """`word` and every string made by deleting up to `depth` of its letters."""
    out = {word}
    n = len(word)
    for k in range(1, min(depth, n - 1) + 1):
        for drop in combinations(range(n), k):
            out.add("".join(ch for i, ch in enumerate(word) if i not in drop))
    return out


def osa_distance(a: str, b: str, limit: int) -> int:
    """Restricted Damerau-Levenshtein (optimal string alignment) distance; any value
    above `limit` is returned as limit + 1."""
    if a == b:
        return 0
    la, lb = len(a), len(b)
    if abs(la - lb) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        cur = [i] + [0] * lb
        row_min = cur[0]
        ai = a[i - 1]
        for j in range(1, lb + 1):
            cost = 0 if ai == b[j - 1] else 1
            value = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ai == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, prev2[j - 2] + 1)
            cur[j] = value
            row_min = min(row_min, value)
        if row_min > limit:
            return limit + 1
        prev2, prev = prev, cur
    return min(prev[lb], limit + 1)


class DeletionIndex:
    """Words within a few edits of a query word, in about the time of a few dict lookups."""

    def __init__(self, vocabulary: Iterable[str]) -> None:
        self._by_deletion: dict[str, list[int]] = {}
        self.words: list[str] = []
        for word in vocabulary:
            depth = index_depth(len(word))
            if depth == 0:
                continue
            wid = len(self.words)
            self.words.append(word)
            for variant in deletions(word, depth):
                self._by_deletion.setdefault(variant, []).append(wid)

    def __len__(self) -> int:
        return len(self.words)

    def lookup(self, word: str, depth: int) -> list[tuple[str, int]]:
        """(indexed word, edits) for every indexed word within `depth` edits of `word`
        (and within the depth it was stored at), the word itself excluded."""
        depth = min(depth, 2)
        if depth <= 0 or len(word) < 2:
            return []
        seen: set[int] = set()
        out: list[tuple[str, int]] = []
        for variant in deletions(word, depth):
            for wid in self._by_deletion.get(variant, ()):
                if wid in seen:
                    continue
                seen.add(wid)
                candidate = self.words[wid]
                if candidate == word:
                    continue
                allowed = min(depth, index_depth(len(candidate)))
                edits = osa_distance(word, candidate, allowed)
                if 0 < edits <= allowed:
                    out.append((candidate, edits))
        return out
