"""The OpenAPI document is complete and accurate.

Schemathesis fuzzes every operation of the real app (the harness's runtime and stores,
SQLite and PostGIS, served by uvicorn on a loopback port from a thread of its own) with
positive and negative data, as the role each operation is for, and runs every check it
has: no server error, every status code, content type, header and body as documented,
negative data refused, positive data accepted, auth not ignored, 405s with a right Allow.
Nothing is excluded; one expectation is widened, with the reason, in CONFIG.

TOT_SCHEMA_MAX_EXAMPLES and TOT_SCHEMA_SEED explore further than the suite's default.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
import uvicorn
from schemathesis import Case
from schemathesis.core.parameters import ParameterLocation

from api.app import API_PREFIX, create_app
from routing import RoadGraph, Router
from tests.api_harness import HOME, NEARBY, running_api
from tests.test_api import api_routes

MAX_EXAMPLES = int(os.environ.get("TOT_SCHEMA_MAX_EXAMPLES", "40"))


def _openapi() -> dict[str, Any]:
    async def never() -> Any:
        raise AssertionError("not started")

    return create_app(never).openapi()


CONFIG = schemathesis.Config.from_dict(
    {
        "seed": int(os.environ.get("TOT_SCHEMA_SEED", "20240601")),
        "generation": {
            "mode": "all",  # positive and negative data
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            # The bearer token is ours to send (a valid one per role, below).
            "with-security-parameters": False,
        },
        "checks": {
            "enabled": True,
            # Positive data may meet a 422 that no JSON Schema can foresee: an address off
            # the road network, a transition the booking's state forbids, a position fix
            # the registry finds implausible, a cursor this API never gave out. Those are
            # allowed here; a 422 from *schema* validation is not (validation_agrees_with_schema).
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]
            },
        },
    }
)
schema = schemathesis.openapi.from_dict(_openapi(), config=CONFIG)


# -- a live server, on a thread of its own ------------------------------------------------


@dataclass
class Live:
    base_url: str
    tokens: dict[str, str] = field(default_factory=dict)  # role -> access token
    ids: dict[str, str] = field(default_factory=dict)  # what -> a real id


class _Server(threading.Thread):
    """The real app and runtime on their own event loop. routingkit-cch objects must be
    made, used and freed on one thread, so this thread builds its own Router."""

    def __init__(self, graph: RoadGraph, tmp_path: Path, backend: str) -> None:
        super().__init__(name=f"schemathesis-api-{backend}", daemon=True)
        self.graph = graph
        self.tmp_path = tmp_path
        self.backend = backend
        self.ready = threading.Event()
        self.live: Live | None = None
        self.error: BaseException | None = None
        self.server: uvicorn.Server | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # handed to the main thread
            self.error = exc
        finally:
            self.ready.set()
            gc.collect()  # free the Router here, on the thread that made it

    async def _serve(self) -> None:
        router = Router(self.graph)
        # proto=IPPROTO_TCP, or asyncio skips TCP_NODELAY on the accepted connections and
        # each keep-alive response waits out the client's delayed ACK (40 ms).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(sock.close)
            api = await stack.enter_async_context(
                running_api(router, self.tmp_path, backend=self.backend)
            )
            # Something uvicorn leaves behind keeps the app alive until this thread ends,
            # and the app's state holds the runtime, and so the Router: let go of it here.
            stack.callback(delattr, api.app.state, "runtime")
            live = Live(f"http://127.0.0.1:{port}")
            patient_id, live.tokens["patient"] = await api.patient()
            doctor_id, live.tokens["doctor"] = await api.doctor(on_shift_at=NEARBY)
            _, live.tokens["operator"] = await api.staff("operator")
            live.tokens["admin"] = api.admin_token
            target_id, _ = await api.patient()  # for the admin to block, re-role, ...
            booking = await api.book(live.tokens["patient"], address="Mannerheimintie 1")
            live.ids.update(
                patient=patient_id, doctor=doctor_id, target=target_id, booking=booking["id"]
            )
            offers = await api.client.get("/api/v1/offers", headers=api.auth(live.tokens["doctor"]))
            assert offers.status_code == 200, offers.text
            if offers.json():
                live.ids["offer"] = offers.json()[0]["offer_id"]
            config = uvicorn.Config(api.app, lifespan="off", log_level="warning", access_log=False)
            self.server = uvicorn.Server(config)
            serving = asyncio.create_task(self.server.serve(sockets=[sock]))
            while not self.server.started and not serving.done():
                await asyncio.sleep(0.01)
            self.live = live
            self.ready.set()
            try:
                await serving
            finally:
                self.server = None

    def stop(self) -> None:
        server = self.server
        if server is not None:
            server.should_exit = True
        self.join(timeout=30)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)]
)
def live(
    request: pytest.FixtureRequest,
    helsinki_graph: RoadGraph,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Live]:
    server = _Server(helsinki_graph, tmp_path_factory.mktemp("schema-api"), request.param)
    server.start()
    server.ready.wait(timeout=120)
    if server.live is None:
        server.stop()
        raise RuntimeError("the API server did not start") from server.error
    try:
        yield server.live
    finally:
        server.stop()
        assert not server.is_alive()
        assert server.error is None, server.error


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


# -- who calls what -------------------------------------------------------------------------


def role_for(case: Case) -> str | None:
    """The role an operation is for: None for the public ones, else by its path."""
    if not case.operation.definition.raw.get("security"):
        return None
    rest = case.path.removeprefix(API_PREFIX)
    if rest.startswith("/admin") or rest == "/auth/register/doctor":  # optional token
        return "admin"
    if rest.startswith("/operator"):
        return "operator"
    if rest.startswith(("/doctors/me", "/offers")) or rest.endswith("/progress"):
        return "doctor"
    return "patient"


# Path parameters for which a real id is known: without them nearly every call with an
# id would stop at 404 and the handlers behind it would go untested.
KNOWN_IDS = {
    "booking_id": "booking",
    "user_id": "target",
    "doctor_id": "doctor",
    "offer_id": "offer",
    "target_id": "booking",
}


def _positive(case: Case, location: str) -> bool:
    """Whether this part of the request was generated valid: only then may a real value
    replace a drawn one without turning an invalid request into a valid one."""
    meta = case.meta
    if meta is None:
        return False
    info = meta.components.get(ParameterLocation(location))
    return info is None or info.mode.is_positive


def _one_in(case: Case, n: int, salt: str) -> bool:
    """A choice by hash of the case, so a derandomized run repeats exactly."""
    fingerprint = repr((salt, case.method, case.path, case.path_parameters, case.query, case.body))
    return zlib.crc32(fingerprint.encode()) % n == 0


def use_known_ids(case: Case, live: Live) -> None:
    """For about two cases in five, real ids in the path."""
    params = case.path_parameters
    if not params or not _positive(case, "path"):
        return
    if not (_one_in(case, 5, "a") or _one_in(case, 5, "b")):
        return
    for name in params:
        known = live.ids.get(KNOWN_IDS.get(name, ""))
        if known is not None:
            params[name] = known
    if "target_type" in params:
        params["target_type"] = "booking"


def use_city(case: Case) -> None:
    """For about half the bodies with a position, one in central Helsinki: a point drawn
    from the whole globe is nowhere near the bundled map's roads, and every booking, shift
    and fix would stop at 'cannot be reached by road'."""
    body = case.body
    if not isinstance(body, dict) or not _positive(case, "body") or not _one_in(case, 2, "city"):
        return
    if isinstance(body.get("latitude"), float | int) and isinstance(
        body.get("longitude"), float | int
    ):
        jitter = (zlib.crc32(repr(body).encode()) % 200 - 100) / 100_000  # about +-100 m
        body["latitude"], body["longitude"] = HOME[0] + jitter, HOME[1] - jitter


# -- the tests ------------------------------------------------------------------------------


def validation_agrees_with_schema(ctx: Any, response: Any, case: Case) -> bool | None:
    """Data the schema calls valid never fails request validation: a 422 for positive
    data must come from the domain (a problem without `errors`), not from the models."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    body = response.json()
    assert "errors" not in body, f"schema-valid data refused by validation: {body['errors']}"
    return True


@schema.parametrize()
def test_every_operation_conforms(case: Case, live: Live, session: requests.Session) -> None:
    headers = {}
    role = role_for(case)
    if role is not None:
        headers["Authorization"] = f"Bearer {live.tokens[role]}"
    use_known_ids(case, live)
    use_city(case)
    case.call_and_validate(
        base_url=live.base_url,
        session=session,
        headers=headers,
        additional_checks=[validation_agrees_with_schema],
    )


def test_the_document_is_valid_complete_and_served(live: Live, session: requests.Session) -> None:
    served = session.get(f"{live.base_url}/openapi.json", timeout=10)
    assert served.status_code == 200
    document = served.json()
    assert document == _openapi()
    schemathesis.openapi.from_dict(document).validate()  # against the OpenAPI 3.1 schema

    app = create_app(lambda: None)  # type: ignore[arg-type, return-value]
    routes = {
        (method.lower(), path.replace(":path}", "}"))
        for route, path in api_routes(app)
        for method in route.methods  # type: ignore[attr-defined]
    }
    documented = {
        (method, path)
        for path, item in document["paths"].items()
        if path.startswith("/api/")
        for method in item
    }
    assert len(routes) > 30 and routes == documented

    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "500" in responses, (method, path)
            if operation.get("security") == [{"HTTPBearer": []}]:
                assert "401" in responses, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= responses.keys(), (method, path)
            for code, response in responses.items():
                assert "X-Request-ID" in response["headers"], (method, path, code)
                if int(code) >= 400 and (path, code) != (f"{API_PREFIX}/ready", "503"):
                    assert list(response["content"]) == ["application/problem+json"]


def test_routes_that_take_an_optional_token_say_so() -> None:
    operation = _openapi()["paths"][f"{API_PREFIX}/auth/register/doctor"]["post"]
    assert {} in operation["security"] and {"HTTPBearer": []} in operation["security"]


# Durations in seconds, named `_s`; every instant is an RFC 3339 date-time (in UTC).
DURATIONS = {"eta_s", "ttl_s", "fix_age_s", "visit_remainder_s", "cost_s"}


def test_instants_are_date_times_and_only_durations_are_seconds() -> None:
    document = _openapi()
    seen: set[str] = set()
    for name, component in document["components"]["schemas"].items():
        for prop, spec in component.get("properties", {}).items():
            seen.add(prop)
            types = [spec, *spec.get("anyOf", [])]
            if prop.endswith("_s"):
                assert prop in DURATIONS, f"{name}.{prop}: an instant? use a date-time"
                assert not prop.endswith("_at_s"), f"{name}.{prop}"
            if prop == "at" or prop.endswith(("_at", "_until")):
                assert any(t.get("format") == "date-time" for t in types), f"{name}.{prop}"
    assert {"at", "decided_at", "expires_at", "created_at", "eta_s"} <= seen
    assert not seen & {"at_s", "decided_at_s"}
