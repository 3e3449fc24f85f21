"""A pytest plugin: the WebSocket protocol's contract, checked on all the suite's traffic.

For the whole run it records every frame the gateway sends (each `send` of a client's
writer task in realtime_gateway/server.py: the events `Gateway._push` queued, and the
route, position and feed frames) and every client message it accepts (the raw frame of
each `realtime_gateway.protocol.parse` that did not raise), per channel, and validates
each against the AsyncAPI document (services/asyncapi.py): the frame must match exactly
one message of its channel and direction, found by its `type`, and that message's payload
schema (JSON Schema, formats checked). A violation fails the test that produced it.

The engine run as a subprocess for the browser tests (tests/pages_server.py) records to a
file named by TOT_CONTRACT_LOG, which this plugin sets and reads after each test: the
pages' own messages are checked too. Registered from tests/conftest.py.
"""

from __future__ import annotations

import functools
import json
import os
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
import pytest

from services.asyncapi import asyncapi_document

IN, OUT = "in", "out"  # client -> gateway, gateway -> client
LOG_ENV = "TOT_CONTRACT_LOG"
Sink = Callable[[str, str, str | bytes], None]


def resolve(document: dict[str, Any], ref: str) -> Any:
    """A local `$ref` ("#/a/b") of the document; KeyError when it does not resolve."""
    if not ref.startswith("#/"):
        raise KeyError(f"not a local reference: {ref}")
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def deref(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = resolve(document, node["$ref"])
    return node


def gateway_channel(address: str) -> str:
    """The gateway's name of a channel ("/ws/patient/{booking_id}" -> "patient")."""
    return address.split("/")[2]


@dataclass(frozen=True, slots=True)
class Described:
    key: str  # the message's key in components/messages
    schema: dict[str, Any]


def described_messages(
    document: dict[str, Any],
) -> dict[tuple[str, str], dict[str, list[Described]]]:
    """(channel, direction) -> `type` -> the messages the document gives it there, as a
    client reads the document: operations say the direction (`receive`: the gateway takes
    it; `send` and replies: the gateway sends it), channels and components the rest."""
    out: dict[tuple[str, str], dict[str, list[Described]]] = {}

    def add(channel_ref: dict[str, str], direction: str, message_ref: dict[str, str]) -> None:
        channel = gateway_channel(deref(document, channel_ref)["address"])
        node: Any = message_ref
        while "$ref" in node:  # the operation's -> the channel's -> the component
            ref, node = node["$ref"], resolve(document, node["$ref"])
        payload = deref(document, node["payload"])
        kind = payload["properties"]["type"]["const"]
        found = out.setdefault((channel, direction), {}).setdefault(kind, [])
        key = ref.rsplit("/", 1)[-1]
        if all(d.key != key for d in found):
            found.append(Described(key, payload))

    for operation in document["operations"].values():
        direction = IN if operation["action"] == "receive" else OUT
        for message_ref in operation["messages"]:
            add(operation["channel"], direction, message_ref)
        reply = operation.get("reply")
        if reply is not None:
            for message_ref in reply["messages"]:
                add(reply["channel"], OUT if direction == IN else IN, message_ref)
    return out


def compile_schema(schema: dict[str, Any]) -> Any:
    return jsonschema_rs.Draft7Validator(schema, validate_formats=True)


@dataclass(slots=True)
class Record:
    channel: str
    direction: str
    type: str | None
    problem: str | None  # None: valid


@dataclass
class Contract:
    """Validates frames against the document; keeps what it saw."""

    document: dict[str, Any] = field(default_factory=asyncapi_document)
    records: list[Record] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.described = described_messages(self.document)
        self._validators: dict[str, Any] = {}

    def validator(self, message: Described) -> Any:
        if message.key not in self._validators:
            self._validators[message.key] = compile_schema(message.schema)
        return self._validators[message.key]

    def problem(
        self, channel: str, direction: str, frame: str | bytes
    ) -> tuple[str | None, str | None]:
        """(the frame's type, what is wrong with it or None)."""
        try:
            message = orjson.loads(frame)
        except orjson.JSONDecodeError:
            return None, "not JSON"
        kind = message.get("type") if isinstance(message, dict) else None
        if not isinstance(kind, str):
            return None, "no `type`"
        candidates = self.described.get((channel, direction), {}).get(kind, [])
        if len(candidates) != 1:
            return kind, (
                f"{len(candidates)} messages of type {kind!r} described for "
                f"{channel} {'client -> gateway' if direction == IN else 'gateway -> client'}"
            )
        errors = list(self.validator(candidates[0]).iter_errors(message))
        if errors:
            return kind, "; ".join(
                f"{'/'.join(map(str, e.instance_path)) or '(root)'}: {e.message}" for e in errors
            )
        return kind, None

    def check(self, channel: str, direction: str, frame: str | bytes) -> None:
        kind, problem = self.problem(channel, direction, frame)
        self.records.append(Record(channel, direction, kind, problem))
        if problem is not None:
            text = frame.decode(errors="replace") if isinstance(frame, bytes) else frame
            arrow = "client -> gateway" if direction == IN else "gateway -> client"
            self.violations.append(f"/ws/{channel} {arrow} {kind}: {problem}\n    {text[:500]}")

    def seen(self, since: int = 0) -> Counter[tuple[str, str, str]]:
        return Counter(
            (r.channel, r.direction, r.type)
            for r in self.records[since:]
            if r.type is not None and r.problem is None
        )


# -- recording the gateway ----------------------------------------------------------------------


def install(sink: Sink) -> Callable[[], None]:
    """Route every frame the gateway sends and every client message it accepts to `sink`
    (channel, direction, raw frame); returns the undo."""
    from realtime_gateway import server

    original_parse = server.parse
    original_write = server.Gateway._write

    @functools.wraps(original_parse)
    def parse(channel: str, raw: str | bytes) -> dict[str, Any]:
        parsed = original_parse(channel, raw)  # raises on what it does not accept
        sink(channel, IN, raw)
        return parsed

    @functools.wraps(original_write)
    async def write(self: server.Gateway, client: server.Client) -> None:
        send = client.connection.send

        async def recorded_send(message: Any, text: bool | None = None) -> None:
            sink(client.channel, OUT, message)
            await send(message, text=text)

        client.connection.send = recorded_send  # type: ignore[method-assign]
        await original_write(self, client)

    server.parse = parse  # type: ignore[assignment]
    server.Gateway._write = write  # type: ignore[method-assign]

    def undo() -> None:
        server.parse = original_parse
        server.Gateway._write = original_write  # type: ignore[method-assign]

    return undo


def install_file_sink(path: str) -> None:
    """For a server in a subprocess: append each frame to `path` as a JSON line."""
    out = Path(path).open("a", encoding="utf-8")  # noqa: SIM115 - open as long as the process

    def sink(channel: str, direction: str, frame: str | bytes) -> None:
        text = frame.decode() if isinstance(frame, bytes) else frame
        out.write(json.dumps({"channel": channel, "direction": direction, "frame": text}) + "\n")
        out.flush()

    install(sink)


# -- the plugin ---------------------------------------------------------------------------------


class Plugin:
    def __init__(self, log_path: Path) -> None:
        self.contract = Contract()
        self.log_path = log_path
        self.log_offset = 0
        self.undo = install(self.contract.check)
        self.failed_outside_tests: list[str] = []

    def read_log(self) -> None:
        """What servers in subprocesses recorded since the last look."""
        if not self.log_path.exists():
            return
        with self.log_path.open("rb") as f:
            f.seek(self.log_offset)
            data = f.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.log_offset += len(complete)
        for line in complete.splitlines():
            entry = json.loads(line)
            self.contract.check(entry["channel"], entry["direction"], entry["frame"])

    def new_violations(self, start: int) -> list[str]:
        self.read_log()
        return self.contract.violations[start:]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        start = len(self.contract.violations)
        result = yield
        found = self.new_violations(start)
        if found:
            pytest.fail(_report(found), pytrace=False)
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, Any, Any]:
        start = len(self.contract.violations)
        result = yield
        found = self.new_violations(start)
        if found:  # sent while fixtures were torn down
            pytest.fail(_report(found), pytrace=False)
        return result

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.read_log()
        self.undo()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        records = self.contract.records
        if not records:
            return
        valid = [r for r in records if r.problem is None]
        in_count = sum(1 for r in valid if r.direction == IN)
        described = {
            (channel, direction, kind)
            for (channel, direction), kinds in self.contract.described.items()
            for kind in kinds
        }
        seen = set(self.contract.seen())
        terminalreporter.write_line(
            f"AsyncAPI contract: {len(valid)} of {len(records)} WebSocket messages valid "
            f"({in_count} client -> gateway, {len(valid) - in_count} gateway -> client); "
            f"{len(seen & described)} of {len(described)} described messages seen"
        )
        if self.contract.violations:
            terminalreporter.write_line(f"{len(self.contract.violations)} contract violations")


def _report(violations: list[str]) -> str:
    shown = "\n".join(violations[:20])
    more = f"\n... and {len(violations) - 20} more" if len(violations) > 20 else ""
    return (
        f"{len(violations)} WebSocket message(s) do not match the AsyncAPI document "
        f"(services/asyncapi.py):\n{shown}{more}"
    )


_PLUGIN_NAME = "tot-asyncapi-contract"


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.has_plugin(_PLUGIN_NAME):
        return
    log_dir = Path(config.rootpath) / ".pytest_cache" / "asyncapi-contract"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"frames-{os.getpid()}.jsonl"
    log_path.unlink(missing_ok=True)
    os.environ[LOG_ENV] = str(log_path)  # servers in subprocesses record there
    config.pluginmanager.register(Plugin(log_path), _PLUGIN_NAME)


@pytest.fixture
def asyncapi_contract(pytestconfig: pytest.Config) -> Contract:
    """The run's contract: what it recorded so far (the `records` since a mark)."""
    plugin = pytestconfig.pluginmanager.get_plugin(_PLUGIN_NAME)
    assert isinstance(plugin, Plugin)
    return plugin.contract
