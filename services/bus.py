"""The realtime bus: durable topic events with sequence numbers and a replay window, and
lossy position fan-out. In-process by default; storage.redis_bus carries it between
processes when REDIS_URL is set.

Topics: `booking:<id>` (what the patient sees), `doctor:<id>` (offers, assignments),
`ops` (alerts and status changes for operators). Every event on a topic gets the next
sequence number of that topic; the last `window` events of each topic can be replayed to
a client that reconnects. Positions carry no sequence number: only the latest matters.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, Protocol

Message = dict[str, Any]
EventListener = Callable[[str, Message], None]  # (topic, message with "seq")
PositionListener = Callable[[str, Message], None]  # (booking id, message)
CommandListener = Callable[[Message], None]  # a doctor's message from another process

REPLAY_WINDOW = 100


class Bus(Protocol):
    async def append(self, topic: str, message: Message) -> int:
        """Give the message the topic's next seq, keep it for replay, deliver it."""
        ...

    async def replay(self, topic: str, after_seq: int) -> list[Message] | None:
        """Events after `after_seq`, oldest first; None when some fell out of the window
        (the client must resync)."""
        ...

    async def last_seq(self, topic: str) -> int: ...

    async def publish_position(self, booking_id: str, message: Message) -> None:
        """Lossy: to whoever watches this booking's doctor, in every process."""
        ...

    async def send_command(self, message: Message) -> None:
        """A doctor's message taken by a gateway without the engine, for the engine."""
        ...

    def on_event(self, listener: EventListener) -> None: ...

    def on_position(self, listener: PositionListener) -> None: ...

    def on_command(self, listener: CommandListener) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class TopicLog:
    """Per-topic sequence numbers and the last `window` events, for a bounded number of
    topics (least recently written dropped first: finished bookings age out)."""

    def __init__(self, window: int = REPLAY_WINDOW, max_topics: int = 200_000) -> None:
        self.window = window
        self.max_topics = max_topics
        self._logs: OrderedDict[str, tuple[int, deque[Message]]] = OrderedDict()

    def append(self, topic: str, message: Message) -> Message:
        seq, log = self._logs.pop(topic, (0, deque(maxlen=self.window)))
        seq += 1
        stamped = {**message, "seq": seq, "topic": topic}
        log.append(stamped)
        self._logs[topic] = (seq, log)
        while len(self._logs) > self.max_topics:
            self._logs.popitem(last=False)
        return stamped

    def record(self, topic: str, stamped: Message) -> None:
        """Keep an event stamped elsewhere (another process), in order."""
        seq, log = self._logs.pop(topic, (0, deque(maxlen=self.window)))
        new_seq = int(stamped["seq"])
        if new_seq > seq:
            log.append(stamped)
            seq = new_seq
        self._logs[topic] = (seq, log)
        while len(self._logs) > self.max_topics:
            self._logs.popitem(last=False)

    def last_seq(self, topic: str) -> int:
        entry = self._logs.get(topic)
        return entry[0] if entry else 0

    def replay(self, topic: str, after_seq: int) -> list[Message] | None:
        entry = self._logs.get(topic)
        if entry is None:
            return [] if after_seq == 0 else None  # unknown here: resync
        seq, log = entry
        if after_seq == seq:
            return []
        if after_seq > seq:
            return None  # ahead of us: the counter restarted (a restart, an eviction)
        missed = [m for m in log if m["seq"] > after_seq]
        if not missed or missed[0]["seq"] != after_seq + 1:
            return None
        return missed


class InProcessBus:
    """One process: listeners are called directly."""

    def __init__(self, window: int = REPLAY_WINDOW) -> None:
        self.log = TopicLog(window)
        self._event_listeners: list[EventListener] = []
        self._position_listeners: list[PositionListener] = []
        self._command_listeners: list[CommandListener] = []

    async def append(self, topic: str, message: Message) -> int:
        stamped = self.log.append(topic, message)
        for listener in self._event_listeners:
            listener(topic, stamped)
        return int(stamped["seq"])

    async def replay(self, topic: str, after_seq: int) -> list[Message] | None:
        return self.log.replay(topic, after_seq)

    async def last_seq(self, topic: str) -> int:
        return self.log.last_seq(topic)

    async def publish_position(self, booking_id: str, message: Message) -> None:
        for listener in self._position_listeners:
            listener(booking_id, message)

    async def send_command(self, message: Message) -> None:
        for listener in self._command_listeners:
            listener(message)

    def on_event(self, listener: EventListener) -> None:
        self._event_listeners.append(listener)

    def on_position(self, listener: PositionListener) -> None:
        self._position_listeners.append(listener)

    def on_command(self, listener: CommandListener) -> None:
        self._command_listeners.append(listener)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None
