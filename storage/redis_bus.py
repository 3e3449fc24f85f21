"""The realtime bus over Redis, for several gateway processes.

- Topic events (offers, status changes: must not be lost): a Lua script gives each the
  topic's next sequence number (INCR), keeps it in the topic's stream (the replay window,
  XADD MAXLEN) and in one global stream that every process tails with XREAD, so a gateway
  that blinks misses nothing still in the stream.
- Positions (the newest replaces the older, so loss is fine): pub/sub.
- Doctors' messages taken by a gateway without the engine: fixes by pub/sub, everything
  else (accept, decline, progress) by a stream the engine tails.

Each process stamps what it sends with its own origin id and skips its own messages when
they come back: local listeners were called directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

# The same shapes as services.bus (its Bus protocol is met structurally: storage does
# not import services).
Message = dict[str, Any]
EventListener = Callable[[str, Message], None]
PositionListener = Callable[[str, Message], None]
CommandListener = Callable[[Message], None]
REPLAY_WINDOW = 100

log = logging.getLogger(__name__)

_APPEND = """
local seq = redis.call('INCR', KEYS[1])
local data = string.sub(ARGV[1], 1, -2) .. ',"seq":' .. seq .. '}'
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], '*', 'd', data)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 't', ARGV[4], 'd', data, 'o', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return seq
"""


class RedisBus:
    """Owns `redis` (closes it on close)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str = "tot:",
        *,
        engine: bool,
        window: int = REPLAY_WINDOW,
        global_maxlen: int = 100_000,
        topic_ttl_s: int = 7 * 24 * 3600,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.engine = engine
        self.window = window
        self.global_maxlen = global_maxlen
        self.topic_ttl_s = topic_ttl_s
        self.origin = uuid.uuid4().hex[:12]
        self._append = redis.register_script(_APPEND)
        self._event_listeners: list[EventListener] = []
        self._position_listeners: list[PositionListener] = []
        self._command_listeners: list[CommandListener] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._pubsub: Any = None

    def _k(self, name: str) -> str:
        return f"{self.prefix}{name}"

    # -- topic events ------------------------------------------------------------------

    async def append(self, topic: str, message: Message) -> int:
        body = orjson.dumps({**message, "topic": topic}).decode()
        seq = int(
            await self._append(
                keys=[self._k(f"seq:{topic}"), self._k(f"ev:{topic}"), self._k("events")],
                args=[body, self.window, self.global_maxlen, topic, self.origin, self.topic_ttl_s],
            )
        )
        stamped = {**message, "topic": topic, "seq": seq}
        for listener in self._event_listeners:
            listener(topic, stamped)
        return seq

    async def replay(self, topic: str, after_seq: int) -> list[Message] | None:
        entries: Any = await self.redis.xrange(self._k(f"ev:{topic}"))
        events = [orjson.loads(fields[b"d"]) for _, fields in entries]
        last = await self.last_seq(topic)
        if after_seq == last:
            return []
        if after_seq > last:
            return None  # ahead of the counter (it expired or restarted): resync
        missed = [e for e in events if e["seq"] > after_seq]
        if not missed or missed[0]["seq"] != after_seq + 1:
            return None
        return missed

    async def last_seq(self, topic: str) -> int:
        value = await self.redis.get(self._k(f"seq:{topic}"))
        return int(value) if value else 0

    # -- positions and commands --------------------------------------------------------

    async def publish_position(self, booking_id: str, message: Message) -> None:
        for listener in self._position_listeners:
            listener(booking_id, message)
        try:
            await self.redis.publish(
                self._k("pos"), orjson.dumps({"b": booking_id, "m": message, "o": self.origin})
            )
        except RedisError as exc:  # positions may be dropped; the next one follows
            log.warning("position fan-out failed: %s", exc)

    async def send_command(self, message: Message) -> None:
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
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        channels = [self._k("pos")] + ([self._k("fixes")] if self.engine else [])
        await self._pubsub.subscribe(*channels)
        self._tasks.append(asyncio.create_task(self._read_pubsub(), name="bus-pubsub"))
        self._tasks.append(
            asyncio.create_task(
                self._tail(self._k("events"), self._on_global_event), name="bus-events"
            )
        )
        if self.engine:
            self._tasks.append(
                asyncio.create_task(
                    self._tail(self._k("commands"), self._on_command), name="bus-commands"
                )
            )

    async def _read_pubsub(self) -> None:
        pos, fixes = self._k("pos").encode(), self._k("fixes").encode()
        while True:
            try:
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
            except (RedisError, OSError) as exc:
                log.warning("bus pub/sub lost (%s); reconnecting", exc)
                await asyncio.sleep(0.5)
            except Exception:
                log.exception("bus pub/sub message failed")

    async def _tail(self, stream: str, handle: Any) -> None:
        last_id = "$"
        while True:
            try:
                batches: Any = await self.redis.xread({stream: last_id}, block=1_000, count=500)
            except (RedisError, OSError) as exc:
                log.warning("bus stream %s unreadable (%s); retrying", stream, exc)
                await asyncio.sleep(0.5)
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
        await self.redis.aclose()  # the bus owns its client
