"""SMS through SMS.ru, the Russian gateway: POST {base_url}/sms/send with api_id, to, msg,
json=1 [, from, test, ip] (form-encoded), as its HTTP API documents.

Why SMS.ru rather than SMSC.ru: one api_id key (SMSC.ru wants a login and password, or a
key, in every query), a JSON answer with a status code per number, a documented test=1
mode that charges nothing, and POST throughout. The api_id goes in the POST body, never in
the URL, so it reaches no access log (nor httpx's request log line).

The answer is HTTP 200 with {"status": "OK"|"ERROR", "status_code", "sms": {number:
{"status", "status_code", "sms_id" | "status_text"}}, "balance"}. Codes (sms.ru/api/send):
- 100: accepted -> Sent(provider_id = sms_id);
- 220 (service temporarily unavailable), 500 (server error): TransientSendError;
- 206 (daily limit), 230/232 (per-number daily limits), 231 (identical message within a
  minute), 233 (too many codes in a short time): TransientSendError with a wait;
- 202 (bad number), 207 (cannot send to this number), 209 (the number is in the stop
  list), 203 (no text), 205 (too long), 212 (not UTF-8): PermanentSendError;
- 200/300/301/302 (bad api_id, token or account), 201 (no money), 204 (sender name not
  approved): PermanentSendError: a setting to mend, then replay from the dead letter;
- HTTP 5xx, 429 and timeouts: TransientSendError.
SMS.ru takes no idempotency key (see notify_twilio for what that means).
"""

from __future__ import annotations

import logging

import httpx

from notifications.channels import (
    Channel,
    PermanentSendError,
    Rendered,
    SendError,
    Sent,
    TransientSendError,
)
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

DEFAULT_BASE_URL = "https://sms.ru"
MAX_PARTS = 8  # SMS.ru refuses a message of more than 8 parts (code 205)


def max_text_chars(text: str) -> int:
    """8 parts of 153 characters (plain Latin, GSM 7-bit) or of 67 (Cyrillic, UCS-2)."""
    return MAX_PARTS * (153 if text.isascii() else 67)


TRANSIENT = {220: None, 500: None, 231: 60.0, 233: 600.0, 206: 3_600.0, 230: 3_600.0, 232: 3_600.0}
OK = 100


def smsru_error(code: int, text: str) -> SendError:
    reason = f"smsru: code {code}" + (f": {text}" if text else "")
    if code in TRANSIENT:
        return TransientSendError(reason, retry_after_s=TRANSIENT[code])
    return PermanentSendError(reason)


def _code(obj: object) -> int | None:
    if not isinstance(obj, dict):
        return None
    value = obj.get("status_code")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


class SmsRuSender:
    """ChannelSender for SMS by SMS.ru. `message.to` is an E.164 number."""

    channel = Channel.SMS
    name = "smsru"

    def __init__(
        self,
        api_id: str,
        *,
        sender: str | None = None,
        test: bool = False,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not api_id:
            raise ValueError("the SMS.ru api_id must be set")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.sender = sender
        self.test = test
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.requests_sent = 0
        self._scrub = scrubber([api_id])

        def form(message: Rendered) -> dict[str, str]:  # api_id stays in this closure
            fields = {
                "api_id": api_id,
                "to": message.to.lstrip("+"),
                "msg": message.text,
                "json": "1",
            }
            if sender:
                fields["from"] = sender
            if test:
                fields["test"] = "1"
            return fields

        self._form = form
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "tot-dispatch/0.1 notifications"},
        )

    def __repr__(self) -> str:
        return f"SmsRuSender(sender={self.sender!r}, test={self.test})"

    async def send(self, message: Rendered) -> Sent:
        if not E164.match(message.to):
            raise PermanentSendError("smsru: the number is not E.164 (+79161234567)")
        if not message.text.strip():
            raise PermanentSendError("smsru: an empty SMS")
        if len(message.text) > max_text_chars(message.text):
            raise PermanentSendError(f"smsru: the SMS is over {MAX_PARTS} parts")
        self.requests_sent += 1
        response = await post_once(
            self._client,
            "smsru",
            f"{self.base_url}/sms/send",
            timeout_s=self.timeout_s,
            data=self._form(message),
        )
        status = response.status_code
        log.debug(
            "smsru -> HTTP %s for %s (notification %s)",
            status, mask_phone(message.to), message.notification_id,
        )  # fmt: skip
        if status != 200:
            raise status_error("smsru", response)
        data = json_or_none(response)
        code = _code(data)
        if not isinstance(data, dict) or code is None:
            raise TransientSendError("smsru: an answer that is not its JSON")
        if code != OK:  # the request as a whole: api_id, balance, sender...
            raise smsru_error(code, self._scrub(short(data.get("status_text", ""))))
        per_number = data.get("sms")
        number = message.to.lstrip("+")
        entry = per_number.get(number) if isinstance(per_number, dict) else None
        entry_code = _code(entry)
        if not isinstance(entry, dict) or entry_code is None:
            raise TransientSendError("smsru: the answer does not mention the number")
        if entry_code != OK:
            raise smsru_error(entry_code, self._scrub(short(entry.get("status_text", ""))))
        sms_id = entry.get("sms_id")
        return Sent(provider_id=str(sms_id) if sms_id is not None else None)

    async def close(self) -> None:
        await self._client.aclose()
