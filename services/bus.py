"""The realtime bus: durable topic events with sequence numbers and a replay window, and
lossy position fan-out. In-process by default; storage.redis_bus carries it between
processes when REDIS_URL is set.

Topics: `booking:<id>` (what the patient sees), `doctor:<id>` (offers, assignments),
`ops` (alerts and status changes for operators). The engine is the one writer of topic
events, and numbers them itself: every event on a topic gets the next sequence number
of that topic within the engine's *epoch* (an id made at each engine start), so the
numbering never depends on Redis, and a restart (new epoch, numbers from 1 again) is
seen by every client as an epoch change, never as a counter that went backwards. The
last `window` events of each topic can be replayed to a client that reconnects with the
same epoch. Positions carry no sequence number: only the latest matters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from storage.topic_log import Head, TopicLog, missed_events, new_epoch

Message = dict[str, Any]
EventListener = Callable[[str, Message], None]  # (topic, message with "seq")
PositionListener = Callable[[str, Message], None]  # (booking id, message)
CommandListener = Callable[[Message], None]  # a doctor's message from another process

REPLAY_WINDOW = 100
__all__ = ["REPLAY_WINDOW", "Bus", "Head", "InProcessBus", "TopicLog", "missed_events", "new_epoch"]


class Bus(Protocol):
    async def append(self, topic: str, message: Message) -> int:
        """Give the message the topic's next seq (and the epoch), keep it for replay,
        deliver it. Only the engine appends."""
        ...

    async def replay(self, topic: str, epoch: str, after_seq: int) -> list[Message] | None:
        """Events of `epoch` after `after_seq`, oldest first; None when the client must
        resync: another epoch, some fell out of the window, or it is ahead."""
        ...

    async def head(self, topic: str) -> Head: ...

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


class InProcessBus:
    """One process: listeners are called directly."""

    def __init__(self, window: int = REPLAY_WINDOW) -> None:
        self.log = TopicLog(window)
        self.epoch = self.log.epoch
        self._event_listeners: list[EventListener] = []
        self._position_listeners: list[PositionListener] = []
        self._command_listeners: list[CommandListener] = []

    async def append(self, topic: str, message: Message) -> int:
        stamped = self.log.append(topic, message)
        for listener in self._event_listeners:
            listener(topic, stamped)
        return int(stamped["seq"])

    async def replay(self, topic: str, epoch: str, after_seq: int) -> list[Message] | None:
        return self.log.replay(topic, epoch, after_seq)

    async def head(self, topic: str) -> Head:
        return self.log.head(topic)

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
