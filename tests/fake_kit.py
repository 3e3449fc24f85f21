"""What the local provider servers (tests/fake_*.py) share: a free port, injected faults,
and a Starlette app served by uvicorn in a thread of the test's process.

Faults (`inject(kind, ...)`, consumed in order, `count` times each):
- "status": answer `status` with the provider's own error body (each fake builds it
  from `code`), and a Retry-After header when `retry_after` is given;
- "timeout": answer nothing for `delay_s` (beyond the client's timeout), then a 500.
(A refused connection needs no fault: point the adapter at a port where nothing listens.)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

FAULT_KINDS = ("status", "timeout")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Fault:
    kind: str
    status: int = 500
    code: Any = None  # the provider's error code (FCM status, Twilio code, SMS.ru code)
    retry_after: str | None = None
    delay_s: float = 2.0
    remaining: int = 1
    headers: dict[str, str] | None = None


class Faults:
    """A thread-safe queue of faults to inject."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def inject(self, kind: str, *, count: int = 1, **fields: Any) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind: one of {FAULT_KINDS}")
        with self._lock:
            self._faults.append(Fault(kind, remaining=count, **fields))

    def take(self) -> Fault | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.pop(0)
            return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


async def read_form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (without python-multipart)."""
    body = (await request.body()).decode()
    return dict(parse_qsl(body, keep_blank_values=True))


async def answer_fault(fault: Fault, error: Callable[[Fault], Response]) -> Response:
    """The answer for a fault: `error(fault)` (the provider's error body) with Retry-After
    and extra headers, or, for "timeout", a 500 after delay_s."""
    if fault.kind == "timeout":
        await asyncio.sleep(fault.delay_s)
        return Response("too late", status_code=500)
    response = error(fault)
    if fault.retry_after is not None:
        response.headers["Retry-After"] = fault.retry_after
    for name, value in (fault.headers or {}).items():
        response.headers[name] = value
    return response


class ServerThread:
    """uvicorn serving `app` on 127.0.0.1:port in a daemon thread."""

    def __init__(self, app: Starlette, port: int, name: str) -> None:
        import uvicorn

        self.port = port
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="critical",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.server.serve())
        finally:
            loop.close()

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.thread.name} did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextlib.contextmanager
def serving(app: Starlette, name: str, port: int | None = None) -> Iterator[str]:
    """Serve `app` for the duration; yields its base URL http://127.0.0.1:PORT."""
    port = port or free_port()
    runner = ServerThread(app, port, name)
    runner.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        runner.stop()
