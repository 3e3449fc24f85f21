"""A running API (the real app, runtime and stores) and a client, for the API tests."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from routing import Router
from services.runtime import Runtime, RuntimeConfig
from tests.conftest import HELSINKI_OSM_PATH, migrate, scratch_postgis_database

ADMIN_EMAIL = "admin@tot.example.org"
ADMIN_PASSWORD = "admin-password-123"
PASSWORD = "correct horse battery"
# Points on the bundled Helsinki roads.
HOME = (60.1699, 24.9384)
NEARBY = (60.1710, 24.9410)
_counter = itertools.count()


@dataclass
class Api:
    runtime: Runtime
    client: httpx.AsyncClient
    admin_token: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    app: Any = None  # the FastAPI app behind `client`, to serve it some other way too

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        r = await self.client.post(
            "/api/v1/auth/login", json={"email": email, "password": password}
        )
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def patient(self) -> tuple[str, str]:
        """(user id, access token) of a new patient."""
        email = f"patient{next(_counter)}@tot.example.org"
        r = await self.client.post(
            "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert r.status_code == 201, r.text
        return r.json()["id"], (await self.login(email))["access_token"]

    async def doctor(
        self, *, verified: bool = True, on_shift_at: tuple[float, float] | None = None, **extra: Any
    ) -> tuple[str, str]:
        email = f"doctor{next(_counter)}@tot.example.org"
        body = {"email": email, "password": PASSWORD, "license_number": "LIC-12345", **extra}
        r = await self.client.post("/api/v1/auth/register/doctor", json=body)
        assert r.status_code == 201, r.text
        doctor_id = r.json()["id"]
        if verified:
            r = await self.client.post(
                f"/api/v1/admin/doctors/{doctor_id}/verify", headers=self.auth(self.admin_token)
            )
            assert r.status_code == 200, r.text
        token = (await self.login(email))["access_token"]
        if on_shift_at is not None:
            r = await self.client.post(
                "/api/v1/doctors/me/shift",
                json={"latitude": on_shift_at[0], "longitude": on_shift_at[1]},
                headers=self.auth(token),
            )
            assert r.status_code == 200, r.text
        return doctor_id, token

    async def staff(self, role: str, clinic_id: str | None = None) -> tuple[str, str]:
        email = f"{role}{next(_counter)}@tot.example.org"
        r = await self.client.post(
            "/api/v1/admin/users",
            json={"email": email, "password": PASSWORD, "role": role, "clinic_id": clinic_id},
            headers=self.auth(self.admin_token),
        )
        assert r.status_code == 201, r.text
        return r.json()["id"], (await self.login(email))["access_token"]

    async def book(self, token: str, **extra: Any) -> dict[str, Any]:
        body = {"latitude": HOME[0], "longitude": HOME[1], "address": "Mannerheimintie 1", **extra}
        r = await self.client.post("/api/v1/bookings", json=body, headers=self.auth(token))
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]


def test_config(tmp_path: Path, database_url: str | None, **overrides: Any) -> RuntimeConfig:
    values: dict[str, Any] = {
        "osm_path": HELSINKI_OSM_PATH,  # read only by the geocoder, on first use
        "graph_cache_dir": tmp_path / "graphs",
        "database_url": database_url,
        "sqlite_path": tmp_path / "tot.sqlite3",
        "jwt_secret": "test-secret-0123456789-0123456789-abcdef",
        "admin_email": ADMIN_EMAIL,
        "admin_password": ADMIN_PASSWORD,
        # cheap hashing for tests; production uses argon2's RFC 9106 profile
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "login_rate_per_min": 1_000,
        "booking_rate_per_min": 1_000,
        "booking_rate_per_ip_per_min": 1_000,
    }
    values.update(overrides)
    return RuntimeConfig(**values)


@contextlib.asynccontextmanager
async def running_api(
    router: Router, tmp_path: Path, backend: str = "sqlite", **overrides: Any
) -> AsyncIterator[Api]:
    async with contextlib.AsyncExitStack() as stack:
        url = None
        if backend == "postgis":
            url = await stack.enter_async_context(scratch_postgis_database())
            await migrate(url)
        config = test_config(tmp_path, url, **overrides)
        runtime = await Runtime.start(config, router=router)
        try:
            app = create_app(lambda: _never(), cors_origins=["https://app.tot.test"])
            app.state.runtime = runtime
            transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://tot.test") as client:
                api = Api(runtime, client, app=app)
                api.admin_token = (await api.login(ADMIN_EMAIL, ADMIN_PASSWORD))["access_token"]
                yield api
        finally:
            await runtime.stop()


async def _never() -> Runtime:
    raise AssertionError("the test harness sets app.state.runtime itself")
