"""Generate MapLibre's SDF glyph ranges (the `glyphs` URL of the style) from DejaVu fonts.

    .venv/bin/python scripts/make_glyphs.py [--fonts-dir /usr/share/fonts/truetype/dejavu]

Writes data/glyphs/<font name>/<start>-<end>.pbf for the ranges the map's labels need:
Latin (0-255, 256-511), combining marks and Greek (768-1023), Cyrillic (1024-1279,
1280-1535), punctuation (8192-8447) and letter-like symbols such as № (8448-8703).
Glyphs are drawn as node-fontnik draws them (24 px em, a 3 px border, radius 8, cutoff
0.25), but from the exact outlines: each pixel's signed distance to the glyph's contour
(quadratic and cubic curves flattened finely), so no raster step blurs the edges.
The fonts come from Debian's fonts-dejavu-core; their licence is beside the output.
"""

from __future__ import annotations

import argparse
import math
import warnings
from pathlib import Path

import numpy as np
from matplotlib import ft2font

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "glyphs"
FONTS = {
    "DejaVu Sans Book": "DejaVuSans.ttf",
    "DejaVu Sans Bold": "DejaVuSans-Bold.ttf",
    "DejaVu Sans Oblique": "DejaVuSans-Oblique.ttf",
}
RANGES = (0, 256, 768, 1024, 1280, 8192, 8448)
SIZE_PX = 24
BORDER = 3
RADIUS = 8.0
CUTOFF = 0.25
STEPS = 8  # line segments per curve


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def zigzag(value: int) -> int:
    return (value << 1) ^ (value >> 31)


def field_bytes(tag: int, data: bytes) -> bytes:
    return varint((tag << 3) | 2) + varint(len(data)) + data


def field_varint(tag: int, value: int) -> bytes:
    return varint(tag << 3) + varint(value)


def contours(vertices: np.ndarray, codes: np.ndarray) -> list[np.ndarray]:
    """The outline as closed polylines, curves flattened."""
    out: list[np.ndarray] = []
    current: list[np.ndarray] = []
    i = 0
    t = np.linspace(0, 1, STEPS + 1)[1:, None]
    while i < len(codes):
        code = codes[i]
        if code == 1:  # MOVETO
            if len(current) > 2:
                out.append(np.array(current))
            current = [vertices[i]]
            i += 1
        elif code == 2:  # LINETO
            current.append(vertices[i])
            i += 1
        elif code == 3:  # CURVE3: control, end
            p0, c, p1 = current[-1], vertices[i], vertices[i + 1]
            current.extend((1 - t) ** 2 * p0 + 2 * (1 - t) * t * c + t**2 * p1)
            i += 2
        elif code == 4:  # CURVE4: two controls, end
            p0, c1, c2, p1 = current[-1], vertices[i], vertices[i + 1], vertices[i + 2]
            current.extend(
                (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * c1 + 3 * (1 - t) * t**2 * c2 + t**3 * p1
            )
            i += 3
        else:  # CLOSEPOLY (79) and STOP
            if len(current) > 2:
                out.append(np.array(current))
            current = []
            i += 1
    if len(current) > 2:
        out.append(np.array(current))
    return out


def sdf(polys: list[np.ndarray], left: int, top: int, width: int, height: int) -> bytes:
    w, h = width + 2 * BORDER, height + 2 * BORDER
    xs = left - BORDER + np.arange(w) + 0.5
    ys = top + BORDER - np.arange(h) - 0.5  # rows from the top; y grows upwards
    px, py = np.meshgrid(xs, ys)
    px, py = px.ravel()[:, None], py.ravel()[:, None]
    a = np.concatenate(polys)
    b = np.concatenate([np.roll(p, -1, axis=0) for p in polys])
    ax, ay, bx, by = a[:, 0][None], a[:, 1][None], b[:, 0][None], b[:, 1][None]
    dx, dy = bx - ax, by - ay
    length2 = np.maximum(dx * dx + dy * dy, 1e-12)
    t = np.clip(((px - ax) * dx + (py - ay) * dy) / length2, 0, 1)
    dist = np.sqrt((ax + t * dx - px) ** 2 + (ay + t * dy - py) ** 2).min(axis=1)
    # nonzero winding: signed crossings of a ray to the right
    upward = (ay <= py) & (by > py)
    downward = (ay > py) & (by <= py)
    side = dx * (py - ay) - (px - ax) * dy
    winding = (upward & (side > 0)).sum(axis=1) - (downward & (side < 0)).sum(axis=1)
    signed = np.where(winding != 0, -dist, dist)
    value = np.clip(np.round(255 - 255 * (signed / RADIUS + CUTOFF)), 0, 255)
    return value.astype(np.uint8).tobytes()


def glyph(font: ft2font.FT2Font, code_point: int, ascender: int) -> bytes | None:
    if font.get_char_index(code_point) == 0:
        return None
    g = font.load_char(code_point, flags=ft2font.LoadFlags.NO_HINTING)
    advance = round(g.horiAdvance / 64)
    vertices, codes = font.get_path()
    polys = contours(vertices, codes) if len(codes) else []
    out = field_varint(1, code_point)
    if polys:
        pts = np.concatenate(polys)
        left, right = math.floor(pts[:, 0].min()), math.ceil(pts[:, 0].max())
        bottom, top = math.floor(pts[:, 1].min()), math.ceil(pts[:, 1].max())
        width, height = right - left, top - bottom
        out += field_bytes(2, sdf(polys, left, top, width, height))
    else:
        left = top = width = height = 0
        top = ascender
    out += field_varint(3, width) + field_varint(4, height)
    out += field_varint(5, zigzag(left)) + field_varint(6, zigzag(top - ascender))
    out += field_varint(7, advance)
    return out


def glyph_range(font_name: str, path: Path, start: int) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        font = ft2font.FT2Font(str(path))
    font.set_size(SIZE_PX, 72)
    ascender = math.ceil(font.ascender * SIZE_PX / font.units_per_EM)
    end = start + 255
    stack = field_bytes(1, font_name.encode()) + field_bytes(2, f"{start}-{end}".encode())
    for code_point in range(start, end + 1):
        encoded = glyph(font, code_point, ascender)
        if encoded is not None:
            stack += field_bytes(3, encoded)
    return field_bytes(1, stack)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fonts-dir", type=Path, default=Path("/usr/share/fonts/truetype/dejavu"))
    args = parser.parse_args()
    for name, file in FONTS.items():
        folder = OUT / name
        folder.mkdir(parents=True, exist_ok=True)
        for start in RANGES:
            data = glyph_range(name, args.fonts_dir / file, start)
            (folder / f"{start}-{start + 255}.pbf").write_bytes(data)
            print(f"{name} {start}-{start + 255}: {len(data):,} bytes")


if __name__ == "__main__":
    main()
