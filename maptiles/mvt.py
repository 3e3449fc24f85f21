"""Mapbox Vector Tile 2.1 encoding, vectorised: every varint of a layer's features is
written by numpy at once (protobuf's wire format is varints and bytes only).

A layer's features arrive as arrays: per feature its property value ids and its number
of parts, per part its number of points, and the points in tile units (integers).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from maptiles.arrays import I64, offsets
from maptiles.rules import POINT, POLYGON

EXTENT = 4096
VERSION = 2

MOVE_TO, LINE_TO, CLOSE_PATH = 1, 2, 7
_VALUE_KEY = 0x22  # Layer.values, field 4, length-delimited


def varint(value: int) -> bytes:
    """One unsigned varint."""
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def zigzag(value: int) -> int:
    return (value << 1) ^ (value >> 63)


def varint_lengths(values: npt.NDArray[np.uint64]) -> I64:
    n = np.ones(values.size, dtype=np.int64)
    for k in range(1, 10):
        more = values >= np.uint64(1 << (7 * k))
        if not more.any():
            break
        n += more
    return n


def varints(values: npt.NDArray[np.uint64]) -> bytes:
    """Many unsigned varints, concatenated."""
    lengths = varint_lengths(values)
    out = np.empty(int(lengths.sum()), dtype=np.uint8)
    start = offsets(lengths)[:-1]
    for k in range(int(lengths.max(initial=0))):
        has = lengths > k
        chunk = (values[has] >> np.uint64(7 * k)) & np.uint64(0x7F)
        more = (lengths[has] > k + 1).astype(np.uint64) << np.uint64(7)
        out[start[has] + k] = (chunk | more).astype(np.uint8)
    return out.tobytes()


def value_field(value: str | int | bool) -> bytes:
    """A Layer.values entry (tag, length, Value message) for one property value."""
    if isinstance(value, bool):
        message = b"\x38" + (b"\x01" if value else b"\x00")
    elif isinstance(value, int):
        message = b"\x28" + varint(value) if value >= 0 else b"\x30" + varint(zigzag(value))
    else:
        data = value.encode()
        message = b"\x0a" + varint(len(data)) + data
    return bytes([_VALUE_KEY]) + varint(len(message)) + message


def _string_field(tag: int, text: str) -> bytes:
    data = text.encode()
    return bytes([tag]) + varint(len(data)) + data


def encode_layer(
    name: str,
    geom_type: int,
    keys: Sequence[str],
    props: npt.NDArray[np.int32],
    part_count: I64,
    point_count: I64,
    qx: I64,
    qy: I64,
    value_fields: Sequence[bytes],
) -> bytes:
    """A Layer message: `props` (features, keys) holds global value ids (-1: absent),
    `part_count` per feature, `point_count` per part, (qx, qy) the points in tile
    units. Polygons' rings come without a closing point, outer rings clockwise on
    screen. Returns b"" for a layer without features."""
    n_features = part_count.size
    if n_features == 0:
        return b""
    # -- tags: (key index, value index) pairs, only the keys and values this layer uses
    present = props >= 0
    used_keys = np.nonzero(present.any(axis=0))[0]
    key_local = np.full(len(keys), -1, dtype=np.int64)
    key_local[used_keys] = np.arange(used_keys.size)
    used_values, value_local = np.unique(props[present], return_inverse=True)
    rows, cols = np.nonzero(present)
    tags = np.empty(2 * rows.size, dtype=np.uint64)
    tags[0::2] = key_local[cols]
    tags[1::2] = value_local
    tags_per_feature = 2 * np.bincount(rows, minlength=n_features)

    # -- geometry: commands and zigzag deltas; the cursor starts at (0, 0) per feature
    n_parts = point_count.size
    n_points = qx.size
    part_feature = np.repeat(np.arange(n_features), part_count)
    point_part = np.repeat(np.arange(n_parts), point_count)
    part_point_start = offsets(point_count)
    feature_first_point = part_point_start[offsets(part_count)[:-1]]
    dx = np.empty(n_points, dtype=np.int64)
    dy = np.empty(n_points, dtype=np.int64)
    dx[0], dy[0] = qx[0], qy[0]
    dx[1:] = qx[1:] - qx[:-1]
    dy[1:] = qy[1:] - qy[:-1]
    dx[feature_first_point] = qx[feature_first_point]
    dy[feature_first_point] = qy[feature_first_point]
    zx = ((dx << 1) ^ (dx >> 63)).astype(np.uint64)
    zy = ((dy << 1) ^ (dy >> 63)).astype(np.uint64)

    if geom_type == POINT:
        part_tokens = np.full(n_parts, 3, dtype=np.int64)
    else:
        part_tokens = 2 * point_count + (3 if geom_type == POLYGON else 2)
    part_token_start = offsets(part_tokens)
    geom = np.empty(int(part_token_start[-1]), dtype=np.uint64)
    ps = part_token_start[:-1]
    geom[ps] = (1 << 3) | MOVE_TO
    local = np.arange(n_points, dtype=np.int64) - part_point_start[:-1][point_part]
    pos = ps[point_part] + np.where(local == 0, 1, 2 * local + 2)
    geom[pos] = zx
    geom[pos + 1] = zy
    if geom_type != POINT:
        geom[ps + 3] = ((point_count - 1) << 3) | LINE_TO
    if geom_type == POLYGON:
        geom[part_token_start[1:] - 1] = (1 << 3) | CLOSE_PATH
    geom_per_feature = np.bincount(part_feature, weights=part_tokens, minlength=n_features)
    geom_per_feature = geom_per_feature.astype(np.int64)

    # -- byte lengths of the nested messages
    tag_bytes = np.bincount(
        np.repeat(np.arange(n_features), tags_per_feature),
        weights=varint_lengths(tags),
        minlength=n_features,
    ).astype(np.int64)
    token_feature = np.repeat(part_feature, part_tokens)
    geom_bytes = np.bincount(
        token_feature, weights=varint_lengths(geom), minlength=n_features
    ).astype(np.int64)
    tb_u = tag_bytes.astype(np.uint64)
    gb_u = geom_bytes.astype(np.uint64)
    feature_bytes = 1 + varint_lengths(tb_u) + tag_bytes + 2 + 1 + varint_lengths(gb_u) + geom_bytes

    # -- every feature as one run of varints:
    # 0x12 len | 0x12 tags_len tags... | 0x18 type | 0x22 geom_len geom...
    per_feature = 8 + tags_per_feature + geom_per_feature
    start = offsets(per_feature)[:-1]
    tokens = np.empty(int(per_feature.sum()), dtype=np.uint64)
    tokens[start] = 0x12
    tokens[start + 1] = feature_bytes.astype(np.uint64)
    tokens[start + 2] = 0x12
    tokens[start + 3] = tb_u
    tag_feature = np.repeat(np.arange(n_features), tags_per_feature)
    tag_local = np.arange(tags.size, dtype=np.int64) - offsets(tags_per_feature)[:-1][tag_feature]
    tokens[start[tag_feature] + 4 + tag_local] = tags
    after_tags = start + 4 + tags_per_feature
    tokens[after_tags] = 0x18
    tokens[after_tags + 1] = geom_type
    tokens[after_tags + 2] = 0x22
    tokens[after_tags + 3] = gb_u
    geom_local = (
        np.arange(geom.size, dtype=np.int64) - offsets(geom_per_feature)[:-1][token_feature]
    )
    tokens[after_tags[token_feature] + 4 + geom_local] = geom
    features = varints(tokens)

    out = [_string_field(0x0A, name), features]
    out.extend(_string_field(0x1A, keys[int(k)]) for k in used_keys)
    out.extend(value_fields[int(v)] for v in used_values)
    out.append(b"\x28" + varint(EXTENT))
    out.append(b"\x78" + varint(VERSION))
    return b"".join(out)


def encode_tile(layers: Sequence[bytes]) -> bytes:
    """A Tile message of Layer messages (empty layers left out)."""
    return b"".join(b"\x1a" + varint(len(layer)) + layer for layer in layers if layer)
