"""The WebSocket gateway (the `websockets` library on asyncio): authenticates at the
handshake, keeps each client's subscriptions and outgoing queue, and carries messages
between sockets and the engine (in this process, or through the bus from another).

Channels, each one socket:
  /ws/doctor                     positions in; offers, assignments, replies out
  /ws/patient/<booking_id>       that booking's status, and its doctor approaching
  /ws/operator                   alerts and status changes; a viewport's doctors; overrides
Authentication: `?token=<access token>` or an `Authorization: Bearer` header. A missing or
bad token is refused with HTTP 401, a wrong role with 403, someone else's booking with 404
(as if it did not exist), a browser Origin not on the allow-list with 403: all before
accept. The protocol is described in services/asyncapi.py (served at /asyncapi.json).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from redis.exceptions import RedisError
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from accounts import Role
from dispatch_core import Priority
from matching import DoctorStatus
from realtime_gateway.protocol import MAX_FRAME_BYTES, ProtocolError, parse
from services.auth import (
    AuthError,
    AuthService,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    Principal,
)
from services.bookings import InvalidRequestError
from services.bus import Bus, Head, Message
from services.doctors import FixRefusedError
from services.error_codes import error_code
from services.errors import StorageUnavailableError
from services.realtime import OPS, Realtime, topic_of_booking, topic_of_doctor
from services.times import rfc3339

log = logging.getLogger(__name__)

# Close codes (4000-4999 are the application's).
CLOSE_TOO_SLOW = 4008  # the client did not read; it may resume with last_seq
CLOSE_FLOODING = 4029
CLOSE_SILENT = 4408
CLOSE_REVOKED = 4401  # the account was blocked or its role changed: log in again

_SEQ = re.compile(r"^[0-9]{1,18}$")
_CHANNELS = {name: name for name in ("doctor", "patient", "operator")}
_EPOCH = re.compile(r"^[0-9a-f]{1,32}$")


class UnavailableError(Exception):
    """The engine cannot be reached from this gateway now (Redis is away)."""


ERRORS = (
    UnavailableError,
    StorageUnavailableError,
    NotFoundError,
    ForbiddenError,
    ConflictError,
    InvalidRequestError,
    FixRefusedError,
    AuthError,
)


@dataclass(frozen=True, slots=True)
class GatewayPolicy:
    # Browsers' allowed origins. Empty: only the engine's own pages, i.e. an Origin on the
    # socket's own host name at `page_port` (where the pages are served) or at the
    # socket's own port (one origin behind a proxy). Clients without Origin pass.
    origins: tuple[str, ...] = ()
    page_port: int | None = None
    messages_per_s: float = 20.0  # per connection, token bucket
    burst: float = 40.0
    flood_drops_before_close: int = 200
    max_pending_events: int = 512
    doctor_silence_s: float = 90.0  # a doctor silent this long is closed and goes offline
    # The console's doctors layer: at least once a second, with room for a late round.
    operator_feed_every_s: float = 0.8
    sweep_every_s: float = 5.0  # silent doctors and revoked accounts are looked for this often
    heartbeat_every_s: float = 10.0  # an extra gateway tells the engine its doctors this often


@dataclass(eq=False, slots=True)
class Client:
    connection: ServerConnection
    principal: Principal
    channel: str
    topic: str
    booking_id: str | None = None
    events: deque[bytes] = field(default_factory=deque)
    route: bytes | None = None  # the newest route line not yet sent
    position: bytes | None = None  # the newest position (or operator feed) not yet sent
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    ready: bool = False  # replay sent; live events flow
    held: list[Message] = field(default_factory=list)
    epoch: str = ""  # the engine start whose numbers sent_seq counts in ("": not known yet)
    conn_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    sent_seq: int = 0
    tokens: float = 0.0
    refill_at: float = 0.0
    dropped: int = 0
    last_drop: float = 0.0
    last_heard: float = field(default_factory=time.monotonic)
    viewport: tuple[float, float, float, float] | None = None
    closing: bool = False


class Gateway:
    def __init__(
        self,
        auth: AuthService,
        bus: Bus,
        *,
        realtime: Realtime | None = None,
        watch: Callable[[Principal, str], Awaitable[dict[str, Any]]] | None = None,
        policy: GatewayPolicy | None = None,
    ) -> None:
        """`realtime` is the engine in this process; without it (an extra gateway
        process) doctors' messages go to the engine over the bus and `watch` checks a
        patient's booking (from the shared database)."""
        self.auth = auth
        self.bus = bus
        self.realtime = realtime
        self.watch = watch or (realtime.authorize_watch if realtime else None)
        self.policy = policy or GatewayPolicy()
        self.topics: dict[str, set[Client]] = {}
        self.watchers: dict[str, set[Client]] = {}  # booking id -> patients' sockets
        self.last_position: dict[str, bytes] = {}  # booking id -> newest position (remote gateways)
        self.last_route: dict[str, bytes] = {}
        self.clients: set[Client] = set()
        # What the handshake learned, for the handler; weak, so a connection that dies
        # between the two leaves nothing behind.
        self._pending: weakref.WeakKeyDictionary[
            ServerConnection, tuple[Principal, str, str, str | None, dict[str, Any] | None]
        ] = weakref.WeakKeyDictionary()
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing_tasks: set[asyncio.Task[None]] = set()
        bus.on_event(self._on_event)
        bus.on_position(self._on_position)

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self, host: str, port: int) -> Server:
        self._server = await serve(
            self._handle,
            host,
            port,
            process_request=self._handshake,
            max_size=MAX_FRAME_BYTES,
            max_queue=64,
            compression=None,  # small JSON messages: deflate costs more CPU than it saves
            ping_interval=20,
            ping_timeout=20,
            backlog=2048,  # a mass reconnect (a gateway restart) must not overflow it
        )
        self._tasks.append(asyncio.create_task(self._sweep(), name="gateway-sweeper"))
        if self.realtime is None:
            self._tasks.append(asyncio.create_task(self._heartbeat(), name="gateway-heartbeat"))
        if self.realtime is not None:
            self._tasks.append(asyncio.create_task(self._operator_feed(), name="operator-feed"))
        return self._server

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(next(iter(self._server.sockets)).getsockname()[1])

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # -- the handshake: everything is checked before accept ---------------------------------

    def _origin_allowed(self, request: Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser: its token is what counts
        if self.policy.origins:
            return origin in self.policy.origins
        try:
            page = urlsplit(origin)
            socket_host = urlsplit(f"//{request.headers.get('Host', '')}")
            page_port = page.port or (443 if page.scheme == "https" else 80)
            socket_port = socket_host.port or 80
        except ValueError:
            return False
        if page.scheme not in ("http", "https") or not page.hostname:
            return False
        ports = {socket_port} | ({self.policy.page_port} if self.policy.page_port else set())
        return page.hostname == socket_host.hostname and page_port in ports

    async def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        if not self._origin_allowed(request):
            return _refuse(
                connection,
                HTTPStatus.FORBIDDEN,
                "this page's origin may not open sockets here (TOT_WS_ORIGINS lists others)",
            )
        url = urlsplit(request.path)
        query = parse_qs(url.query)
        token = (query.get("token") or [""])[0]
        header = request.headers.get("Authorization", "")
        if not token and header.lower().startswith("bearer "):
            token = header[7:].strip()
        parts = [p for p in url.path.split("/") if p]
        if len(parts) < 2 or parts[0] != "ws" or parts[1] not in ("doctor", "patient", "operator"):
            return _refuse(
                connection,
                HTTPStatus.NOT_FOUND,
                "no such channel: use /ws/doctor, /ws/patient/<booking_id> or /ws/operator",
            )
        channel = _CHANNELS[parts[1]]  # the constant, not this request's copy of the name
        try:
            principal = self.auth.authenticate(token)
        except AuthError as exc:
            return _refuse(connection, HTTPStatus.UNAUTHORIZED, str(exc))
        last_seq_text = (query.get("last_seq") or [""])[0]
        snapshot = None
        booking_id = None
        if channel == "doctor":
            if principal.role is not Role.DOCTOR:
                return _refuse(
                    connection, HTTPStatus.FORBIDDEN, "the doctor channel is for doctors"
                )
            topic = topic_of_doctor(principal.user_id)
            if self.realtime is not None:
                snapshot = self.realtime.doctor_snapshot(principal.user_id)
        elif channel == "operator":
            if principal.role not in (Role.OPERATOR, Role.ADMIN):
                return _refuse(
                    connection, HTTPStatus.FORBIDDEN, "the operator channel is for operators"
                )
            if self.realtime is None:
                return _refuse(
                    connection,
                    HTTPStatus.MISDIRECTED_REQUEST,
                    "operators connect to the engine's gateway",
                )
            topic = OPS
        else:
            if len(parts) != 3 or self.watch is None:
                return _refuse(connection, HTTPStatus.NOT_FOUND, "use /ws/patient/<booking_id>")
            booking_id = parts[2]
            try:
                snapshot = await self.watch(principal, booking_id)
            except (NotFoundError, ForbiddenError):
                return _refuse(connection, HTTPStatus.NOT_FOUND, f"no booking {booking_id!r}")
            topic = topic_of_booking(booking_id)
        if last_seq_text and not _SEQ.match(last_seq_text):
            return _refuse(connection, HTTPStatus.BAD_REQUEST, "last_seq must be a whole number")
        epoch_text = (query.get("epoch") or [""])[0]
        if epoch_text and not _EPOCH.match(epoch_text):
            return _refuse(
                connection, HTTPStatus.BAD_REQUEST, "epoch must be the value hello gave (hex)"
            )
        self._pending[connection] = (principal, channel, topic, booking_id, snapshot)
        return None

    # -- one connection ---------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        principal, channel, topic, booking_id, snapshot = self._pending.pop(connection)
        query = parse_qs(urlsplit(connection.request.path).query) if connection.request else {}
        last_seq_text = (query.get("last_seq") or [""])[0]
        epoch = (query.get("epoch") or [""])[0]
        client = Client(
            connection,
            principal,
            channel,
            topic,
            booking_id,
            tokens=self.policy.burst,
            refill_at=time.monotonic(),
        )
        self.clients.add(client)
        self.topics.setdefault(topic, set()).add(client)
        if booking_id is not None:
            self.watchers.setdefault(booking_id, set()).add(client)
        writer = asyncio.create_task(self._write(client))
        try:
            if channel == "doctor":
                await self._presence(principal.user_id, online=True, conn=client.conn_id)
            await self._open(client, epoch, int(last_seq_text) if last_seq_text else None, snapshot)
            async for raw in connection:
                await self._receive(client, raw)
        except ConnectionClosed:
            pass
        finally:
            client.closing = True
            writer.cancel()
            self.clients.discard(client)
            _discard(self.topics, topic, client)
            if booking_id is not None:
                _discard(self.watchers, booking_id, client)
            if channel == "doctor":
                with contextlib.suppress(Exception):
                    await self._presence(principal.user_id, online=False)
            # The writer is gone before the handler returns: nothing of the socket stays.
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await writer
            client.events.clear()
            client.held.clear()
            client.route = client.position = None

    async def _open(
        self, client: Client, epoch: str, last_seq: int | None, snapshot: dict[str, Any] | None
    ) -> None:
        """Hello, then the replay (or a resync), then the state now (a snapshot), then live
        events. The snapshot goes on every connect: after a replay it is the last word."""
        try:
            head = await self.bus.head(client.topic)
        except Exception as exc:  # Redis away (an extra gateway): the state still comes
            log.warning("topic head unreadable (%s); the client is resynced", exc)
            head = Head("", 0)
        # The state now, after the head was read and with live events already held: an
        # event between the handshake and here is in the snapshot or follows it.
        snapshot = await self._fresh_snapshot(client, snapshot)
        self._queue(
            client,
            {
                "type": "hello",
                "channel": client.channel,
                "topic": client.topic,
                "epoch": head.epoch,
                "seq": head.seq,
            },
        )
        replayed: list[Message] | None = None
        if last_seq is not None:
            if epoch == head.epoch and head.epoch:
                try:
                    replayed = await self.bus.replay(client.topic, epoch, last_seq)
                except Exception as exc:
                    log.warning("replay unreadable (%s); the client is resynced", exc)
            if replayed is None:
                self._queue(
                    client,
                    {
                        "type": "resync",
                        "topic": client.topic,
                        "epoch": head.epoch,
                        "seq": head.seq,
                        "detail": "the events missed cannot be replayed (too far behind, "
                        "or the engine restarted): the state follows",
                    },
                )
        client.epoch = head.epoch
        for event in replayed or []:
            self._queue_event(client, event)
        client.sent_seq = head.seq
        if snapshot is not None:
            self._queue(client, {**snapshot, "epoch": head.epoch, "seq": head.seq})
        for event in client.held:
            self._queue_event(client, event)
        client.held.clear()
        client.ready = True
        if client.booking_id is not None:
            route, position = self._latest_position(client.booking_id)
            client.route, client.position = route, position
            client.wake.set()

    async def _fresh_snapshot(
        self, client: Client, fallback: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        try:
            if client.channel == "doctor" and self.realtime is not None:
                return self.realtime.doctor_snapshot(client.principal.user_id)
            if client.booking_id is not None and self.watch is not None:
                return await self.watch(client.principal, client.booking_id)
        except ERRORS:
            pass  # gone meanwhile: the handshake's view stands, the events will tell
        return fallback

    def _latest_position(self, booking_id: str) -> tuple[bytes | None, bytes | None]:
        if self.realtime is not None:
            route, position = self.realtime.latest_position(booking_id)
            return (
                orjson.dumps(route) if route is not None else None,
                orjson.dumps(position) if position is not None else None,
            )
        return self.last_route.get(booking_id), self.last_position.get(booking_id)

    async def _presence(self, doctor_id: str, *, online: bool, conn: str = "") -> None:
        if self.realtime is not None:
            if online:
                await self.realtime.doctor_connected(doctor_id)
            else:
                await self.realtime.doctor_disconnected(doctor_id)
        else:
            # `conn`: the engine answers with this socket's snapshot, on the doctor's topic.
            await self.bus.send_command(
                {"type": "presence", "doctor_id": doctor_id, "online": online, "conn": conn}
            )

    async def _receive(self, client: Client, raw: str | bytes) -> None:
        if client.closing:
            return  # read and dropped, so the closing handshake's reply gets through
        now = time.monotonic()
        client.last_heard = now
        p = self.policy
        client.tokens = min(p.burst, client.tokens + (now - client.refill_at) * p.messages_per_s)
        client.refill_at = now
        if client.tokens < 1.0:
            if now - client.last_drop > 10.0:
                client.dropped = 0  # a burst long ago does not count towards closing
            client.last_drop = now
            client.dropped += 1
            if client.dropped >= p.flood_drops_before_close:
                self._close(client, CLOSE_FLOODING, "too many messages")
                return
            if client.dropped % 20 == 1:
                self._queue(
                    client,
                    {
                        "type": "error",
                        "code": "rate_limited",
                        "detail": f"at most {p.messages_per_s:g} messages per second; some were dropped",
                    },
                )
            return
        client.tokens -= 1.0
        try:
            message = parse(client.channel, raw)
        except ProtocolError as exc:
            error: Message = {"type": "error", "code": exc.code, "detail": exc.detail}
            if exc.ref is not None:
                error["ref"] = exc.ref
            self._queue(client, error)
            return
        ref = message.get("ref")
        try:
            reply = await self._dispatch(client, message)
        except ERRORS as exc:
            error = {"type": "error", "code": _code(exc), "detail": str(exc)}
            if ref is not None:
                error["ref"] = ref
            self._queue(client, error)
            return
        except Exception:
            log.exception("gateway message %s failed", message.get("type"))
            error = {
                "type": "error",
                "code": "internal",
                "detail": "the message could not be handled; it has been logged",
            }
            if ref is not None:
                error["ref"] = ref
            self._queue(client, error)
            return
        if reply is not None:
            if ref is not None:
                reply["ref"] = ref
            self._queue(client, reply)

    async def _dispatch(self, client: Client, message: Message) -> Message | None:
        kind = message["type"]
        if kind == "ping":
            return {"type": "pong", "at": rfc3339(time.time())}
        if client.channel == "doctor":
            if self.realtime is not None:
                return await self.realtime.doctor_message(client.principal, message)
            try:
                await self.bus.send_command({**message, "doctor_id": client.principal.user_id})
            except (OSError, RedisError) as exc:
                raise UnavailableError(
                    "the engine cannot be reached just now; send it again shortly"
                ) from exc
            return None  # the engine answers on the doctor's topic
        if client.channel == "operator":
            assert self.realtime is not None
            if kind == "viewport":
                client.viewport = (
                    message["south"],
                    message["west"],
                    message["north"],
                    message["east"],
                )
                self._send_feed(client)
                return None
            service = self.realtime.bookings
            who = client.principal
            booking_id = message["booking_id"]
            if kind == "assign":
                booking = await service.assign(
                    who,
                    booking_id,
                    message["doctor_id"],
                    message["reason"],
                    release_current=message["release_current"],
                )
            elif kind == "return_to_search":
                booking = await service.return_to_search(who, booking_id, message["reason"])
            elif kind == "cancel":
                booking = await service.cancel(who, booking_id, message["reason"])
            else:
                booking = await service.change_priority(
                    who, booking_id, Priority(message["priority"]), message["reason"]
                )
            return {
                "type": "done",
                "command": kind,
                "booking_id": booking.booking_id,
                "status": booking.status.value,
            }
        return None

    # -- outgoing -------------------------------------------------------------------------------

    def _close(self, client: Client, code: int, reason: str) -> None:
        """Close without waiting here: the reader keeps draining incoming frames, so the
        client's half of the closing handshake is read (a blocked reader would stall it)."""
        client.closing = True
        task = asyncio.get_running_loop().create_task(client.connection.close(code, reason))
        self._closing_tasks.add(task)
        task.add_done_callback(self._closing_tasks.discard)

    def _queue(self, client: Client, message: Message) -> None:
        self._push(client, orjson.dumps(message))

    def _push(self, client: Client, data: bytes) -> None:
        if client.closing:
            return
        if len(client.events) >= self.policy.max_pending_events:
            self._close(client, CLOSE_TOO_SLOW, "too slow: reconnect with last_seq")
            return
        client.events.append(data)
        client.wake.set()

    def _queue_event(self, client: Client, event: Message) -> None:
        target = event.get("for")
        if target is not None:
            # A snapshot the engine made for one socket (of an extra gateway): for that
            # socket only, whatever the numbers say (the head may have counted it first).
            if target == client.conn_id:
                client.sent_seq = max(client.sent_seq, int(event.get("seq", 0)))
                self._push(client, orjson.dumps({k: v for k, v in event.items() if k != "for"}))
            return
        seq = int(event.get("seq", 0))
        epoch = str(event.get("epoch", ""))
        if epoch != client.epoch:
            if client.epoch:
                # The engine restarted: its numbers began again. Tell the client, take
                # the new numbering, and send the state afresh.
                self._queue(
                    client,
                    {
                        "type": "resync",
                        "topic": client.topic,
                        "epoch": epoch,
                        "seq": seq - 1,
                        "detail": "the engine restarted: the state follows",
                    },
                )
                self._resend_snapshot(client)
            client.epoch = epoch
            client.sent_seq = seq - 1
        if seq <= client.sent_seq:
            return  # already sent (replay and live overlap)
        client.sent_seq = seq
        self._push(client, orjson.dumps(event))

    def _resend_snapshot(self, client: Client) -> None:
        async def resend() -> None:
            snapshot = await self._fresh_snapshot(client, None)
            if snapshot is not None:
                self._queue(client, {**snapshot, "epoch": client.epoch, "seq": client.sent_seq})

        task = asyncio.get_running_loop().create_task(resend())
        self._closing_tasks.add(task)
        task.add_done_callback(self._closing_tasks.discard)

    async def _write(self, client: Client) -> None:
        connection = client.connection
        try:
            while True:
                await client.wake.wait()
                client.wake.clear()
                while client.events:
                    await connection.send(client.events.popleft(), text=True)
                if client.route is not None:
                    data, client.route = client.route, None
                    await connection.send(data, text=True)
                if client.position is not None:
                    data, client.position = client.position, None
                    await connection.send(data, text=True)
        except ConnectionClosed:
            pass

    def _on_event(self, topic: str, event: Message) -> None:
        for client in tuple(self.topics.get(topic, ())):
            if not client.ready:
                client.held.append(event)
                continue
            self._queue_event(client, event)
        if topic.startswith("booking:") and event.get("type") in ("doctor_released", "status"):
            self._maybe_end_watch(topic[len("booking:") :], event)

    def _maybe_end_watch(self, booking_id: str, event: Message) -> None:
        """The stream of positions stops at completion, cancellation or reassignment."""
        if event["type"] == "doctor_released" or event.get("status") in (
            "completed",
            "cancelled",
            "no_doctor_found",
        ):
            self.last_position.pop(booking_id, None)
            self.last_route.pop(booking_id, None)
            for client in self.watchers.get(booking_id, ()):
                client.position = client.route = None

    def _on_position(self, booking_id: str, message: Message) -> None:
        data = orjson.dumps(message)
        is_route = message.get("type") == "route"
        if self.realtime is None:
            (self.last_route if is_route else self.last_position)[booking_id] = data
        for client in self.watchers.get(booking_id, ()):
            if client.ready and not client.closing:
                # The newest replaces any not yet sent: memory stays bounded.
                if is_route:
                    client.route = data
                else:
                    client.position = data
                client.wake.set()

    # -- background ---------------------------------------------------------------------------------

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.policy.sweep_every_s)
            self._sweep_once()

    def _sweep_once(self) -> None:
        # A function of its own: its locals (the last client looked at) go when it
        # returns, instead of living in the loop's frame until the next round.
        limit = time.monotonic() - self.policy.doctor_silence_s
        for client in tuple(self.clients):
            if client.closing:
                continue
            if not self.auth.still_valid(client.principal):
                self._close(client, CLOSE_REVOKED, "the account was blocked or changed")
            elif client.channel == "doctor" and client.last_heard < limit:
                self._close(client, CLOSE_SILENT, "silent too long: you are offline")

    async def _heartbeat(self) -> None:
        """Without the engine here: tell it, now and then, whose sockets this process
        holds, so its doctors go offline if this process dies without a word."""
        while True:
            doctors = sorted(
                {
                    c.principal.user_id
                    for c in self.clients
                    if c.channel == "doctor" and not c.closing
                }
            )
            try:
                await self.bus.send_command({"type": "heartbeat", "doctors": doctors})
            except Exception:
                log.warning("gateway heartbeat not sent", exc_info=True)
            await asyncio.sleep(self.policy.heartbeat_every_s)

    async def _operator_feed(self) -> None:
        # At a fixed rate: the time a round takes (10,000 doctors) is not added to the pause.
        loop = asyncio.get_running_loop()
        every_s = self.policy.operator_feed_every_s
        due = loop.time() + every_s
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            self._feed_operators()
            due = next_round_at(due, every_s, loop.time())

    def _feed_operators(self) -> None:
        for client in tuple(self.topics.get(OPS, ())):
            if client.viewport is not None:
                self._send_feed(client)

    def _send_feed(self, client: Client) -> None:
        assert self.realtime is not None and client.viewport is not None
        rt = self.realtime
        south, west, north, east = client.viewport
        doctors = []
        for doctor_id in rt.registry.doctors_in_viewport(south, west, north, east):
            state = rt.doctors.state(doctor_id)
            if state.status is DoctorStatus.OFFLINE:
                continue  # gone: off the map and out of the live counts
            doctors.append(
                {
                    "doctor_id": doctor_id,
                    "status": state.status.name.lower(),
                    "lat": state.lat,
                    "lon": state.lon,
                    "stale": state.stale,
                }
            )
        bookings = [
            {
                "booking_id": b.booking_id,
                "status": b.status.value,
                "priority": b.priority.value,
                "is_emergency": b.is_emergency,
                "lat": b.latitude,
                "lon": b.longitude,
                "doctor_id": b.doctor_id,
            }
            for b in rt.engine.core.bookings.values()
            if not b.terminal and south <= b.latitude <= north and west <= b.longitude <= east
        ]
        client.position = orjson.dumps(
            {"type": "feed", "at": rfc3339(time.time()), "doctors": doctors, "bookings": bookings}
        )
        client.wake.set()


def next_round_at(due_s: float, every_s: float, now_s: float) -> float:
    """When a fixed-rate round is next due, given when this one was due: one period on,
    so a late or slow round does not push the next ones back; but a round more than a
    period late is not made up for with a burst, the next one is one period from now."""
    following = due_s + every_s
    return following if following > now_s else now_s + every_s


def _discard(index: dict[str, set[Client]], key: str, client: Client) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(client)
        if not members:
            del index[key]  # no empty sets left behind per booking or doctor


def _code(exc: Exception) -> str:
    return "unavailable" if isinstance(exc, UnavailableError) else error_code(exc)


def _refuse(connection: ServerConnection, status: HTTPStatus, detail: str) -> Response:
    body = orjson.dumps({"title": status.phrase, "status": int(status), "detail": detail})
    return Response(
        int(status),
        status.phrase,
        Headers([("Content-Type", "application/problem+json"), ("Content-Length", str(len(body)))]),
        body,
    )
