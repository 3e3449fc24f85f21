"""The drivable road graph as compact numpy arrays, and its compilation from OSM segments."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import routingkit_cch as rk
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from routing.errors import GraphBuildError
from routing.geo import haversine_m, validate_lat_lon_arrays

Progress = Callable[[str], None]

_ARRAY_DTYPES: dict[str, npt.DTypeLike] = {
    "node_lat": np.float64,
    "node_lon": np.float64,
    "node_osm_id": np.int64,
    "edge_tail": np.int32,
    "edge_head": np.int32,
    "edge_length_m": np.float32,
    "edge_speed_kph": np.float32,
    "edge_travel_time_ms": np.int64,
    "edge_highway": np.uint8,
    "edge_way_id": np.int64,
    "cch_order": np.int32,
    "detached_lat": np.float64,
    "detached_lon": np.float64,
    "street_names_utf8": np.uint8,
    "edge_street": np.int32,
}


@dataclass(frozen=True, eq=False)
class RoadGraph:
    """A strongly connected, directed drivable graph.

    Nodes are OSM nodes (every shape point of every drivable way, so a route's node
    list is its geometry); edges are directed road segments between consecutive
    nodes. `cch_order` is the contraction order the router needs, computed once at
    compile time so that loading a cached graph costs no preprocessing.

    `detached_lat`/`detached_lon` are the drivable nodes the build left out because
    they are not strongly connected to the kept network (an island reached by ferry, a
    stretch cut off at the extract's edge): never routed on, kept so that a point near
    one can be told "this road does not connect" rather than "there is no road".
    """

    node_lat: npt.NDArray[np.float64]
    node_lon: npt.NDArray[np.float64]
    node_osm_id: npt.NDArray[np.int64]
    edge_tail: npt.NDArray[np.int32]
    edge_head: npt.NDArray[np.int32]
    edge_length_m: npt.NDArray[np.float32]
    edge_speed_kph: npt.NDArray[np.float32]
    edge_travel_time_ms: npt.NDArray[np.int64]
    edge_highway: npt.NDArray[np.uint8]
    edge_way_id: npt.NDArray[np.int64]
    cch_order: npt.NDArray[np.int32]
    detached_lat: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    detached_lon: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    # Street names: every distinct name, UTF-8, each ended by a NUL; per edge the index of
    # its street's name, -1 when it has none (both empty when the build kept no names).
    street_names_utf8: npt.NDArray[np.uint8] = field(
        default_factory=lambda: np.empty(0, dtype=np.uint8)
    )
    edge_street: npt.NDArray[np.int32] = field(default_factory=lambda: np.empty(0, np.int32))
    meta: dict[str, str] = field(default_factory=dict)

    @functools.cached_property
    def street_names(self) -> tuple[str, ...]:
        """The names `edge_street` points into."""
        if self.street_names_utf8.size == 0:
            return ()
        return tuple(self.street_names_utf8.tobytes().decode("utf-8").split("\x00")[:-1])

    def street_of_edge(self, edge: int) -> str | None:
        if self.edge_street.size == 0:
            return None
        index = int(self.edge_street[edge])
        return None if index < 0 else self.street_names[index]

    def with_street_names(self, way_names: Mapping[int, str]) -> RoadGraph:
        """This graph, its edges named after their ways (`way_names`: OSM way id -> name)."""
        names = sorted({n for n in way_names.values() if n and "\x00" not in n})
        index = {name: i for i, name in enumerate(names)}
        way_index = {w: index[n] for w, n in way_names.items() if n in index}
        edge_street = np.fromiter(
            (way_index.get(int(w), -1) for w in self.edge_way_id.tolist()),
            dtype=np.int32,
            count=self.edge_count,
        )
        blob = "".join(f"{n}\x00" for n in names).encode("utf-8")
        return dataclasses.replace(
            self,
            street_names_utf8=np.frombuffer(blob, dtype=np.uint8).copy(),
            edge_street=edge_street,
        )

    @property
    def node_count(self) -> int:
        return int(self.node_lat.shape[0])

    @property
    def edge_count(self) -> int:
        return int(self.edge_tail.shape[0])

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {name: getattr(self, name) for name in _ARRAY_DTYPES}

    @classmethod
    def from_arrays(cls, arrays: dict[str, npt.NDArray[Any]], meta: dict[str, str]) -> RoadGraph:
        """Rebuild from to_arrays() output, checking shapes and ranges (caches can rot)."""
        missing = set(_ARRAY_DTYPES) - set(arrays)
        if missing:
            raise GraphBuildError(f"graph arrays missing: {sorted(missing)}")
        typed = {k: np.ascontiguousarray(arrays[k], dtype=dt) for k, dt in _ARRAY_DTYPES.items()}
        n = typed["node_lat"].shape[0]
        m = typed["edge_tail"].shape[0]
        for k, a in typed.items():
            if k == "street_names_utf8":
                continue  # any length
            if k == "edge_street" and a.shape[0] == 0:
                continue  # built without names
            if k.startswith("detached_"):
                want = typed["detached_lat"].shape[0]
            else:
                want = n if k.startswith("node_") or k == "cch_order" else m
            if a.ndim != 1 or a.shape[0] != want:
                raise GraphBuildError(f"graph array {k} has shape {a.shape}, expected ({want},)")
        if m and (
            min(typed["edge_tail"].min(), typed["edge_head"].min()) < 0
            or max(typed["edge_tail"].max(), typed["edge_head"].max()) >= n
        ):
            raise GraphBuildError("graph edges reference nodes that do not exist")
        if not np.array_equal(np.sort(typed["cch_order"]), np.arange(n, dtype=np.int32)):
            raise GraphBuildError("cch_order is not a permutation of the nodes")
        graph = cls(**typed, meta=dict(meta))
        if graph.edge_street.size and int(graph.edge_street.max()) >= len(graph.street_names):
            raise GraphBuildError("edge_street names streets that do not exist")
        return graph


def compute_cch_order(
    node_lat: npt.NDArray[np.float64],
    node_lon: npt.NDArray[np.float64],
    edge_tail: npt.NDArray[np.int32],
    edge_head: npt.NDArray[np.int32],
) -> npt.NDArray[np.int32]:
    """Nested-dissection order (inertial flow) for the contraction hierarchy."""
    order = rk.compute_order_inertial(
        int(node_lat.shape[0]),
        edge_tail.tolist(),
        edge_head.tolist(),
        node_lat.tolist(),
        node_lon.tolist(),
    )
    return np.asarray(order, dtype=np.int32)


def compile_road_graph(
    *,
    node_osm_id: npt.NDArray[np.int64],
    node_lat: npt.NDArray[np.float64],
    node_lon: npt.NDArray[np.float64],
    seg_from_osm_id: npt.NDArray[np.int64],
    seg_to_osm_id: npt.NDArray[np.int64],
    seg_forward: npt.NDArray[np.bool_],
    seg_backward: npt.NDArray[np.bool_],
    seg_speed_forward_kph: npt.NDArray[np.float64],
    seg_speed_backward_kph: npt.NDArray[np.float64],
    seg_highway: npt.NDArray[np.uint8],
    seg_way_id: npt.NDArray[np.int64],
    keep_largest_component: bool = True,
    meta: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> RoadGraph:
    """Compile undirected way segments into a directed, deduplicated road graph.

    Segments are consecutive node pairs of drivable ways, with the directions a car
    may use them and the speed each way. Parallel edges keep the fastest; self-loops
    go; with keep_largest_component only the largest strongly connected component
    stays, so every kept node can reach every other (no dead-end islands at the
    extract's clipped border); the positions of the nodes it drops are kept apart
    (`detached_lat`, `detached_lon`) for the router's explanations.
    """
    say = progress or (lambda _msg: None)
    node_osm_id = np.asarray(node_osm_id, dtype=np.int64)
    node_lat = np.asarray(node_lat, dtype=np.float64)
    node_lon = np.asarray(node_lon, dtype=np.float64)
    if not (node_osm_id.shape == node_lat.shape == node_lon.shape):
        raise GraphBuildError("node arrays differ in length")
    if node_osm_id.size == 0 or np.size(seg_from_osm_id) == 0:
        raise GraphBuildError("no drivable roads in the input")
    validate_lat_lon_arrays(node_lat, node_lon)

    say("indexing nodes")
    sort = np.argsort(node_osm_id, kind="stable")
    sorted_ids = node_osm_id[sort]
    if np.any(sorted_ids[1:] == sorted_ids[:-1]):
        raise GraphBuildError("duplicate node ids")

    def dense(osm_ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        pos = np.searchsorted(sorted_ids, osm_ids)
        pos = np.clip(pos, 0, sorted_ids.size - 1)
        if not np.array_equal(sorted_ids[pos], osm_ids):
            raise GraphBuildError("a segment references a node that has no coordinates")
        return np.asarray(sort[pos], dtype=np.int64)

    seg_u = dense(np.asarray(seg_from_osm_id, dtype=np.int64))
    seg_v = dense(np.asarray(seg_to_osm_id, dtype=np.int64))
    fwd = np.asarray(seg_forward, dtype=bool)
    bwd = np.asarray(seg_backward, dtype=bool)
    length_m = haversine_m(node_lat[seg_u], node_lon[seg_u], node_lat[seg_v], node_lon[seg_v])

    say("building directed edges")
    tail = np.concatenate([seg_u[fwd], seg_v[bwd]])
    head = np.concatenate([seg_v[fwd], seg_u[bwd]])
    length = np.concatenate([length_m[fwd], length_m[bwd]])
    speed = np.concatenate(
        [np.asarray(seg_speed_forward_kph)[fwd], np.asarray(seg_speed_backward_kph)[bwd]]
    ).astype(np.float64)
    highway = np.concatenate([np.asarray(seg_highway)[fwd], np.asarray(seg_highway)[bwd]])
    way_id = np.concatenate([np.asarray(seg_way_id)[fwd], np.asarray(seg_way_id)[bwd]])
    if np.any(~np.isfinite(speed) | (speed <= 0)):
        raise GraphBuildError("speeds must be positive and finite")
    travel_ms = np.rint(length / (speed / 3.6) * 1000.0).astype(np.int64)

    keep = tail != head
    # Parallel edges: sort by (tail, head, time) and keep the first, i.e. the fastest.
    order = np.lexsort((travel_ms[keep], head[keep], tail[keep]))
    idx = np.flatnonzero(keep)[order]
    t_sorted, h_sorted = tail[idx], head[idx]
    first = np.ones(idx.size, dtype=bool)
    first[1:] = (t_sorted[1:] != t_sorted[:-1]) | (h_sorted[1:] != h_sorted[:-1])
    idx = idx[first]
    if idx.size == 0:
        raise GraphBuildError("no drivable road segments in the input")

    n_all = node_lat.size
    node_keep = np.zeros(n_all, dtype=bool)
    node_keep[tail[idx]] = True
    node_keep[head[idx]] = True
    on_a_road = node_keep.copy()
    if keep_largest_component:
        say("finding the largest strongly connected component")
        adj = csr_matrix(
            (np.ones(idx.size, dtype=np.int8), (tail[idx], head[idx])), shape=(n_all, n_all)
        )
        _, labels = connected_components(adj, directed=True, connection="strong")
        # Isolated (edge-less) nodes form singleton components; only used nodes count.
        counts = np.bincount(labels[node_keep], minlength=int(labels.max()) + 1)
        node_keep &= labels == int(np.argmax(counts))
        idx = idx[node_keep[tail[idx]] & node_keep[head[idx]]]

    new_id = np.full(n_all, -1, dtype=np.int64)
    kept_nodes = np.flatnonzero(node_keep)
    new_id[kept_nodes] = np.arange(kept_nodes.size)
    edge_tail = new_id[tail[idx]].astype(np.int32)
    edge_head = new_id[head[idx]].astype(np.int32)
    lat = node_lat[kept_nodes]
    lon = node_lon[kept_nodes]
    detached = np.flatnonzero(on_a_road & ~node_keep)

    say(f"ordering {kept_nodes.size} nodes for the contraction hierarchy")
    cch_order = compute_cch_order(lat, lon, edge_tail, edge_head)

    return RoadGraph(
        node_lat=lat,
        node_lon=lon,
        node_osm_id=node_osm_id[kept_nodes],
        edge_tail=edge_tail,
        edge_head=edge_head,
        edge_length_m=length[idx].astype(np.float32),
        edge_speed_kph=speed[idx].astype(np.float32),
        edge_travel_time_ms=travel_ms[idx],
        edge_highway=highway[idx].astype(np.uint8),
        edge_way_id=way_id[idx].astype(np.int64),
        cch_order=cch_order,
        detached_lat=node_lat[detached],
        detached_lon=node_lon[detached],
        meta=dict(meta or {}),
    )
