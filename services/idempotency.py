"""Idempotency-Key handling: a retry gets the first answer; another body is an error."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from accounts import AccountStore, IdempotentResponse
from services.auth import ConflictError

MAX_KEY_LENGTH = 128


class IdempotencyMismatchError(Exception):
    """The key was used before with a different request (422)."""


def request_digest(method: str, path: str, body: bytes) -> str:
    h = hashlib.sha256()
    for part in (method.encode(), b"\n", path.encode(), b"\n", body):
        h.update(part)
    return h.hexdigest()


class Idempotency:
    def __init__(self, store: AccountStore, clock: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock

    async def run(
        self,
        user_id: str,
        key: str,
        digest: str,
        produce: Callable[[], Awaitable[tuple[int, bytes]]],
    ) -> tuple[int, bytes, bool]:
        """(status, body, replayed). `produce` runs at most once per (user, key) in the
        normal case; two concurrent first tries both run it, and the loser's answer
        (made with the same deterministic ids) yields to the stored one."""
        stored = await self.store.recall_response(user_id, key)
        if stored is None:
            try:
                status, body = await produce()
            except ConflictError:
                stored = await self.store.recall_response(user_id, key)
                if stored is None:
                    raise
            else:
                if status >= 500:
                    return status, body, False  # not remembered: a retry may succeed
                stored = await self.store.remember_response(
                    IdempotentResponse(user_id, key, digest, status, body, self.clock())
                )
                if stored.request_sha256 == digest and stored.body == body:
                    return status, body, False
        if stored.request_sha256 != digest:
            raise IdempotencyMismatchError(
                "this Idempotency-Key was already used with a different request"
            )
        return stored.status_code, stored.body, True
