"""The OpenAPI document is exact: schemathesis, with its own defaults and every check,
finds nothing.

The real app (the harness's runtime and stores, SQLite and PostGIS) is served by uvicorn
on a loopback port from a thread of its own, and tested three ways:

- every operation is fuzzed with positive and negative data, as the role it is for, with
  real ids and points on the bundled map mixed in (`test_every_operation_conforms`);
- the stateful phase: sequences of calls that follow the document's OpenAPI links (the id
  a booking's creation returns, read, cancelled, assigned...), each call as the role its
  operation is for (`test_stateful_sequences_follow_the_links`);
- the `st` command as an outside tester runs it, `st run --checks all` with every phase
  (examples, coverage, fuzzing, stateful): once with each role's token, and once with
  every role's login at hand, where each operation is called as a role it admits and two
  patients are peers for the object-level authorization check (`test_st_run_finds_nothing`).

The one setting beyond schemathesis's defaults is the repository's schemathesis.toml (a
narrowing for the three operations whose refusal depends on the map, argued there), read
by all three. Nothing is excluded. Admins cannot lock anyone out (services.admin), and
between the parts the harness puts its accounts back (`restore`), so each part starts with
working logins whatever the one before did to them.

TOT_SCHEMA_MAX_EXAMPLES, TOT_SCHEMA_STATEFUL_EXAMPLES, TOT_SCHEMA_CLI_MAX_EXAMPLES and
TOT_SCHEMA_SEED explore further than the suite's defaults.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import re
import socket
import subprocess
import sys
import threading
import tomllib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
import uvicorn
from schemathesis import Case
from schemathesis.core.parameters import ParameterLocation

from api.app import API_PREFIX, create_app
from api.openapi import LINKS, NOT_A_SCAN, OFF_THE_MAP
from api.schemas import CURSOR_PATTERN, RFC3339_PATTERN
from routing import RoadGraph, Router
from tests.api_harness import ADMIN_EMAIL, ADMIN_PASSWORD, HOME, NEARBY, PASSWORD, running_api
from tests.test_api import api_routes

ROOT = Path(__file__).resolve().parents[1]
PROJECT_CONFIG = ROOT / "schemathesis.toml"
SEED = int(os.environ.get("TOT_SCHEMA_SEED", "20240601"))
MAX_EXAMPLES = int(os.environ.get("TOT_SCHEMA_MAX_EXAMPLES", "15"))
# 40 sequences: with the clinic routes there are more operations to start from, and at 25
# a run sometimes made no booking at all (which the stateful test requires).
STATEFUL_EXAMPLES = int(os.environ.get("TOT_SCHEMA_STATEFUL_EXAMPLES", "40"))
CLI_MAX_EXAMPLES = int(os.environ.get("TOT_SCHEMA_CLI_MAX_EXAMPLES", "3"))
ROLES = ("patient", "doctor", "operator", "admin")


def _openapi() -> dict[str, Any]:
    async def never() -> Any:
        raise AssertionError("not started")

    return create_app(never).openapi()


def _config() -> schemathesis.Config:
    """The project's schemathesis.toml, with this suite's generation settings."""
    settings = tomllib.loads(PROJECT_CONFIG.read_text(encoding="utf-8"))
    settings["seed"] = SEED
    settings["generation"] = {
        "mode": "all",  # positive and negative data
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        "database": "none",
        # The bearer token is ours to send (a valid one per role, below).
        "with-security-parameters": False,
    }
    return schemathesis.Config.from_dict(settings)


schema = schemathesis.openapi.from_dict(_openapi(), config=_config())


# -- a live server, on a thread of its own ------------------------------------------------

# The harness's accounts, by what they are called here, and the role each one has.
ACCOUNTS = {"patient": "patient", "patient2": "patient", "doctor": "doctor",
            "operator": "operator"}  # fmt: skip


@dataclass
class Live:
    base_url: str
    backend: str
    tokens: dict[str, str] = field(default_factory=dict)  # account -> access token
    ids: dict[str, str] = field(default_factory=dict)  # what -> a real id
    emails: dict[str, str] = field(default_factory=dict)  # account -> e-mail


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
                running_api(
                    router,
                    self.tmp_path,
                    backend=self.backend,
                    # The fuzzers log in and register far more than anyone would: the
                    # limits are tested elsewhere (tests/test_rate_limit.py).
                    login_rate_per_min=1_000_000,
                    booking_rate_per_min=1_000_000,
                    booking_rate_per_ip_per_min=1_000_000,
                )
            )
            # Something uvicorn leaves behind keeps the app alive until this thread ends,
            # and the app's state holds the runtime, and so the Router: let go of it here.
            stack.callback(delattr, api.app.state, "runtime")
            live = Live(f"http://127.0.0.1:{port}", self.backend)
            live.ids["patient"], live.tokens["patient"] = await api.patient()
            live.ids["patient2"], live.tokens["patient2"] = await api.patient()
            live.ids["doctor"], live.tokens["doctor"] = await api.doctor(on_shift_at=NEARBY)
            live.ids["operator"], live.tokens["operator"] = await api.staff("operator")
            live.tokens["admin"] = api.admin_token
            for account in ACCOUNTS:
                me = await api.client.get("/api/v1/auth/me", headers=api.auth(live.tokens[account]))
                live.emails[account] = me.json()["email"]
            live.ids["target"], _ = await api.patient()  # for the admin to block, re-role, ...
            booking = await api.book(live.tokens["patient"], address="Mannerheimintie 1")
            live.ids["booking"] = booking["id"]
            clinic = await api.client.post(
                "/api/v1/clinics",
                json={"name": "Harness clinic", "timezone": "Europe/Helsinki"},
                headers=api.auth(api.admin_token),
            )
            assert clinic.status_code == 201, clinic.text
            live.ids["clinic"] = clinic.json()["clinic_id"]
            joined = await api.client.post(
                f"/api/v1/clinics/{live.ids['clinic']}/doctors",
                json={"email": live.emails["doctor"]},
                headers=api.auth(api.admin_token),
            )
            assert joined.status_code == 200, joined.text
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


def restore(live: Live, session: requests.Session) -> None:
    """Put the harness's accounts back as they were (role, not blocked, the doctor verified
    and on shift) and log each in afresh: a fuzzer with the admin's token may have blocked
    or re-roled them, which ends their logins. The admin cannot be (services.admin)."""
    base = f"{live.base_url}{API_PREFIX}"

    def login(email: str, password: str) -> str:
        r = session.post(f"{base}/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    live.tokens["admin"] = login(ADMIN_EMAIL, ADMIN_PASSWORD)
    admin = {"Authorization": f"Bearer {live.tokens['admin']}"}
    for account, role in ACCOUNTS.items():
        user_id = live.ids[account]
        r = session.get(f"{base}/admin/users/{user_id}", headers=admin)
        assert r.status_code == 200, r.text
        user = r.json()
        if user["role"] != role:
            r = session.put(
                f"{base}/admin/users/{user_id}/role",
                json={"role": role, "reason": "the test harness's account"},
                headers=admin,
            )
            assert r.status_code == 200, r.text
        if not user["is_active"]:
            r = session.post(f"{base}/admin/users/{user_id}/unblock", headers=admin)
            assert r.status_code == 200, r.text
        if role == "doctor":
            r = session.post(f"{base}/admin/doctors/{user_id}/verify", headers=admin)
            assert r.status_code == 200, r.text
        live.tokens[account] = login(live.emails[account], PASSWORD)
    doctor = {"Authorization": f"Bearer {live.tokens['doctor']}"}
    # Back on shift (a fix far away and recent may make the way back implausible: 409).
    r = session.post(
        f"{base}/doctors/me/shift",
        json={"latitude": NEARBY[0], "longitude": NEARBY[1]},
        headers=doctor,
    )
    assert r.status_code in (200, 409), r.text


# -- who calls what -------------------------------------------------------------------------


def role_for(case: Case) -> str | None:
    """The role an operation is for: None for the public ones, else by its path."""
    if not case.operation.definition.raw.get("security"):
        return None
    rest = case.path.removeprefix(API_PREFIX)
    if rest.startswith(("/admin", "/clinics")) or rest == "/auth/register/doctor":
        return "admin"
    if rest.startswith("/operator"):
        return "operator"
    if rest.startswith(("/doctors/me", "/offers")) or rest.endswith("/progress"):
        return "doctor"
    return "patient"


def auth_for(case: Case, live: Live) -> dict[str, str]:
    role = role_for(case)
    return {} if role is None else {"Authorization": f"Bearer {live.tokens[role]}"}


# Path parameters for which a real id is known: without them nearly every call with an
# id would stop at 404 and the handlers behind it would go untested.
KNOWN_IDS = {
    "booking_id": "booking",
    "user_id": "target",
    "doctor_id": "doctor",
    "offer_id": "offer",
    "target_id": "booking",
    "clinic_id": "clinic",
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
    from the whole globe is nowhere near the bundled map's roads, and every booking and
    estimate would stop at 'cannot be reached by road'."""
    body = case.body
    if not isinstance(body, dict) or not _positive(case, "body") or not _one_in(case, 2, "city"):
        return
    if isinstance(body.get("latitude"), float | int) and isinstance(
        body.get("longitude"), float | int
    ):
        jitter = (zlib.crc32(repr(body).encode()) % 200 - 100) / 100_000  # about +-100 m
        body["latitude"], body["longitude"] = HOME[0] + jitter, HOME[1] - jitter


def validation_agrees_with_schema(ctx: Any, response: Any, case: Case) -> bool | None:
    """Data the schema calls valid never fails request validation: where a 422 is allowed
    for positive data at all (off the map), it comes from the domain, a problem without
    `errors`, never from the models."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    body = response.json()
    assert "errors" not in body, f"schema-valid data refused by validation: {body['errors']}"
    return True


# -- fuzzing every operation ----------------------------------------------------------------


@schema.parametrize()
def test_every_operation_conforms(case: Case, live: Live, session: requests.Session) -> None:
    use_known_ids(case, live)
    use_city(case)
    case.call_and_validate(
        base_url=live.base_url,
        session=session,
        headers=auth_for(case, live),
        additional_checks=[validation_agrees_with_schema],
    )


# -- the stateful phase ------------------------------------------------------------------------


def test_stateful_sequences_follow_the_links(live: Live, session: requests.Session) -> None:
    restore(live, session)
    calls: list[tuple[str, int]] = []
    failures: list[str] = []
    scenarios = 0

    class AsEachRole(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # The admin's calls may have blocked or re-roled an account whose token the
            # harness uses (ending its logins): each sequence starts with working ones.
            if calls and any(status == 401 for _, status in calls[-20:]):
                restore(live, session)
            super().setup()

        def before_call(self, case: Case) -> None:
            use_city(case)

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"base_url": live.base_url, "session": session, "headers": auth_for(case, live)}

        def after_call(self, response: Any, case: Case) -> None:
            super().after_call(response, case)
            calls.append((f"{case.method} {case.path}", response.status_code))

        def validate_response(
            self,
            response: Any,
            case: Case,
            additional_checks: list[Any] | None = None,
            **kwargs: Any,
        ) -> None:
            try:
                super().validate_response(
                    response, case, additional_checks=[validation_agrees_with_schema], **kwargs
                )
            except Exception as exc:  # kept: Hypothesis's replay may not meet it again
                failures.append(f"{case.method} {case.path} -> {response.status_code}: {exc}")
                raise

        def teardown(self) -> None:
            nonlocal scenarios
            scenarios += 1
            super().teardown()

    # The server's state moves on, so a sequence replayed is not the same sequence:
    # Hypothesis may then call the run flaky. What counts is what each call got (above).
    for attempt in range(5):
        machine = hypothesis.seed(SEED + attempt)(AsEachRole)
        try:
            machine.run(
                settings=hypothesis.settings(
                    max_examples=STATEFUL_EXAMPLES,
                    stateful_step_count=8,
                    deadline=None,
                    database=None,
                    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                    suppress_health_check=list(hypothesis.HealthCheck),
                )
            )
        except hypothesis.errors.Flaky:
            if failures:
                break
        assert failures == [], "\n".join(failures)
        if scenarios >= STATEFUL_EXAMPLES:
            break
    assert failures == [], "\n".join(failures)
    assert scenarios >= STATEFUL_EXAMPLES
    # The sequences went somewhere: bookings were made, then used by their ids.
    assert ("POST /api/v1/bookings", 201) in calls, calls
    used = {what for what, status in calls if status < 300 and "{" in what}
    assert used, calls
    restore(live, session)  # and nobody is locked out: the admin logs in still


# -- `st run`, as an outside tester runs it ----------------------------------------------


def _wfc_document(live: Live) -> dict[str, Any]:
    """Every role's login, for schemathesis to log in with: each operation is called as the
    first of them it admits (patients first, so their bookings are theirs)."""

    def login(name: str, email: str, password: str) -> dict[str, Any]:
        return {
            "name": name,
            "loginEndpointAuth": {
                "endpoint": f"{API_PREFIX}/auth/login",
                "verb": "POST",
                "contentType": "application/json",
                "payloadUserPwd": {
                    "username": email, "usernameField": "email",
                    "password": password, "passwordField": "password",
                },
                "token": {
                    "extractFrom": "body", "extractSelector": "/access_token",
                    "sendIn": "header", "sendName": "Authorization",
                    "sendTemplate": "Bearer {token}",
                },
            },
        }  # fmt: skip

    users = [
        login(a, live.emails[a], PASSWORD) for a in ("patient", "patient2", "doctor", "operator")
    ]
    return {"auth": [*users, login("admin", ADMIN_EMAIL, ADMIN_PASSWORD)]}


def _st_run(who: str, live: Live, workdir: Path) -> subprocess.Popen[str]:
    """`st run --checks all`, every phase, with `who`'s token (or, for "everyone", every
    role's login), started in `workdir` with the project's schemathesis.toml."""
    workdir.mkdir()
    config = PROJECT_CONFIG.read_text(encoding="utf-8")
    command = [str(Path(sys.executable).parent / "st"), "--config-file", "schemathesis.toml"]
    command += ["run", f"{live.base_url}/openapi.json", "--checks", "all", "--mode", "all"]
    command += ["--phases", "examples,coverage,fuzzing,stateful"]
    command += ["--max-examples", str(CLI_MAX_EXAMPLES), "--seed", str(SEED)]
    command += ["--generation-database", "none", "--no-color", "--request-timeout", "60"]
    command += ["--report", "junit", "--report-dir", str(workdir)]
    if who == "everyone":
        (workdir / "auth.json").write_text(json.dumps(_wfc_document(live)), encoding="utf-8")
        # Two patients must not see each other's objects (object_level_authorization).
        config += '\n[auth.wfc]\npath = "auth.json"\npeers = ["patient", "patient2"]\n'
    else:
        command += ["-H", f"Authorization: Bearer {live.tokens[who]}"]
    (workdir / "schemathesis.toml").write_text(config, encoding="utf-8")
    return subprocess.Popen(
        command,
        cwd=workdir,
        stdout=(workdir / "output.txt").open("w", encoding="utf-8"),
        stderr=subprocess.STDOUT,
        text=True,
    )


# Each run costs about 20 s of CPU, mostly its coverage phase, whatever --max-examples
# says: every role's token alone on the embedded store, and every role's login at once on
# both (TOT_SCHEMA_CLI_EVERY_STORE=1: all five on both).
CLI_RUNS = {"sqlite": (*ROLES, "everyone"), "postgis": ("everyone",)}
if os.environ.get("TOT_SCHEMA_CLI_EVERY_STORE"):
    CLI_RUNS["postgis"] = CLI_RUNS["sqlite"]


def test_st_run_finds_nothing(live: Live, session: requests.Session, tmp_path: Path) -> None:
    """Every role's logins first, then each role's token alone, at once (`st` is the busier
    side, and there are two cores). The admin's
    may block or re-role the others' accounts meanwhile: their calls then get 401, which
    the checks allow, and nothing an admin does can lock the admin out."""
    restore(live, session)
    # Every role's login first, alone: the admin's own run blocks and re-roles the others'
    # accounts, and a login that fails is an error of the run, not a 401 the checks allow.
    runs = {"everyone": _st_run("everyone", live, tmp_path / "everyone")}
    runs["everyone"].wait(timeout=900)
    restore(live, session)
    for who in CLI_RUNS[live.backend]:
        if who != "everyone":
            runs[who] = _st_run(who, live, tmp_path / who)
    for run in runs.values():
        run.wait(timeout=900)
    for who, run in runs.items():
        output = (tmp_path / who / "output.txt").read_text(encoding="utf-8")
        tail = f"{who}:\n{output[-20_000:]}"
        assert run.returncode == 0, tail
        summary = re.search(r"(\d+) generated, (\d+) passed", output)
        assert summary is not None and int(summary[1]) > 0, tail
        assert summary[1] == summary[2], tail
        assert re.search(r"=+ (\d+ warnings? in|No issues found in|.*passed in)", output), tail
        assert not re.search(r"\d+ (failures?|errors?)\b", output.splitlines()[-1]), tail
        for phase in ("Coverage", "Fuzzing", "Stateful"):
            assert re.search(rf"✅ +{phase}\b", output), tail
        junit = next((tmp_path / who).glob("junit*.xml")).read_text(encoding="utf-8")
        assert 'failures="0"' in junit and 'errors="0"' in junit, tail
    restore(live, session)  # the harness's logins all work still


# -- the document itself ---------------------------------------------------------------------


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


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for item in document["paths"].values() for op in item.values()}


def test_operation_ids_are_the_handlers_names_and_links_lead_somewhere() -> None:
    document = _openapi()
    operations = _operations(document)
    assert len(operations) == sum(len(item) for item in document["paths"].values())
    assert {"create_booking", "get_booking", "assign", "change_role"} <= operations.keys()
    linked = 0
    for (source, status), links in LINKS.items():
        response = operations[source]["responses"][status]
        assert response["links"] == links
        for name, link in links.items():
            target = operations[link["operationId"]]
            names = {p["name"] for p in target.get("parameters", [])}
            assert set(link.get("parameters", {})) <= names, (source, name)
            if "requestBody" in link:
                assert "requestBody" in target, (source, name)
            linked += 1
    assert linked > 50


def test_the_narrowings_are_the_documented_refusals_and_nothing_else() -> None:
    """schemathesis.toml allows a 422 for valid data only where the document says the
    refusal depends on the map, or on what no JSON Schema can say of a clinic's settings
    (api.routes.clinics.NOT_A_CLINIC), and a 415 only where it says the file's bytes are
    not a scan; every other operation has schemathesis's defaults."""
    from api.payment_texts import NOT_PAYABLE
    from api.routes.clinics import NOT_A_CLINIC

    settings = tomllib.loads(PROJECT_CONFIG.read_text(encoding="utf-8"))
    assert set(settings) == {"operations"}
    map_narrowing, clinic_narrowing, scan_narrowing, payment_narrowing = settings["operations"]
    defaults = schemathesis.Config().projects.default.checks.positive_data_acceptance
    operations = _operations(_openapi())

    def described(status: str, words: str) -> set[str]:
        return {
            operation_id
            for operation_id, op in operations.items()
            if op["responses"].get(status, {}).get("description") == words
        }

    for narrowing, status, words in (
        (map_narrowing, "422", OFF_THE_MAP),
        (clinic_narrowing, "422", NOT_A_CLINIC),
        (scan_narrowing, "415", NOT_A_SCAN),
        (payment_narrowing, "422", NOT_PAYABLE),
    ):
        statuses = narrowing["checks"]["positive_data_acceptance"]["expected-statuses"]
        assert set(statuses) == {*defaults.expected_statuses, status}
        assert set(narrowing["include-operation-id"]) == described(status, words)
    assert set(map_narrowing["include-operation-id"]) == {
        "estimate", "create_booking", "route", "available_doctors",
    }  # fmt: skip
    assert set(clinic_narrowing["include-operation-id"]) == {
        "create_clinic", "patch_clinic", "clinic_stats", "clinic_stats_csv",
        "platform_stats", "platform_stats_csv",
    }  # fmt: skip
    assert set(scan_narrowing["include-operation-id"]) == {"upload_document_file"}
    assert "refund_payment" in payment_narrowing["include-operation-id"]


def test_the_assign_route_declares_who_cannot_be_assigned() -> None:
    responses = _operations(_openapi())["assign"]["responses"]
    assert "not a doctor" in responses["404"]["description"]
    assert "unverified, blocked or not on shift" in responses["409"]["description"]


# Durations in seconds, named `_s`; every instant is an RFC 3339 date-time (in UTC).
DURATIONS = {
    "eta_s", "ttl_s", "fix_age_s", "visit_remainder_s", "cost_s", "duration_s",
    "time_to_doctor_s", "time_to_doctor_p50_s", "offer_ttl_s", "give_up_after_s", "uptime_s",
}  # fmt: skip


def test_instants_are_date_times_and_only_durations_are_seconds() -> None:
    document = _openapi()
    bodies = {
        ref.rsplit("/", 1)[-1]
        for op in _operations(document).values()
        for content in op.get("requestBody", {}).get("content", {}).values()
        if (ref := content["schema"].get("$ref"))
    }
    assert {"VisitIn", "RegisterDoctor", "PositionIn", "DocumentIn"} <= bodies
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
            if name in bodies and any(t.get("format") == "date-time" for t in types):
                assert any(t.get("pattern") == RFC3339_PATTERN for t in types), f"{name}.{prop}"
    assert {"at", "decided_at", "expires_at", "created_at", "eta_s"} <= seen
    assert not seen & {"at_s", "decided_at_s"}


def test_cursors_given_and_taken_have_one_pattern() -> None:
    document = _openapi()
    [parameter] = [
        p for p in _operations(document)["list_bookings"]["parameters"] if p["name"] == "cursor"
    ]
    taken = [t.get("pattern") for t in parameter["schema"]["anyOf"]]
    given = document["components"]["schemas"]["BookingPage"]["properties"]["next_cursor"]
    assert CURSOR_PATTERN in taken
    assert CURSOR_PATTERN in [t.get("pattern") for t in given["anyOf"]]
