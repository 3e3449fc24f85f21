"""SMS through Twilio's Programmable Messaging REST API:
POST {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded To, From (or
MessagingServiceSid), Body [, StatusCallback], HTTP basic auth (Account SID : Auth Token).

- 201 -> Sent(provider_id = the message's sid "SM..."); Twilio queues it (status
  "queued"/"accepted"), delivery comes later by the status callback.
- Errors ({"code", "message", "more_info", "status"}): 429 (code 20429) and 5xx ->
  TransientSendError with Retry-After; 400 with codes such as 21211 (invalid To), 21408
  (region not enabled), 21610 (the recipient replied STOP), 21612/21614 (unroutable, not
  SMS-capable), 21617 (body too long) -> PermanentSendError; 401 (20003, wrong
  credentials) -> PermanentSendError (a setting to mend, then replay).
- The Messages API takes no idempotency key: a send whose answer is lost, retried, may
  reach the phone twice. The outbox keeps that window small (one attempt per send here).
- The auth token lives only in the httpx client's auth and a scrubber's closure.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

import httpx

from notifications.channels import Channel, PermanentSendError, Rendered, Sent
from storage.notify_common import (
    E164,
    json_or_none,
    mask_phone,
    post_once,
    scrubber,
    short,
    status_error,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.twilio.com"
MAX_BODY_CHARS = 1_600  # Twilio's limit for one message (it splits into segments)
ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")


class TwilioSender:
    """ChannelSender for SMS by Twilio. `message.to` is an E.164 number."""

    channel = Channel.SMS
    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not ACCOUNT_SID.match(account_sid):
            raise ValueError("a Twilio Account SID is AC followed by 32 hex digits")
        if not auth_token:
            raise ValueError("the Twilio auth token must be set")
        if (from_number is None) == (messaging_service_sid is None):
            raise ValueError("give exactly one of from_number and messaging_service_sid")
        if from_number is not None and not E164.match(from_number):
            raise ValueError("from_number is an E.164 number")
        if messaging_service_sid is not None and not SERVICE_SID.match(messaging_service_sid):
            raise ValueError("a Messaging Service SID is MG followed by 32 hex digits")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.account_sid = account_sid
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.status_callback = status_callback
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.requests_sent = 0
        self._scrub = scrubber([auth_token])
        self._client = httpx.AsyncClient(
            auth=httpx.BasicAuth(account_sid, auth_token),
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "tot-dispatch/0.1 notifications"},
        )

    def __repr__(self) -> str:
        sender = self.from_number or self.messaging_service_sid
        return f"TwilioSender(account_sid={self.account_sid!r}, sender={sender!r})"

    @property
    def messages_url(self) -> str:
        return f"{self.base_url}/2010-04-01/Accounts/{quote(self.account_sid)}/Messages.json"

    def form(self, message: Rendered) -> dict[str, str]:
        form = {"To": message.to, "Body": message.text}
        if self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
        else:
            form["From"] = self.from_number or ""
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        return form

    async def send(self, message: Rendered) -> Sent:
        if not E164.match(message.to):
            raise PermanentSendError("twilio: the number is not E.164 (+79161234567)")
        if not message.text.strip():
            raise PermanentSendError("twilio: an empty SMS")
        if len(message.text) > MAX_BODY_CHARS:
            raise PermanentSendError(f"twilio: the SMS is over {MAX_BODY_CHARS} characters")
        self.requests_sent += 1
        response = await post_once(
            self._client,
            "twilio",
            self.messages_url,
            timeout_s=self.timeout_s,
            data=self.form(message),
        )
        status = response.status_code
        data = json_or_none(response)
        log.debug(
            "twilio -> %s for %s (notification %s)",
            status, mask_phone(message.to), message.notification_id,
        )  # fmt: skip
        if status in (200, 201):
            sid = data.get("sid") if isinstance(data, dict) else None
            return Sent(provider_id=sid if isinstance(sid, str) else None)
        detail = ""
        if isinstance(data, dict):
            detail = self._scrub(short(f"code {data.get('code')}: {data.get('message', '')}"))
        raise status_error("twilio", response, detail)

    async def close(self) -> None:
        await self._client.aclose()
