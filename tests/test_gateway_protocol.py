"""Whatever a client sends, the parser answers with a clean message or a ProtocolError."""

from __future__ import annotations

import contextlib
import math

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime_gateway.protocol import CHANNELS, ProtocolError, parse

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
fields = st.sampled_from(
    [
        "type",
        "lat",
        "lon",
        "accuracy_m",
        "recorded_at",
        "offer_id",
        "reason",
        "booking_id",
        "status",
        "action",
        "available",
        "south",
        "west",
        "north",
        "east",
        "doctor_id",
        "priority",
        "ref",
    ]
)
messages = st.dictionaries(fields, json_values, max_size=8).map(
    lambda d: d | {"type": d["type"]} if "type" in d else d
)
types = st.sampled_from(sorted({t for c in CHANNELS.values() for t in c} | {"nope"}))


@settings(suppress_health_check=[HealthCheck.too_slow])  # shared CI hosts are slow at times
@given(channel=st.sampled_from(sorted(CHANNELS)), kind=types, body=messages)
def test_any_message_is_parsed_or_refused_with_a_code(
    channel: str, kind: str, body: dict[str, object]
) -> None:
    raw = orjson.dumps({**body, "type": kind})
    try:
        parsed = parse(channel, raw)
    except ProtocolError as exc:
        code = exc.code
        parsed = {}
    else:
        code = ""
    if not parsed:
        assert code in {"invalid_json", "unknown_type", "invalid_message"}
        return
    assert parsed["type"] == kind and kind in CHANNELS[channel]
    for name in ("lat", "lon", "south", "west", "north", "east", "accuracy_m"):
        if name in parsed and parsed[name] is not None:
            assert math.isfinite(parsed[name])
    if "lat" in parsed:
        assert -90 <= parsed["lat"] <= 90 and -180 <= parsed["lon"] <= 180


@given(raw=st.binary(max_size=200))
def test_any_bytes_are_refused_cleanly(raw: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse("doctor", raw)  # anything else raised fails the test


@pytest.mark.parametrize(
    "text",
    [
        '{"type":"position","lat":1e400,"lon":0}',
        '{"type":"position","lat":true,"lon":0}',
        "[]",
        "null",
        '"x"',
    ],
)
def test_edge_cases(text: str) -> None:
    with pytest.raises(ProtocolError):
        parse("doctor", text)
