"""Request bodies over the limit get 413, whether they declare a Content-Length or come
in chunks: over a real server and real sockets, and for any way of cutting a body up."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from hypothesis import given, settings
from hypothesis import strategies as st

from api.middleware import BodyLimitMiddleware, RequestIdMiddleware
from routing import Router
from tests.api_harness import ADMIN_EMAIL, ADMIN_PASSWORD, running_api

LIMIT = 64 * 1024


@pytest.fixture
async def base_url(helsinki_router: Router, tmp_path: Path) -> AsyncIterator[str]:
    """The real app and runtime behind uvicorn on a loopback port, in this event loop."""
    async with running_api(helsinki_router, tmp_path) as api:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(api.app, lifespan="off", log_level="warning", access_log=False)
        )
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            assert not serving.done(), serving
            await asyncio.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await serving
            sock.close()


async def _chunks(total: int, size: int = 4096) -> AsyncIterator[bytes]:
    """A JSON-ish body of `total` bytes, sent chunk by chunk (httpx: Transfer-Encoding: chunked)."""
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        yield b" " * n
        sent += n
        await asyncio.sleep(0)


def _is_413(r: httpx.Response) -> None:
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["x-request-id"]
    body = r.json()
    assert body["status"] == 413 and str(LIMIT) in body["detail"]
    assert body["request_id"] == r.headers["x-request-id"]


async def test_a_chunked_body_over_the_limit_is_413(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        r = await client.post(
            "/api/v1/auth/login",
            content=_chunks(LIMIT + 1),
            headers={"content-type": "application/json"},
        )
        assert "content-length" not in r.request.headers
        assert r.request.headers["transfer-encoding"] == "chunked"
        _is_413(r)
        # A body far over the limit, in bigger chunks, too.
        r = await client.post(
            "/api/v1/bookings",
            content=_chunks(10 * LIMIT, 60_000),
            headers={"content-type": "application/json", "authorization": "Bearer x"},
        )
        _is_413(r)
        # The rest of the body was read and dropped, so the connection carries on.
        assert "connection" not in r.headers
        assert (await client.get("/api/v1/health")).status_code == 200


async def test_a_declared_length_over_the_limit_is_413(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        r = await client.post(
            "/api/v1/auth/login",
            content=b" " * (LIMIT + 1),
            headers={"content-type": "application/json"},
        )
        assert r.request.headers["content-length"] == str(LIMIT + 1)
        _is_413(r)


async def test_a_chunked_body_within_the_limit_is_read_as_usual(base_url: str) -> None:
    login = orjson.dumps({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    padded = login + b" " * (LIMIT - len(login))  # exactly at the limit: allowed

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(padded), 1000):
            yield padded[i : i + 1000]

    async with httpx.AsyncClient(base_url=base_url) as client:
        r = await client.post(
            "/api/v1/auth/login", content=pieces(), headers={"content-type": "application/json"}
        )
        assert r.request.headers["transfer-encoding"] == "chunked"
        assert r.status_code == 200, r.text
        assert r.json()["token_type"] == "bearer"
        # The connection is still good for the next request.
        assert (await client.get("/api/v1/health")).status_code == 200


async def test_a_raw_chunked_request_over_the_limit_is_413(base_url: str) -> None:
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: tot.test\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b" " * 8192
        for _ in range(LIMIT // len(chunk) + 1):
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        writer.write(b"0\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 413 "), head
        headers = dict(line.split(b": ", 1) for line in head.rstrip(b"\r\n").split(b"\r\n")[1:])
        assert headers[b"content-type"] == b"application/problem+json"
        body = await asyncio.wait_for(reader.readexactly(int(headers[b"content-length"])), 10)
        assert orjson.loads(body)["status"] == 413
        # The rest of the body was drained: the same connection serves the next request.
        writer.write(b"GET /api/v1/health HTTP/1.1\r\nHost: tot.test\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200 "), head
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


# -- any cut of any body, through the middleware alone --------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    limit=st.integers(0, 300),
    drain=st.integers(0, 300),
    chunks=st.lists(st.integers(0, 120), max_size=8),
    declare=st.booleans(),
    expect_continue=st.booleans(),
)
def test_any_body_is_passed_whole_within_the_limit_and_413_beyond(
    limit: int, drain: int, chunks: list[int], declare: bool, expect_continue: bool
) -> None:
    total = sum(chunks)
    headers = [(b"content-length", str(total).encode())] if declare else []
    if expect_continue:
        headers.append((b"expect", b"100-continue"))
    got = bytearray()

    async def reads_everything(scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Like FastAPI: read the whole body, fail if the client left, else answer."""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RuntimeError("client disconnected while the body was read")
            got.extend(message.get("body", b""))
            if not message.get("more_body", False):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(got)).encode()})

    app = RequestIdMiddleware(
        BodyLimitMiddleware(reads_everything, max_bytes=limit, drain_bytes=drain)
    )
    scope = {"type": "http", "method": "POST", "path": "/x", "headers": headers}
    incoming = [
        {"type": "http.request", "body": b"a" * n, "more_body": i < len(chunks) - 1}
        for i, n in enumerate(chunks)
    ] or [{"type": "http.request", "body": b"", "more_body": False}]
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read < len(incoming):
            read += 1
            return incoming[read - 1]
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1  # one answer, never two
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    if total <= limit:
        assert starts[0]["status"] == 200
        assert answer == str(total).encode() and len(got) == total
        return
    assert starts[0]["status"] == 413
    assert orjson.loads(answer)["status"] == 413
    assert len(got) <= limit  # the app never saw the part over the limit
    if declare:
        drained = not expect_continue and total - limit <= drain
        assert read == (len(incoming) if drained else 0)
    else:
        crossed = next(i for i in range(len(chunks)) if sum(chunks[: i + 1]) > limit)
        drained = sum(chunks[crossed + 1 :]) <= drain
        if drained:
            assert read == len(incoming)
    # A connection with body left unread closes; a drained one carries on.
    assert ((b"connection", b"close") in starts[0]["headers"]) is not drained
