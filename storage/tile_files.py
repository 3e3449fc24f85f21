"""Files behind the map: the bundled SDF glyph ranges (data/glyphs) and an optional disk
cache of encoded tiles."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# The project's data/glyphs; TOT_GLYPHS_DIR where the package is installed elsewhere
# (the Docker image's site-packages).
GLYPHS_DIR = Path(
    os.environ.get("TOT_GLYPHS_DIR") or Path(__file__).resolve().parent.parent / "data" / "glyphs"
)


class GlyphFiles:
    """data/glyphs/<font>/<start>-<end>.pbf, read once and kept (about 100 KB each)."""

    def __init__(self, directory: Path = GLYPHS_DIR) -> None:
        self.directory = directory
        self._cache: dict[tuple[str, str], bytes | None] = {}

    def fonts(self) -> frozenset[str]:
        if not self.directory.is_dir():
            return frozenset()
        return frozenset(p.name for p in self.directory.iterdir() if p.is_dir())

    def read(self, font: str, glyph_range: str) -> bytes | None:
        """The range's bytes, or None when no file holds it. `font` must be one of
        fonts() and `glyph_range` already validated (no path separators)."""
        key = (font, glyph_range)
        if key not in self._cache:
            path = self.directory / font / f"{glyph_range}.pbf"
            self._cache[key] = path.read_bytes() if path.is_file() else None
        return self._cache[key]


class DiskTileCache:
    """Encoded tiles under DIRECTORY/<version>/<z>/<x>/<y>.mvt.gz, written atomically."""

    def __init__(self, directory: Path, version: str) -> None:
        self.directory = directory / version

    def _path(self, z: int, x: int, y: int) -> Path:
        return self.directory / str(z) / str(x) / f"{y}.mvt.gz"

    def get(self, z: int, x: int, y: int) -> bytes | None:
        try:
            return self._path(z, x, y).read_bytes()
        except OSError:
            return None

    def put(self, z: int, x: int, y: int, data: bytes) -> None:
        path = self._path(z, x, y)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except OSError:
            pass  # a full or read-only disk costs only the cache
