"""Compiled road graphs cached on disk, keyed by the extract's content and the build rules."""

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

from routing import BUILD_PROFILE_VERSION, GraphBuildError, RoadGraph

log = logging.getLogger(__name__)

# Bump when the array layout or compile step changes in a way the rules hash cannot see.
GRAPH_FORMAT_VERSION = "5"  # 4: the detached nodes; 5: street names per edge


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_key(content_sha256: str, keep_largest_component: bool = True) -> str:
    """Changes whenever the input bytes, the tag rules or the format change."""
    settings = f"{BUILD_PROFILE_VERSION}:{GRAPH_FORMAT_VERSION}:scc={keep_largest_component}"
    return hashlib.sha256(f"{content_sha256}:{settings}".encode()).hexdigest()[:24]


class GraphCache:
    """A folder of compiled graphs, one .npz file per (extract content, build settings)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, osm_path: Path, key: str) -> Path:
        stem = osm_path.name.split(".")[0] or "graph"
        return self.directory / f"{stem}-{key}.npz"

    def load(self, path: Path) -> RoadGraph | None:
        """The cached graph, or None when absent or unreadable (it is then rebuilt)."""
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files if k != "meta_json"}
                meta = json.loads(str(data["meta_json"]))
            return RoadGraph.from_arrays(arrays, meta)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, GraphBuildError) as exc:
            log.warning("ignoring unreadable graph cache %s: %s", path, exc)
            return None

    def save(self, path: Path, graph: RoadGraph) -> None:
        """Write atomically: a reader never sees a half-written file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                payload: dict[str, Any] = dict(graph.to_arrays())
                payload["meta_json"] = np.array(json.dumps(graph.meta))
                np.savez(fh, **payload)
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; other users of the machine may read it
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
