"""The web pages the engine serves: an operator console, a patient's tracking page and a
doctor's page. Plain HTML, CSS and JavaScript modules from `api/static`, with no build
step and nothing fetched from elsewhere: the map is drawn from our own road graph
(`GET /api/v1/map/roads`), live updates come from the WebSocket gateway."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGES = {"/": "index.html", "/operator": "operator.html", "/patient": "patient.html",
         "/doctor": "doctor.html"}  # fmt: skip

# The pages load scripts, styles and data from this server only, and open WebSockets to
# the gateway (another port of this host, hence ws: / wss:).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def install_pages(app: FastAPI) -> None:
    """Serve `/static/...` and the pages `/`, `/operator`, `/patient` and `/doctor`."""
    if not (STATIC_DIR / "index.html").is_file():
        log.warning("web pages not installed: %s is missing", STATIC_DIR)
        return
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for path, name in PAGES.items():
        app.add_api_route(
            path, _page(STATIC_DIR / name), methods=["GET", "HEAD"], include_in_schema=False
        )


def _page(file: Path) -> Callable[[], Awaitable[Response]]:
    async def page() -> Response:
        return FileResponse(file, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    page.__name__ = f"page_{file.stem}"
    return page
