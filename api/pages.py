"""The web pages the engine serves.

- The web application (`web/`, TypeScript and Preact, built by Vite into `web/dist/`,
  committed so that running the engine needs no Node.js): the patient's app under
  `/patient/...`, the doctor's under `/doctor/...`, the operator console under
  `/operator`, the clinic's under `/clinic/...`, the admin panel under `/admin/...`, and
  `/` choosing between them. Every
  client route answers `index.html` (the app routes in the browser); hashed assets under
  `/assets/` are cached for a year; the service worker and the manifest are at the root
  scope.
- `/static/...`: the plain files beside this module (the AsyncAPI reader's).

Nothing is fetched from elsewhere: a strict Content-Security-Policy says so to the
browser. MapLibre draws in a worker it makes from a blob: URL (`worker-src blob:`,
`child-src blob:` for older engines)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from api.errors import problem

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
# The built app: TOT_WEB_DIST (the Docker image sets it), else web/dist beside api/.
WEB_DIST = Path(
    os.environ.get("TOT_WEB_DIST") or Path(__file__).resolve().parent.parent / "web" / "dist"
)
APP_ROUTES = (
    "/", "/patient", "/patient/{rest:path}", "/doctor", "/doctor/{rest:path}",
    "/operator", "/operator/{rest:path}",
    # The desk apps: the clinic's (role clinic_admin) and the admin panel (role admin).
    "/clinic", "/clinic/{rest:path}", "/admin", "/admin/{rest:path}",
    # The sandbox provider's payment page (/pay/sandbox/<id>), for the patient.
    "/pay/{rest:path}",
)  # fmt: skip

# The plain pages (the AsyncAPI reader) load scripts, styles and data from this server
# only, and open WebSockets to the gateway (another port of this host, hence ws: / wss:).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
# The app: the same, plus MapLibre's worker (a blob: URL) and its images (blob:).
APP_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self' ws: wss:; worker-src 'self' blob:; child-src blob:; "
    "manifest-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
_COMMON = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
PAGE_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache"}
PAGE_HEADERS |= _COMMON
APP_HEADERS = {
    "Content-Security-Policy": APP_CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-cache",
    "Permissions-Policy": "geolocation=(self), camera=(), microphone=()",
    **_COMMON,
}
IMMUTABLE = "public, max-age=31536000, immutable"
_ASSET_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
_MEDIA = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
}


def install_pages(app: FastAPI) -> None:
    """Serve the web app (when built: every role's, the operator console included) and the
    plain static files."""
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_web_app(app, WEB_DIST)


def install_web_app(app: FastAPI, dist: Path) -> None:
    index = dist / "index.html"
    if not index.is_file():
        log.warning("web app not built: %s is missing (cd web && npm ci && npm run build)", index)
        return

    async def app_page() -> Response:
        return FileResponse(index, media_type="text/html; charset=utf-8", headers=APP_HEADERS)

    for path in APP_ROUTES:
        app.add_api_route(path, app_page, methods=["GET", "HEAD"], include_in_schema=False)

    def files(folder: str, cache: str) -> Callable[[Request, str], Awaitable[Response]]:
        root = dist / folder

        async def serve(request: Request, name: str) -> Response:
            path = root / name
            if not _ASSET_NAME.match(name) or ".." in name or not path.is_file():
                return problem(request, 404, f"no such file: /{folder}/{name}")
            media = _MEDIA.get(path.suffix, "application/octet-stream")
            return FileResponse(path, media_type=media, headers={"Cache-Control": cache, **_COMMON})

        serve.__name__ = f"web_{folder}"
        return serve

    app.add_api_route("/assets/{name}", files("assets", IMMUTABLE), methods=["GET", "HEAD"],
                      include_in_schema=False)  # fmt: skip
    app.add_api_route("/icons/{name}", files("icons", "public, max-age=86400"),
                      methods=["GET", "HEAD"], include_in_schema=False)  # fmt: skip

    async def service_worker() -> Response:
        # Always checked again, so a new build reaches installed apps; its scope is `/`.
        headers = {"Cache-Control": "no-cache", "Service-Worker-Allowed": "/", **_COMMON}
        return FileResponse(dist / "sw.js", media_type=_MEDIA[".js"], headers=headers)

    async def manifest() -> Response:
        headers = {"Cache-Control": "no-cache", **_COMMON}
        return FileResponse(dist / "manifest.webmanifest", media_type=_MEDIA[".webmanifest"],
                            headers=headers)  # fmt: skip

    app.add_api_route("/sw.js", service_worker, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_api_route(
        "/manifest.webmanifest", manifest, methods=["GET", "HEAD"], include_in_schema=False
    )
