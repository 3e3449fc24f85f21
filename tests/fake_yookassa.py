"""A local YooKassa: a real HTTP server speaking API v3 as documented (payments, capture,
cancel, refunds, list; basic auth; Idempotence-Key required on every POST), over the
sandbox's own state machine (storage.payment_sandbox.YooKassaState), so its rules are
written once. It sends notifications to a webhook URL and injects faults on demand.

In pytest (a thread in this process):

    with running_fake_yookassa(webhook_url=...) as fake:
        provider = YooKassaProvider(fake.shop_id, fake.secret_key, fake.base_url, ...)
        fake.inject("create", "timeout", delay_s=1.0)  # applies, then answers too late
        fake.confirm(payment_id)                        # the payer confirms
        fake.applied["create"], fake.calls["create"]    # what happened, what was asked

As a process (a benchmark's provider), controlled over HTTP under /_control:

    python -m tests.fake_yookassa --port 8090 [--webhook-url URL] [--latency-ms 20]

Faults (`inject(op, kind, count=1, delay_s=...)`, op one of create, capture, cancel,
refund, get_payment, get_refund, list or "*"):
- "timeout": the operation IS applied, the answer comes after delay_s (beyond the client's
  timeout: the realistic case where the retry must not do it twice);
- "stall": nothing applied, no answer for delay_s, then a 500;
- "500": a 500 answer, nothing applied;  "500_after": applied, then a 500 answer;
- "processing": YooKassa's 202 {"type": "processing", "retry_after": ms}, nothing applied.
Notifications: `duplicate_notifications = n` sends each n extra times;
`hold_notifications = True` keeps them until `release_notifications()` sends them in
reverse order (reordered).

`measure_round_trips(...)`: the bare round trip (plain httpx, no adapter), to compare our
side's overhead with.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import secrets
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from payments.ports import ProviderRejectedError
from storage.payment_sandbox import YooKassaState

OPERATIONS = ("create", "capture", "cancel", "refund", "get_payment", "get_refund", "list")
FAULT_KINDS = ("timeout", "stall", "500", "500_after", "processing")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Fault:
    op: str
    kind: str
    remaining: int = 1
    delay_s: float = 2.0


def _json(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _error(status: int, code: str, description: str, parameter: str | None = None) -> Response:
    body: dict[str, Any] = {
        "type": "error",
        "id": str(uuid.uuid4()),
        "code": code,
        "description": description,
    }
    if parameter:
        body["parameter"] = parameter
    return _json(body, status)


class FakeYooKassa:
    """The server's state, its faults and its controls (thread-safe)."""

    def __init__(
        self,
        *,
        shop_id: str = "506751",
        secret_key: str | None = None,
        webhook_url: str | None = None,
        latency_s: float = 0.0,
        hold_ttl_s: float = 7 * 86_400,
        confirmation_ttl_s: float = 3_600,
        clock: Callable[[], float] = time.time,
        seed: int = 0,
    ) -> None:
        self.shop_id = shop_id
        self.secret_key = secret_key or f"test_{secrets.token_urlsafe(32)}"
        self.webhook_url = webhook_url
        self.latency_s = latency_s
        self.url = ""  # http://127.0.0.1:PORT once running
        self._clock = clock
        self._offset_s = 0.0
        self._state_args = {
            "hold_ttl_s": hold_ttl_s,
            "confirmation_ttl_s": confirmation_ttl_s,
            "shop_id": shop_id,
            "seed": seed,
        }
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._sender: httpx.AsyncClient | None = None
        self.reset()
        self.app = Starlette(
            routes=[
                Route("/v3/payments", self._create, methods=["POST"]),
                Route("/v3/payments", self._list, methods=["GET"]),
                Route("/v3/payments/{id}", self._get_payment, methods=["GET"]),
                Route("/v3/payments/{id}/capture", self._capture, methods=["POST"]),
                Route("/v3/payments/{id}/cancel", self._cancel, methods=["POST"]),
                Route("/v3/refunds", self._refund, methods=["POST"]),
                Route("/v3/refunds/{id}", self._get_refund, methods=["GET"]),
                Route("/_pay/{id}", self._pay_page, methods=["GET"]),
                Route("/_sink", self._sink, methods=["POST"]),
                Route("/_control/{action}", self._control, methods=["POST", "GET"]),
            ]
        )

    # -- controls (any thread) ------------------------------------------------------------

    def reset(self) -> None:
        """A fresh provider: no payments, faults, counts or notifications."""
        with getattr(self, "lock", threading.Lock()):
            self.state = YooKassaState(
                confirm_url_base=f"{self.url}/_pay/",
                **self._state_args,  # type: ignore[arg-type]
            )
            self.calls: Counter[str] = Counter()  # HTTP requests per operation
            self.faults: list[Fault] = []
            self.duplicate_notifications = 0
            self.hold_notifications = False
            self.held: list[dict[str, Any]] = []
            self.notifications: list[dict[str, Any]] = []  # produced, in order
            self.sent: list[dict[str, Any]] = []  # delivered to the webhook (2xx), copies too
            self.send_failures = 0
            self.sink: list[dict[str, Any]] = []  # what /_sink received
            self.auth_failures = 0
            self.requests: list[tuple[str, str | None, Any]] = []  # (op, Idempotence-Key, body)
            self._offset_s = 0.0

    @property
    def base_url(self) -> str:
        return f"{self.url}/v3"

    @property
    def applied(self) -> Counter[str]:
        """Operations that changed something: create, confirm, capture, cancel, refund."""
        return self.state.applied

    def now(self) -> float:
        return self._clock() + self._offset_s

    def advance(self, seconds: float) -> None:
        """Move the provider's clock on (holds expire after 7 days of it)."""
        with self.lock:
            self._offset_s += seconds
            self.state.expire(self.now())
        self._after_change()

    def inject(self, op: str, kind: str, *, count: int = 1, delay_s: float = 2.0) -> None:
        if op != "*" and op not in OPERATIONS:
            raise ValueError(f"op: one of {OPERATIONS} or '*'")
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind: one of {FAULT_KINDS}")
        with self.lock:
            self.faults.append(Fault(op, kind, count, delay_s))

    def confirm(self, payment_id: str, *, succeed: bool = True) -> dict[str, Any]:
        """The payer confirms (or refuses) the payment."""
        with self.lock:
            answer = self.state.confirm(payment_id, self.now(), succeed=succeed)
        self._after_change()
        return answer

    def payment(self, payment_id: str) -> dict[str, Any]:
        with self.lock:
            return self.state.get_payment(payment_id, self.now())

    def release_notifications(self) -> None:
        """Send the held notifications, newest first (reordered)."""
        with self.lock:
            held, self.held = self.held, []
        self._schedule(list(reversed(held)))

    def wait_sent(self, count: int, timeout_s: float = 5.0) -> None:
        """Block until `count` notifications were delivered (copies counted)."""
        deadline = time.monotonic() + timeout_s
        while len(self.sent) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.sent)} of {count} notifications delivered")
            time.sleep(0.01)

    async def wait_sent_async(self, count: int, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.sent) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.sent)} of {count} notifications delivered")
            await asyncio.sleep(0.01)

    # -- notifications ----------------------------------------------------------------

    def _after_change(self) -> None:
        with self.lock:
            bodies = self.state.drain_notifications()
            self.notifications.extend(bodies)
            if self.hold_notifications:
                self.held.extend(bodies)
                return
        self._schedule(bodies)

    def _schedule(self, bodies: list[dict[str, Any]]) -> None:
        if not bodies or not self.webhook_url or self.loop is None:
            return
        copies = [body for body in bodies for _ in range(1 + self.duplicate_notifications)]
        loop = self.loop
        loop.call_soon_threadsafe(lambda: loop.create_task(self._send(copies)))

    async def _send(self, bodies: list[dict[str, Any]]) -> None:
        if self._sender is None:
            self._sender = httpx.AsyncClient(timeout=5.0)
        for body in bodies:
            url = self.webhook_url
            if not url:
                return
            try:
                response = await self._sender.post(
                    url, content=orjson.dumps(body), headers={"Content-Type": "application/json"}
                )
                ok = 200 <= response.status_code < 300
            except httpx.HTTPError:
                ok = False
            if ok:
                self.sent.append(body)
            else:
                self.send_failures += 1

    # -- the API ----------------------------------------------------------------------

    def _take_fault(self, op: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.op in (op, "*") and fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _authorized(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.shop_id}:{self.secret_key}".encode()).decode()
        return secrets.compare_digest(request.headers.get("authorization", ""), f"Basic {expected}")

    async def _serve(
        self,
        request: Request,
        op: str,
        operation: Callable[[float, Any, str | None], dict[str, Any]],
    ) -> Response:
        self.calls[op] += 1
        if not self._authorized(request):
            self.auth_failures += 1
            return _error(401, "invalid_credentials", "Authentication by given credentials failed")
        key: str | None = None
        body: Any = None
        if request.method == "POST":
            key = request.headers.get("idempotence-key")
            if not key:
                return _error(
                    400, "invalid_request", "Idempotence-Key header is required", "Idempotence-Key"
                )
            if len(key) > 64:
                return _error(
                    400, "invalid_request", "Idempotence-Key is longer than 64", "Idempotence-Key"
                )
            if not request.headers.get("content-type", "").startswith("application/json"):
                return Response(status_code=415)
            try:
                body = orjson.loads(await request.body())
            except orjson.JSONDecodeError:
                return _error(400, "invalid_request", "the body is not JSON")
        self.requests.append((op, key, body))
        fault = self._take_fault(op)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if fault is not None and fault.kind == "500":
            return _error(500, "internal_server_error", "Internal server error")
        if fault is not None and fault.kind == "processing":
            return _json({"type": "processing", "retry_after": int(fault.delay_s * 1_000)}, 202)
        if fault is not None and fault.kind == "stall":
            await asyncio.sleep(fault.delay_s)
            return _error(500, "internal_server_error", "Internal server error")
        try:
            with self.lock:
                answer = operation(self.now(), body, key)
        except ProviderRejectedError as exc:
            return _error(exc.status, exc.code, str(exc), exc.parameter)
        finally:
            self._after_change()
        if fault is not None and fault.kind == "timeout":
            await asyncio.sleep(fault.delay_s)
        if fault is not None and fault.kind == "500_after":
            return _error(500, "internal_server_error", "Internal server error")
        return _json(answer)

    async def _create(self, request: Request) -> Response:
        return await self._serve(
            request, "create", lambda now, body, key: self.state.create_payment(body, key, now)
        )

    async def _list(self, request: Request) -> Response:
        query = dict(request.query_params)
        return await self._serve(
            request, "list", lambda now, _b, _k: self.state.list_payments(query, now)
        )

    async def _get_payment(self, request: Request) -> Response:
        payment_id = request.path_params["id"]
        return await self._serve(
            request, "get_payment", lambda now, _b, _k: self.state.get_payment(payment_id, now)
        )

    async def _capture(self, request: Request) -> Response:
        payment_id = request.path_params["id"]
        return await self._serve(
            request,
            "capture",
            lambda now, body, key: self.state.capture(payment_id, body, key, now),
        )

    async def _cancel(self, request: Request) -> Response:
        payment_id = request.path_params["id"]
        return await self._serve(
            request, "cancel", lambda now, _b, key: self.state.cancel(payment_id, key, now)
        )

    async def _refund(self, request: Request) -> Response:
        return await self._serve(
            request, "refund", lambda now, body, key: self.state.create_refund(body, key, now)
        )

    async def _get_refund(self, request: Request) -> Response:
        refund_id = request.path_params["id"]
        return await self._serve(
            request, "get_refund", lambda now, _b, _k: self.state.get_refund(refund_id, now)
        )

    # -- pages and controls over HTTP ---------------------------------------------------

    async def _pay_page(self, request: Request) -> Response:
        """The confirmation page: ?succeed=1 (default) pays, ?succeed=0 refuses."""
        succeed = request.query_params.get("succeed", "1") != "0"
        try:
            answer = self.confirm(request.path_params["id"], succeed=succeed)
        except ProviderRejectedError as exc:
            return HTMLResponse(f"<p>{exc}</p>", status_code=exc.status)
        return HTMLResponse(f"<p>payment {answer['id']}: {answer['status']}</p>")

    async def _sink(self, request: Request) -> Response:
        self.sink.append(orjson.loads(await request.body()))
        return Response(status_code=200)

    async def _control(self, request: Request) -> Response:
        action = request.path_params["action"]
        args: dict[str, Any] = dict(request.query_params)
        if request.method == "POST" and (raw := await request.body()):
            args.update(orjson.loads(raw))
        try:
            if action == "stats":
                return _json(
                    {
                        "calls": dict(self.calls),
                        "applied": dict(self.applied),
                        "notifications": len(self.notifications),
                        "sent": len(self.sent),
                    }
                )
            if action == "reset":
                self.reset()
            elif action == "fault":
                self.inject(
                    str(args["op"]),
                    str(args["kind"]),
                    count=int(args.get("count", 1)),
                    delay_s=float(args.get("delay_s", 2.0)),
                )
            elif action == "confirm":
                succeed = args.get("succeed", True) not in (False, 0, "0", "false")
                return _json(self.confirm(str(args["id"]), succeed=succeed))
            elif action == "advance":
                self.advance(float(args["seconds"]))
            elif action == "configure":
                if "webhook_url" in args:
                    self.webhook_url = args["webhook_url"] or None
                if "latency_ms" in args:
                    self.latency_s = float(args["latency_ms"]) / 1_000
                if "duplicates" in args:
                    self.duplicate_notifications = int(args["duplicates"])
                if "hold" in args:
                    self.hold_notifications = bool(args["hold"])
            elif action == "release":
                self.release_notifications()
            else:
                return _error(404, "not_found", f"no control {action!r}")
        except (KeyError, ValueError, TypeError) as exc:
            return _error(400, "invalid_request", f"bad control arguments: {exc}")
        except ProviderRejectedError as exc:
            return _error(exc.status, exc.code, str(exc), exc.parameter)
        return _json({"ok": True})


class _Thread:
    def __init__(self, fake: FakeYooKassa, port: int) -> None:
        import uvicorn

        self.fake = fake
        self.port = port
        config = uvicorn.Config(
            fake.app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="fake-yookassa", daemon=True)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self.fake.loop = loop
        try:
            loop.run_until_complete(self.server.serve())
            if self.fake._sender is not None:
                loop.run_until_complete(self.fake._sender.aclose())
        finally:
            loop.close()

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake YooKassa did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextlib.contextmanager
def running_fake_yookassa(port: int | None = None, **kwargs: Any) -> Iterator[FakeYooKassa]:
    """A FakeYooKassa served on 127.0.0.1 (a free port unless given), in a thread."""
    fake = FakeYooKassa(**kwargs)
    port = port or free_port()
    fake.url = f"http://127.0.0.1:{port}"
    fake.reset()  # the confirmation URLs know the address now
    runner = _Thread(fake, port)
    runner.start()
    try:
        yield fake
    finally:
        runner.stop()


async def measure_round_trips(
    base_url: str,
    shop_id: str,
    secret_key: str,
    count: int = 200,
    *,
    operation: str = "create",
    client: httpx.AsyncClient | None = None,
) -> list[float]:
    """The bare provider round trip in ms, `count` times: a plain httpx request with the
    provider's auth and nothing of ours. operation "create" posts a minimal payment
    (a fresh key each time), "get" fetches one payment again and again."""
    own = client is None
    http = client or httpx.AsyncClient(auth=httpx.BasicAuth(shop_id, secret_key), timeout=10.0)
    base = base_url.rstrip("/")
    body = orjson.dumps(
        {
            "amount": {"value": "100.00", "currency": "RUB"},
            "capture": False,
            "confirmation": {"type": "redirect", "return_url": "https://example.test/back"},
            "payment_method_data": {"type": "bank_card"},
            "description": "round trip",
        }
    )
    headers = {"Content-Type": "application/json"}
    samples: list[float] = []
    try:
        payment_id = None
        if operation == "get":
            first = await http.post(
                f"{base}/payments", content=body, headers={**headers, "Idempotence-Key": "rt-0"}
            )
            payment_id = first.json()["id"]
        for _ in range(count):
            started = time.perf_counter()
            if payment_id is None:
                key = f"rt-{uuid.uuid4().hex}"
                response = await http.post(
                    f"{base}/payments", content=body, headers={**headers, "Idempotence-Key": key}
                )
            else:
                response = await http.get(f"{base}/payments/{payment_id}")
            samples.append((time.perf_counter() - started) * 1_000)
            response.raise_for_status()
    finally:
        if own:
            await http.aclose()
    return samples


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local YooKassa API v3 for tests and benchmarks")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--shop-id", default="506751")
    parser.add_argument("--secret-key", default="test_local_secret")
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    import uvicorn

    fake = FakeYooKassa(
        shop_id=args.shop_id,
        secret_key=args.secret_key,
        webhook_url=args.webhook_url,
        latency_s=args.latency_ms / 1_000,
    )
    fake.url = f"http://127.0.0.1:{args.port}"
    fake.reset()
    server = uvicorn.Server(
        uvicorn.Config(
            fake.app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False
        )
    )

    async def serve() -> None:
        fake.loop = asyncio.get_running_loop()
        await server.serve()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
