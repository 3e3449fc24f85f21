"""The offline geocoder's gazetteer cached on disk beside the compiled graphs, keyed by
the extract's SHA-256, the reader's version and the format version (as graph_cache)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from geocoding import Gazetteer
from storage.osm_addresses import READER_VERSION

log = logging.getLogger(__name__)

# Bump when the arrays' layout changes in a way READER_VERSION does not say.
GAZETTEER_FORMAT_VERSION = "1"


def gazetteer_cache_key(content_sha256: str) -> str:
    settings = f"gazetteer:{READER_VERSION}:{GAZETTEER_FORMAT_VERSION}"
    return hashlib.sha256(f"{content_sha256}:{settings}".encode()).hexdigest()[:24]


class GazetteerCache:
    """A folder of gazetteers, one .npz per extract content (the graph cache's folder)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, osm_path: Path, key: str) -> Path:
        stem = osm_path.name.split(".")[0] or "extract"
        return self.directory / f"{stem}-geocode-{key}.npz"

    def load(self, path: Path) -> Gazetteer | None:
        """The cached gazetteer, or None when absent or unreadable (it is then rebuilt)."""
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files if k != "meta_json"}
                meta = json.loads(str(data["meta_json"]))
            return Gazetteer.from_arrays(arrays, meta)
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            log.warning("ignoring unreadable gazetteer cache %s: %s", path, exc)
            return None

    def save(self, path: Path, gazetteer: Gazetteer) -> None:
        """Write atomically: a reader never sees a half-written file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                payload: dict[str, Any] = dict(gazetteer.to_arrays())
                payload["meta_json"] = np.array(json.dumps(gazetteer.meta))
                np.savez(fh, **payload)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
