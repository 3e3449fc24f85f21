"""The API's documentation pages, served by the engine itself: Swagger UI at /docs and
ReDoc at /redoc, reading /openapi.json. Their scripts and styles come from the
`fastapi-offline` package (Swagger UI 5, Apache-2.0; ReDoc 2, MIT), so the pages work
without the internet; nothing is fetched from another host: Swagger UI's online validator
is off, and ReDoc's one remote image (Redocly's logo in its footer) is taken out of the
script as it is served."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS_URL = "/docs/assets"
STATIC_DIR = Path(__file__).resolve().parent / "static"
DOCS = {"/docs": "docs.html", "/redoc": "redoc.html"}

# Both libraries render with inline styles (React's and styled-components'), and ReDoc
# runs its search in a worker made from a blob; scripts and data come from here only.
DOCS_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
DOCS_HEADERS = {
    "Content-Security-Policy": DOCS_SECURITY_POLICY,
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


REDOC_SCRIPT = "redoc.standalone.js"
_REMOTE_LOGO = b'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"'
_NO_LOGO = b'src:"data:,"'  # fails to load at once; ReDoc then leaves the image out


def install_docs(app: FastAPI) -> None:
    """Serve /docs, /redoc and their assets (create the app with docs_url=None and
    redoc_url=None, or FastAPI's own pages, which load from a CDN, come first)."""
    script = (ASSETS_DIR / REDOC_SCRIPT).read_bytes().replace(_REMOTE_LOGO, _NO_LOGO)

    async def redoc_script() -> Response:
        return Response(script, media_type="text/javascript; charset=utf-8")

    app.add_api_route(
        f"{ASSETS_URL}/{REDOC_SCRIPT}",
        redoc_script,
        methods=["GET", "HEAD"],
        include_in_schema=False,
    )
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    for path, name in DOCS.items():
        app.add_api_route(
            path, _page(STATIC_DIR / name), methods=["GET", "HEAD"], include_in_schema=False
        )


def _page(file: Path) -> Callable[[], Awaitable[Response]]:
    async def page() -> Response:
        return FileResponse(file, media_type="text/html; charset=utf-8", headers=DOCS_HEADERS)

    page.__name__ = f"docs_{file.stem}"
    return page
