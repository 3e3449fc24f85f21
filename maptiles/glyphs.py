"""MapLibre glyph ranges (SDF glyphs in protobuf, 256 code points a file): which names are
valid, and the empty range served for code points no bundled file covers."""

from __future__ import annotations

import re

from maptiles.mvt import varint

RANGE_SIZE = 256
MAX_CODE_POINT = 0xFFFF
_RANGE = re.compile(r"^(\d{1,5})-(\d{1,5})$")


class GlyphRangeError(ValueError):
    """Not a glyph range MapLibre asks for (START-END, 256 code points, START % 256 == 0)."""


def parse_range(text: str) -> tuple[int, int]:
    match = _RANGE.match(text)
    if match is None:
        raise GlyphRangeError(f"{text!r} is not a glyph range such as 0-255")
    start, end = int(match.group(1)), int(match.group(2))
    if start % RANGE_SIZE or end != start + RANGE_SIZE - 1 or end > MAX_CODE_POINT:
        raise GlyphRangeError(
            f"{text!r}: a range is 256 code points from a multiple of 256, up to 65535"
        )
    return start, end


def font_stack(text: str, known: set[str] | frozenset[str]) -> str | None:
    """The first font of a comma-separated stack that is known, or None."""
    for name in text.split(","):
        name = name.strip()
        if name in known:
            return name
    return None


def empty_range(font: str, start: int, end: int) -> bytes:
    """A glyphs message holding the stack and range but no glyph."""

    def string(tag: int, text: str) -> bytes:
        data = text.encode()
        return bytes([tag]) + varint(len(data)) + data

    stack = string(0x0A, font) + string(0x12, f"{start}-{end}")
    return b"\x0a" + varint(len(stack)) + stack
