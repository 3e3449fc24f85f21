"""What the HTTP geocoder adapters share: one httpx.AsyncClient with timeouts, one retry
on a timeout, a dropped connection or a 5xx, provider errors mapped to
GeocoderUnavailableError in words that never carry a secret, a spacing between
requests (a provider's usage policy), and a small cache of answers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from geocoding import GeocoderUnavailableError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(connect=2.0, read=4.0, write=2.0, pool=2.0)
RETRY_BACKOFF_S = 0.25
PACKAGE_VERSION = "0.1.0"


def user_agent(contact: str | None) -> str:
    """Identifies this application, as Nominatim's usage policy asks of every client."""
    tail = f"; {contact}" if contact else ""
    return f"tot-dispatch/{PACKAGE_VERSION} (doctor dispatch geocoding{tail})"


class _Redact(logging.Filter):
    """Takes a secret out of every log record that passes (httpx logs request URLs)."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secret:
            message = record.getMessage()
            if self.secret in message:
                record.msg = message.replace(self.secret, "***")
                record.args = None
        return True


class ProviderClient:
    """GET JSON from one provider, politely and safely."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        contact: str | None = None,
        secret: str = "",
        min_interval_s: float = 0.0,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        attempts: int = 2,
        cache_size: int = 1_000,
        cache_ttl_s: float = 3_600.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.provider = provider
        self.secret = secret
        self.min_interval_s = min_interval_s
        self.attempts = max(1, attempts)
        self.cache_size = cache_size
        self.cache_ttl_s = cache_ttl_s
        self._cache: OrderedDict[tuple[str, tuple[tuple[str, str], ...]], tuple[float, Any]] = (
            OrderedDict()
        )
        self._gate = asyncio.Lock()
        self._next_at = 0.0
        self.requests_sent = 0
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout,
            headers={"User-Agent": user_agent(contact), "Accept": "application/json"},
            follow_redirects=False,
            transport=transport,
        )
        if secret:
            self._redact = _Redact(secret)
            for name in ("httpx", "httpcore", __name__):
                logging.getLogger(name).addFilter(self._redact)

    async def close(self) -> None:
        await self._client.aclose()
        if self.secret:
            for name in ("httpx", "httpcore", __name__):
                logging.getLogger(name).removeFilter(self._redact)

    async def _wait_turn(self) -> None:
        """Requests at least min_interval_s apart (Nominatim's public instance: 1 s)."""
        if self.min_interval_s <= 0:
            return
        async with self._gate:
            now = time.monotonic()
            if self._next_at > now:
                await asyncio.sleep(self._next_at - now)
            self._next_at = time.monotonic() + self.min_interval_s

    async def get_json(self, path: str, params: Mapping[str, str]) -> Any:
        """The provider's JSON answer; GeocoderUnavailableError when it cannot be had."""
        key = (path, tuple(sorted(params.items())))
        cached = self._cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            self._cache.move_to_end(key)
            return cached[1]
        failure = "no answer"
        for attempt in range(self.attempts):
            if attempt:
                await asyncio.sleep(RETRY_BACKOFF_S * attempt)
            await self._wait_turn()
            try:
                self.requests_sent += 1
                response = await self._client.get(path, params=dict(params))
            except httpx.TimeoutException:
                failure = "timed out"
                continue
            except httpx.TransportError as exc:
                failure = f"could not be reached ({type(exc).__name__})"
                continue
            status = response.status_code
            if status >= 500:
                failure = f"failed (HTTP {status})"
                continue
            if status == 429:
                retry = _retry_after(response.headers.get("Retry-After"))
                raise GeocoderUnavailableError(
                    f"the {self.provider} geocoder is rate limiting us (HTTP 429)", retry
                )
            if status in (401, 403):
                raise GeocoderUnavailableError(
                    f"the {self.provider} geocoder refused our credentials (HTTP {status})", 60.0
                )
            if status >= 400:
                raise GeocoderUnavailableError(
                    f"the {self.provider} geocoder refused the request (HTTP {status})"
                )
            try:
                body = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                raise GeocoderUnavailableError(
                    f"the {self.provider} geocoder sent an unreadable answer (not JSON)"
                ) from None
            self._remember(key, body)
            return body
        log.warning("%s geocoder %s after %d attempts", self.provider, failure, self.attempts)
        raise GeocoderUnavailableError(f"the {self.provider} geocoder {failure}")

    def _remember(self, key: tuple[str, tuple[tuple[str, str], ...]], body: Any) -> None:
        if self.cache_size <= 0:
            return
        self._cache[key] = (time.monotonic() + self.cache_ttl_s, body)
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)


def _retry_after(value: str | None) -> float:
    try:
        return max(1.0, min(float(value or ""), 3_600.0))
    except ValueError:
        return 5.0


def as_float(value: Any) -> float | None:
    """A coordinate from a provider ("56.32" or 56.32), None unless finite and a number."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out and abs(out) != float("inf") else None


def valid_point(lat: float | None, lon: float | None) -> bool:
    return lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180
