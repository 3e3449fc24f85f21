"""Parts for the fault tests: a Redis and a PostgreSQL cluster of the test's own (so
stopping them disturbs nothing else), the engine and an extra gateway as real processes,
and clients that count what reaches them.

Nothing here touches the shared services the rest of the suite uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from services.times import rfc3339

PROJECT = Path(__file__).resolve().parent.parent
TOT = PROJECT / ".venv" / "bin" / "tot"
SECRET = "fault-tests-secret-" + "x" * 40
ISSUER, AUDIENCE = "tot-dispatch", "tot-api"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


# -- Redis -----------------------------------------------------------------------------------


class OwnRedis:
    """redis-server on a free port, without persistence (a restart comes back empty)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="tot-faults-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir), "--maxclients", "20000"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port, 10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)  # as an outage: nothing kept, no goodbye
            self.proc.wait(10)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# -- PostgreSQL ------------------------------------------------------------------------------


def _pg_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not versions:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    return versions[-1].parent


class OwnPostgres:
    """A cluster of the test's own (initdb as the postgres user, trust on loopback), so
    it can be stopped and restarted while the rest of the suite's server carries on."""

    def __init__(self) -> None:
        self.port = free_port()
        self.bin = _pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="tot-faults-pg-"))
        os.chmod(self.dir, 0o755)
        self.data = self.dir / "data"
        self.data.mkdir()
        shutil.chown(self.data, "postgres", "postgres")
        self._as_postgres(self.bin / "initdb", "-D", str(self.data), "--auth=trust", "-U",
                          "postgres", "--no-sync")  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/tot"

    def _as_postgres(self, *argv: str | Path) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *map(str, argv)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd="/",
        )

    def _ctl(self, *args: str) -> None:
        self._as_postgres(
            self.bin / "pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-l",
            str(self.data / "server.log"), "-o",
            f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off", *args,
        )  # fmt: skip

    def start(self) -> None:
        self._ctl("start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("stop", "-m", mode)

    def restart(self, mode: str = "fast") -> None:
        self._ctl("restart", "-m", mode)

    def create_database(self) -> None:
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-q", "-c",
             "CREATE DATABASE tot"],
            check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


# -- the engine and extra gateways -----------------------------------------------------------


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    ws_port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def engine_env(tmp: Path, graph_cache_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TOT_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        TOT_SQLITE_PATH=str(tmp / "tot.sqlite3"),
        TOT_GRAPH_CACHE_DIR=str(graph_cache_dir),
        TOT_JWT_SECRET=SECRET,
        TOT_ENV="test",
        TOT_ADMIN_EMAIL="admin@faults.example.org",
        TOT_ADMIN_PASSWORD="fault-tests-admin-password",
        TOT_ARGON2_TIME_COST="1",
        TOT_ARGON2_MEMORY_KIB="1024",
        TOT_LOGIN_RATE_PER_MIN="100000",
        TOT_BOOKING_RATE_PER_MIN="100000",
        TOT_BOOKING_RATE_PER_IP_PER_MIN="100000",
        TOT_REDIS_PREFIX=f"tot-faults:{uuid.uuid4().hex[:8]}:",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def start_process(argv: list[str], env: dict[str, str], log_path: Path, port: int) -> Server:
    with log_path.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT)
    ws_port = int(env.get("TOT_WS_PORT", "0"))
    try:
        wait_for_port(port, 90)
    except TimeoutError:
        proc.kill()
        raise RuntimeError(f"{argv} did not start:\n{log_path.read_text()[-3000:]}") from None
    return Server(proc, port, ws_port, log_path)


def start_engine(env: dict[str, str], log_path: Path) -> Server:
    port, ws_port = free_port(), free_port()
    env = {**env, "TOT_PORT": str(port), "TOT_WS_PORT": str(ws_port)}
    server = start_process([str(TOT), "serve"], env, log_path, port)
    wait_for_port(ws_port, 30)
    return server


def start_gateway(env: dict[str, str], log_path: Path) -> Server:
    ws_port = free_port()
    env = {**env, "TOT_WS_PORT": str(ws_port), "TOT_GATEWAY_HEARTBEAT_S": "2"}
    return start_process([str(TOT), "gateway"], env, log_path, ws_port)


def mint_token(user_id: str, role: str, ttl_s: int = 900) -> str:
    """An access token the engine accepts (the tests know its secret)."""
    now = time.time()
    return jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": user_id, "typ": "access", "role": role,
         "clinic": None, "iat": now, "exp": int(now) + ttl_s, "jti": uuid.uuid4().hex},
        SECRET,
        algorithm="HS256",
    )  # fmt: skip


# -- clients ---------------------------------------------------------------------------------


@dataclass
class Received:
    """What one socket got, with the time each message came."""

    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    closed_code: int | None = None

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for _, m in self.messages if m.get("type") == kind]

    def gaps(self) -> int:
        """Topic events missing between those received (per epoch; a resync resets)."""
        missing, last, epoch = 0, None, None
        for _, m in self.messages:
            if m.get("type") in ("hello", "resync"):
                last, epoch = m.get("seq"), m.get("epoch")
                continue
            if "seq" not in m or m.get("type") == "snapshot":
                continue
            if m.get("epoch") != epoch:
                last, epoch = m["seq"] - 1, m.get("epoch")
            if last is not None and m["seq"] > last + 1:
                missing += m["seq"] - last - 1
            last = max(last or 0, m["seq"])
        return missing


class Listener:
    """A socket kept open in the background, recording everything; it can send too."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.got = Received()
        self.ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self.opened = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.opened.wait(), 30)

    async def _run(self) -> None:
        try:
            async with connect(self.url, compression=None, open_timeout=30) as ws:
                self.ws = ws
                self.opened.set()
                async for raw in ws:
                    self.got.messages.append((time.monotonic(), orjson.loads(raw)))
        except ConnectionClosed as exc:
            self.got.closed_code = exc.rcvd.code if exc.rcvd else 1006
        except Exception:  # a refused handshake, a reset: recorded as an abnormal close
            self.got.closed_code = self.got.closed_code or 1006
        finally:
            if self.got.closed_code is None and self.ws is not None:
                close = self.ws.close_code
                self.got.closed_code = close
            self.opened.set()

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(orjson.dumps(message).decode())

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 10)


class DoctorBot(Listener):
    """A doctor's app: answers every offer with accept at once, sends a fix every second."""

    def __init__(self, url: str, lat: float, lon: float) -> None:
        super().__init__(url)
        self.lat, self.lon = lat, lon
        self.offers_seen: list[tuple[float, str]] = []  # (monotonic time, offer id)
        self.accept = True
        self._pump: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await super().start()
        self._pump = asyncio.create_task(self._answer())

    async def _answer(self) -> None:
        seen = 0
        next_fix = 0.0
        while True:
            await asyncio.sleep(0.05)
            if self.ws is None or self.got.closed_code is not None:
                continue
            for at, m in self.got.messages[seen:]:
                if m.get("type") == "offer":
                    self.offers_seen.append((at, m["offer_id"]))
                    if self.accept:
                        with contextlib.suppress(Exception):
                            await self.send({"type": "accept", "offer_id": m["offer_id"]})
            seen = len(self.got.messages)
            if time.monotonic() >= next_fix:
                next_fix = time.monotonic() + 1.0
                with contextlib.suppress(Exception):
                    await self.send(
                        {"type": "position", "lat": self.lat, "lon": self.lon, "accuracy_m": 10,
                         "recorded_at": rfc3339(time.time())}
                    )  # fmt: skip

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        await super().close()


@contextlib.asynccontextmanager
async def api_client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        yield client


async def wait_healthy(server: Server, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    async with api_client(server) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/api/v1/health")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"the engine did not answer:\n{server.log()[-3000:]}")


async def on_shift_doctor(
    client: httpx.AsyncClient, admin: str, email: str, lat: float, lon: float
) -> tuple[str, str]:
    """A verified doctor who started a shift at (lat, lon): (id, access token)."""
    password = "doctor-password-123"
    r = await client.post(
        "/api/v1/auth/register/doctor",
        json={"email": email, "password": password, "license_number": "LIC-12345"},
    )
    assert r.status_code == 201, r.text
    doctor_id = str(r.json()["id"])
    r = await client.post(f"/api/v1/admin/doctors/{doctor_id}/verify", headers=bearer(admin))
    assert r.status_code == 200, r.text
    token = await login(client, email, password)
    r = await client.post(
        "/api/v1/doctors/me/shift",
        json={"latitude": lat, "longitude": lon},
        headers=bearer(token),
    )
    assert r.status_code == 200, r.text
    return doctor_id, token


async def patient(client: httpx.AsyncClient, email: str) -> str:
    password = "patient-password-123"
    r = await client.post("/api/v1/auth/register", json={"email": email, "password": password})
    assert r.status_code == 201, r.text
    return await login(client, email, password)


async def login(client: httpx.AsyncClient, email: str, password: str) -> str:
    r = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ws_url(server_ws_port: int, path: str, token: str) -> str:
    sep = "&" if "?" in path else "?"
    return f"ws://127.0.0.1:{server_ws_port}{path}{sep}token={token}"


@contextlib.contextmanager
def many_files(limit: int = 65_536) -> Iterator[None]:
    """Enough file descriptors for thousands of sockets, in this process and its children."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def python() -> str:
    return sys.executable
