"""Rate limits: an exact sliding window, shared through Redis, per process when Redis is down.

Semantics (both limiters, exactly): a hit on `key` at time t under `RateLimit(limit, window_s)`
is allowed iff fewer than `limit` hits *accepted* for that key lie in (t - window_s, t].
Refused hits are not recorded, so a client hammering a refused key does not push its own
reset further away. When refused, `retry_after_s` is when the oldest hit that still blocks
leaves the window: (the `limit`-th most recent accepted hit) + window_s - t, kept within
[1 µs, window_s] (float rounding could otherwise put it a hair outside). When allowed, `remaining` is how many more
hits at the same instant would be allowed.

Storage is bounded: a key keeps only its `limit` most recent accepted timestamps, which is
all the rule above ever looks at, so a limit is meant for tens or hundreds of hits per window
(login, booking creation, WebSocket messages), not millions. Times per key never go
backwards: a `now_s` earlier than the key's newest accepted hit is taken as that hit's time.
A key should be used with one `RateLimit` (prefix the key with the rule's name).

`RedisRateLimiter` makes each decision atomically in one round trip (a Lua script holding the
timestamps in a list). With `now_s=None` it uses the Redis server's clock (TIME), so every
process agrees; keys expire by themselves `window_s` after their newest accepted hit. An
explicit `now_s` should be epoch seconds when it is mixed with other callers, and a key
expires in real time either way. When Redis cannot answer, that one call is decided by a
per-process `LocalRateLimiter` (a warning at most every 30 s) and the next call tries Redis
again. Create its client with short timeouts and no retries, so a dead Redis costs a
fraction of a second and not the client's default backoff of seconds; see
`rate_limit_redis_client`, which is `Redis.from_url(url, socket_timeout=0.25,
socket_connect_timeout=0.25, retry=Retry(NoBackoff(), 0))`.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

MIN_RETRY_AFTER_S = 1e-6
WARN_EVERY_S = 30.0
# OSError covers the builtin ConnectionError and TimeoutError (and asyncio's TimeoutError).
_REDIS_FAILURES: tuple[type[Exception], ...] = (OSError, RedisError)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `limit` accepted hits in any window of `window_s` seconds."""

    limit: int
    window_s: float

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit <= 0:
            raise ValueError(f"limit must be a positive integer, got {self.limit!r}")
        if not (isinstance(self.window_s, int | float) and math.isfinite(self.window_s)):
            raise ValueError(f"window_s must be a finite number, got {self.window_s!r}")
        if self.window_s <= 0:
            raise ValueError(f"window_s must be positive, got {self.window_s!r}")


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    remaining: int  # further hits that would be allowed now; 0 when refused
    retry_after_s: float  # 0 when allowed; else seconds until a hit would be allowed (> 0)


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: RateLimit, now_s: float | None = None) -> RateDecision:
        """Count one hit on `key` if `limit` allows it, and say whether it did."""
        ...


def _decide(log_: deque[float], limit: RateLimit, now: float) -> RateDecision:
    """The rule, on one key's accepted timestamps (oldest first); records an allowed hit.

    The Lua script below is this function, line for line; keep them in step.
    """
    while len(log_) > limit.limit:  # only after the key's limit was lowered
        log_.popleft()
    n = len(log_)
    if n and now < log_[-1]:
        now = log_[-1]
    horizon = now - limit.window_s
    if n >= limit.limit:
        oldest = log_[0]
        if oldest > horizon:
            retry = oldest + limit.window_s - now
            return RateDecision(False, 0, min(max(retry, MIN_RETRY_AFTER_S), limit.window_s))
    in_window = 1
    for i in range(n - 1, max(-1, n - limit.limit), -1):  # at most limit - 1 earlier hits
        if log_[i] > horizon:
            in_window += 1
        else:
            break
    log_.append(now)
    if len(log_) > limit.limit:
        log_.popleft()
    return RateDecision(True, limit.limit - in_window, 0.0)


class LocalRateLimiter:
    """The rule in this process's memory, for at most `max_keys` keys (least recently used go).

    An evicted key forgets its hits, so under more than `max_keys` active keys the limit can
    be exceeded for the evicted ones; memory stays at most `max_keys` x `limit` timestamps.
    """

    def __init__(
        self, max_keys: int = 100_000, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_keys <= 0:
            raise ValueError(f"max_keys must be positive, got {max_keys!r}")
        self._max_keys = max_keys
        self._clock = clock
        self._logs: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        """How many keys are held."""
        return len(self._logs)

    async def hit(self, key: str, limit: RateLimit, now_s: float | None = None) -> RateDecision:
        now = self._clock() if now_s is None else float(now_s)
        log_ = self._logs.get(key)
        if log_ is None:
            log_ = self._logs[key] = deque()
            if len(self._logs) > self._max_keys:
                self._logs.popitem(last=False)
        else:
            self._logs.move_to_end(key)
        return _decide(log_, limit, now)


# KEYS[1]: the key (a list of accepted timestamps, oldest first, "%.17g" so they round-trip).
# ARGV: limit, window_s, now_s ("" for the server's clock). Returns {allowed, remaining, retry}.
_HIT_SCRIPT = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now
if ARGV[3] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[3])
end
local log = redis.call('LRANGE', key, -limit, -1)
local n = #log
if n > 0 and now < tonumber(log[n]) then
  now = tonumber(log[n])
end
local horizon = now - window
if n >= limit then
  local oldest = tonumber(log[n - limit + 1])
  if oldest > horizon then
    local retry = oldest + window - now
    if retry < tonumber(ARGV[4]) then retry = tonumber(ARGV[4]) end
    if retry > window then retry = window end
    return {0, 0, string.format('%.17g', retry)}
  end
end
local in_window = 1
for i = n, math.max(1, n - limit + 2), -1 do
  if tonumber(log[i]) > horizon then in_window = in_window + 1 else break end
end
redis.call('RPUSH', key, string.format('%.17g', now))
redis.call('LTRIM', key, -limit, -1)
redis.call('PEXPIRE', key, math.ceil(window * 1000))
return {1, limit - in_window, '0'}
"""


def rate_limit_redis_client(url: str, *, timeout_s: float = 0.25) -> redis.asyncio.Redis:
    """A client fit for `RedisRateLimiter`: short timeouts, no retries (the fallback answers)."""
    return redis.asyncio.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
    )


class RedisRateLimiter:
    """The rule shared by every process through Redis; per process while Redis is down.

    Give it a client with short timeouts and no retries (`rate_limit_redis_client`, or
    `socket_timeout=0.25, socket_connect_timeout=0.25, retry=Retry(NoBackoff(), 0)`).
    """

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        prefix: str = "tot:rl:",
        *,
        fallback: LocalRateLimiter | None = None,
    ) -> None:
        self._prefix = prefix
        self._script = redis.register_script(_HIT_SCRIPT)
        self._fallback = fallback if fallback is not None else LocalRateLimiter()
        self._failing = False
        self._last_warning_s: float | None = None

    async def hit(self, key: str, limit: RateLimit, now_s: float | None = None) -> RateDecision:
        args: list[str | int] = [
            limit.limit,
            repr(float(limit.window_s)),
            "" if now_s is None else repr(float(now_s)),
            repr(MIN_RETRY_AFTER_S),
        ]
        try:
            allowed, remaining, retry = await self._script(keys=[self._prefix + key], args=args)
        except _REDIS_FAILURES as exc:
            self._note_failure(exc)
            return await self._fallback.hit(key, limit, now_s)
        if self._failing:
            self._failing = False
            log.info("Redis answers again; rate limits are shared again")
        return RateDecision(bool(allowed), int(remaining), float(retry))

    def _note_failure(self, exc: Exception) -> None:
        self._failing = True
        now = time.monotonic()
        if self._last_warning_s is None or now - self._last_warning_s >= WARN_EVERY_S:
            self._last_warning_s = now
            log.warning(
                "Redis unavailable for rate limiting (%s: %s); limiting per process",
                type(exc).__name__,
                exc,
            )
