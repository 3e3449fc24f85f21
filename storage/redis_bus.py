"""The realtime bus over Redis, for several gateway processes.

The engine numbers topic events itself (storage.topic_log: per-topic sequence numbers
within its epoch) and delivers them to its own gateway at once, whatever Redis is doing.
Redis carries them to the other processes:

- Topic events (offers, status changes: must not be lost) go into an outbox in the
  engine's memory, and a forwarder writes them to Redis in order, in pipelined batches:
  each into its topic's capped stream (the replay window for extra gateways), the
  topic's head (`epoch:seq`), and one global stream every extra gateway tails. While
  Redis is away the outbox holds them (bounded) and the forwarder retries; when it is
  back they go, in order. Redis coming back empty changes nothing in the numbering.
- Positions (the newest replaces the older, so loss is fine): pub/sub.
- Doctors' messages taken by a gateway without the engine: fixes by pub/sub, everything
  else (accept, decline, progress, presence) by a stream the engine tails.

Each process stamps what it sends with its own origin id and skips its own messages when
they come back: local listeners were called directly.

Connections: one pool, blocking when every connection is busy (a burst of handshakes
waits its turn instead of failing), with health checks and retries on connection errors
(a broken connection is dropped and the next use reconnects). Blocking stream reads
use a client of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from storage.topic_log import REPLAY_WINDOW, Head, TopicLog, missed_events

# The same shapes as services.bus (its Bus protocol is met structurally: storage does
# not import services).
Message = dict[str, Any]
EventListener = Callable[[str, Message], None]
PositionListener = Callable[[str, Message], None]
CommandListener = Callable[[Message], None]

log = logging.getLogger(__name__)

# KEYS: head, topic stream, global stream. ARGV: event JSON, window, global maxlen, ttl,
# "epoch:seq", topic, origin.
_FORWARD = """
redis.call('SET', KEYS[1], ARGV[5], 'EX', ARGV[4])
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], '*', 'd', ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 't', ARGV[6], 'd', ARGV[1], 'o', ARGV[7])
return 1
"""


def redis_pool_client(
    url: str, *, max_connections: int = 64, socket_timeout_s: float | None = 5.0
) -> aioredis.Redis:
    """A client for the bus: a blocking pool (waits up to 15 s for a free connection
    rather than failing: a burst of handshakes on a loaded machine queues, and a client
    opening a socket waits longer than that), health checks, and retries on connection
    errors."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=15,
        socket_connect_timeout=2,
        socket_timeout=socket_timeout_s,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), 2),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
    return aioredis.Redis(connection_pool=pool)


class RedisBus:
    """`engine=True` in the engine's process (it numbers and forwards events), False in
    an extra gateway (it reads heads and replays from Redis). Owns its clients."""

    def __init__(
        self,
        url: str,
        prefix: str = "tot:",
        *,
        engine: bool,
        window: int = REPLAY_WINDOW,
        global_maxlen: int = 100_000,
        topic_ttl_s: int = 7 * 24 * 3600,
        max_held: int = 200_000,
        retry_every_s: float = 0.5,
    ) -> None:
        self.redis = redis_pool_client(url)
        # XREAD blocks for a second: its own connection, without the short read timeout.
        self._reader = redis_pool_client(url, max_connections=4, socket_timeout_s=None)
        self.prefix = prefix
        self.engine = engine
        self.window = window
        self.global_maxlen = global_maxlen
        self.topic_ttl_s = topic_ttl_s
        self.max_held = max_held
        self.retry_every_s = retry_every_s
        self.origin = uuid.uuid4().hex[:12]
        self.log = TopicLog(window)
        self.epoch = self.log.epoch
        self._forward = self.redis.register_script(_FORWARD)
        self._event_listeners: list[EventListener] = []
        self._position_listeners: list[PositionListener] = []
        self._command_listeners: list[CommandListener] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._pubsub: Any = None
        self._outbox: deque[tuple[str, Message]] = deque()
        self._outbox_ready = asyncio.Event()
        self._positions: deque[bytes] = deque(maxlen=5_000)
        self._positions_ready = asyncio.Event()
        self.dropped = 0  # events the outbox could not hold during a long outage
        self.redis_down_since: float | None = None  # monotonic
        self._warned_positions = 0.0

    def _k(self, name: str) -> str:
        return f"{self.prefix}{name}"

    @property
    def held(self) -> int:
        """Events numbered and delivered here, not yet in Redis."""
        return len(self._outbox)

    # -- topic events ------------------------------------------------------------------

    async def append(self, topic: str, message: Message) -> int:
        if not self.engine:
            raise RuntimeError("only the engine appends topic events")
        stamped = self.log.append(topic, message)
        for listener in self._event_listeners:
            listener(topic, stamped)
        if len(self._outbox) >= self.max_held:
            self._outbox.popleft()
            self.dropped += 1
            if self.dropped % 10_000 == 1:
                log.error("redis outbox full: %d events dropped for other processes", self.dropped)
        self._outbox.append((topic, stamped))
        self._outbox_ready.set()
        return int(stamped["seq"])

    async def head(self, topic: str) -> Head:
        if self.engine:
            return self.log.head(topic)
        value = await self.redis.get(self._k(f"seq:{topic}"))
        if not value:
            return Head("", 0)
        text = value.decode() if isinstance(value, bytes) else str(value)
        epoch, _, seq = text.partition(":")
        return Head(epoch, int(seq))

    async def replay(self, topic: str, epoch: str, after_seq: int) -> list[Message] | None:
        if self.engine:
            return self.log.replay(topic, epoch, after_seq)
        head = await self.head(topic)
        if head.epoch != epoch:
            return None
        entries: Any = await self.redis.xrange(self._k(f"ev:{topic}"))
        events = [e for _, fields in entries if (e := orjson.loads(fields[b"d"]))["epoch"] == epoch]
        return missed_events(events, head.seq, after_seq)

    async def _forward_events(self) -> None:
        """The engine's outbox to Redis, in order, in pipelined batches; held while
        Redis is away."""
        while True:
            if not self._outbox:
                self._outbox_ready.clear()
                await self._outbox_ready.wait()
            batch = [self._outbox[i] for i in range(min(500, len(self._outbox)))]
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for topic, stamped in batch:
                        await self._forward(
                            keys=[
                                self._k(f"seq:{topic}"),
                                self._k(f"ev:{topic}"),
                                self._k("events"),
                            ],
                            args=[
                                orjson.dumps(stamped),
                                self.window,
                                self.global_maxlen,
                                self.topic_ttl_s,
                                f"{stamped['epoch']}:{stamped['seq']}",
                                topic,
                                self.origin,
                            ],
                            client=pipe,
                        )
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                if self.redis_down_since is None:
                    self.redis_down_since = time.monotonic()
                    log.error(
                        "redis unreachable (%s): events are delivered here and held "
                        "for the other processes (%d held)",
                        exc,
                        len(self._outbox),
                    )
                await asyncio.sleep(self.retry_every_s)
                continue
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not stop the forwarder
                log.exception("redis forwarder failed; retrying")
                await asyncio.sleep(self.retry_every_s)
                continue
            for _ in batch:
                self._outbox.popleft()
            if self.redis_down_since is not None:
                log.warning(
                    "redis back after %.1f s; forwarding held events (%d left)",
                    time.monotonic() - self.redis_down_since,
                    len(self._outbox),
                )
                self.redis_down_since = None

    # -- positions and commands --------------------------------------------------------

    async def publish_position(self, booking_id: str, message: Message) -> None:
        """Local watchers at once; other processes through pub/sub, by a task of its own
        (a slow or absent Redis never holds a doctor's fix up). Lossy by design: when
        Redis lags, the oldest positions not yet sent are dropped."""
        for listener in self._position_listeners:
            listener(booking_id, message)
        self._positions.append(orjson.dumps({"b": booking_id, "m": message, "o": self.origin}))
        self._positions_ready.set()

    async def _publish_positions(self) -> None:
        channel = self._k("pos")
        while True:
            if not self._positions:
                self._positions_ready.clear()
                await self._positions_ready.wait()
            batch = [self._positions.popleft() for _ in range(min(500, len(self._positions)))]
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for data in batch:
                        pipe.publish(channel, data)
                    await pipe.execute()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:  # dropped; the next ones follow
                now = time.monotonic()
                if now - self._warned_positions > 30:
                    self._warned_positions = now
                    log.warning("position fan-out failing (%s); positions are local only", exc)
                await asyncio.sleep(self.retry_every_s)

    async def send_command(self, message: Message) -> None:
        """Raises RedisError (or OSError) when Redis is away: the caller tells its client."""
        data = orjson.dumps({**message, "o": self.origin})
        if message.get("type") == "position":
            await self.redis.publish(self._k("fixes"), data)
        else:
            await self.redis.xadd(
                self._k("commands"), {"d": data}, maxlen=100_000, approximate=True
            )

    def on_event(self, listener: EventListener) -> None:
        self._event_listeners.append(listener)

    def on_position(self, listener: PositionListener) -> None:
        self._position_listeners.append(listener)

    def on_command(self, listener: CommandListener) -> None:
        self._command_listeners.append(listener)

    # -- background readers -------------------------------------------------------------

    async def start(self) -> None:
        self._pubsub = self._reader.pubsub(ignore_subscribe_messages=True)
        channels = [self._k("pos")] + ([self._k("fixes")] if self.engine else [])
        # Subscribed in the reader task, which retries: start() works with Redis down.
        self._tasks.append(asyncio.create_task(self._read_pubsub(channels), name="bus-pubsub"))
        self._tasks.append(asyncio.create_task(self._publish_positions(), name="bus-positions"))
        if self.engine:
            self._tasks.append(asyncio.create_task(self._forward_events(), name="bus-forward"))
            self._tasks.append(
                asyncio.create_task(
                    self._tail(self._k("commands"), self._on_command), name="bus-commands"
                )
            )
        else:
            self._tasks.append(
                asyncio.create_task(
                    self._tail(self._k("events"), self._on_global_event), name="bus-events"
                )
            )

    async def _read_pubsub(self, channels: list[str]) -> None:
        pos, fixes = self._k("pos").encode(), self._k("fixes").encode()
        subscribed = False
        while True:
            try:
                if not subscribed:
                    await self._pubsub.subscribe(*channels)
                    subscribed = True
                async for item in self._pubsub.listen():
                    data = orjson.loads(item["data"])
                    if data.get("o") == self.origin:
                        continue
                    if item["channel"] == pos:
                        for on_position in self._position_listeners:
                            on_position(data["b"], data["m"])
                    elif item["channel"] == fixes:
                        for on_command in self._command_listeners:
                            on_command(data)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("bus pub/sub lost (%s); reconnecting", exc)
                await asyncio.sleep(self.retry_every_s)
            except Exception:
                log.exception("bus pub/sub message failed")

    async def _tail(self, stream: str, handle: Any) -> None:
        last_id = "$"
        warned = False
        while True:
            try:
                if last_id == "$":
                    # Start from the newest entry that exists now, so a reconnect after
                    # an outage picks up exactly what came after it.
                    newest: Any = await self._reader.xrevrange(stream, count=1)
                    last_id = newest[0][0] if newest else "0-0"
                batches: Any = await self._reader.xread({stream: last_id}, block=1_000, count=500)
                if warned:
                    log.warning("bus stream %s readable again", stream)
                    warned = False
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if not warned:
                    log.warning("bus stream %s unreadable (%s); retrying", stream, exc)
                    warned = True
                await asyncio.sleep(self.retry_every_s)
                continue
            for _, entries in batches or ():
                for entry_id, fields in entries:
                    last_id = entry_id
                    try:
                        handle(fields)
                    except Exception:
                        log.exception("bus message on %s failed", stream)

    def _on_global_event(self, fields: dict[bytes, bytes]) -> None:
        if fields.get(b"o", b"").decode() == self.origin:
            return
        topic = fields[b"t"].decode()
        stamped = orjson.loads(fields[b"d"])
        for listener in self._event_listeners:
            listener(topic, stamped)

    def _on_command(self, fields: dict[bytes, bytes]) -> None:
        data = orjson.loads(fields[b"d"])
        if data.get("o") == self.origin:
            return
        for listener in self._command_listeners:
            listener(data)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        await self.redis.aclose()
        await self._reader.aclose()
        await self.redis.connection_pool.disconnect()
        await self._reader.connection_pool.disconnect()
