"""Topic events numbered by the engine: per-topic sequence numbers within an epoch (one
engine start), and each topic's last `window` events for replay. Pure bookkeeping,
shared by the in-process bus (services.bus) and the Redis bus (storage.redis_bus)."""

from __future__ import annotations

import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

Message = dict[str, Any]
REPLAY_WINDOW = 100


def new_epoch() -> str:
    """An engine start's id: events are numbered within it."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True, slots=True)
class Head:
    """Where a topic stands: the epoch its numbers belong to, and the last number given."""

    epoch: str
    seq: int


class TopicLog:
    """Per-topic sequence numbers and the last `window` events, for a bounded number of
    topics (least recently written dropped first: finished bookings age out)."""

    def __init__(
        self, window: int = REPLAY_WINDOW, max_topics: int = 200_000, epoch: str | None = None
    ) -> None:
        self.window = window
        self.max_topics = max_topics
        self.epoch = epoch or new_epoch()
        self._logs: OrderedDict[str, tuple[int, deque[Message]]] = OrderedDict()

    def append(self, topic: str, message: Message) -> Message:
        seq, log = self._logs.pop(topic, (0, deque(maxlen=self.window)))
        seq += 1
        stamped = {**message, "seq": seq, "epoch": self.epoch, "topic": topic}
        log.append(stamped)
        self._logs[topic] = (seq, log)
        while len(self._logs) > self.max_topics:
            self._logs.popitem(last=False)
        return stamped

    def head(self, topic: str) -> Head:
        entry = self._logs.get(topic)
        return Head(self.epoch, entry[0] if entry else 0)

    def replay(self, topic: str, epoch: str, after_seq: int) -> list[Message] | None:
        if epoch != self.epoch:
            return None  # numbered by another engine start: resync
        entry = self._logs.get(topic)
        seq, log = entry if entry is not None else (0, deque[Message]())
        return missed_events(log, seq, after_seq)


def missed_events(log: Any, seq: int, after_seq: int) -> list[Message] | None:
    """What a client that saw up to `after_seq` missed of a topic at `seq` whose window
    is `log` (oldest first); None when it cannot be replayed exactly."""
    if after_seq == seq:
        return []
    if after_seq > seq:
        return None  # ahead of the counter (an eviction): resync
    missed = [m for m in log if m["seq"] > after_seq]
    if not missed or missed[0]["seq"] != after_seq + 1:
        return None
    return missed
