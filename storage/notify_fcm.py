"""Firebase Cloud Messaging, HTTP v1 API, for native apps:
POST {base_url}/v1/projects/{project_id}/messages:send with an OAuth2 access token.

- The token comes from the service account (its JSON key file): an RS256 JWT assertion
  {iss: client_email, scope: .../auth/firebase.messaging, aud: token_uri, iat, exp <= 1 h}
  signed with its private key (header kid = private_key_id), exchanged at its token_uri
  (grant_type urn:ietf:params:oauth:grant-type:jwt-bearer). The access token is cached
  until a minute before it expires; one refresh at a time; a 401 from FCM drops it and
  the send is tried once more with a fresh one.
- The message: token, notification {title, body}, data (strings; our notification id
  added), android {priority HIGH for high urgency, ttl "Ns"}, apns headers
  {apns-priority 10 or 5, apns-expiration}. FCM keeps no idempotency key: a send whose
  answer is lost and is retried may arrive twice (the app drops a repeated
  data["notification_id"]).
- Errors by FCM's documented codes (google.firebase.fcm.v1.FcmError errorCode, else the
  google.rpc status): UNREGISTERED (404) and SENDER_ID_MISMATCH (403) -> PermanentSendError
  gone=True (forget the token); INVALID_ARGUMENT (400), THIRD_PARTY_AUTH_ERROR (401) ->
  permanent; QUOTA_EXCEEDED (429), UNAVAILABLE (503), INTERNAL (500) and timeouts ->
  TransientSendError with Retry-After.
- base_url and token_uri are settings, so tests point them at a local server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from notifications.channels import (
    Channel,
    PermanentSendError,
    Rendered,
    SendError,
    Sent,
    TransientSendError,
)
from storage.notify_common import json_or_none, parse_retry_after, post_once, short, status_error

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://fcm.googleapis.com"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_TTL_S = 3_600  # Google takes at most one hour
TOKEN_MARGIN_S = 60.0  # refresh this long before the access token runs out
MAX_TOKEN_CHARS = 4_096
GONE_CODES = ("UNREGISTERED", "SENDER_ID_MISMATCH")
TRANSIENT_CODES = ("QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL")
PERMANENT_CODES = ("INVALID_ARGUMENT", "THIRD_PARTY_AUTH_ERROR", "PERMISSION_DENIED")


def fcm_error_code(data: object) -> tuple[str, str]:
    """(code, message) of an FCM v1 error body: the FcmError detail's errorCode when
    present, else the google.rpc status."""
    if not isinstance(data, dict) or not isinstance(data.get("error"), dict):
        return "", ""
    error = data["error"]
    code = ""
    for detail in error.get("details") or ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("FcmError"):
            code = str(detail.get("errorCode") or "")
    return code or str(error.get("status") or ""), short(error.get("message") or "")


def fcm_message(message: Rendered, now_s: float) -> dict[str, Any]:
    """The v1 `message` object for one registration token."""
    high = message.urgency == "high"
    ttl_s = max(0, int(message.ttl_s))
    body: dict[str, Any] = {
        "token": message.to,
        "data": {**message.data, "notification_id": message.notification_id},
        "android": {"priority": "HIGH" if high else "NORMAL", "ttl": f"{ttl_s}s"},
        "apns": {
            "headers": {
                "apns-priority": "10" if high else "5",
                "apns-expiration": str(int(now_s) + ttl_s),
            }
        },
    }
    notification = {"body": message.text}
    if message.subject:
        notification["title"] = message.subject
    body["notification"] = notification
    return body


class FcmSender:
    """ChannelSender for FCM HTTP v1. `message.to` is the registration token."""

    channel = Channel.FCM
    name = "fcm"

    def __init__(
        self,
        service_account: Mapping[str, Any] | str,
        *,
        project_id: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        token_uri: str | None = None,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if isinstance(service_account, str):
            try:
                service_account = orjson.loads(service_account)
            except orjson.JSONDecodeError:
                raise ValueError("the FCM service account is not JSON") from None
        if not isinstance(service_account, Mapping):
            raise ValueError("the FCM service account is a JSON object")
        client_email = service_account.get("client_email")
        pem = service_account.get("private_key")
        if not isinstance(client_email, str) or not client_email:
            raise ValueError("the FCM service account needs client_email")
        if not isinstance(pem, str) or "PRIVATE KEY" not in pem:
            raise ValueError("the FCM service account needs its private_key (PEM)")
        try:
            key = serialization.load_pem_private_key(pem.encode(), password=None)
        except (ValueError, TypeError):
            key = None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the FCM service account's private_key is not an RSA key")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.project_id = project_id or str(service_account.get("project_id") or "")
        if not self.project_id:
            raise ValueError("the FCM project id is required")
        self.client_email = client_email
        self.base_url = base_url.rstrip("/")
        self.token_uri = token_uri or str(service_account.get("token_uri") or DEFAULT_TOKEN_URI)
        self.timeout_s = timeout_s
        self.token_requests = 0
        self.requests_sent = 0
        self._clock = clock
        key_id = str(service_account.get("private_key_id") or "")

        def assertion(now_s: float) -> str:  # the private key stays in this closure
            iat = int(now_s)
            claims = {
                "iss": client_email,
                "scope": SCOPE,
                "aud": self.token_uri,
                "iat": iat,
                "exp": iat + ASSERTION_TTL_S,
            }
            headers = {"kid": key_id} if key_id else None
            return jwt.encode(claims, key, algorithm="RS256", headers=headers)

        self._assertion = assertion
        # The access token is kept in a closure cell too, not as an attribute.
        cell: list[tuple[str, float]] = []

        def token_get() -> tuple[str, float] | None:
            return cell[0] if cell else None

        def token_set(value: tuple[str, float] | None) -> None:
            cell.clear()
            if value is not None:
                cell.append(value)

        self._token_get = token_get
        self._token_set = token_set
        self._token_lock = asyncio.Lock()
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": "tot-dispatch/0.1 notifications"},
        )

    def __repr__(self) -> str:
        return f"FcmSender(project_id={self.project_id!r}, client_email={self.client_email!r})"

    @property
    def send_url(self) -> str:
        return f"{self.base_url}/v1/projects/{quote(self.project_id, safe='')}/messages:send"

    async def _access_token(self) -> str:
        cached = self._token_get()
        if cached is not None and cached[1] - self._clock() > TOKEN_MARGIN_S:
            return cached[0]
        async with self._token_lock:
            cached = self._token_get()
            now = self._clock()
            if cached is not None and cached[1] - now > TOKEN_MARGIN_S:
                return cached[0]
            self.token_requests += 1
            response = await post_once(
                self._client,
                "fcm token",
                self.token_uri,
                timeout_s=self.timeout_s,
                data={"grant_type": GRANT_TYPE, "assertion": self._assertion(now)},
                headers={"Accept": "application/json"},
            )
            data = json_or_none(response)
            if response.status_code != 200:
                detail = ""
                if isinstance(data, dict):  # RFC 6749 5.2: error, error_description
                    detail = short(f"{data.get('error', '')} {data.get('error_description', '')}")
                raise status_error("fcm token", response, detail)
            token = data.get("access_token") if isinstance(data, dict) else None
            expires_in = data.get("expires_in") if isinstance(data, dict) else None
            if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
                raise TransientSendError("fcm token: the answer has no access_token")
            if not isinstance(expires_in, int | float) or isinstance(expires_in, bool):
                expires_in = 3_600
            self._token_set((token, now + float(expires_in)))
            log.debug("fcm: a new access token, %d s", int(expires_in))
            return token

    async def send(self, message: Rendered) -> Sent:
        if not message.to or len(message.to) > MAX_TOKEN_CHARS or not message.to.isprintable():
            raise PermanentSendError("fcm: malformed registration token", gone=True)
        if any(not isinstance(v, str) for v in message.data.values()):
            raise PermanentSendError("fcm: data values must be strings")
        body = orjson.dumps({"message": fcm_message(message, self._clock())})
        if len(body) > 4_096 + 1_024:
            raise PermanentSendError(f"fcm: message of {len(body)} bytes is over FCM's 4 KB")
        for attempt in (1, 2):
            token = await self._access_token()
            self.requests_sent += 1
            response = await post_once(
                self._client,
                "fcm",
                self.send_url,
                timeout_s=self.timeout_s,
                content=body,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json; charset=UTF-8",
                },
            )
            status = response.status_code
            log.debug("fcm send -> %s (notification %s)", status, message.notification_id)
            data = json_or_none(response)
            if status == 200:
                name = data.get("name") if isinstance(data, dict) else None
                return Sent(provider_id=name if isinstance(name, str) else None)
            code, text = fcm_error_code(data)
            if status == 401 and code in ("", "UNAUTHENTICATED") and attempt == 1:
                self._token_set(None)  # expired or revoked: fetch a new one, once
                continue
            raise self._error(response, code, text)
        raise TransientSendError("fcm: the access token was refused twice")

    @staticmethod
    def _error(response: httpx.Response, code: str, text: str) -> SendError:
        status = response.status_code
        reason = f"fcm: HTTP {status} {code}".rstrip() + (f": {text}" if text else "")
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if code in GONE_CODES:  # a bare 404 (a wrong project id) forgets no token
            return PermanentSendError(reason, gone=True)
        if code in TRANSIENT_CODES or status == 429 or status >= 500:
            return TransientSendError(reason, retry_after_s=retry_after)
        return PermanentSendError(reason)

    async def close(self) -> None:
        await self._client.aclose()
