"""The audit trail: who read or changed which booking or account.

Records are buffered and written in batches (one round trip per batch), so auditing
every read costs the request path an append to a list. A crash loses at most the
buffer's last second; a full buffer drops the oldest and counts the loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from accounts import AccountStore, AuditRecord

log = logging.getLogger(__name__)

MAX_DETAIL = 4_000  # characters of a record's detail kept (a setting's old and new values fit)


class AuditTrail:
    def __init__(
        self,
        store: AccountStore,
        clock: Callable[[], float],
        *,
        flush_every_s: float = 0.5,
        max_buffered: int = 100_000,
        batch_size: int = 2_000,
    ) -> None:
        self.store = store
        self.clock = clock
        self.flush_every_s = flush_every_s
        self.batch_size = batch_size
        self._buffer: deque[AuditRecord] = deque(maxlen=max_buffered)
        self.dropped = 0
        self.written = 0
        self._task: asyncio.Task[None] | None = None

    def record(
        self,
        actor_id: str,
        actor_role: str,
        action: str,
        target_type: str,
        target_id: str,
        *,
        request_id: str = "",
        ip: str = "",
        detail: str = "",
    ) -> None:
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
        self._buffer.append(
            AuditRecord(
                self.clock(), actor_id, actor_role, action, target_type, target_id,
                request_id, ip, detail[:MAX_DETAIL],
            )
        )  # fmt: skip

    async def flush(self) -> int:
        written = 0
        while self._buffer:
            batch = [self._buffer.popleft() for _ in range(min(self.batch_size, len(self._buffer)))]
            try:
                await self.store.append_audit(batch)
            except Exception:
                # Put them back in order and try again on the next round.
                self._buffer.extendleft(reversed(batch))
                raise
            written += len(batch)
        self.written += written
        return written

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="audit-trail")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_every_s)
            try:
                await self.flush()
            except Exception:
                log.exception("audit flush failed; %d records wait", len(self._buffer))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
