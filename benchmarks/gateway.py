"""WebSocket gateway benchmark: the real engine (uvicorn + the gateway in one process, the
embedded SQLite store in a scratch directory) on loopback, driven from a separate load
process; in the same run the same fan-out through a bare `websockets` + uvloop relay
(`--bare-server`, below) as the ceiling.

    .venv/bin/python -m benchmarks.gateway [--quick] [--doctors N] [--patients M]
                                           [--seconds S] [--no-ramp] [--no-ceiling]
                                           [--ceiling-gc on|freeze|off]

The scenario (issue #7): N doctors (default 10,000) each send a position every 2 s,
phase-spread (N/2 positions per second); M patients (default 2,500) each watch one
doctor; N + M WebSockets held at once (12,500 by default).

Set-up, not measured. Users are written straight into the scratch SQLite file with
`SqliteAccountStore.create_user` (no REST, no password hashing) while the server starts;
access tokens are minted here with PyJWT and the secret given to the server. Doctors
open /ws/doctor and start their shift over the socket at nodes of the served map's
road graph (jittered by up to 20 m). Then each patient books a visit over REST
(POST /api/v1/bookings, 16 keep-alive connections, booking rate limits raised in the
server's environment) next to a random doctor; the doctor clients accept the offers
they receive, as a doctor app would; the patient opens /ws/patient/<booking_id>. The
bookings are made before the positions start to flow (the booking path is slow under
load, and set-up time counts against --quick). Then every doctor sends positions,
moving on a 15 m circle a few metres per fix (well within the registry's checks).

Measured, per step: positions offered and ingested per second, refusals; delivery
latency = receive time - the `recorded_at` the doctor put in the fix (the load process
stamps and reads both, one clock; a position message without `recorded_at` is matched
by its exact coordinates among its doctor's last fixes); the share of watched doctors'
positions delivered; the server's lag (round trip of an app-level ping sent behind the
positions on 200 sampled doctor sockets; ingested = positions / (window + lag)); CPU of
the server, of the load process and of the whole machine (`others_cpu`: what other
processes took; above 0.25 cores a warning says the figures are not reliable). Memory:
the server's RSS (VmRSS) with every socket open minus its RSS before the first, over
the sockets (in the engine this includes each doctor's registry entry and booking).

Steps: the nominal rate for --seconds, then (unless --no-ramp) the same sockets at
1.5x, 2x, 2.5x, ... that rate, a few seconds each, until a step misses the bar: delivery
p99 <= 100 ms, >= 95 % of the offered positions ingested, >= 95 % of the watched
doctors' positions delivered. The bare relay gets the same steps. Reported (last line,
JSON):

- `position_msgs_per_s`: the engine's ingested rate at its highest step that met the
  bar (its capacity with all sockets held); the nominal step's if even that missed
  (then `meets_bar: false`);
- `delivery_p50_ms`, `delivery_p99_ms`: at the nominal rate;
- `ceiling_msgs_per_s`: the same capacity for the bare relay, `share_of_ceiling` the
  ratio. `ceiling_bound` says what ended the bare ramp: "server" (a step missed),
  "load" (every step passed: a lower bound, the load process's limit) or "time";
- `bytes_per_connection` (engine) and `ceiling_bytes_per_connection` (bare);
- `connections` (held at the end), `connect_s` (opening the N doctor sockets), CPU,
  errors, refusals, the server's log summarised (`server_log`), every step.

The bare relay forwards each doctor frame as is (no JSON parsing) with
`websockets.asyncio.server.broadcast` to the socket watching that doctor, with the
gateway's socket settings (no compression, 16 KiB frames, pings every 20 s, asyncio's
default listen backlog); it answers the app-level pings. Its cyclic garbage collector
runs with CPython's defaults, as a bare server is written (`--ceiling-gc on`); with
12,500 sockets the collector is what bounds such a relay (gen-1 collections of
~100 ms walk the objects each socket keeps alive between messages), so
`--ceiling-gc freeze` (gc.freeze() once every socket is open) and `--ceiling-gc off`
(no collector: the library's upper bound) measure the alternatives. The engine keeps
its own policy (a gc.freeze() after start-up).

The load process: one asyncio process on uvloop with `websockets` clients (compression
off, no client pings), opening at most 64 sockets at a time (the servers' listen
backlog is 100); its own collector is off, so its pauses do not show up as latency. On
this 2-core machine the server and the load process get about a core each.

`--quick` opens all the sockets just the same, measures 8 s at the nominal rate and
short ramp steps, and stops the ramps in time to finish within 90 s. The open-files
limit is raised to the hard limit here (the subprocesses inherit it).
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    # `python benchmarks/gateway.py`: Python put benchmarks/ first on the path, where this
    # file would stand in for the project's `{shadow}` package. Run it as what it is,
    # `python -m benchmarks.gateway`, from the project's root.
    import runpy
    from pathlib import Path

    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    runpy.run_module("benchmarks.gateway", run_name="__main__", alter_sys=True)
    raise SystemExit(0)

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import random
import resource
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections import Counter, deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from benchmarks._common import PROJECT_ROOT


def iso(epoch_s: float) -> str:
    """RFC 3339 with milliseconds, as the protocol wants (services.times does the same)."""
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


SECRET = "gateway-benchmark-secret-" + "x" * 40
INTERVAL_S = 2.0  # each doctor sends a position this often at the nominal rate
P99_BAR_MS = 100.0
RAMP = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0)
QUICK_RAMP = (1.5, 2.0, 2.5, 3.0, 4.0, 5.0)
CONNECT_AT_ONCE = 64
PING_SAMPLE = 200
RADIUS_M = 15.0  # doctors circle around their start point
M_PER_DEG_LAT = 111_320.0


# -- processes ----------------------------------------------------------------------------


def raise_nofile() -> int:
    """Raise the soft open-files limit to the hard one (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def machine_busy_s() -> float:
    """CPU seconds all cores of the machine spent busy so far (any process, the kernel)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return float("nan")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / _TICK


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[Any], grace_s: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- the bare relay: the ceiling ------------------------------------------------------------


def bare_server(port: int, expect: int = 0, gc_mode: str = "on") -> None:
    """A fan-out relay on the bare library: /doctor/<i> frames go to /patient/<i> sockets.

    gc_mode: "on" CPython's defaults; "freeze" gc.freeze() once `expect` sockets are open;
    "off" no cyclic collector at all (one collection once the sockets are open)."""
    import uvloop
    from websockets.asyncio.server import ServerConnection, broadcast, serve
    from websockets.exceptions import ConnectionClosed

    raise_nofile()
    if gc_mode == "off":
        gc.disable()

    async def main() -> None:
        watchers: dict[str, set[ServerConnection]] = {}
        opened = 0

        async def handler(ws: ServerConnection) -> None:
            nonlocal opened
            assert ws.request is not None
            opened += 1
            if opened == expect and gc_mode != "on":
                gc.collect()  # the handshakes' cyclic garbage, before memory is read
                if gc_mode == "freeze":
                    gc.freeze()
            parts = ws.request.path.split("/")
            kind, key = parts[1], parts[2]
            if kind == "patient":
                watching = watchers.setdefault(key, set())
                watching.add(ws)
                try:
                    await ws.wait_closed()
                finally:
                    watching.discard(ws)
                return
            with contextlib.suppress(ConnectionClosed):
                async for message in ws:
                    if message[:14] == '{"type":"ping"':
                        ref = orjson.loads(message).get("ref")
                        await ws.send(orjson.dumps({"type": "pong", "ref": ref}), text=True)
                        continue
                    targets = watchers.get(key)
                    if targets:
                        broadcast(targets, message)

        async with serve(
            handler,
            "127.0.0.1",
            port,
            compression=None,
            max_size=16 * 1024,
            max_queue=64,
            ping_interval=20,
            ping_timeout=20,
        ):
            print("ready", flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(main())


# -- the load side --------------------------------------------------------------------------


class Doctor:
    __slots__ = (
        "alive",
        "index",
        "lat0",
        "lon0",
        "recent",
        "theta",
        "token",
        "user_id",
        "watched",
        "ws",
    )

    def __init__(self, index: int, user_id: str, token: str, lat: float, lon: float) -> None:
        self.index = index
        self.user_id = user_id
        self.token = token
        self.lat0 = lat
        self.lon0 = lon
        self.theta = random.random() * 2 * math.pi
        self.ws: Any = None
        self.alive = False
        self.watched = False
        self.recent: deque[tuple[float, float, float]] = deque(maxlen=8)

    def start_point(self) -> tuple[float, float]:
        return self._at(self.theta)

    def _at(self, theta: float) -> tuple[float, float]:
        dlat = RADIUS_M * math.sin(theta) / M_PER_DEG_LAT
        dlon = RADIUS_M * math.cos(theta) / (M_PER_DEG_LAT * math.cos(math.radians(self.lat0)))
        return self.lat0 + dlat, self.lon0 + dlon

    def next_fix(self, now: float) -> bytes:
        self.theta += 0.3  # about 4.5 m along the circle
        lat, lon = self._at(self.theta)
        self.recent.append((lat, lon, now))
        return orjson.dumps(
            {
                "type": "position",
                "lat": lat,
                "lon": lon,
                "accuracy_m": 10.0,
                "recorded_at": iso(now),
            }
        )

    def sent_at(self, lat: Any, lon: Any) -> float | None:
        for la, lo, t in reversed(self.recent):
            if la == lat and lo == lon:
                return t
        return None


class Load:
    """One load run against one server (the engine, or the bare relay)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.mode: str = cfg["mode"]
        self.engine = self.mode == "engine"
        self.host: str = cfg["host"]
        self.ws_port: int = cfg["ws_port"]
        self.pid: int = cfg["server_pid"]
        rng = random.Random(cfg["seed"])
        points = cfg["points"]
        self.doctors = [
            Doctor(i, uid, tok, *points[rng.randrange(len(points))])
            for i, (uid, tok) in enumerate(
                zip(cfg["doctor_ids"], cfg["doctor_tokens"], strict=True)
            )
        ]
        for d in self.doctors:
            # Up to 20 m off the road node, so doctors sharing a node stand apart.
            d.lat0 += rng.uniform(-20, 20) / M_PER_DEG_LAT
            d.lon0 += rng.uniform(-20, 20) / (M_PER_DEG_LAT * 0.5)
        self.by_user = {d.user_id: d for d in self.doctors}
        self.patient_tokens: list[str] = cfg["patient_tokens"]
        self.rng = rng
        self.sem = asyncio.Semaphore(CONNECT_AT_ONCE)
        self.tasks: set[asyncio.Task[None]] = set()
        # counters
        self.sent = 0
        self.sent_watched = 0
        self.send_errors = 0
        self.refused = 0
        self.refusals: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.closes: Counter[str] = Counter()
        self.doctor_msgs: Counter[str] = Counter()
        self.patient_msgs: Counter[str] = Counter()
        self.shifts = 0
        self.shift_failed = 0
        self.offers = 0
        self.accepted = 0
        self.bookings = 0
        self.booking_statuses: Counter[int] = Counter()
        self.patients_open = 0
        self.patients_tried = 0
        self.patients_alive = 0
        self.patients_seen: set[int] = set()
        self.unmatched = 0
        self.by_coordinates = 0  # positions without recorded_at, matched by coordinates
        self.deliveries: list[tuple[float, float]] = []  # (sent at, latency s)
        self.pong_waiters: dict[int, asyncio.Future[float]] = {}
        self.shifts_done = asyncio.Event()
        self.doctors_alive = 0
        self.opened_all = False
        # the sender
        self.rate = 0.0
        self.seg_start = 0.0
        self.seg_sent = 0
        self.order: list[Doctor] = []
        self.cursor = 0
        self.sender_behind = 0

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def connect(self, path: str) -> Any:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidStatus

        last = "?"
        for attempt in range(4):
            async with self.sem:
                try:
                    return await connect(
                        f"ws://{self.host}:{self.ws_port}{path}",
                        compression=None,
                        proxy=None,
                        open_timeout=30,
                        ping_interval=None,  # the server pings; the client answers
                        close_timeout=1,
                        max_size=1 << 20,
                        max_queue=64,
                    )
                except InvalidStatus as exc:
                    last = f"http_{exc.response.status_code}"
                    if exc.response.status_code < 500:
                        break
                except (OSError, TimeoutError, InvalidHandshake) as exc:
                    last = type(exc).__name__
            await asyncio.sleep(0.2 * (attempt + 1))
        self.errors[f"connect:{last}"] += 1
        return None

    # -- doctors --------------------------------------------------------------------------

    async def open_doctor(self, d: Doctor) -> None:
        path = f"/ws/doctor?token={d.token}" if self.engine else f"/doctor/{d.index}"
        d.ws = await self.connect(path)
        if d.ws is None:
            return
        d.alive = True
        self.doctors_alive += 1
        self.spawn(self.doctor_reader(d))
        if self.engine:
            lat, lon = d.start_point()
            await d.ws.send(
                orjson.dumps(
                    {"type": "shift", "action": "start", "lat": lat, "lon": lon, "ref": "shift"}
                ),
                text=True,
            )

    def _shift_answered(self) -> None:
        if self.opened_all and self.shifts + self.shift_failed >= self.doctors_alive:
            self.shifts_done.set()

    async def doctor_reader(self, d: Doctor) -> None:
        from websockets.exceptions import ConnectionClosed

        ws = d.ws
        try:
            async for raw in ws:
                m = orjson.loads(raw)
                kind = m.get("type")
                if kind == "offer":
                    self.offers += 1
                    await ws.send(
                        orjson.dumps({"type": "accept", "offer_id": m["offer_id"]}), text=True
                    )
                elif kind == "pong":
                    waiter = self.pong_waiters.pop(m.get("ref", -1), None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(time.perf_counter())
                elif kind == "error":
                    code = str(m.get("code"))
                    if code == "position_refused":
                        self.refused += 1
                        self.refusals[str(m.get("detail"))] += 1
                    else:
                        self.errors[f"doctor:{code}"] += 1
                        if m.get("ref") == "shift":
                            self.shift_failed += 1
                            self._shift_answered()
                elif kind == "shift":
                    self.shifts += 1
                    self._shift_answered()
                elif kind == "accepted":
                    self.accepted += 1
                else:
                    self.doctor_msgs[str(kind)] += 1
        except ConnectionClosed:
            pass
        finally:
            if d.alive:
                d.alive = False
                self.doctors_alive -= 1
                self.closes[f"doctor:{ws.close_code}"] += 1

    async def open_doctors(self) -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(self.open_doctor(d) for d in self.doctors))
        return time.perf_counter() - t0

    # -- the sender: every doctor in turn, at `rate` positions per second -------------------

    def set_rate(self, rate: float) -> None:
        self.rate = rate
        self.seg_start = time.perf_counter()
        self.seg_sent = 0

    async def sender(self) -> None:
        from websockets.exceptions import ConnectionClosed

        self.order = [d for d in self.doctors if d.alive]
        self.rng.shuffle(self.order)
        n = len(self.order)
        clock = time.perf_counter
        wall = time.time
        while True:
            await asyncio.sleep(0.004)
            if self.rate <= 0 or n == 0:
                continue
            due = int((clock() - self.seg_start) * self.rate) - self.seg_sent
            if due <= 0:
                continue
            if due > self.rate * 0.05:
                self.sender_behind += 1  # more than 50 ms late: the load process lags
            self.seg_sent += due
            for _ in range(due):
                d = self.order[self.cursor]
                self.cursor = (self.cursor + 1) % n
                if not d.alive:
                    continue
                try:
                    await d.ws.send(d.next_fix(wall()), text=True)
                except ConnectionClosed:
                    self.send_errors += 1
                    continue
                self.sent += 1
                if d.watched:
                    self.sent_watched += 1

    async def probe(self) -> list[float]:
        """Round trips (ms) of pings sent behind the positions on sampled doctor sockets."""
        alive = [d for d in self.doctors if d.alive]
        sample = self.rng.sample(alive, min(PING_SAMPLE, len(alive)))
        loop = asyncio.get_running_loop()
        sent: dict[asyncio.Future[float], float] = {}
        for d in sample:
            ref = self.rng.randrange(1 << 40)
            fut: asyncio.Future[float] = loop.create_future()
            self.pong_waiters[ref] = fut
            sent[fut] = time.perf_counter()
            with contextlib.suppress(Exception):
                await d.ws.send(orjson.dumps({"type": "ping", "ref": ref}), text=True)
        done, pending = await asyncio.wait(sent, timeout=10)
        for fut in pending:
            fut.cancel()
        out = [(f.result() - sent[f]) * 1000 for f in done]
        out += [10_000.0] * len(pending)
        return out

    # -- patients -------------------------------------------------------------------------

    async def book_and_watch(self, patients: list[int], picks: list[Doctor]) -> None:
        """Engine: book over REST next to a doctor, then watch the booking."""
        from benchmarks.api import Connection

        queue = list(zip(patients, picks, strict=True))
        queue.reverse()
        give_up_at = time.perf_counter() + self.cfg["booking_budget_s"]

        async def worker() -> None:
            conn = await Connection.open(self.host, self.cfg["api_port"])
            try:
                while queue and time.perf_counter() < give_up_at:
                    j, d = queue.pop()
                    token = self.patient_tokens[j]
                    lat = d.lat0 + self.rng.uniform(-30, 30) / M_PER_DEG_LAT
                    lon = d.lon0 + self.rng.uniform(-30, 30) / (M_PER_DEG_LAT * 0.5)
                    body = orjson.dumps(
                        {"latitude": lat, "longitude": lon, "address": "Bench st. 1"}
                    )
                    status, payload = await conn.request(
                        b"POST", b"/api/v1/bookings", token.encode(), body
                    )
                    self.booking_statuses[status] += 1
                    if status != 201:
                        continue
                    self.bookings += 1
                    booking_id = orjson.loads(payload)["id"]
                    self.spawn(
                        self.open_patient(j, f"/ws/patient/{booking_id}?token={token}", None)
                    )
            finally:
                conn.close()

        await asyncio.gather(*(worker() for _ in range(self.cfg["http_concurrency"])))

    async def open_patient(self, j: int, path: str, doctor: Doctor | None) -> None:
        ws = await self.connect(path)
        self.patients_tried += 1
        if ws is None:
            return
        self.patients_open += 1
        self.patients_alive += 1
        if doctor is not None:
            doctor.watched = True
        self.spawn(self.patient_reader(j, ws, doctor))

    async def patient_reader(self, j: int, ws: Any, doctor: Doctor | None) -> None:
        from websockets.exceptions import ConnectionClosed

        last = 0.0
        try:
            async for raw in ws:
                now = time.time()
                m = orjson.loads(raw)
                kind = m.get("type")
                if kind != "position":
                    self.patient_msgs[str(kind)] += 1
                    continue
                d = doctor or self.by_user.get(m.get("doctor_id"))
                if d is None:
                    self.unmatched += 1
                    continue
                if not d.watched:
                    d.watched = True
                stamp = m.get("recorded_at")
                sent = parse_iso(stamp) if isinstance(stamp, str) else None
                if sent is None:
                    sent = d.sent_at(m.get("lat"), m.get("lon"))
                    self.by_coordinates += 1
                if sent is None:
                    self.unmatched += 1
                    continue
                if sent <= last:
                    continue  # a replay of one already seen
                last = sent
                self.patients_seen.add(j)
                self.deliveries.append((sent, now - sent))
        except ConnectionClosed:
            pass
        finally:
            self.patients_alive -= 1
            self.closes[f"patient:{ws.close_code}"] += 1

    # -- the run --------------------------------------------------------------------------

    def snapshot(self) -> dict[str, float]:
        return {
            "wall": time.time(),
            "sent": self.sent,
            "sent_watched": self.sent_watched,
            "refused": self.refused,
            "server_cpu": cpu_s(self.pid),
            "load_cpu": time.process_time(),
            "machine_cpu": machine_busy_s(),
        }

    def step_stats(
        self, target: float, a: dict[str, float], b: dict[str, float], lag_ms: list[float]
    ) -> dict[str, Any]:
        span = b["wall"] - a["wall"]
        sent = b["sent"] - a["sent"]
        lat = np.array([lat for t, lat in self.deliveries if a["wall"] <= t < b["wall"]]) * 1000
        expected = b["sent_watched"] - a["sent_watched"]
        lag_max = max(lag_ms) if lag_ms else 0.0
        # Everything sent in the window was handled by the time the pings came back.
        ingested = (sent - (b["refused"] - a["refused"])) / (span + lag_max / 1000)
        out: dict[str, Any] = {
            "target_per_s": round(target, 1),
            "offered_per_s": round(sent / span, 1),
            "ingested_per_s": round(ingested, 1),
            "refused": int(b["refused"] - a["refused"]),
            "delivered": len(lat),
            "delivered_share": round(len(lat) / expected, 4) if expected else None,
            "p50_ms": round(float(np.percentile(lat, 50)), 2) if len(lat) else None,
            "p99_ms": round(float(np.percentile(lat, 99)), 2) if len(lat) else None,
            "max_ms": round(float(lat.max()), 2) if len(lat) else None,
            "lag_p50_ms": round(float(np.percentile(lag_ms, 50)), 2) if lag_ms else None,
            "lag_max_ms": round(lag_max, 2),
            "server_cpu": round((b["server_cpu"] - a["server_cpu"]) / span, 3),
            "load_cpu": round((b["load_cpu"] - a["load_cpu"]) / span, 3),
            "machine_cpu": round((b["machine_cpu"] - a["machine_cpu"]) / span, 3),
            "seconds": round(span, 2),
        }
        out["others_cpu"] = round(out["machine_cpu"] - out["server_cpu"] - out["load_cpu"], 3)
        out["meets_bar"] = bool(
            out["p99_ms"] is not None
            and out["p99_ms"] <= P99_BAR_MS
            and ingested >= 0.95 * target
            and (out["delivered_share"] or 0) >= 0.95
        )
        return out

    async def run(self) -> dict[str, Any]:
        cfg = self.cfg
        n, m = len(self.doctors), len(self.patient_tokens)
        nominal = n / INTERVAL_S
        rss0 = rss_bytes(self.pid)
        out: dict[str, Any] = {"mode": self.mode, "rss_before": rss0}
        connect_doctors_s = await self.open_doctors()
        self.opened_all = True
        alive = sum(d.alive for d in self.doctors)
        log(f"[{self.mode}] {alive}/{n} doctor sockets open in {connect_doctors_s:.1f} s")
        out["doctors_connect_s"] = round(connect_doctors_s, 2)
        if self.engine:
            t0 = time.perf_counter()
            self._shift_answered()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.shifts_done.wait(), 120)
            out["shift_start_s"] = round(time.perf_counter() - t0, 2)
            log(
                f"[{self.mode}] {self.shifts} shifts started ({self.shift_failed} refused) "
                f"in {out['shift_start_s']:.1f} s more"
            )
        # Patients book and connect before the positions flow (set-up is not measured, and
        # the booking path is slow under load).
        t0 = time.perf_counter()
        picks = self.rng.sample(self.doctors, m)
        if self.engine:
            await self.book_and_watch(list(range(m)), picks)
            deadline = time.perf_counter() + 60
            while self.patients_tried < self.bookings and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
        else:
            await asyncio.gather(
                *(self.open_patient(j, f"/patient/{d.index}", d) for j, d in enumerate(picks))
            )
        out["patients_connect_s"] = round(time.perf_counter() - t0, 2)
        log(
            f"[{self.mode}] {self.patients_open}/{m} patient sockets open "
            f"({self.bookings} bookings) in {out['patients_connect_s']:.1f} s"
        )
        sender = asyncio.get_running_loop().create_task(self.sender())
        self.set_rate(nominal)
        # Every watched doctor has sent at least once since.
        deadline = time.perf_counter() + 15
        while len(self.patients_seen) < self.patients_open and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
        out["patients_with_positions"] = len(self.patients_seen)
        connections = sum(d.alive for d in self.doctors) + self.patients_alive
        rss1 = rss_bytes(self.pid)
        out["rss_open"] = rss1
        out["connections_open"] = connections
        out["bytes_per_connection"] = round((rss1 - rss0) / max(1, connections))
        log(
            f"[{self.mode}] {connections} sockets open; server RSS {rss0 / 2**20:.0f} -> "
            f"{rss1 / 2**20:.0f} MiB ({out['bytes_per_connection'] / 1024:.1f} KiB/socket); "
            f"{len(self.patients_seen)} patients have positions"
        )
        await asyncio.sleep(cfg["warmup_s"])
        steps: list[dict[str, Any]] = []
        plan = [(1.0, cfg["seconds"], 0.0)]
        plan += [(x, cfg["ramp_seconds"], cfg["settle_s"]) for x in cfg["ramp"]]
        deadline = cfg.get("deadline") or math.inf
        out["ramp_cut"] = False
        for mult, seconds, settle in plan:
            if steps and time.time() + settle + seconds + 1.5 > deadline:
                out["ramp_cut"] = True  # out of time (--quick): the ramp stops here
                log(f"[{self.mode}] out of time: no step beyond x{steps[-1]['x']}")
                break
            self.set_rate(nominal * mult)
            await asyncio.sleep(settle)
            a = self.snapshot()
            await asyncio.sleep(seconds)
            b = self.snapshot()
            lag = await self.probe()
            await asyncio.sleep(0.3)  # the last deliveries of the window
            step = self.step_stats(nominal * mult, a, b, lag)
            step["x"] = mult
            steps.append(step)
            log(
                f"[{self.mode}] x{mult:<4} offered {step['offered_per_s']:>8.0f}/s ingested "
                f"{step['ingested_per_s']:>8.0f}/s  delivery p50 {step['p50_ms']} p99 "
                f"{step['p99_ms']} max {step['max_ms']} ms ({step['delivered_share']} delivered) "
                f"lag max {step['lag_max_ms']:.0f} ms  cpu server {step['server_cpu']:.2f} "
                f"load {step['load_cpu']:.2f} machine {step['machine_cpu']:.2f}  "
                f"{'ok' if step['meets_bar'] else 'MISSED'}"
            )
            if not step["meets_bar"]:
                break
        self.set_rate(0)
        sender.cancel()
        out["steps"] = steps
        out["connections_held"] = sum(d.alive for d in self.doctors) + self.patients_alive
        out.update(
            positions_sent=self.sent,
            positions_refused=self.refused,
            refusals=dict(self.refusals),
            send_errors=self.send_errors,
            errors=dict(self.errors),
            closes=dict(self.closes),
            sender_behind_ticks=self.sender_behind,
            unmatched_positions=self.unmatched,
            matched_by_coordinates=self.by_coordinates,
            doctor_messages=dict(self.doctor_msgs),
            patient_messages=dict(self.patient_msgs),
            load_max_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        )
        if self.engine:
            out.update(
                shifts=self.shifts,
                shifts_refused=self.shift_failed,
                offers=self.offers,
                accepted=self.accepted,
                bookings=self.bookings,
                booking_statuses={str(k): v for k, v in self.booking_statuses.items()},
            )
        return out


def load_worker(config_path: str) -> None:
    import uvloop

    raise_nofile()
    gc.disable()  # no collector pauses of ours in the latencies (a short-lived process)
    cfg = json.loads(Path(config_path).read_text())
    random.seed(cfg["seed"])
    result = uvloop.run(Load(cfg).run())
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    # Thousands of sockets: let the kernel close them; a polite close costs the servers more.
    os._exit(0)


def run_load(cfg: dict[str, Any], workdir: Path) -> dict[str, Any]:
    path = workdir / f"load-{cfg['mode']}.json"
    path.write_text(json.dumps(cfg))
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.gateway", "--load-worker", str(path)],
        stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT, check=True,
    )  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# -- set-up: users, tokens, the servers -------------------------------------------------------------


def create_schema(sqlite_path: Path) -> None:
    from storage.sqlite_accounts import SqliteAccountStore

    async def make() -> None:
        await SqliteAccountStore(sqlite_path).close()

    asyncio.run(make())


def seed_users(sqlite_path: Path, doctors: int, patients: int) -> tuple[list[str], list[str]]:
    """Verified doctors and patients straight into the accounts store; their ids."""
    from accounts import Role, User
    from storage.sqlite_accounts import SqliteAccountStore

    doctor_ids = [uuid.uuid4().hex for _ in range(doctors)]
    patient_ids = [uuid.uuid4().hex for _ in range(patients)]

    async def seed() -> None:
        store = SqliteAccountStore(sqlite_path)
        now = time.time()
        try:
            for i, uid in enumerate(doctor_ids):
                await store.create_user(
                    User(uid, f"doctor{i}@bench.example.org", "not-a-hash", Role.DOCTOR, now, now,
                         is_verified=True, license_number=f"LIC-{i:05d}")
                )  # fmt: skip
            for i, uid in enumerate(patient_ids):
                await store.create_user(
                    User(uid, f"patient{i}@bench.example.org", "not-a-hash", Role.PATIENT, now, now)
                )
        finally:
            await store.close()

    asyncio.run(seed())
    return doctor_ids, patient_ids


def mint_tokens(user_ids: list[str], role: str, ttl_s: int = 900) -> list[str]:
    """Access tokens as services.auth issues them, signed with the server's secret."""
    import jwt

    now = int(time.time())

    def token(uid: str) -> str:
        claims = {
            "iss": "tot-dispatch", "aud": "tot-api", "sub": uid, "typ": "access",
            "role": role, "clinic": None, "iat": now, "exp": now + ttl_s,
            "jti": uuid.uuid4().hex,
        }  # fmt: skip
        return jwt.encode(claims, SECRET, algorithm="HS256")

    return [token(uid) for uid in user_ids]


def road_points() -> list[tuple[float, float]]:
    """Every node of the bundled map's road graph."""
    from services.road_network import load_road_graph
    from tot.settings import Settings

    settings = Settings()
    graph = load_road_graph(settings.osm_path, settings.graph_cache_dir).graph
    return [(float(a), float(b)) for a, b in zip(graph.node_lat, graph.node_lon, strict=True)]


def start_engine(
    sqlite_path: Path, api_port: int, ws_port: int, log_path: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TOT_SQLITE_PATH": str(sqlite_path),
        "TOT_JWT_SECRET": SECRET,
        "TOT_HOST": "127.0.0.1",
        "TOT_PORT": str(api_port),
        "TOT_WS_PORT": str(ws_port),
        "TOT_BOOKING_RATE_PER_MIN": "1000000",
        "TOT_BOOKING_RATE_PER_IP_PER_MIN": "100000000",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    cmd = [
        sys.executable, "-m", "uvicorn", "tot.server:app_from_environment", "--factory",
        "--host", "127.0.0.1", "--port", str(api_port), "--loop", "uvloop", "--http", "httptools",
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    with log_path.open("wb") as out:
        return subprocess.Popen(cmd, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=out)


def log_summary(path: Path, top: int = 6) -> dict[str, Any]:
    """The server's log: how many lines, and its most frequent messages (digits as #)."""
    import re

    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {"lines": 0, "top": []}
    counts = Counter(re.sub(r"\d+", "#", line)[:200] for line in lines if line.strip())
    return {"lines": len(lines), "top": [[text, n] for text, n in counts.most_common(top)]}


def start_bare(port: int, expect: int, gc_mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.gateway", "--bare-server", str(port),
         "--expect", str(expect), "--ceiling-gc", gc_mode],
        stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        stop_process(proc)
        raise RuntimeError(f"the bare server did not start: {line!r}")
    return proc


# -- the report ------------------------------------------------------------------------------------


def capacity(steps: list[dict[str, Any]]) -> tuple[float, bool]:
    """The highest ingested rate of a step that met the bar (else the first step's)."""
    ok = [s["ingested_per_s"] for s in steps if s["meets_bar"]]
    if ok:
        return max(ok), True
    return (steps[0]["ingested_per_s"] if steps else 0.0), False


def print_phase(name: str, run: dict[str, Any]) -> None:
    print(
        f"{name:<7} sockets {run['connections_open']:>6}  doctors open in "
        f"{run['doctors_connect_s']:.1f} s, patients in {run['patients_connect_s']:.1f} s;  "
        f"{run['bytes_per_connection'] / 1024:.1f} KiB/socket"
    )
    for s in run["steps"]:
        print(
            f"{name:<7} x{s['x']:<4} target {s['target_per_s']:>7.0f}/s  ingested "
            f"{s['ingested_per_s']:>7.0f}/s  p50 {s['p50_ms']} ms  p99 {s['p99_ms']} ms  "
            f"delivered {s['delivered_share']}  lag {s['lag_max_ms']:.0f} ms  "
            f"cpu server {s['server_cpu']:.2f} load {s['load_cpu']:.2f} "
            f"machine {s['machine_cpu']:.2f}  {'ok' if s['meets_bar'] else 'missed'}"
        )
    server_log = run.get("server_log")
    if server_log and server_log["lines"]:
        print(f"{name:<7} server log: {server_log['lines']} lines, most frequent:")
        for text, n in server_log["top"]:
            print(f"{name:<7}   {n:>7} x {text}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short steps (within 90 s in all)")
    parser.add_argument("--doctors", type=int, default=10_000)
    parser.add_argument("--patients", type=int, default=2_500)
    parser.add_argument("--seconds", type=float, help="measured seconds at the nominal rate")
    parser.add_argument("--no-ramp", action="store_true", help="the nominal rate only")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the bare relay")
    parser.add_argument(
        "--ceiling-gc",
        choices=("on", "freeze", "off"),
        default="on",
        help="the bare relay's cyclic collector: CPython's defaults (on), frozen once the "
        "sockets are open (freeze), or off: the library's upper bound (default: on)",
    )
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--load-worker", help=argparse.SUPPRESS)
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_worker:
        load_worker(args.load_worker)
        return
    if args.bare_server:
        bare_server(args.bare_server, args.expect, args.ceiling_gc)
        return
    if args.patients > args.doctors:
        parser.error("each patient watches one doctor: --patients must not exceed --doctors")

    started = time.perf_counter()
    wall_started = time.time()
    nofile = raise_nofile()
    sockets = args.doctors + args.patients
    if nofile < sockets + 500:
        log(f"warning: the open-files limit is {nofile}, below {sockets} sockets and some")
    # The engine's full collections come every 5-7 s: a window shorter than that may miss them.
    seconds = args.seconds or (8.0 if args.quick else 20.0)
    # --quick: ramp steps stop at these times, so the whole run stays within 90 s.
    engine_deadline = wall_started + (50 if not args.no_ceiling else 85) if args.quick else None
    bare_deadline = wall_started + 86 if args.quick else None
    timing = {
        "seconds": seconds,
        "warmup_s": 2.0 if args.quick else 4.0,
        "ramp": [] if args.no_ramp else list(QUICK_RAMP if args.quick else RAMP),
        "ramp_seconds": 2.5 if args.quick else 8.0,
        "settle_s": 0.7 if args.quick else 2.0,
    }
    workdir = Path(tempfile.mkdtemp(prefix="tot-gateway-bench-"))
    sqlite_path = workdir / "tot.sqlite3"
    engine: subprocess.Popen[bytes] | None = None
    bare: subprocess.Popen[str] | None = None
    try:
        points = road_points()  # also compiles and caches the graph before the server needs it
        create_schema(sqlite_path)
        api_port, ws_port = free_port(), free_port()
        engine_log = workdir / "engine.log"
        engine = start_engine(sqlite_path, api_port, ws_port, engine_log)
        t0 = time.perf_counter()
        doctor_ids, patient_ids = seed_users(sqlite_path, args.doctors, args.patients)
        doctor_tokens = mint_tokens(doctor_ids, "doctor")
        patient_tokens = mint_tokens(patient_ids, "patient")
        log(f"seeded {sockets} users and tokens in {time.perf_counter() - t0:.1f} s")
        from benchmarks.api import wait_ready

        wait_ready(f"http://127.0.0.1:{api_port}", engine)
        common = {
            **timing,
            "host": "127.0.0.1",
            "seed": args.seed,
            "points": points,
            "doctor_ids": doctor_ids,
            "doctor_tokens": doctor_tokens,
            "patient_tokens": patient_tokens,
            "http_concurrency": 16,
            "booking_budget_s": 25.0 if args.quick else 120.0,
        }
        log(f"engine ready (pid {engine.pid}) after {time.perf_counter() - started:.1f} s")
        eng = run_load(
            {**common, "mode": "engine", "api_port": api_port, "ws_port": ws_port,
             "server_pid": engine.pid, "deadline": engine_deadline},
            workdir,
        )  # fmt: skip
        engine.kill()  # a scratch engine: no need for a polite stop of 12,500 sockets
        engine.wait()
        eng["server_log"] = log_summary(engine_log)
        print_phase("engine", eng)
        base: dict[str, Any] | None = None
        if not args.no_ceiling:
            bare_port = free_port()
            bare = start_bare(bare_port, sockets, args.ceiling_gc)
            base = run_load(
                {
                    **common,
                    "mode": "bare",
                    "ws_port": bare_port,
                    "server_pid": bare.pid,
                    "deadline": bare_deadline,
                },
                workdir,
            )
            bare.kill()
            bare.wait()
            print_phase("bare", base)
    finally:
        for proc in (engine, bare):
            if proc is not None:
                stop_process(proc, grace_s=3)
        shutil.rmtree(workdir, ignore_errors=True)

    rate, meets = capacity(eng["steps"])
    steps_all = eng["steps"] + (base["steps"] if base is not None else [])
    others = max(s["others_cpu"] for s in steps_all)
    if others > 0.25:
        log(
            f"warning: other processes used up to {others:.2f} of the "
            f"{os.cpu_count()} cores during the measurements: the figures are not reliable"
        )
    nominal = eng["steps"][0]
    result: dict[str, Any] = {
        "benchmark": "gateway",
        "connections": eng["connections_held"],
        "position_msgs_per_s": rate,
        "delivery_p50_ms": nominal["p50_ms"],
        "delivery_p99_ms": nominal["p99_ms"],
        "bytes_per_connection": eng["bytes_per_connection"],
        "ceiling_msgs_per_s": None,
        "share_of_ceiling": None,
        "meets_bar": meets,
        "ramp_cut": eng["ramp_cut"],
        "nominal_msgs_per_s": nominal["ingested_per_s"],
        "delivered_share": nominal["delivered_share"],
        "connect_s": eng["doctors_connect_s"],
        "shift_start_s": eng.get("shift_start_s"),
        "patients_connect_s": eng["patients_connect_s"],
        "server_cpu": nominal["server_cpu"],
        "load_cpu": nominal["load_cpu"],
        "lag_max_ms": nominal["lag_max_ms"],
        "others_cpu_max": others,
        "positions_refused": eng["positions_refused"],
        "refusals": eng["refusals"],
        "errors": eng["errors"],
        "closes": eng["closes"],
        "bookings": eng.get("bookings"),
        "server_log": eng["server_log"],
        "patients_with_positions": eng["patients_with_positions"],
        "positions_without_recorded_at": eng["matched_by_coordinates"],
        "positions_unmatched": eng["unmatched_positions"],
        "load_max_rss_mb": eng["load_max_rss_mb"],
        "steps": eng["steps"],
    }
    if base is not None:
        ceiling, _ = capacity(base["steps"])
        all_passed = all(s["meets_bar"] for s in base["steps"])
        bound = "server"
        if all_passed:
            bound = "time" if base["ramp_cut"] else "load"
        result.update(
            ceiling_msgs_per_s=ceiling,
            share_of_ceiling=round(rate / ceiling, 3) if ceiling else None,
            ceiling_bound=bound,
            ceiling_gc=args.ceiling_gc,
            ceiling_p50_ms=base["steps"][0]["p50_ms"],
            ceiling_p99_ms=base["steps"][0]["p99_ms"],
            ceiling_bytes_per_connection=base["bytes_per_connection"],
            ceiling_connect_s=base["doctors_connect_s"],
            ceiling_connections=base["connections_held"],
            ceiling_server_cpu=base["steps"][0]["server_cpu"],
            ceiling_errors=base["errors"],
            ceiling_steps=base["steps"],
        )
    result.update(
        doctors=args.doctors,
        patients=args.patients,
        quick=args.quick,
        wall_s=round(time.perf_counter() - started, 1),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
