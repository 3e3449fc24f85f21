"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware): a request id on every
response, and a cap on request bodies."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import orjson

Scope = dict[str, Any]
_VALID_ID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")
DRAIN_TIMEOUT_S = 5.0


class RequestIdMiddleware:
    """Takes a sane X-Request-ID from the caller or makes one; echoes it back."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value
                break
        if not _VALID_ID.match(request_id):
            request_id = uuid.uuid4().hex.encode()
        scope["tot.request_id"] = request_id.decode()

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id)]
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodyLimitMiddleware:
    """Refuses request bodies over `max_bytes` with 413, before anything parses them.

    A declared Content-Length over the limit is refused at once. A body without one
    (chunked transfer) is counted as it arrives: the moment it passes the limit the app is
    told the client left (so it stops reading; whatever it makes of that is dropped) and
    the 413 goes out. Before answering, the rest of a body up to `drain_bytes` more is read
    and discarded, so that the client, still sending, reads the 413 rather than a reset
    connection; the connection then stays usable. Beyond that (or when the client waits for
    `100 Continue`, and so has sent nothing yet) the 413 closes the connection."""

    def __init__(
        self,
        app: Any,
        max_bytes: int = 64 * 1024,
        drain_bytes: int = 1 << 20,
        larger: tuple[tuple[re.Pattern[str], int], ...] = (),
    ) -> None:
        """`larger`: paths (full matches) that take bodies up to their own limit (uploads)."""
        self.app = app
        self.max_bytes = max_bytes
        self.drain_bytes = drain_bytes
        self.larger = larger

    def limit_of(self, path: str) -> int:
        for pattern, limit in self.larger:
            if pattern.fullmatch(path):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        waits_to_send = False
        declared = -1
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit():
                declared = int(value)
            elif name == b"expect" and value.lower() == b"100-continue":
                waits_to_send = True
        limit = self.limit_of(str(scope.get("path", "")))
        if declared > limit:
            drained = False
            if not waits_to_send and declared <= limit + self.drain_bytes:
                drained = await self._drain(receive, more_body=True, budget=declared)
            await self._refuse(scope, send, close=not drained, limit=limit)
            return
        received = 0
        refused = False
        started = False

        async def counted() -> dict[str, Any]:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        more = bool(message.get("more_body", False))
                        drained = await self._drain(
                            receive, more_body=more, budget=self.drain_bytes
                        )
                        await self._refuse(scope, send, close=not drained, limit=limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: dict[str, Any]) -> None:
            nonlocal started
            if refused:
                return  # the 413 has gone out; the app's own answer is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not refused:
                raise
            # The app failed on the body it was denied (FastAPI: "error parsing the
            # body"); the 413 already said why.

    async def _drain(self, receive: Any, *, more_body: bool, budget: int) -> bool:
        """Read and discard the rest of the body; whether it ended within `budget` bytes."""
        try:
            async with asyncio.timeout(DRAIN_TIMEOUT_S):
                while more_body:
                    message = await receive()
                    if message["type"] != "http.request":
                        return False
                    budget -= len(message.get("body", b""))
                    if budget < 0:
                        return False
                    more_body = bool(message.get("more_body", False))
        except TimeoutError:
            return False
        return True

    async def _refuse(self, scope: Scope, send: Any, *, close: bool, limit: int) -> None:
        body = orjson.dumps(
            {
                "type": "about:blank",
                "title": "Content Too Large",
                "status": 413,
                "detail": f"request bodies are limited to {limit} bytes",
                "instance": scope.get("path"),
                "request_id": scope.get("tot.request_id"),
            }
        )
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if close:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
