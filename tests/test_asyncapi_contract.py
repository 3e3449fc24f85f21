"""The WebSocket protocol's AsyncAPI document (services/asyncapi.py): a valid AsyncAPI 3
document, true to the code (the parser's message types and checks, the gateway's figures,
every message type the server writes), served at /asyncapi.json with its reader at
/docs/asyncapi, and exchanged end to end: every message of every channel goes over a real
socket here, and the contract plugin (tests/asyncapi_contract.py) validates each."""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import orjson
import pytest
from websockets.exceptions import InvalidStatus

from realtime_gateway import server as gateway_server
from realtime_gateway.protocol import CHANNELS, MAX_FRAME_BYTES, ProtocolError, parse
from realtime_gateway.server import Gateway, GatewayPolicy
from routing import Router
from services import asyncapi
from services.asyncapi import asyncapi_document
from services.error_codes import CODES, error_code
from services.errors import ChangeNotStoredError
from services.times import rfc3339
from tests.api_harness import HOME, NEARBY
from tests.asyncapi_contract import (
    IN,
    OUT,
    Contract,
    compile_schema,
    deref,
    described_messages,
    resolve,
)
from tests.test_gateway import Socket, engine_with_gateway, ws

SPEC_SCHEMA = Path(__file__).parent / "data" / "asyncapi" / "asyncapi-3.0.0.schema.json.gz"
PROJECT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"

# JSON Schema keywords the document may use: those of both draft 7 and 2020-12 (AsyncAPI
# 3's schema format is a superset of draft 7), and the annotations.
PORTABLE_KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "items", "enum", "const",
    "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "pattern",
    "format", "if", "then", "title", "description", "examples", "default",
}  # fmt: skip


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document()


def walk(node: Any, path: str = "#") -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}/{i}")


def subschemas(schema: dict[str, Any], path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """A schema and the schemas inside it (not its examples, enums or defaults)."""
    yield path, schema
    for name, inner in schema.get("properties", {}).items():
        yield from subschemas(inner, f"{path}/properties/{name}")
    for keyword in ("items", "if", "then"):
        if isinstance(schema.get(keyword), dict):
            yield from subschemas(schema[keyword], f"{path}/{keyword}")


def schemas_in(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object: components' schemas and the bindings' query and headers."""
    for name, schema in document["components"]["schemas"].items():
        yield f"components/schemas/{name}", schema
    for name, channel in document["channels"].items():
        for part in ("query", "headers"):
            yield f"channels/{name}/bindings/ws/{part}", channel["bindings"]["ws"][part]


# -- the document -----------------------------------------------------------------------------


def test_the_document_is_valid_against_the_asyncapi_3_schema(document: dict[str, Any]) -> None:
    spec = json.loads(gzip.decompress(SPEC_SCHEMA.read_bytes()))
    validator = jsonschema_rs.Draft7Validator(spec)
    errors = [
        f"{list(e.instance_path)}: {e.message[:200]}" for e in validator.iter_errors(document)
    ]
    assert errors == []
    broken = json.loads(json.dumps(document))
    broken["operations"]["doctor.ping"]["action"] = "publish"  # AsyncAPI 2's word
    assert not validator.is_valid(broken)  # the check can fail


def test_every_reference_resolves_and_operations_keep_to_their_channels(
    document: dict[str, Any],
) -> None:
    refs = [
        (path, node["$ref"])
        for path, node in walk(document)
        if isinstance(node, dict) and "$ref" in node
    ]
    assert len(refs) > 100
    for path, ref in refs:
        try:
            resolve(document, ref)
        except KeyError:
            pytest.fail(f"{path}: $ref {ref} does not resolve")
    for name, operation in document["operations"].items():
        assert operation["action"] in ("send", "receive"), name
        channel = operation["channel"]["$ref"]
        # AsyncAPI 3: an operation's messages are its channel's
        for message in operation["messages"]:
            assert message["$ref"].startswith(f"{channel}/messages/"), (name, message)
        for message in operation.get("reply", {}).get("messages", []):
            assert message["$ref"].startswith(f"{operation['reply']['channel']['$ref']}/messages/")
    for part in ("schemas", "messages", "securitySchemes"):
        for key in document["components"][part]:
            assert re.fullmatch(r"[A-Za-z0-9.\-_]+", key), key
    # every channel message is sent or received by some operation
    used = {
        ref
        for _, node in walk(document["operations"])
        if isinstance(node, dict)
        and isinstance(node.get("$ref"), str)
        and "/messages/" in node["$ref"]
        for ref in [node["$ref"]]
    }
    for name, channel in document["channels"].items():
        for key in channel["messages"]:
            assert f"#/channels/{name}/messages/{key}" in used, (name, key)
        for parameter in re.findall(r"{([^}]+)}", channel["address"]):
            assert parameter in channel.get("parameters", {}), (name, parameter)
        binding = channel["bindings"]["ws"]  # websockets binding 0.1.0's rules
        assert binding["method"] in ("GET", "POST") and binding["bindingVersion"] == "0.1.0"
        for part in ("query", "headers"):
            assert binding[part]["type"] == "object" and binding[part]["properties"]


def test_every_schema_compiles_and_keeps_to_portable_keywords(document: dict[str, Any]) -> None:
    count = 0
    for where, schema in schemas_in(document):
        for dialect in (
            "http://json-schema.org/draft-07/schema#",
            "https://json-schema.org/draft/2020-12/schema",
        ):
            against = {**schema, "$schema": dialect}
            assert jsonschema_rs.meta.is_valid(against), (where, dialect)
            jsonschema_rs.validator_for(against, validate_formats=True)
        compile_schema(schema)
        count += 1
        for path, node in subschemas(schema):
            unknown = set(node) - PORTABLE_KEYWORDS
            assert not unknown, f"{where} {path}: {unknown}"
    assert count == len(document["components"]["schemas"]) + 2 * len(document["channels"])


def test_every_example_validates_against_its_schema(document: dict[str, Any]) -> None:
    messages = document["components"]["messages"]
    for key, message in messages.items():
        schema = deref(document, message["payload"])
        validator = compile_schema(schema)
        assert message["examples"], key
        for example in message["examples"]:
            errors = [e.message for e in validator.iter_errors(example["payload"])]
            assert errors == [], (key, errors)
        assert (
            message["name"] == schema["properties"]["type"]["const"] == example["payload"]["type"]
        )
    checked = 0
    for where, schema in schemas_in(document):
        for path, node in subschemas(schema):
            validator = compile_schema(node)
            for example in node.get("examples", []):
                assert validator.is_valid(example), (where, path, example)
                checked += 1
    assert checked > len(messages)


def test_it_describes_every_message_type_the_parser_takes(document: dict[str, Any]) -> None:
    described = described_messages(document)
    assert set(CHANNELS) == {"doctor", "patient", "operator"}
    for channel, checks in CHANNELS.items():
        assert set(described[(channel, IN)]) == set(checks), channel
        for kind, found in described[(channel, IN)].items():
            assert len(found) == 1, (channel, kind)  # found by its type alone


def _types_written(path: Path) -> set[str]:
    return set(re.findall(r'"type":\s*"([a-z_]+)"', path.read_text(encoding="utf-8")))


def test_it_describes_every_message_type_the_server_writes(document: dict[str, Any]) -> None:
    """Every `"type": "..."` the gateway and the engine's realtime side write is a message
    the document gives some channel, gateway -> client (save the bus's own commands)."""
    described = described_messages(document)
    sent = {
        kind for (_, direction), kinds in described.items() if direction == OUT for kind in kinds
    }
    written = set()
    for source in ("realtime_gateway/server.py", "services/realtime.py", "tot/server.py"):
        written |= _types_written(PROJECT / source)
    bus_commands = {"presence", "heartbeat"}  # gateway -> engine over the bus, not a frame
    assert written - bus_commands <= sent, written - bus_commands - sent
    assert {"hello", "resync", "snapshot", "pong", "error", "done", "feed"} <= written
    for channel in CHANNELS:
        kinds = described[(channel, OUT)]
        assert {"hello", "resync", "pong", "error", "status"} <= set(kinds), channel
        assert all(len(found) == 1 for found in kinds.values()), channel


def test_its_figures_are_the_gateway_s() -> None:
    policy = GatewayPolicy()
    assert asyncapi.MAX_FRAME_BYTES == MAX_FRAME_BYTES
    assert policy.messages_per_s == asyncapi.MESSAGES_PER_S
    assert policy.burst == asyncapi.BURST
    assert policy.flood_drops_before_close == asyncapi.FLOOD_DROPS_BEFORE_CLOSE
    assert policy.max_pending_events == asyncapi.MAX_PENDING_EVENTS
    assert policy.doctor_silence_s == asyncapi.DOCTOR_SILENCE_S
    assert policy.operator_feed_every_s == asyncapi.OPERATOR_FEED_EVERY_S
    closes = {
        name: value
        for name, value in vars(gateway_server).items()
        if name.startswith("CLOSE_") and isinstance(value, int)
    }
    assert set(asyncapi.CLOSE_CODES) == {*closes.values(), 1009}
    assert gateway_server._SEQ.pattern == asyncapi.SEQ_PATTERN
    assert gateway_server._EPOCH.pattern == asyncapi.EPOCH_PATTERN
    # every error code the gateway can give
    raised = [*gateway_server.ERRORS, ChangeNotStoredError, ValueError]  # _code reads the type
    codes = {gateway_server._code(error.__new__(error)) for error in raised}
    codes |= {"invalid_json", "unknown_type", "invalid_message", "rate_limited", "internal"}
    source = (PROJECT / "realtime_gateway" / "server.py").read_text(encoding="utf-8")
    codes |= set(re.findall(r'"code":\s*"([a-z_]+)"', source))
    assert codes <= set(asyncapi.ERROR_CODES), codes - set(asyncapi.ERROR_CODES)
    # and those the engine gives a gateway process without it: the same table
    assert set(CODES.values()) <= set(asyncapi.ERROR_CODES)
    assert error_code(ValueError()) in asyncapi.ERROR_CODES


# -- the parser and the document agree, message by message --------------------------------------

_INSTANTS = [
    "2026-12-01T09:30:00.250Z", "2026-12-01T12:30:00+03:00", "2026-12-01t09:30:00z",
    "2026-12-01T09:30:00.123456789Z", "2026-12-01T09:30:00", "2026-12-01 09:30:00Z",
    "1899-12-31T23:59:59Z", "2026-12-01T24:00:00Z", "2026-02-30T09:30:00Z",
    "2026-12-01T09:30:00+0300", "2026-12-01T09:30:00,5Z", "2026-12-01T09:30:00+03", "soon",
]  # fmt: skip


def variations(schema: dict[str, Any], example: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """The example, and the example changed one field at a time, at and past its bounds."""
    yield "as given", example
    yield "extra field", {**example, "extra": 1}
    yield "not an object", [example]
    for name in schema["required"]:
        yield f"without {name}", {k: v for k, v in example.items() if k != name}
    for name, prop in schema["properties"].items():
        if name == "type":
            yield "type unknown", {**example, "type": "teleport"}
            continue
        kinds = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        values: list[tuple[str, Any]] = [("null", None), ("a list", [1]), ("true", True)]
        if "number" in kinds:
            values += [("text", "5"), ("1", 1), ("-1.5", -1.5), ("1e9", 1e9)]
            for bound, step in (("minimum", -1), ("maximum", 1)):
                if bound in prop:
                    values += [(f"at {bound}", prop[bound]), (f"past {bound}", prop[bound] + step)]
        if "string" in kinds:
            values += [("a number", 5), ("empty", ""), ("blank", "   ")]
            if "maxLength" in prop:
                values += [
                    ("at maxLength", "x" * prop["maxLength"]),
                    ("past maxLength", "x" * (prop["maxLength"] + 1)),
                ]
            if "enum" in prop:
                values += [(f"enum {v}", v) for v in prop["enum"] if v is not None]
                values += [("not in enum", "nope")]
            if prop.get("format") == "date-time":
                values += [(f"instant {v}", v) for v in _INSTANTS]
        if "integer" in kinds:
            values += [("1.5", 1.5), ("-7", -7), ("long text", "x" * 65)]
        if "boolean" in kinds:
            values += [("false", False), ("text", "yes"), ("0", 0)]
        for label, value in values:
            yield f"{name} {label}", {**example, name: value}


# Where the gateway's parser takes more than the document allows. Anything else the two
# disagree on fails the test.
KNOWN_LENIENCY: set[tuple[str, str]] = set()  # none: the parser is as strict as the document
# Where the document allows more than the parser: what JSON Schema cannot say, that a
# viewport has south <= north and west <= east.
KNOWN_UNSAYABLE = {
    ("viewport", f"{edge} {value}")
    for edge, values in {
        "south": ["at maximum"],
        "west": ["at maximum"],
        "north": ["1", "-1.5", "at minimum"],
        "east": ["1", "-1.5", "at minimum"],
    }.items()
    for value in values
}


def test_the_parser_and_the_document_agree_on_each_client_message(
    document: dict[str, Any],
) -> None:
    described = described_messages(document)
    disagreements: dict[tuple[str, str], str] = {}
    checked = 0
    for channel in CHANNELS:
        for kind, (message,) in described[(channel, IN)].items():
            validator = compile_schema(message.schema)
            for label, value in variations(message.schema, message.schema["examples"][0]):
                try:
                    parse(channel, orjson.dumps(value))
                    parsed = True
                except ProtocolError:
                    parsed = False
                valid = validator.is_valid(value)
                checked += 1
                if parsed != valid:
                    disagreements[(kind, label)] = (
                        "parser takes it" if parsed else "document takes it"
                    )
    assert checked > 500
    lenient = {k for k, v in disagreements.items() if v == "parser takes it"}
    unsayable = {k for k, v in disagreements.items() if v == "document takes it"}
    assert lenient == KNOWN_LENIENCY, (lenient - KNOWN_LENIENCY, KNOWN_LENIENCY - lenient)
    assert unsayable == KNOWN_UNSAYABLE, (unsayable - KNOWN_UNSAYABLE, KNOWN_UNSAYABLE - unsayable)


# -- served --------------------------------------------------------------------------------------


def _app() -> Any:
    from api.app import create_app

    async def no_runtime() -> Any:
        raise AssertionError("not started here")

    return create_app(no_runtime)


async def test_the_document_and_its_reader_are_served_to_anyone() -> None:
    app = _app()
    app.state.ws_port = 18_765
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://tot.test"
    ) as client:
        r = await client.get("/asyncapi.json")  # no token: public
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json"
        assert r.json() == asyncapi_document(18_765)
        assert r.json()["servers"]["gateway"]["variables"]["port"]["default"] == "18765"
        head = await client.head("/asyncapi.json")
        assert head.status_code == 200 and head.content == b""
        openapi = (await client.get("/openapi.json")).json()
        assert not {"/asyncapi.json", "/docs/asyncapi"} & set(openapi["paths"])
        page = await client.get("/docs/asyncapi")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "connect-src 'self';" in csp and "unsafe" not in csp
        assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
        assert {"/static/asyncapi.js", "/static/asyncapi.css"} <= set(assets)
        for asset in assets:
            assert (await client.get(asset)).status_code == 200, asset
        assert (await client.get("/docs")).status_code == 200  # the HTTP API's, untouched


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    import socket

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        assert server.started
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_the_reader_renders_the_document_in_chromium(tmp_path: Path) -> None:
    """Offline, under its CSP: every channel, operation and message, and the filter."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: apt-get install chromium"
    document = asyncapi_document()
    problems: list[str] = []
    requests: list[str] = []
    with serving(_app()) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("request", lambda r: requests.append(r.url))
            page.goto(f"{base}/docs/asyncapi")
            page.wait_for_selector("body[data-ready='true']", timeout=15_000)
            for name, channel in document["channels"].items():
                section = page.locator(f"#channel-{name}")
                assert channel["address"] in section.locator("h2").inner_text()
            for name in document["operations"]:
                assert page.locator(f"[id='operation-{name}']").count() == 1, name
            messages = document["components"]["messages"]
            assert page.locator("section.message").count() == len(messages)
            offer = page.locator("#message-Offer")
            assert "expires_at" in offer.inner_text() and "RFC 3339" in offer.inner_text()
            assert "1009" in page.locator("#overview").inner_text()
            page.fill("#filter", "arriving")
            visible = page.locator("section.message:visible")
            assert visible.count() == 1 and visible.get_attribute("id") == "message-Arriving"
            page.screenshot(path=str(tmp_path / "asyncapi-reader.png"), full_page=False)
        finally:
            browser.close()
    assert problems == []
    assert all(url.startswith(base) or url.startswith("data:") for url in requests), requests


# -- the handshake's refusals -------------------------------------------------------------------


async def test_handshake_refusals_are_the_described_problem_documents(
    helsinki_router: Router, tmp_path: Path, document: dict[str, Any]
) -> None:
    problem = compile_schema(document["components"]["schemas"]["HandshakeProblem"])
    statuses: set[int] = set()

    async def refused(gateway: Gateway, path: str, token: str | None, **kwargs: Any) -> None:
        with pytest.raises(InvalidStatus) as caught:
            async with ws(gateway, path, token, **kwargs):
                pass
        response = caught.value.response
        assert response.headers["Content-Type"] == "application/problem+json"
        body = orjson.loads(response.body)
        assert problem.is_valid(body), body
        assert body["status"] == response.status_code
        statuses.add(response.status_code)

    async with engine_with_gateway(helsinki_router, tmp_path) as (api, gateway):
        _, alice = await api.patient()
        _, mallory = await api.patient()
        _, doctor = await api.doctor()
        _, operator = await api.staff("operator")
        booking = await api.book(alice)
        await refused(gateway, "/ws/doctor", None)
        await refused(gateway, "/ws/doctor", "not-a-token")
        await refused(gateway, "/ws/doctor", alice)
        await refused(gateway, "/ws/operator", doctor)
        await refused(gateway, "/ws/patient/x", alice, origin="https://evil.example.org")
        await refused(gateway, "/ws/elsewhere", alice)
        await refused(gateway, f"/ws/patient/{booking['id']}", mallory)
        await refused(gateway, f"/ws/patient/{booking['id']}?last_seq=-1", alice)
        await refused(gateway, f"/ws/patient/{booking['id']}?last_seq=1&epoch=XYZ", alice)
        # a gateway process without the engine sends operators to the engine's
        extra = Gateway(
            api.runtime.auth, api.runtime.bus, watch=api.runtime.realtime.authorize_watch
        )
        await extra.start("127.0.0.1", 0)
        try:
            await refused(extra, "/ws/operator", operator)
        finally:
            await extra.stop()
    assert statuses == set(asyncapi.HANDSHAKE_REFUSALS)


# -- every message over real sockets -------------------------------------------------------------


def _expected(document: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (channel, direction, kind)
        for (channel, direction), kinds in described_messages(document).items()
        for kind in kinds
    }


async def _drive_to(doctor: Socket, router: Router, start: tuple[float, float], t0: float) -> None:
    path = router.route(start, HOME).path
    step = max(1, len(path) // 12)
    for i, p in enumerate([*path[::step], path[-1]]):
        await doctor.send(
            {
                "type": "position",
                "lat": p.lat,
                "lon": p.lon,
                "accuracy_m": 5,
                "recorded_at": rfc3339(t0 + i),
            }
        )


async def test_every_message_of_every_channel_goes_over_a_socket(
    helsinki_router: Router, tmp_path: Path, asyncapi_contract: Contract, document: dict[str, Any]
) -> None:
    mark = len(asyncapi_contract.records)
    far = (60.1868, 24.9520)  # about 2 km north of the patient
    async with engine_with_gateway(helsinki_router, tmp_path) as (api, gateway):
        _, a_token = await api.doctor(on_shift_at=NEARBY)
        b_id, b_token = await api.doctor()
        _, p1 = await api.patient()
        _, p2 = await api.patient()
        _, p3 = await api.patient()
        _, operator_token = await api.staff("operator")
        async with (
            ws(gateway, "/ws/operator", operator_token) as op,
            ws(gateway, "/ws/doctor", a_token) as a,
            ws(gateway, "/ws/doctor", b_token) as b,
        ):
            await op.next("hello")
            await op.send(
                {"type": "viewport", "south": 60.15, "west": 24.9, "north": 60.2, "east": 24.98}
            )
            await op.next("feed")
            await op.send({"type": "ping", "ref": "op-1"})
            assert (await op.next("pong"))["ref"] == "op-1"
            await op.send({"type": "cancel", "booking_id": "x", "reason": " "})
            assert (await op.next("error"))["code"] == "invalid_message"
            for doctor in (a, b):
                await doctor.next("hello")
                await doctor.next("snapshot")
            await a.send({"type": "ping", "ref": 1})
            await a.next("pong", ref=1)
            await a.send({"type": "availability", "available": False, "ref": 2})
            assert (await a.next("availability", ref=2))["status"] == "on_break"
            await a.send({"type": "availability", "available": True})
            assert (await a.next("availability"))["status"] == "available"
            await b.send(
                {"type": "shift", "action": "start", "lat": far[0], "lon": far[1], "accuracy_m": 8}
            )
            assert (await b.next("shift"))["status"] == "available"
            # a booking: offered to the nearest doctor, who accepts
            b1 = (await api.book(p1))["id"]
            offer = await a.next("offer", booking_id=b1)
            await op.next("status", booking_id=b1, status="offered")
            async with ws(gateway, f"/ws/patient/{b1}", p1) as patient:
                await patient.next("hello")
                await patient.next("snapshot")
                await patient.send({"type": "ping"})
                await patient.next("pong")
                await patient.send("{not json")
                assert (await patient.next("error"))["code"] == "invalid_json"
                await a.send({"type": "accept", "offer_id": offer["offer_id"], "ref": "acc"})
                assert (await a.next("accepted", ref="acc"))["booking_id"] == b1
                await a.next("offer_ended", outcome="accepted")
                await a.next("status", status="assigned")
                await a.next("doctor_assigned")
                await patient.next("doctor_assigned")
                await patient.next("notice")
                await a.send({"type": "progress", "booking_id": b1, "status": "en_route"})
                await a.next("progressed", status="en_route")
                await patient.next("status", status="en_route")
                await _drive_to(a, helsinki_router, NEARBY, time.time() + 1)
                await patient.next("route")
                await patient.next("position")
                await patient.next("arriving")
                r = await api.client.post(
                    f"/api/v1/bookings/{b1}/messages",
                    json={"content": "the door code is 1234"},
                    headers=api.auth(p1),
                )
                assert r.status_code == 201, r.text
                await patient.next("message")
                await a.next("message")
                # another booking: the free doctor declines it; the operator moves it on
                b2 = (await api.book(p2))["id"]
                offer2 = await b.next("offer", booking_id=b2)
                await b.send({"type": "decline", "offer_id": offer2["offer_id"], "ref": "no-why"})
                refused = await b.next("error", ref="no-why")  # a decline needs a reason
                assert refused["code"] == "invalid_message" and "reason" in refused["detail"]
                await b.send(
                    {"type": "decline", "offer_id": offer2["offer_id"], "reason": "car trouble"}
                )
                await b.next("declined")
                await b.next("offer_ended", outcome="declined")
                await op.send(
                    {
                        "type": "priority",
                        "booking_id": b2,
                        "priority": "urgent",
                        "reason": "elderly",
                        "ref": 3,
                    }
                )
                await op.next("done", ref=3)
                await op.send(
                    {"type": "cancel", "booking_id": b2, "reason": "duplicate call", "ref": 4}
                )
                assert (await op.next("done", ref=4))["status"] == "cancelled"
                # reassigned, then back to search: the doctors are released
                await op.send(
                    {
                        "type": "assign",
                        "booking_id": b1,
                        "doctor_id": b_id,
                        "reason": "test",
                        "ref": 5,
                    }
                )
                await op.next("done", ref=5)
                await a.next("doctor_released")
                await patient.next("doctor_released")
                await op.send(
                    {"type": "return_to_search", "booking_id": b1, "reason": "test", "ref": 6}
                )
                await op.next("done", ref=6)
                await op.send(
                    {"type": "cancel", "booking_id": b1, "reason": "done testing", "ref": 7}
                )
                await op.next("done", ref=7)
                await patient.next("status", status="cancelled")
            # an emergency: operators are alerted
            await api.book(p3, call_type="chest_pain", is_emergency=True)
            await op.next("alert")
            await a.send({"type": "shift", "action": "end"})
            assert (await a.next("shift"))["status"] == "offline"
        # resuming with numbers of another engine start: resync, then the state
        for path, token in (
            ("/ws/doctor", a_token),
            (f"/ws/patient/{b1}", p1),
            ("/ws/operator", operator_token),
        ):
            async with ws(gateway, f"{path}?last_seq=3&epoch=0bad", token) as again:
                await again.next("hello")
                await again.next("resync")
                if path != "/ws/operator":
                    await again.next("snapshot")
    seen = set(asyncapi_contract.seen(mark))
    missing = _expected(document) - seen
    assert not missing, sorted(missing)
    assert not asyncapi_contract.violations


@pytest.mark.redis
async def test_a_gateway_without_the_engine_relays_what_the_document_says(
    helsinki_router: Router, tmp_path: Path, redis_prefix: str, asyncapi_contract: Contract
) -> None:
    """An extra gateway (the engine through Redis), in this process so its frames are
    recorded: the doctor's snapshot and replies come through the doctor's topic."""
    from storage.redis_bus import RedisBus
    from tests.conftest import TEST_REDIS_URL

    mark = len(asyncapi_contract.records)
    async with engine_with_gateway(
        helsinki_router, tmp_path, redis_url=TEST_REDIS_URL, redis_prefix=redis_prefix
    ) as (api, _gateway):
        bus = RedisBus(TEST_REDIS_URL, redis_prefix, engine=False)
        await bus.start()
        extra = Gateway(api.runtime.auth, bus, watch=api.runtime.realtime.authorize_watch)
        await extra.start("127.0.0.1", 0)
        try:
            _, token = await api.doctor(on_shift_at=NEARBY)
            async with ws(extra, "/ws/doctor", token) as doctor:
                await doctor.next("hello")
                snapshot = await doctor.next("snapshot", timeout=10)
                assert snapshot["topic"].startswith("doctor:") and snapshot["seq"] >= 1
                await doctor.send({"type": "availability", "available": False, "ref": "r1"})
                reply = await doctor.next("availability", timeout=10)
                assert reply["ref"] == "r1" and reply["seq"] > snapshot["seq"]
                await doctor.send({"type": "accept", "offer_id": "nope.1.0"})
                error = await doctor.next("error", timeout=10)
                # the same code as on the engine's own gateway, and no ref it was not given
                assert error["code"] == "not_found" and "ref" not in error
                await doctor.send({"type": "ping"})
                await doctor.next("pong")
        finally:
            await extra.stop()
            await bus.close()
    seen = {kind for channel, _, kind in asyncapi_contract.seen(mark) if channel == "doctor"}
    assert {"hello", "snapshot", "availability", "error", "pong"} <= seen
    assert not asyncapi_contract.violations


def test_the_contract_catches_a_message_the_document_does_not_allow(
    document: dict[str, Any],
) -> None:
    contract = Contract(document)
    contract.check("patient", OUT, orjson.dumps({"type": "pong", "at": rfc3339(0.0)}))
    contract.check("patient", IN, b'{"type": "ping", "ref": 1}')
    assert contract.violations == []
    bad = [
        ("patient", OUT, {"type": "pong", "at": 1_700_000_000}),  # a number, not RFC 3339
        ("patient", OUT, {"type": "pong", "at": "2026-12-01T09:30:00Z"}),  # no milliseconds
        ("patient", OUT, {"type": "offer"}),  # not on this channel
        ("doctor", IN, {"type": "hello"}),  # not this way
        (
            "operator",
            OUT,
            {"type": "done", "command": "assign", "booking_id": "b", "status": "assigned", "x": 1},
        ),
        ("doctor", OUT, {"type": "status"}),  # fields missing
    ]
    for channel, direction, message in bad:
        contract.check(channel, direction, orjson.dumps(message))
    assert len(contract.violations) == len(bad)
    contract.check("doctor", OUT, b"[1")
    assert "not JSON" in contract.violations[-1]
