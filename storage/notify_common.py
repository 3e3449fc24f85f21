"""What the notification channel adapters (storage/notify_*.py) share: one HTTP attempt
that turns timeouts and connection failures into TransientSendError, Retry-After, the
usual status mapping, scrubbing secrets out of text, and masking addresses for logs.

The adapters make ONE attempt per send: retries, backoff and the dead letter belong to the
outbox workers, which read TransientSendError.retry_after_s and PermanentSendError.gone.

Secrets (keys, tokens, passwords) are never put in a log line, an exception or a repr:
errors are built outside `except` blocks, so no httpx or aiosmtplib exception (whose
request may carry an Authorization header) is ever chained to ours.
"""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import orjson

from notifications.channels import PermanentSendError, SendError, TransientSendError

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_RETRY_AFTER_S = 24 * 3_600.0


def scrubber(secrets: Iterable[str | None]) -> Callable[[str], str]:
    """A function that replaces every given secret (longer than 3 characters) by ***.
    The secrets live only in its closure, not on any object a repr or vars() shows."""
    hidden = tuple(sorted({s for s in secrets if s and len(s) > 3}, key=len, reverse=True))

    def scrub(text: str) -> str:
        for secret in hidden:
            text = text.replace(secret, "***")
        return text

    return scrub


def mask_phone(phone: str) -> str:
    """+79161234567 -> +7916***67 (enough to tell numbers apart in a log, no more)."""
    if len(phone) < 8:
        return "***"
    return f"{phone[:5]}***{phone[-2:]}"


def mask_email(address: str) -> str:
    """doctor@example.ru -> d***@example.ru"""
    local, _, domain = address.rpartition("@")
    if not local:
        return "***"
    return f"{local[0]}***@{domain}"


def parse_retry_after(value: str | None, now_s: float | None = None) -> float | None:
    """Retry-After (RFC 9110 10.2.3): delta-seconds or an HTTP-date -> seconds to wait,
    capped at a day; None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return min(float(int(text)), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now_s is None else now_s
    return min(max(0.0, when.timestamp() - now), MAX_RETRY_AFTER_S)


def json_or_none(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


async def post_once(
    client: httpx.AsyncClient,
    provider: str,
    url: str,
    *,
    timeout_s: float,
    **kwargs: Any,
) -> httpx.Response:
    """One POST with a hard deadline; a timeout or a connection failure is a
    TransientSendError (with no httpx exception chained to it)."""
    reason: str | None = None
    response: httpx.Response | None = None
    try:
        async with asyncio.timeout(timeout_s):
            response = await client.post(url, **kwargs)
            await response.aread()
    except (TimeoutError, httpx.TimeoutException):
        reason = f"{provider}: no answer within {timeout_s:g} s"
    except httpx.TransportError as exc:
        reason = f"{provider}: connection failed ({type(exc).__name__})"
    if reason is not None or response is None:
        raise TransientSendError(reason or f"{provider}: no answer")
    return response


def status_error(
    provider: str,
    response: httpx.Response,
    detail: str = "",
    *,
    gone_statuses: Iterable[int] = (),
) -> SendError:
    """The usual mapping of a failed HTTP answer: 429, 408 and 5xx are transient (with
    Retry-After), gone_statuses are permanent and gone, any other status permanent."""
    status = response.status_code
    reason = f"{provider}: HTTP {status}" + (f" {detail}" if detail else "")
    if status in (408, 425, 429) or status >= 500:
        return TransientSendError(
            reason, retry_after_s=parse_retry_after(response.headers.get("Retry-After"))
        )
    return PermanentSendError(reason, gone=status in set(gone_statuses))


def short(text: object, limit: int = 200) -> str:
    """A provider's error text, one line and bounded, for a reason."""
    return " ".join(str(text).split())[:limit]
