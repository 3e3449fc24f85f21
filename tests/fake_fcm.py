"""A local FCM: Google's OAuth2 token endpoint for service accounts and FCM HTTP v1's
messages:send, as documented.

- POST /token: form grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer and an
  assertion, an RS256 JWT verified with the service account's PUBLIC key (the test made
  the key pair): iss = client_email, aud = this token URI, scope includes
  firebase.messaging, exp - iat <= 1 h, not expired. Answers {access_token, expires_in,
  token_type: Bearer}, or 400 {"error": "invalid_grant", ...}.
- POST /v1/projects/{project}/messages:send: Bearer token issued here and not expired
  (else 401 UNAUTHENTICATED); a message with token, data values strings; the token must be
  registered (`register(token)`), else 404 UNREGISTERED; a malformed one 400
  INVALID_ARGUMENT. Answers {"name": "projects/{p}/messages/{id}"}.
- Faults (tests/fake_kit.py) on messages:send, with the documented error body for
  fault.code (e.g. "UNAVAILABLE", "QUOTA_EXCEEDED", "UNREGISTERED"); `token_faults` on
  the token endpoint. `expire_tokens()` makes every issued token stale (401 next).

    with running_fake_fcm(public_key_pem, client_email) as fcm:
        service_account = fcm.service_account(private_key_pem)
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fake_kit import Fault, Faults, answer_fault, read_form, serving

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
STATUS_OF = {
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT"),
    "UNREGISTERED": (404, "NOT_FOUND"),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED"),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED"),
    "UNAVAILABLE": (503, "UNAVAILABLE"),
    "INTERNAL": (500, "INTERNAL"),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED"),
}


def fcm_error(code: str, message: str, status: int | None = None) -> Response:
    http, rpc = STATUS_OF.get(code, (status or 500, code))
    body = {
        "error": {
            "code": status or http,
            "message": message,
            "status": rpc,
            "details": [
                {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}
            ],
        }
    }
    return Response(orjson.dumps(body), status_code=status or http, media_type="application/json")


@dataclass
class FakeFcm:
    public_key_pem: str
    client_email: str
    project_id: str = "tot-test"
    token_ttl_s: int = 3_600
    clock: Callable[[], float] = time.time
    url: str = ""
    faults: Faults = field(default_factory=Faults)
    token_faults: Faults = field(default_factory=Faults)
    received: list[dict[str, Any]] = field(default_factory=list)  # the messages taken
    token_requests: int = 0
    send_requests: int = 0
    assertions: list[dict[str, Any]] = field(default_factory=list)  # verified claims

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.registered: set[str] = set()
        self._tokens: dict[str, float] = {}  # access token -> expires at
        self.app = Starlette(
            routes=[
                Route("/token", self._token, methods=["POST"]),
                Route("/v1/projects/{project}/messages:send", self._send, methods=["POST"]),
            ]
        )

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def service_account(self, private_key_pem: str) -> dict[str, str]:
        """The JSON key file a Google service account comes with, pointing here."""
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": "k1",
            "private_key": private_key_pem,
            "client_email": self.client_email,
            "client_id": "1234567890",
            "token_uri": self.token_uri,
        }

    def register(self, token: str | None = None) -> str:
        """A device registers with FCM: returns its registration token."""
        token = token or f"reg-{secrets.token_urlsafe(40)}"
        with self.lock:
            self.registered.add(token)
        return token

    def unregister(self, token: str) -> None:
        with self.lock:
            self.registered.discard(token)

    def expire_tokens(self) -> None:
        with self.lock:
            self._tokens = dict.fromkeys(self._tokens, 0.0)

    async def _token(self, request: Request) -> Response:
        with self.lock:
            self.token_requests += 1
        fault = self.token_faults.take()
        if fault is not None:
            return await answer_fault(fault, _oauth_fault)
        form = await read_form(request)
        if form.get("grant_type") != GRANT_TYPE:
            return _oauth_error("unsupported_grant_type", "grant_type")
        assertion = str(form.get("assertion") or "")
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion,
                self.public_key_pem,
                algorithms=["RS256"],
                audience=self.token_uri,
                options={
                    "require": ["iss", "aud", "exp", "iat", "scope"],
                    "verify_exp": False,  # checked below against this server's clock
                    "verify_iat": False,
                },
            )
        except jwt.InvalidTokenError as exc:
            return _oauth_error("invalid_grant", f"Invalid JWT: {type(exc).__name__}")
        if claims["iss"] != self.client_email:
            return _oauth_error("invalid_grant", "Invalid JWT: iss")
        if SCOPE not in str(claims["scope"]).split():
            return _oauth_error("invalid_scope", "scope")
        if not 0 < claims["exp"] - claims["iat"] <= 3_600:
            return _oauth_error("invalid_grant", "Invalid JWT: lifetime over one hour")
        if not claims["iat"] - 300 <= self.clock() < claims["exp"]:
            return _oauth_error("invalid_grant", "Invalid JWT: Token must be a short-lived token")
        token = f"ya29.{secrets.token_urlsafe(48)}"
        with self.lock:
            self._tokens[token] = self.clock() + self.token_ttl_s
            self.assertions.append(claims)
        body = {"access_token": token, "expires_in": self.token_ttl_s, "token_type": "Bearer"}
        return Response(orjson.dumps(body), media_type="application/json")

    async def _send(self, request: Request) -> Response:
        with self.lock:
            self.send_requests += 1
        fault = self.faults.take()
        if fault is not None:
            return await answer_fault(fault, _send_fault)
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with self.lock:
            expires = self._tokens.get(token)
        if expires is None or expires <= self.clock():
            body = {
                "error": {
                    "code": 401,
                    "message": "Request had invalid authentication credentials.",
                    "status": "UNAUTHENTICATED",
                }
            }
            return Response(orjson.dumps(body), status_code=401, media_type="application/json")
        if request.path_params["project"] != self.project_id:
            return fcm_error("INVALID_ARGUMENT", "no such project", 404)
        try:
            message = orjson.loads(await request.body())["message"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return fcm_error("INVALID_ARGUMENT", "Invalid JSON payload received.")
        data = message.get("data") or {}
        if not isinstance(data, dict) or any(not isinstance(v, str) for v in data.values()):
            return fcm_error("INVALID_ARGUMENT", "Invalid value at 'message.data'")
        reg = message.get("token")
        if not isinstance(reg, str) or not reg.startswith("reg-"):
            return fcm_error(
                "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token"
            )
        with self.lock:
            if reg not in self.registered:
                return fcm_error("UNREGISTERED", "Requested entity was not found.")
            self.received.append(message)
        name = f"projects/{self.project_id}/messages/0:{secrets.token_hex(8)}"
        return Response(orjson.dumps({"name": name}), media_type="application/json")


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    body = {"error": error, "error_description": description}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _oauth_fault(fault: Fault) -> Response:
    return _oauth_error(str(fault.code or "internal_failure"), "injected", fault.status)


def _send_fault(fault: Fault) -> Response:
    code = str(fault.code or "INTERNAL")
    return fcm_error(code, "injected", None if code in STATUS_OF else fault.status)


@contextlib.contextmanager
def running_fake_fcm(public_key_pem: str, client_email: str, **kwargs: Any) -> Iterator[FakeFcm]:
    fake = FakeFcm(public_key_pem, client_email, **kwargs)
    with serving(fake.app, "fake-fcm") as url:
        fake.url = url
        yield fake
