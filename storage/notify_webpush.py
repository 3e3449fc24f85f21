"""Web Push (RFC 8030) to the installed web app: VAPID (RFC 8292) and aes128gcm payload
encryption (RFC 8291 over RFC 8188), written on `cryptography` and PyJWT.

- VAPID: `Authorization: vapid t=<JWT>, k=<public key>`; the JWT is ES256 with
  aud = the push endpoint's origin, exp at most 24 h ahead (12 h here, reused until an
  hour before it runs out), sub = "mailto:..." or an https URL.
- Encryption, per message: a fresh ephemeral P-256 key pair and 16-byte salt; ECDH with
  the subscription's p256dh; IKM = HKDF(salt=auth, ikm=ecdh, info="WebPush: info\\0" ||
  ua_public || as_public, 32); CEK and nonce by HKDF from (salt, IKM) with the
  "Content-Encoding: aes128gcm\\0" and "Content-Encoding: nonce\\0" infos; one record:
  plaintext || 0x02 || zero padding, AES-128-GCM; the body is salt(16) || rs(4) ||
  idlen(1) || as_public(65) || record. The plaintext is padded up to a multiple of 32
  bytes so its length says less; a body never exceeds the 4096 bytes every push service
  must take.
- Headers: TTL (required), Urgency, Topic (a 32-character digest of the idempotency key,
  or of data["topic"] when given: a retried message replaces its undelivered copy at the
  push service instead of arriving twice), Content-Encoding: aes128gcm.
- Answers: 201 -> Sent (provider id: the Location of the push message resource);
  404/410 -> PermanentSendError(gone=True): forget the subscription; 413, 400 and other
  4xx -> PermanentSendError; 429, 5xx, timeouts -> TransientSendError with Retry-After.
- The endpoint comes from a browser: only https, and (by default) only the known push
  services' hosts, so a forged subscription cannot make us POST to arbitrary addresses.

The payload the service worker receives (JSON): {"id", "title", "body", "data"}.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import struct
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from notifications.channels import Channel, PermanentSendError, Rendered, Sent
from storage.notify_common import json_or_none, post_once, short, status_error

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4096  # RFC 8030 7.2: every push service takes at least 4096 octets
RECORD_SIZE = 4096
HEADER_BYTES = 16 + 4 + 1 + 65
TAG_BYTES = 16
MAX_PLAINTEXT_BYTES = MAX_BODY_BYTES - HEADER_BYTES - TAG_BYTES - 1  # 3993
PAD_TO = 32
VAPID_TTL_S = 12 * 3_600  # RFC 8292 2: exp no more than 24 hours ahead
VAPID_RENEW_BEFORE_S = 3_600
URGENCIES = ("very-low", "low", "normal", "high")
MAX_ENDPOINT_CHARS = 2_048
# The push services of the browsers that can install the app (host or parent domain).
DEFAULT_PUSH_HOSTS = (
    "fcm.googleapis.com",
    "android.googleapis.com",
    "updates.push.services.mozilla.com",
    "push.services.mozilla.com",
    "notify.windows.com",
    "push.apple.com",
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not isinstance(text, str) or not text.isascii():
        raise ValueError("not base64url")
    stripped = text.strip().rstrip("=")
    return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))


# ---------------------------------------------------------------------------- VAPID keys


def generate_vapid_keys() -> tuple[str, str]:
    """A new VAPID key pair: (private key, public key), both base64url. The private key
    (the raw 32-byte scalar) is a secret for the settings; the public key (the 65-byte
    uncompressed point) is the applicationServerKey the app passes to
    pushManager.subscribe()."""
    private = ec.generate_private_key(ec.SECP256R1())
    scalar = private.private_numbers().private_value.to_bytes(32, "big")
    return b64url(scalar), public_key_b64(private)


def load_vapid_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    """A VAPID private key: base64url of the raw 32-byte scalar, or a PEM (PKCS#8 or SEC1)."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("a VAPID key is a P-256 EC key")
        return key
    try:
        raw = b64url_decode(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError("a VAPID private key is 32 bytes, base64url, or a PEM")
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())


def public_key_b64(private: ec.EllipticCurvePrivateKey) -> str:
    """The applicationServerKey for a private key (base64url, uncompressed point)."""
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(point)


def vapid_public_key(private_key: str) -> str:
    """The applicationServerKey (for the app's subscribe call) of a configured private key."""
    return public_key_b64(load_vapid_private_key(private_key))


# ---------------------------------------------------------------------------- subscriptions


@dataclass(frozen=True, slots=True)
class Subscription:
    endpoint: str
    p256dh: bytes  # the user agent's public key: 65 bytes, uncompressed P-256 point
    auth: bytes  # the 16-byte authentication secret

    @property
    def origin(self) -> str:
        parts = urlsplit(self.endpoint)
        return f"{parts.scheme}://{parts.netloc}"


def parse_subscription(
    data: str | bytes | dict[str, Any],
    *,
    allowed_hosts: Collection[str] | None = DEFAULT_PUSH_HOSTS,
    allow_http: bool = False,
) -> Subscription:
    """A PushSubscription's JSON ({"endpoint", "keys": {"p256dh", "auth"}}) -> Subscription,
    or ValueError saying what is wrong. allowed_hosts None takes any https host."""
    if isinstance(data, str | bytes):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise ValueError("a push subscription is a JSON object") from None
    if not isinstance(data, dict):
        raise ValueError("a push subscription is a JSON object")
    endpoint = data.get("endpoint")
    keys = data.get("keys")
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > MAX_ENDPOINT_CHARS:
        raise ValueError("a push subscription needs its endpoint URL")
    parts = urlsplit(endpoint)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.hostname or parts.username or parts.password:
        raise ValueError("a push endpoint is an https URL")
    host = parts.hostname.lower()
    if allowed_hosts is not None and not any(
        host == allowed or host.endswith("." + allowed) for allowed in allowed_hosts
    ):
        raise ValueError(f"{host} is not a known push service")
    if not isinstance(keys, dict):
        raise ValueError("a push subscription needs keys.p256dh and keys.auth")
    try:
        p256dh = b64url_decode(keys.get("p256dh", ""))
        auth = b64url_decode(keys.get("auth", ""))
    except ValueError:
        raise ValueError("keys.p256dh and keys.auth are base64url") from None
    if len(p256dh) != 65 or p256dh[0] != 4:
        raise ValueError("keys.p256dh is a 65-byte uncompressed P-256 point")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except ValueError:
        raise ValueError("keys.p256dh is not a point on P-256") from None
    if len(auth) != 16:
        raise ValueError("keys.auth is 16 bytes")
    return Subscription(endpoint=endpoint, p256dh=p256dh, auth=auth)


# ---------------------------------------------------------------------------- RFC 8291


def _hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def _hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    # length <= 32: one HMAC block is enough
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()[:length]


def encrypt(
    plaintext: bytes,
    ua_public: bytes,
    auth_secret: bytes,
    *,
    padding: int = 0,
    salt: bytes | None = None,
    as_private: ec.EllipticCurvePrivateKey | None = None,
    record_size: int = RECORD_SIZE,
) -> bytes:
    """RFC 8291 message encryption, one aes128gcm record. salt and as_private are fresh
    per message unless given (the RFC's worked example gives them)."""
    salt = os.urandom(16) if salt is None else salt
    as_private = as_private or ec.generate_private_key(ec.SECP256R1())
    if len(salt) != 16:
        raise ValueError("the salt is 16 bytes")
    if len(plaintext) + padding + 1 + TAG_BYTES > record_size:
        raise ValueError("the message does not fit one record")
    as_public = as_private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    ua_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), ua_public)
    ecdh_secret = as_private.exchange(ec.ECDH(), ua_key)
    key_info = b"WebPush: info\x00" + ua_public + as_public
    ikm = _hkdf_expand(_hkdf_extract(auth_secret, ecdh_secret), key_info, 32)
    prk = _hkdf_extract(salt, ikm)
    cek = _hkdf_expand(prk, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = _hkdf_expand(prk, b"Content-Encoding: nonce\x00", 12)
    record = AESGCM(cek).encrypt(nonce, plaintext + b"\x02" + b"\x00" * padding, None)
    header = salt + struct.pack("!IB", record_size, len(as_public)) + as_public
    return header + record


def push_payload(message: Rendered) -> bytes:
    """What the service worker gets (no secrets; the rules keep medical details out)."""
    return orjson.dumps(
        {
            "id": message.notification_id,
            "title": message.subject or "",
            "body": message.text,
            "data": dict(message.data),
        }
    )


def topic_for(message: Rendered) -> str:
    """RFC 8030 5.4: at most 32 characters of the URL-safe base64 alphabet."""
    basis = message.data.get("topic") or message.idempotency_key
    return b64url(hashlib.sha256(basis.encode()).digest())[:32]


# ---------------------------------------------------------------------------- the adapter


class WebPushSender:
    """ChannelSender for Web Push. `message.to` is the subscription's JSON."""

    channel = Channel.WEBPUSH
    name = "webpush"

    def __init__(
        self,
        vapid_private_key: str,
        subject: str,
        *,
        timeout_s: float = 10.0,
        allowed_hosts: Collection[str] | None = DEFAULT_PUSH_HOSTS,
        allow_http: bool = False,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not (subject.startswith("mailto:") or subject.startswith("https://")):
            raise ValueError("the VAPID subject is a mailto: or https: URL")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        try:
            key = load_vapid_private_key(vapid_private_key)
        except ValueError:
            raise ValueError("the VAPID private key is not a P-256 key") from None
        self.subject = subject
        self.public_key = public_key_b64(key)  # the applicationServerKey
        self.timeout_s = timeout_s
        self.allowed_hosts = allowed_hosts
        self.allow_http = allow_http
        self.requests_sent = 0
        self._clock = clock
        self._jwts: dict[str, tuple[str, float]] = {}  # origin -> (token, exp)

        def sign(claims: dict[str, Any]) -> str:  # the key stays in this closure
            return jwt.encode(claims, key, algorithm="ES256", headers={"typ": "JWT"})

        self._sign = sign
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": "tot-dispatch/0.1 notifications"},
        )

    def __repr__(self) -> str:
        return f"WebPushSender(subject={self.subject!r}, public_key={self.public_key!r})"

    def vapid_header(self, origin: str) -> str:
        """`vapid t=<JWT>, k=<public key>` for a push service's origin (cached)."""
        now = self._clock()
        cached = self._jwts.get(origin)
        if cached is None or cached[1] - now < VAPID_RENEW_BEFORE_S:
            exp = int(now) + VAPID_TTL_S
            cached = (self._sign({"aud": origin, "exp": exp, "sub": self.subject}), exp)
            self._jwts[origin] = cached
        return f"vapid t={cached[0]}, k={self.public_key}"

    async def send(self, message: Rendered) -> Sent:
        try:
            subscription = parse_subscription(
                message.to, allowed_hosts=self.allowed_hosts, allow_http=self.allow_http
            )
        except ValueError as exc:
            problem = str(exc)
        else:
            problem = ""
        if problem:
            raise PermanentSendError(f"webpush: malformed push subscription: {problem}", gone=True)
        if message.urgency not in URGENCIES:
            raise PermanentSendError(
                f"webpush: urgency {message.urgency!r} is not one of {URGENCIES}"
            )
        plaintext = push_payload(message)
        if len(plaintext) > MAX_PLAINTEXT_BYTES:
            raise PermanentSendError(
                f"webpush: payload of {len(plaintext)} bytes is over {MAX_PLAINTEXT_BYTES}"
            )
        padded = min(-(-len(plaintext) // PAD_TO) * PAD_TO, MAX_PLAINTEXT_BYTES)
        body = encrypt(
            plaintext, subscription.p256dh, subscription.auth, padding=padded - len(plaintext)
        )
        headers = {
            "Authorization": self.vapid_header(subscription.origin),
            "TTL": str(max(0, int(message.ttl_s))),
            "Urgency": message.urgency,
            "Topic": topic_for(message),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
        }
        self.requests_sent += 1
        response = await post_once(
            self._client,
            "webpush",
            subscription.endpoint,
            timeout_s=self.timeout_s,
            content=body,
            headers=headers,
        )
        status = response.status_code
        log.debug(
            "webpush %s -> %s (notification %s)",
            subscription.origin, status, message.notification_id,
        )  # fmt: skip
        if 200 <= status < 300:
            return Sent(provider_id=response.headers.get("Location"))
        data = json_or_none(response)
        detail = ""
        if isinstance(data, dict):  # Mozilla's autopush and others answer with JSON errors
            detail = short(data.get("message") or data.get("reason") or data.get("error") or "")
        if status == 413:
            detail = detail or "payload too large"
        raise status_error("webpush", response, detail, gone_statuses=(404, 410))

    async def close(self) -> None:
        await self._client.aclose()
