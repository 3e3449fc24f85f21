"""E-mail through SendGrid's Web API v3: POST {base_url}/v3/mail/send with
`Authorization: Bearer <API key>` and a JSON body:

    {"personalizations": [{"to": [{"email": ...}]}],
     "from": {"email", "name"}, "subject": ...,
     "content": [{"type": "text/plain", ...}, {"type": "text/html", ...}],
     "headers": {"List-Unsubscribe": "<https://...>",
                 "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
     "custom_args": {"notification_id": ..., "idempotency_key": ...}}

- 202 -> Sent(provider_id = the X-Message-Id header). custom_args come back in SendGrid's
  event webhook, so delivered/bounced events find our notification; SendGrid itself does
  not deduplicate on them (a send whose answer is lost, retried, may arrive twice).
- 429 -> TransientSendError, waiting until X-RateLimit-Reset (epoch seconds) or
  Retry-After; 5xx and timeouts -> TransientSendError; 400 ({"errors": [{message,
  field}]}), 401/403 (the key), 413 -> PermanentSendError.
- The key lives only in a closure and the client's default headers (never logged).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from notifications.channels import (
    Channel,
    PermanentSendError,
    Rendered,
    Sent,
    TransientSendError,
)
from storage.notify_common import (
    MAX_RETRY_AFTER_S,
    json_or_none,
    mask_email,
    parse_retry_after,
    post_once,
    scrubber,
    short,
    status_error,
)
from storage.notify_smtp import MAX_SUBJECT_CHARS, check_address

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.sendgrid.com"


def mail_body(
    message: Rendered, *, from_address: str, from_name: str | None, sandbox: bool = False
) -> dict[str, Any]:
    """The v3 mail/send body for one rendered notification."""
    to = check_address(message.to)
    subject = (message.subject or "").strip()
    if not subject:
        raise PermanentSendError("sendgrid: an e-mail needs a subject")
    if len(subject) > MAX_SUBJECT_CHARS or "\r" in subject or "\n" in subject:
        raise PermanentSendError("sendgrid: the subject is over 250 characters or has line breaks")
    content = [{"type": "text/plain", "value": message.text}]  # text/plain must come first
    if message.html:
        content.append({"type": "text/html", "value": message.html})
    sender: dict[str, str] = {"email": from_address}
    if from_name:
        sender["name"] = from_name
    body: dict[str, Any] = {
        "personalizations": [{"to": [{"email": to}]}],
        "from": sender,
        "subject": subject,
        "content": content,
        "custom_args": {
            "notification_id": message.notification_id,
            "idempotency_key": message.idempotency_key,
        },
        "headers": {"Auto-Submitted": "auto-generated"},
    }
    if message.unsubscribe_url:
        url = message.unsubscribe_url
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.netloc or any(c in url for c in "<>\r\n "):
            raise PermanentSendError("sendgrid: the unsubscribe URL must be https (RFC 8058)")
        body["headers"]["List-Unsubscribe"] = f"<{url}>"
        body["headers"]["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if sandbox:
        body["mail_settings"] = {"sandbox_mode": {"enable": True}}
    return body


class SendGridSender:
    """ChannelSender for e-mail by SendGrid. `message.to` is the address."""

    channel = Channel.EMAIL
    name = "sendgrid"

    def __init__(
        self,
        api_key: str,
        *,
        from_address: str,
        from_name: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        sandbox: bool = False,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("the SendGrid API key must be set")
        if "@" not in from_address:
            raise ValueError("from_address is an e-mail address")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.from_address = from_address
        self.from_name = from_name
        self.base_url = base_url.rstrip("/")
        self.sandbox = sandbox
        self.timeout_s = timeout_s
        self.requests_sent = 0
        self._clock = clock
        self._scrub = scrubber([api_key])
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            follow_redirects=False,
            headers={
                "Authorization": f"Bearer {api_key}",
                "User-Agent": "tot-dispatch/0.1 notifications",
            },
        )

    def __repr__(self) -> str:
        return f"SendGridSender(from_address={self.from_address!r}, base_url={self.base_url!r})"

    async def send(self, message: Rendered) -> Sent:
        body = mail_body(
            message, from_address=self.from_address, from_name=self.from_name, sandbox=self.sandbox
        )
        self.requests_sent += 1
        response = await post_once(
            self._client,
            "sendgrid",
            f"{self.base_url}/v3/mail/send",
            timeout_s=self.timeout_s,
            json=body,
        )
        status = response.status_code
        log.debug(
            "sendgrid -> %s for %s (notification %s)",
            status, mask_email(message.to), message.notification_id,
        )  # fmt: skip
        if status in (200, 202):
            return Sent(provider_id=response.headers.get("X-Message-Id"))
        data = json_or_none(response)
        detail = ""
        if isinstance(data, dict) and isinstance(data.get("errors"), list):
            detail = "; ".join(
                short(f"{e.get('field') or ''} {e.get('message') or ''}", 120)
                for e in data["errors"][:3]
                if isinstance(e, dict)
            )
        detail = self._scrub(detail)
        if status == 429:
            wait_s = parse_retry_after(response.headers.get("Retry-After"))
            reset = response.headers.get("X-RateLimit-Reset", "")
            if wait_s is None and reset.isdigit():
                wait_s = min(max(0.0, int(reset) - self._clock()), MAX_RETRY_AFTER_S)
            raise TransientSendError(f"sendgrid: HTTP 429 {detail}".rstrip(), retry_after_s=wait_s)
        raise status_error("sendgrid", response, detail)

    async def close(self) -> None:
        await self._client.aclose()
