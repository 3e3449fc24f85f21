"""The WebSocket protocol's AsyncAPI 3 document (services/asyncapi.py) at `/asyncapi.json`,
and its reader at `/docs/asyncapi` (plain HTML and JavaScript from api/static, nothing from
elsewhere). Public, like the OpenAPI document; neither is an operation of the HTTP API, so
neither is in /openapi.json."""

from __future__ import annotations

from functools import lru_cache

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response

from api.pages import PAGE_HEADERS, STATIC_DIR
from api.routes.map import ws_port_of
from api.security import public
from services.asyncapi import asyncapi_document

router = APIRouter(include_in_schema=False, dependencies=[Depends(public())])

DOCUMENT_PATH = "/asyncapi.json"
READER_PATH = "/docs/asyncapi"
READER_FILE = STATIC_DIR / "asyncapi.html"
# The reader fetches the document from this server and nothing else: no sockets, no forms.
READER_HEADERS = {
    **PAGE_HEADERS,
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'none'",
}


@lru_cache(maxsize=8)
def _document_bytes(ws_port: int) -> bytes:
    return orjson.dumps(asyncapi_document(ws_port), option=orjson.OPT_INDENT_2)


@router.api_route(DOCUMENT_PATH, methods=["GET", "HEAD"])
async def asyncapi_json(request: Request) -> Response:
    """The AsyncAPI document, with this server's gateway port as the server's default."""
    return Response(
        _document_bytes(ws_port_of(request)),
        media_type="application/json",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


@router.api_route(READER_PATH, methods=["GET", "HEAD"])
async def asyncapi_reader() -> Response:
    return FileResponse(READER_FILE, media_type="text/html; charset=utf-8", headers=READER_HEADERS)
