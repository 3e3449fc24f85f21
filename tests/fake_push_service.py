"""A local Web Push service (RFC 8030) that checks what a real one checks and then reads
the message as the browser would: it DECRYPTS the aes128gcm body (RFC 8291) with the
subscription's private key and auth secret, which the test made and registered.

    with running_fake_push(vapid_public_key) as push:
        ua_private = ec.generate_private_key(ec.SECP256R1()); auth = os.urandom(16)
        subscription = push.subscribe(ua_private, auth)       # the JSON the browser gives
        ... WebPushSender(...).send(Rendered(to=orjson.dumps(subscription).decode(), ...))
        push.received[0].payload                              # the decrypted plaintext

Checks, each answered as push services do (400/401/403/413): the VAPID Authorization
header (`vapid t=<JWT>, k=<key>`: an ES256 JWT that verifies with k, k is the
applicationServerKey the subscription was made with, aud is this service's origin, exp in
the future and at most 24 h ahead, sub a mailto: or https: URL); TTL present; Urgency and
Topic well formed; Content-Encoding aes128gcm; a body of at most 4096 bytes that decrypts.
An unknown subscription is 404, an unsubscribed one 410. Faults: tests/fake_kit.py.

This decryption is written separately from storage/notify_webpush.encrypt, on purpose.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import re
import secrets
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fake_kit import Fault, Faults, answer_fault, serving

MAX_BODY_BYTES = 4096
TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
VAPID = re.compile(r"^vapid\s+t=([^,\s]+)\s*,\s*k=([A-Za-z0-9_-]+)\s*$")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def decrypt(body: bytes, ua_private: ec.EllipticCurvePrivateKey, auth_secret: bytes) -> bytes:
    """RFC 8291 decryption of an aes128gcm body, every record; ValueError if it does not
    decrypt or its padding is wrong."""
    if len(body) < 21:
        raise ValueError("shorter than the aes128gcm header")
    salt, (record_size, id_len) = body[:16], struct.unpack("!IB", body[16:21])
    as_public = body[21 : 21 + id_len]
    records = body[21 + id_len :]
    if id_len != 65 or record_size < 18:
        raise ValueError("the key id is not a P-256 public key, or rs is too small")
    ua_public = ua_private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    try:
        as_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), as_public)
    except ValueError:
        raise ValueError("the key id is not on P-256") from None
    ecdh = ua_private.exchange(ec.ECDH(), as_key)
    ikm = _hkdf(auth_secret, ecdh, b"WebPush: info\x00" + ua_public + as_public, 32)
    cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
    base_nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
    chunks = [records[i : i + record_size] for i in range(0, len(records), record_size)]
    if not chunks:
        raise ValueError("no record")
    plaintext = b""
    for seq, chunk in enumerate(chunks):
        nonce = (int.from_bytes(base_nonce, "big") ^ seq).to_bytes(12, "big")
        try:
            padded = AESGCM(cek).decrypt(nonce, chunk, None)
        except InvalidTag:
            raise ValueError("the record does not decrypt (wrong keys or tampered)") from None
        stripped = padded.rstrip(b"\x00")
        last = seq == len(chunks) - 1
        if not stripped or stripped[-1] != (2 if last else 1):
            raise ValueError("bad padding delimiter")
        plaintext += stripped[:-1]
    return plaintext


@dataclass
class PushDelivery:
    subscription_id: str
    payload: bytes  # decrypted
    ttl_s: int
    urgency: str
    topic: str | None
    claims: dict[str, Any]
    body_bytes: int

    @property
    def json(self) -> Any:
        return orjson.loads(self.payload)


@dataclass
class _Sub:
    ua_private: ec.EllipticCurvePrivateKey
    auth: bytes
    server_key: str
    active: bool = True


@dataclass
class FakePushService:
    vapid_public_key: str  # the applicationServerKey subscriptions are made with
    clock: Callable[[], float] = time.time
    url: str = ""
    faults: Faults = field(default_factory=Faults)
    received: list[PushDelivery] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (status, why)
    requests: int = 0

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self._subs: dict[str, _Sub] = {}
        self.app = Starlette(routes=[Route("/push/{sid}", self._push, methods=["POST"])])

    def subscribe(
        self,
        ua_private: ec.EllipticCurvePrivateKey,
        auth_secret: bytes,
        *,
        server_key: str | None = None,
    ) -> dict[str, Any]:
        """Register a subscription the test made the keys of; returns its JSON."""
        sid = secrets.token_urlsafe(24)
        with self.lock:
            self._subs[sid] = _Sub(ua_private, auth_secret, server_key or self.vapid_public_key)
        ua_public = ua_private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": f"{self.url}/push/{sid}",
            "expirationTime": None,
            "keys": {"p256dh": _b64(ua_public), "auth": _b64(auth_secret)},
        }

    def unsubscribe(self, subscription: dict[str, Any]) -> None:
        """The user revoked it: the push service answers 410 Gone from now on."""
        sid = subscription["endpoint"].rsplit("/", 1)[1]
        with self.lock:
            self._subs[sid].active = False

    def _refuse(self, status: int, why: str) -> Response:
        with self.lock:
            self.refused.append((status, why))
        return Response(
            orjson.dumps({"code": status, "errno": 0, "error": "refused", "message": why}),
            status_code=status,
            media_type="application/json",
        )

    def _check_vapid(self, header: str | None, sub: _Sub) -> tuple[dict[str, Any] | None, str]:
        match = VAPID.match(header or "")
        if match is None:
            return None, "no vapid t=..., k=... Authorization"
        token, key = match.groups()
        if key != sub.server_key:
            return None, "k is not the key this subscription was made with"
        try:
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(key))
            claims: dict[str, Any] = jwt.decode(
                token,
                public,
                algorithms=["ES256"],
                audience=self.url,
                options={"require": ["aud", "exp", "sub"], "verify_exp": False},
            )
        except (ValueError, jwt.InvalidTokenError) as exc:
            return None, f"the JWT does not verify: {type(exc).__name__}"
        now = self.clock()
        if not now < claims["exp"] <= now + 24 * 3_600:
            return None, "exp is not within the next 24 hours"
        if not str(claims["sub"]).startswith(("mailto:", "https:")):
            return None, "sub is not a mailto: or https: URL"
        return claims, ""

    async def _push(self, request: Request) -> Response:
        with self.lock:
            self.requests += 1
        fault = self.faults.take()
        if fault is not None:
            return await answer_fault(fault, self._fault_body)
        sid = request.path_params["sid"]
        with self.lock:
            sub = self._subs.get(sid)
        if sub is None:
            return self._refuse(404, "no such subscription")
        if not sub.active:
            return self._refuse(410, "the subscription has expired or was revoked")
        claims, why = self._check_vapid(request.headers.get("Authorization"), sub)
        if claims is None:
            return self._refuse(403 if "k is not" in why else 401, why)
        ttl = request.headers.get("TTL", "")
        if not ttl.isdigit():
            return self._refuse(400, "TTL is required")
        urgency = request.headers.get("Urgency", "normal")
        if urgency not in ("very-low", "low", "normal", "high"):
            return self._refuse(400, "bad Urgency")
        topic = request.headers.get("Topic")
        if topic is not None and not TOPIC.match(topic):
            return self._refuse(400, "bad Topic")
        if request.headers.get("Content-Encoding") != "aes128gcm":
            return self._refuse(415, "Content-Encoding must be aes128gcm")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return self._refuse(413, "payload too large")
        try:
            payload = decrypt(body, sub.ua_private, sub.auth)
        except ValueError as exc:
            return self._refuse(400, f"does not decrypt: {exc}")
        with self.lock:
            self.received.append(
                PushDelivery(sid, payload, int(ttl), urgency, topic, claims, len(body))
            )
        return Response(status_code=201, headers={"Location": f"{self.url}/m/{uuid.uuid4().hex}"})

    @staticmethod
    def _fault_body(fault: Fault) -> Response:
        return Response(
            orjson.dumps({"code": fault.status, "error": "injected", "message": "injected"}),
            status_code=fault.status,
            media_type="application/json",
        )


@contextlib.contextmanager
def running_fake_push(vapid_public_key: str, **kwargs: Any) -> Iterator[FakePushService]:
    fake = FakePushService(vapid_public_key, **kwargs)
    with serving(fake.app, "fake-push") as url:
        fake.url = url
        yield fake
