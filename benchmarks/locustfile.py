"""Load test of the whole engine with locust: doctors (WebSocket position streams, answering
offers), patients (book a visit over HTTP, watch it over a WebSocket, cancel) and operators
(lists, the live feed, an override).

    TOT_ADMIN_EMAIL=admin@tot.example.org TOT_ADMIN_PASSWORD=change-me-now-please \\
    .venv/bin/locust -f benchmarks/locustfile.py --headless -u 60 -r 10 -t 2m \\
        --host http://127.0.0.1:8000 --csv reports/locust --html reports/locust.html

The engine must be running (`tot serve` or `tot demo`) with those admin credentials; the
WebSocket port is TOT_WS_PORT (default 8001) on the same host. WebSocket round trips are
reported to locust as request type "WS". Set TOT_BOOKING_RATE_PER_MIN and
TOT_LOGIN_RATE_PER_MIN high on the server, or most patients will meet the rate limits.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from locust import HttpUser, User, between, events, task
from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

ADMIN = (
    os.environ.get("TOT_ADMIN_EMAIL", "admin@tot.example.org"),
    os.environ.get("TOT_ADMIN_PASSWORD", "change-me-now-please"),
)
WS_PORT = int(os.environ.get("TOT_WS_PORT", "8001"))
PASSWORD = "locust-password-123"
# Around the centre of the map the engine serves (asked at the start: its road network's
# box); TOT_LOCUST_CENTER=lat,lon sets it.
CENTER: tuple[float, ...] = tuple(
    float(x) for x in os.environ.get("TOT_LOCUST_CENTER", "0,0").split(",")
)


def _centre_on_the_served_map(environment: Any, **_: Any) -> None:
    global CENTER
    if "TOT_LOCUST_CENTER" in os.environ or not environment.host:
        return
    with urllib.request.urlopen(f"{environment.host}/api/v1/map/roads?limit=1", timeout=30) as r:
        box = json.load(r)["bbox"]
    CENTER = ((box["south"] + box["north"]) / 2, (box["west"] + box["east"]) / 2)


events.test_start.add_listener(_centre_on_the_served_map)  # type: ignore[no-untyped-call]


def _ws_url(host: str, path: str, token: str) -> str:
    return f"ws://{urlsplit(host).hostname}:{WS_PORT}{path}?token={token}"


def _fire(name: str, started: float, length: int = 0, exc: Exception | None = None) -> None:
    events.request.fire(  # type: ignore[no-untyped-call]
        request_type="WS", name=name, response_time=(time.perf_counter() - started) * 1000,
        response_length=length, exception=exc, context={},
    )  # fmt: skip


def _near() -> tuple[float, float]:
    return CENTER[0] + random.gauss(0, 0.004), CENTER[1] + random.gauss(0, 0.008)


class _Api:
    """The HTTP set-up steps every user class needs, through locust's client."""

    client: Any

    def _login(self, email: str, password: str = PASSWORD) -> str:
        r = self.client.post(
            "/api/v1/auth/login", json={"email": email, "password": password}, name="/auth/login"
        )
        r.raise_for_status()
        return str(r.json()["access_token"])

    def _admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._login(*ADMIN)}"}


class PatientUser(HttpUser, _Api):
    """Books a visit, reads it back, watches it for a moment, cancels it."""

    weight = 3
    wait_time = between(1, 3)

    def on_start(self) -> None:
        email = f"locust-patient-{uuid.uuid4().hex[:10]}@tot.example.org"
        self.client.post(
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD},
            name="/auth/register",
        )
        self.headers = {"Authorization": f"Bearer {self._login(email)}"}
        self.token = self.headers["Authorization"][7:]

    @task
    def book_watch_cancel(self) -> None:
        lat, lon = _near()
        r = self.client.post(
            "/api/v1/bookings", json={"latitude": lat, "longitude": lon, "symptoms": "fever"},
            headers=self.headers, name="/bookings [create]",
        )  # fmt: skip
        if r.status_code != 201:
            return
        booking_id = r.json()["id"]
        self.client.get(
            f"/api/v1/bookings/{booking_id}", headers=self.headers, name="/bookings/{id}"
        )
        started = time.perf_counter()
        try:
            with connect(
                _ws_url(self.host or "", f"/ws/patient/{booking_id}", self.token),
                compression=None,
                open_timeout=5,
            ) as ws:
                first = ws.recv(timeout=5)
                _fire("/ws/patient [hello]", started, len(first))
                end = time.monotonic() + 2
                while time.monotonic() < end:
                    try:
                        ws.recv(timeout=max(0.05, end - time.monotonic()))
                    except TimeoutError:
                        break
        except (OSError, WebSocketException, TimeoutError) as exc:
            _fire("/ws/patient [hello]", started, exc=exc)
        self.client.post(
            f"/api/v1/bookings/{booking_id}/cancel", json={"reason": "load test"},
            headers=self.headers, name="/bookings/{id}/cancel",
        )  # fmt: skip


class DoctorUser(User, _Api):
    """A verified doctor on shift: a position every 2 s, offers answered over the socket."""

    weight = 2
    wait_time = between(1.8, 2.2)

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        from locust.clients import HttpSession

        self.client = HttpSession(
            base_url=self.host or "", request_event=environment.events.request, user=self
        )
        self.ws: ClientConnection | None = None

    def on_start(self) -> None:
        email = f"locust-doctor-{uuid.uuid4().hex[:10]}@tot.example.org"
        r = self.client.post(
            "/api/v1/auth/register/doctor",
            json={"email": email, "password": PASSWORD, "license_number": "LOCUST-1"}, name="/auth/register/doctor",
        )  # fmt: skip
        r.raise_for_status()
        self.client.post(
            f"/api/v1/admin/doctors/{r.json()['id']}/verify",
            headers=self._admin(),
            name="/admin/doctors/{id}/verify",
        )
        token = self._login(email)
        self.lat, self.lon = _near()
        started = time.perf_counter()
        self.ws = connect(
            _ws_url(self.host or "", "/ws/doctor", token), compression=None, open_timeout=5
        )
        self._round_trip(
            "/ws/doctor [shift]",
            {"type": "shift", "action": "start", "lat": self.lat, "lon": self.lon, "ref": "s"},
            started,
        )

    def _round_trip(self, name: str, message: dict[str, Any], started: float) -> None:
        assert self.ws is not None
        try:
            self.ws.send(json.dumps(message))
            self._drain(wait_for=message.get("ref"))
            _fire(name, started)
        except (OSError, WebSocketException, TimeoutError) as exc:
            _fire(name, started, exc=exc)

    def _drain(self, wait_for: Any = None) -> None:
        """Read what arrived; accept most offers; until the reply to `wait_for` if given."""
        assert self.ws is not None
        deadline = time.monotonic() + 5
        while True:
            try:
                raw = self.ws.recv(
                    timeout=0.01 if wait_for is None else max(0.01, deadline - time.monotonic())
                )
            except TimeoutError:
                if wait_for is None or time.monotonic() >= deadline:
                    return
                continue
            message = json.loads(raw)
            if message.get("type") == "offer":
                if random.random() < 0.8:
                    self.ws.send(json.dumps({"type": "accept", "offer_id": message["offer_id"]}))
                else:
                    self.ws.send(
                        json.dumps(
                            {"type": "decline", "offer_id": message["offer_id"], "reason": "busy"}
                        )
                    )
            if wait_for is not None and message.get("ref") == wait_for:
                return

    @task
    def move(self) -> None:
        self.lat += random.gauss(0, 0.0001)
        self.lon += random.gauss(0, 0.0002)
        started = time.perf_counter()
        ref = uuid.uuid4().hex[:8]
        assert self.ws is not None
        try:
            self.ws.send(
                json.dumps(
                    {
                        "type": "position",
                        "lat": self.lat,
                        "lon": self.lon,
                        "accuracy_m": 8,
                        "recorded_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    }
                )
            )
            self.ws.send(json.dumps({"type": "ping", "ref": ref}))
            self._drain(wait_for=ref)
            _fire("/ws/doctor [position+ping]", started)
        except (OSError, WebSocketException, TimeoutError) as exc:
            _fire("/ws/doctor [position+ping]", started, exc=exc)

    def on_stop(self) -> None:
        if self.ws is not None:
            self.ws.close()


class OperatorUser(HttpUser, _Api):
    """Watches the lists and the live feed; now and then returns a booking to search."""

    weight = 1
    wait_time = between(2, 4)

    def on_start(self) -> None:
        email = f"locust-operator-{uuid.uuid4().hex[:10]}@tot.example.org"
        self.client.post(
            "/api/v1/admin/users", json={"email": email, "password": PASSWORD, "role": "operator"},
            headers=self._admin(), name="/admin/users",
        )  # fmt: skip
        self.token = self._login(email)
        self.headers = {"Authorization": f"Bearer {self.token}"}

    @task(3)
    def lists(self) -> None:
        self.client.get(
            "/api/v1/operator/bookings", headers=self.headers, name="/operator/bookings"
        )
        self.client.get("/api/v1/operator/doctors", headers=self.headers, name="/operator/doctors")

    @task(1)
    def feed(self) -> None:
        started = time.perf_counter()
        try:
            with connect(
                _ws_url(self.host or "", "/ws/operator", self.token),
                compression=None,
                open_timeout=5,
            ) as ws:
                ws.recv(timeout=5)
                ws.send(json.dumps({
                    "type": "viewport", "south": CENTER[0] - 0.05, "west": CENTER[1] - 0.1,
                    "north": CENTER[0] + 0.05, "east": CENTER[1] + 0.1,
                }))  # fmt: skip
                while True:
                    message = json.loads(ws.recv(timeout=5))
                    if message.get("type") == "feed":
                        _fire("/ws/operator [feed]", started, len(message.get("doctors", [])))
                        return
        except (OSError, WebSocketException, TimeoutError) as exc:
            _fire("/ws/operator [feed]", started, exc=exc)


if __name__ == "__main__":
    print(
        "a locustfile: run it with locust, for example\n"
        "  .venv/bin/locust -f benchmarks/locustfile.py --headless -u 60 -r 10 -t 2m "
        "--host http://127.0.0.1:8000",
        file=sys.stderr,
    )
    raise SystemExit(2)
