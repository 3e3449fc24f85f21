"""/docs (Swagger UI) and /redoc work without the internet: every script, style and
request comes from the engine itself, and they render every operation of the document.
Checked in Debian's Chromium through Playwright, as tests/test_pages.py does."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.docs import ASSETS_DIR, DOCS, STATIC_DIR

CHROMIUM = "/usr/bin/chromium"


async def _never() -> Any:
    raise AssertionError("the docs need no runtime")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The app (no runtime: the docs and the document need none) behind uvicorn."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(_never), lifespan="off", log_level="warning", access_log=False)
    )
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name="docs-server", daemon=True
    )
    thread.start()
    while not server.started:
        assert thread.is_alive()
        threading.Event().wait(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _operations(base_url: str) -> list[tuple[str, str]]:
    document = httpx.get(f"{base_url}/openapi.json").json()
    return [(m, p) for p, item in document["paths"].items() for m in item]


def test_docs_pages_and_their_assets_are_served_from_here(base_url: str) -> None:
    for path, name in DOCS.items():
        r = httpx.get(f"{base_url}{path}")
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        policy = r.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "connect-src 'self';" in policy
        assert r.text == (STATIC_DIR / name).read_text(encoding="utf-8")
        refs = re.findall(r'(?:src|href|spec-url)="([^"]*)"', r.text)
        assert refs and all(ref.startswith("/") and not ref.startswith("//") for ref in refs)
        for ref in refs:
            asset = httpx.get(f"{base_url}{ref}")
            assert asset.status_code == 200, ref
            assert len(asset.content) > 0
    # The assets are the package's files, as shipped.
    bundle = httpx.get(f"{base_url}/docs/assets/swagger-ui-bundle.js")
    assert bundle.content == (ASSETS_DIR / "swagger-ui-bundle.js").read_bytes()
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{base_url}/docs/assets/nope.js").status_code == 404
    redoc = httpx.get(f"{base_url}/docs/assets/redoc.standalone.js")
    assert redoc.status_code == 200 and redoc.headers["content-type"].startswith("text/javascript")
    assert b"cdn.redoc.ly" not in redoc.content and len(redoc.content) > 500_000
    document = httpx.get(f"{base_url}/openapi.json").json()
    assert not {"/docs", "/redoc"} & document["paths"].keys()


def test_swagger_ui_and_redoc_render_every_operation_offline(base_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: apt-get install chromium"
    operations = _operations(base_url)
    assert len(operations) > 30
    here = urlsplit(base_url).netloc
    elsewhere: list[str] = []
    problems: list[str] = []

    def keep_home(route: Any) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).netloc == here:
            route.continue_()
        else:
            elsewhere.append(url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*", keep_home)
            page = context.new_page()
            page.on("pageerror", lambda exc: problems.append(f"error: {exc}"))
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning")
                    else None
                ),
            )
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))

            page.goto(f"{base_url}/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            shown = page.eval_on_selector_all(
                ".opblock",
                "els => els.map(e => [e.querySelector('.opblock-summary-method').textContent,"
                " e.querySelector('.opblock-summary-path').getAttribute('data-path')])",
            )
            assert sorted((m.lower(), p) for m, p in shown) == sorted(operations)
            assert page.locator(".info .title").inner_text().startswith("TOT dispatch API")
            page.screenshot(path=str(tmp_path / "docs.png"), full_page=False)
            assert any(u.endswith("/openapi.json") for u in requested)

            page.goto(f"{base_url}/redoc")
            page.wait_for_selector("[data-section-id^='operation/']", timeout=30_000)
            sections = page.locator("[data-section-id^='operation/']").count()
            # ReDoc lists each operation under each of its tags (ours have one each).
            assert sections == len(operations)
            assert page.get_by_text("Book a visit").count() >= 1
            page.screenshot(path=str(tmp_path / "redoc.png"), full_page=False)
        finally:
            browser.close()
    assert elsewhere == []
    assert [u for u in requested if u.startswith("http") and urlsplit(u).netloc != here] == []
    assert problems == []
