"""The web pages: the map's road data and routes (in process), the pages and their assets
(served, self-contained: nothing from another origin), and the three pages end to end in
a real headless browser (Debian's chromium through Playwright) against a real engine
(`tests/pages_server.py`: API, gateway and dispatch clock in a subprocess), with
screenshots saved to tmp_path and, when TOT_SCREENSHOTS_DIR is set, there too."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from api.app import API_PREFIX
from api.pages import PAGES, STATIC_DIR, install_pages
from api.routes import map as map_routes
from api.security import declared_roles
from routing import Router
from tests.api_harness import HOME, NEARBY, PASSWORD, Api, running_api
from tot.settings import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
ADMIN_EMAIL = "admin@tot.example.org"
ADMIN_PASSWORD = "pages-admin-password"
HERE = (60.1702, 24.9400)  # the doctor's device, per the browser's geolocation


@pytest.fixture
async def api(helsinki_router: Router, tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(helsinki_router, tmp_path) as a:
        a.app.include_router(map_routes.router, prefix=API_PREFIX)
        install_pages(a.app)
        yield a


# -- the map's data ---------------------------------------------------------------------------


async def test_roads_are_the_graph_s_undirected_edges(api: Api) -> None:
    r = await api.client.get("/api/v1/map/roads")  # public: the map shows before login
    assert r.status_code == 200, r.text
    body = map_routes.RoadsOut.model_validate(r.json())
    graph = api.runtime.router.graph
    pairs = {
        (min(int(t), int(h)), max(int(t), int(h)))
        for t, h in zip(graph.edge_tail, graph.edge_head, strict=True)
    }
    assert body.segment_count == len(pairs) == body.total_in_view
    assert len(body.segments) == 4 * body.segment_count == 4 * len(body.ranks)
    assert not body.truncated
    assert set(body.ranks) <= {0, 1, 2, 3}
    assert body.ranks == sorted(body.ranks, reverse=True)  # major roads first
    assert body.bbox.south == pytest.approx(float(graph.node_lat.min()), abs=1e-6)
    assert body.bbox.east == pytest.approx(float(graph.node_lon.max()), abs=1e-6)
    coords = np.array(body.segments).reshape(-1, 4)
    assert np.all(np.abs(coords * 1e5 - np.round(coords * 1e5)) < 1e-6)  # 5 decimals
    assert coords[:, [0, 2]].min() >= body.bbox.south - 1e-5
    assert coords[:, [1, 3]].max() <= body.bbox.east + 1e-5
    assert body.ws_port == 8001 or body.ws_port == int(os.environ.get("TOT_WS_PORT", "0"))
    assert "OpenStreetMap" in body.attribution


async def test_roads_in_a_view_and_capped(api: Api) -> None:
    south, west, north, east = 60.168, 24.938, 60.172, 24.944
    r = await api.client.get(
        "/api/v1/map/roads", params={"south": south, "west": west, "north": north, "east": east}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    whole = (await api.client.get("/api/v1/map/roads")).json()
    assert 0 < body["segment_count"] < whole["segment_count"]
    assert body["view"] == {"south": south, "west": west, "north": north, "east": east}
    coords = np.array(body["segments"]).reshape(-1, 4)
    lat_lo, lat_hi = coords[:, [0, 2]].min(axis=1), coords[:, [0, 2]].max(axis=1)
    lon_lo, lon_hi = coords[:, [1, 3]].min(axis=1), coords[:, [1, 3]].max(axis=1)
    assert np.all((lat_hi >= south) & (lat_lo <= north) & (lon_hi >= west) & (lon_lo <= east))

    r = await api.client.get("/api/v1/map/roads", params={"limit": 10})
    capped = r.json()
    assert capped["segment_count"] == 10 and capped["truncated"] and capped["max_segments"] == 10
    assert capped["total_in_view"] == whole["segment_count"]
    assert capped["ranks"] == whole["ranks"][:10]  # the major roads are the ones kept

    # Each side given bounds the view there; a side left out leaves it open; a view whose
    # south is above its north holds nothing.
    r = await api.client.get("/api/v1/map/roads", params={"south": 60.2, "north": 60.1})
    assert r.status_code == 200 and r.json()["segment_count"] == 0, r.text
    r = await api.client.get("/api/v1/map/roads", params={"north": north, "east": east})
    open_sided = r.json()
    assert r.status_code == 200 and 0 < open_sided["segment_count"] < whole["segment_count"]
    assert open_sided["view"]["north"] == north and open_sided["view"]["east"] == east
    assert open_sided["view"]["south"] == whole["bbox"]["south"]  # open: the network's edge
    coords = np.array(open_sided["segments"]).reshape(-1, 4)
    assert coords[:, [0, 2]].min(axis=1).max() <= north
    assert coords[:, [1, 3]].min(axis=1).max() <= east
    r = await api.client.get("/api/v1/map/roads", params={"south": 91})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await api.client.get("/api/v1/map/roads", params={"limit": 60_001})
    assert r.status_code == 422


async def test_ws_port_comes_from_the_server(api: Api) -> None:
    api.app.state.ws_port = 18_765
    r = await api.client.get("/api/v1/map/roads")
    assert r.json()["ws_port"] == 18_765


async def test_route_between_two_points(api: Api) -> None:
    params = {"from_lat": NEARBY[0], "from_lon": NEARBY[1], "to_lat": HOME[0], "to_lon": HOME[1]}
    r = await api.client.get("/api/v1/map/route", params=params)
    assert r.status_code == 401  # routes are for accounts
    _, token = await api.patient()
    r = await api.client.get("/api/v1/map/route", params=params, headers=api.auth(token))
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["points"]) >= 2 and body["distance_m"] > 0 and body["eta_s"] > 0
    assert body["points"][0] == pytest.approx(list(NEARBY), abs=2e-3)
    far = {**params, "to_lat": 10.0, "to_lon": 10.0}  # nowhere near the roads
    r = await api.client.get("/api/v1/map/route", params=far, headers=api.auth(token))
    assert r.status_code == 422, r.text


def test_every_map_route_declares_its_roles() -> None:
    from fastapi.routing import APIRoute

    routes = [r for r in map_routes.router.routes if isinstance(r, APIRoute)]
    assert {r.path for r in routes} == {"/map/roads", "/map/route"}
    for route in routes:
        pending = list(route.dependant.dependencies)
        declared = []
        while pending:
            dep = pending.pop()
            pending.extend(dep.dependencies)
            if (roles := declared_roles(dep.call)) is not None:
                declared.append(roles)
        assert declared, route.path


# -- the pages and their assets ---------------------------------------------------------------


async def test_pages_and_assets_are_served(api: Api) -> None:
    for path in PAGES:
        r = await api.client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert "<!doctype html>" in r.text.lower()
        for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', r.text):
            a = await api.client.get(asset)
            assert a.status_code == 200, asset
    r = await api.client.get("/static/app.js")
    assert r.headers["content-type"].startswith("text/javascript")
    assert (await api.client.get("/static/nope.js")).status_code == 404
    openapi = (await api.client.get("/openapi.json")).json()
    assert "/operator" not in openapi["paths"]  # pages are not API operations


def test_no_page_or_asset_reaches_outside() -> None:
    """Everything the pages load comes from this server: no CDN, no external fonts, no
    tiles; the only absolute URLs allowed are none at all (WebSockets are built from
    location.hostname)."""
    files = [p for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {
        "index.html", "operator.html", "patient.html", "doctor.html", "app.js", "app.css",
        "operator.js", "patient.js", "doctor.js",
    }  # fmt: skip
    external = re.compile(
        r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}|@import|url\(\s*['\"]?(?!data:)[a-z]+:"
    )
    for path in files:
        text = path.read_text(encoding="utf-8")
        found = [m.group(0) for m in external.finditer(text)]
        assert not found, f"{path.name} refers outside: {found}"
        if path.suffix == ".html":
            for ref in re.findall(r'(?:src|href)="([^"]*)"', text):
                assert ref.startswith(("/", "data:", "#")) or ref == "", (path.name, ref)


# -- end to end in a real browser ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def engine_with_pages(tmp_path: Path, graph_cache_dir: Path) -> Iterator[tuple[str, int]]:
    port, ws_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "TOT_SQLITE_PATH": str(tmp_path / "tot.sqlite3"),
        "TOT_GRAPH_CACHE_DIR": str(graph_cache_dir),
        "TOT_HOST": "127.0.0.1",
        "TOT_PORT": str(port),
        "TOT_WS_PORT": str(ws_port),
        "TOT_ADMIN_EMAIL": ADMIN_EMAIL,
        "TOT_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "TOT_ARGON2_TIME_COST": "1",
        "TOT_ARGON2_MEMORY_KIB": "1024",
        "TOT_LOGIN_RATE_PER_MIN": "100000",
        "TOT_BOOKING_RATE_PER_MIN": "100000",
        "TOT_BOOKING_RATE_PER_IP_PER_MIN": "100000",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "TOT_CORS_ORIGINS", "TOT_WS_ORIGINS"):
        env.pop(name, None)
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.pages_server"],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"{base}/api/v1/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise AssertionError("the engine did not start")
        yield base, ws_port
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


class Seeder:
    """Accounts made over HTTP, as an admin would."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=f"{base}/api/v1", timeout=10)
        self.admin = self.token(ADMIN_EMAIL, ADMIN_PASSWORD)
        self.n = 0

    def token(self, email: str, password: str = PASSWORD) -> str:
        r = self.http.post("/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def email(self, kind: str) -> str:
        self.n += 1
        return f"{kind}{self.n}@tot.example.org"

    def operator(self) -> str:
        email = self.email("operator")
        body = {"email": email, "password": PASSWORD, "role": "operator", "first_name": "Olga"}
        r = self.http.post("/admin/users", json=body, headers=self.auth(self.admin))
        assert r.status_code == 201, r.text
        return email

    def doctor(self, first: str, last: str) -> tuple[str, str]:
        email = self.email("doctor")
        body = {
            "email": email, "password": PASSWORD, "license_number": "LIC-12345",
            "first_name": first, "last_name": last,
        }  # fmt: skip
        r = self.http.post("/auth/register/doctor", json=body)
        assert r.status_code == 201, r.text
        doctor_id = str(r.json()["id"])
        r = self.http.post(f"/admin/doctors/{doctor_id}/verify", headers=self.auth(self.admin))
        assert r.status_code == 200, r.text
        return doctor_id, email

    def patient(self) -> str:
        email = self.email("patient")
        r = self.http.post("/auth/register", json={"email": email, "password": PASSWORD})
        assert r.status_code == 201, r.text
        return email


def _shoot(page: Any, tmp_path: Path, name: str, shots: list[Path]) -> None:
    path = tmp_path / "screenshots" / f"{name}.png"
    path.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(path))
    shots.append(path)


def _collect_errors(page: Any, name: str, problems: list[str]) -> None:
    """Uncaught exceptions and console errors fail the test."""

    def on_error(exc: Any) -> None:
        problems.append(f"{name}: {exc}")

    def on_console(message: Any) -> None:
        if message.type == "error":
            problems.append(f"{name}: {message.text}")

    page.on("pageerror", on_error)
    page.on("console", on_console)


def _login(page: Any, email: str, *, register: bool = False) -> None:
    page.fill("#login-email", email)
    page.fill("#login-password", PASSWORD)
    page.click("#register-submit" if register else "#login-submit")
    page.wait_for_selector("#workspace:not([hidden])")
    page.wait_for_selector("body[data-ready='true']")


def test_the_pages_end_to_end_in_chromium(tmp_path: Path, graph_cache_dir: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: apt-get install chromium"
    expect.set_options(timeout=15_000)
    started = time.monotonic()
    shots: list[Path] = []
    problems: list[str] = []
    with engine_with_pages(tmp_path, graph_cache_dir) as (base, _), sync_playwright() as pw:
        seed = Seeder(base)
        operator_email = seed.operator()
        _, doctor_email = seed.doctor("Anna", "Virtanen")
        doctor_b_id, doctor_b_email = seed.doctor("Boris", "Laine")
        patient_email = seed.email("patient")  # registers on the page itself

        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            pages = {}
            for name in ("operator", "doctor", "patient"):
                context = browser.new_context(
                    viewport={"width": 1366, "height": 900},
                    # the doctor's "this device's location", as the browser would give it
                    geolocation={"latitude": HERE[0], "longitude": HERE[1], "accuracy": 12},
                    permissions=["geolocation"] if name == "doctor" else [],
                )
                page = context.new_page()
                page.set_default_timeout(15_000)
                _collect_errors(page, name, problems)
                pages[name] = page
            operator, doctor, patient = pages["operator"], pages["doctor"], pages["patient"]

            # The index links to the three pages.
            operator.goto(f"{base}/")
            expect(operator.locator("#link-operator")).to_have_attribute("href", "/operator")

            # The operator watches the city.
            operator.goto(f"{base}/operator")
            _login(operator, operator_email)
            expect(operator.locator("#connection")).to_have_attribute("data-state", "open")
            assert int(operator.locator("#map").get_attribute("data-segments") or 0) > 1000

            # A doctor goes online at a simulated position on the Helsinki roads.
            doctor.goto(f"{base}/doctor?lat={NEARBY[0]}&lon={NEARBY[1]}&speed=150")
            _login(doctor, doctor_email)
            expect(doctor.locator("#connection")).to_have_attribute("data-state", "open")
            doctor.click("#go-online")
            expect(doctor.locator("#doctor-status")).to_have_attribute("data-status", "available")
            expect(operator.locator("#doctor-count")).to_have_text("1")
            expect(operator.locator("#available-count")).to_have_text("1")

            # A patient books a visit nearby.
            patient.goto(f"{base}/patient?lat={HOME[0]}&lon={HOME[1]}")
            _login(patient, patient_email, register=True)
            expect(patient.locator("#book-lat")).to_have_value(str(HOME[0]))
            patient.fill("#book-address", "Mannerheimintie 1")
            patient.fill("#book-symptoms", "fever since yesterday")
            patient.click("#estimate")
            expect(patient.locator("#estimate-result")).to_contain_text("1 available")
            patient.click("#book-submit")
            expect(patient.locator("#tracking")).to_be_visible()
            booking_id = patient.locator("#tracking").get_attribute("data-booking-id")
            assert booking_id
            assert f"booking={booking_id}" in patient.url

            # The doctor gets the offer and takes it.
            expect(doctor.locator("#offer")).to_be_visible()
            expect(doctor.locator("#offer-address")).to_have_text("Mannerheimintie 1")
            expect(doctor.locator("#offer-eta")).not_to_have_text("–")
            _shoot(doctor, tmp_path, "doctor-offer", shots)
            doctor.click("#accept")
            expect(doctor.locator("#offer")).to_be_hidden()
            expect(doctor.locator("#visit-status")).to_have_attribute("data-status", "assigned")
            expect(doctor.locator("#visit-route")).to_contain_text("by road")

            # A reload: the doctor's socket drops (operators are told), then the page picks
            # the visit up again and the doctor is back.
            doctor.reload()
            doctor.wait_for_selector("body[data-ready='true']")
            expect(doctor.locator("#visit-status")).to_have_attribute("data-status", "assigned")
            expect(doctor.locator("#go-offline")).to_be_enabled()
            expect(operator.locator("#alerts li[data-kind='doctor_offline']")).to_have_count(1)

            # The patient sees the doctor assigned, then coming: positions and an ETA.
            status = patient.locator("#booking-status")
            expect(status).to_have_attribute("data-status", "assigned")
            expect(patient.locator("#doctor-name")).to_contain_text("Anna Virtanen")
            expect(patient.locator("#timeline li[data-status='assigned']")).to_have_count(1)
            expect(patient.locator("#eta")).to_have_attribute("data-seconds", re.compile(r"^\d+$"))
            expect(patient.locator("#distance")).not_to_have_text("–")
            # Between updates the ETA counts down, second by second.
            seen = []
            for _ in range(12):
                seen.append(int(patient.locator("#eta").get_attribute("data-seconds") or -1))
                patient.wait_for_timeout(250)
            assert any(b == a - 1 for a, b in itertools.pairwise(seen)), seen

            # The operator's console: the booking, its candidates and why.
            row = operator.locator(f"#bookings li[data-booking-id='{booking_id}']")
            expect(row).to_be_visible()
            row.click()
            expect(operator.locator("#detail-status")).to_have_attribute("data-status", "assigned")
            ranked = operator.locator("#candidates tbody tr.candidate")
            expect(ranked.first).to_contain_text("Anna Virtanen")
            expect(ranked.first.locator("td.eta")).to_have_text(re.compile(r"^\d+:\d\d$"))

            # The doctor drives there (simulated, along the roads): en route, arriving.
            doctor.click("#drive")
            expect(doctor.locator("#visit-status")).to_have_attribute("data-status", "en_route")
            expect(status).to_have_attribute("data-status", "en_route")
            patient.wait_for_timeout(1500)
            _shoot(patient, tmp_path, "patient-tracking", shots)
            expect(patient.locator("#arriving")).to_be_visible(timeout=30_000)
            expect(doctor.locator("#events")).to_contain_text("press Arrived", timeout=30_000)
            _shoot(doctor, tmp_path, "doctor-arrived", shots)
            doctor.click("#progress-arrived")
            expect(status).to_have_attribute("data-status", "arrived")
            expect(patient.locator("#eta")).to_have_text("here")

            # Meanwhile a second doctor is on shift and a chest-pain call comes in: an alert,
            # and the operator assigns the second doctor by hand, with a reason.
            doctor_b = seed.token(doctor_b_email)
            r = seed.http.post(
                "/doctors/me/shift",
                json={"latitude": 60.1725, "longitude": 24.9445},
                headers=seed.auth(doctor_b),
            )
            assert r.status_code == 200, r.text
            patient_b = seed.token(seed.patient())
            r = seed.http.post(
                "/bookings",
                json={
                    "latitude": 60.1728, "longitude": 24.9432, "address": "Kaivokatu 8",
                    "call_type": "chest_pain", "symptoms": "chest pain",
                },
                headers=seed.auth(patient_b),
            )  # fmt: skip
            assert r.status_code == 201, r.text
            urgent_id = r.json()["id"]
            expect(operator.locator("#alerts li[data-kind='escalation']")).to_have_count(1)
            expect(operator.locator("#alerts")).to_contain_text("hand the call to 103")
            urgent_row = operator.locator(f"#bookings li[data-booking-id='{urgent_id}']")
            expect(urgent_row).to_have_class(re.compile(r"\bemergency\b"))
            urgent_row.click()
            expect(operator.locator("#booking-detail")).to_have_attribute(
                "data-booking-id", urgent_id
            )
            expect(
                operator.locator(f"#candidates tr.candidate[data-doctor-id='{doctor_b_id}']")
            ).to_contain_text("Boris Laine")
            expect(operator.locator("#candidates tr.excluded")).to_contain_text("not available")
            operator.select_option("#assign-doctor", doctor_b_id)
            operator.click("#assign-submit")  # no reason: the form will not send
            assert operator.locator("#assign-reason").evaluate("e => e.validity.valueMissing")
            operator.fill("#assign-reason", "   ")
            operator.click("#assign-submit")
            expect(operator.locator("#assign-error")).to_contain_text("reason is required")
            operator.fill("#assign-reason", "closest free doctor; confirmed by phone")
            operator.click("#assign-submit")
            expect(operator.locator("#assign-result")).to_have_attribute("data-status", "assigned")
            expect(operator.locator("#detail-status")).to_have_attribute("data-status", "assigned")
            expect(operator.locator("#detail-history")).to_contain_text(
                "closest free doctor; confirmed by phone"
            )
            expect(operator.locator("#doctor-count")).to_have_text("2")
            operator.wait_for_timeout(2500)  # a feed with both doctors busy
            _shoot(operator, tmp_path, "operator-decision", shots)
            operator.locator("#panel").evaluate("e => e.scrollTo(0, 0)")
            _shoot(operator, tmp_path, "operator-console", shots)

            # The patient's socket drops: it comes back with last_seq and misses nothing.
            with patient.expect_websocket() as reconnected:
                patient.evaluate("window.tot.channel.socket.close()")
            assert "last_seq=" in reconnected.value.url, reconnected.value.url
            expect(patient.locator("#connection")).to_have_attribute("data-state", "open")

            # The first visit runs to the end.
            doctor.click("#progress-in_progress")
            expect(status).to_have_attribute("data-status", "in_progress")
            doctor.fill("#final-price", "3500")
            doctor.click("#progress-completed")
            expect(status).to_have_attribute("data-status", "completed")
            expect(doctor.locator("#visit")).to_be_hidden()
            expect(doctor.locator("#doctor-status")).to_have_attribute("data-status", "available")
            expect(patient.locator("#timeline li[data-status='completed']")).to_have_count(1)
            patient.reload()  # the session and ?booking= bring the visit back
            patient.wait_for_selector("body[data-ready='true']")
            expect(status).to_have_attribute("data-status", "completed")
            expect(patient.locator("#booking-price")).to_have_text("3500 RUB")
            _shoot(patient, tmp_path, "patient-completed", shots)
            _shoot(doctor, tmp_path, "doctor-done", shots)

            # The doctor switches to the device's own location: it is used and streamed.
            fixes = int(doctor.locator("#fix-count").inner_text())
            doctor.check("#use-geolocation")
            expect(doctor.locator("#position")).to_have_text(
                f"{HERE[0]:.5f}, {HERE[1]:.5f} (±12 m)"
            )
            expect(doctor.locator("#fix-count")).not_to_have_text(str(fixes))
            expect(doctor.locator("#shift-error")).to_have_text("")
        finally:
            browser.close()
            seed.http.close()
    assert not problems, problems
    target = os.environ.get("TOT_SCREENSHOTS_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for shot in shots:
            shutil.copy(shot, Path(target) / shot.name)
    assert all(shot.stat().st_size > 10_000 for shot in shots)
    assert time.monotonic() - started < 90
