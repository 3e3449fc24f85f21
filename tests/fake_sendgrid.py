"""A local SendGrid v3 mail/send: POST /v3/mail/send, `Authorization: Bearer <key>`.

Checks what SendGrid documents and answers its way: 401 {"errors": [...]} for a wrong key;
400 {"errors": [{"message", "field", "help"}]} for no personalizations, a `to` without an
email, no from.email, no subject, no content, text/plain not first, a content value that
is empty; 413 for a body over 30 MB; 202 with an X-Message-Id header and an empty body.
Faults (tests/fake_kit.py); a 429 fault carries X-RateLimit-* headers via fault.headers.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fake_kit import Fault, Faults, answer_fault, serving

MAX_BODY_BYTES = 30 * 1024 * 1024


def sendgrid_errors(status: int, *errors: tuple[str | None, str]) -> Response:
    body = {"errors": [{"field": f, "message": m, "help": None} for f, m in errors]}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


@dataclass
class FakeSendGrid:
    api_key: str = field(default_factory=lambda: "SG." + secrets.token_urlsafe(40))
    url: str = ""
    faults: Faults = field(default_factory=Faults)
    received: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.app = Starlette(routes=[Route("/v3/mail/send", self._send, methods=["POST"])])

    def _validate(self, mail: Any) -> list[tuple[str | None, str]]:
        problems: list[tuple[str | None, str]] = []
        if not isinstance(mail, dict):
            return [(None, "Bad Request")]
        personalizations = mail.get("personalizations")
        if not isinstance(personalizations, list) or not personalizations:
            problems.append(("personalizations", "You must have at least one personalization."))
        else:
            for i, p in enumerate(personalizations):
                to = p.get("to") if isinstance(p, dict) else None
                if not isinstance(to, list) or not to or any("email" not in t for t in to):
                    problems.append(
                        (f"personalizations.{i}.to", "Each to object must have an email.")
                    )
        if not isinstance(mail.get("from"), dict) or not mail["from"].get("email"):
            problems.append(("from.email", "The from object must be provided for every email."))
        if not mail.get("subject"):
            problems.append(("subject", "The subject is required."))
        content = mail.get("content")
        if not isinstance(content, list) or not content:
            problems.append(
                ("content", "Unless a valid template_id is provided, content is required.")
            )
        else:
            if content[0].get("type") != "text/plain" and any(
                c.get("type") == "text/plain" for c in content
            ):
                problems.append(("content.0.type", "The text/plain content type must be first."))
            if any(not c.get("value") for c in content):
                problems.append(
                    (
                        "content.value",
                        "The content value must be a string at least one character in length.",
                    )
                )
        return problems

    async def _send(self, request: Request) -> Response:
        with self.lock:
            self.requests += 1
        fault = self.faults.take()
        if fault is not None:
            return await answer_fault(fault, _fault)
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return sendgrid_errors(
                401, (None, "The provided authorization grant is invalid, expired, or revoked")
            )
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return sendgrid_errors(413, (None, "Payload Too Large"))
        try:
            mail = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return sendgrid_errors(400, (None, "Bad Request"))
        problems = self._validate(mail)
        if problems:
            return sendgrid_errors(400, *problems)
        message_id = secrets.token_urlsafe(16)
        with self.lock:
            self.received.append({**mail, "_message_id": message_id})
        return Response(status_code=202, headers={"X-Message-Id": message_id})


def _fault(fault: Fault) -> Response:
    message = "too many requests" if fault.status == 429 else "injected"
    return sendgrid_errors(fault.status, (None, message))


@contextlib.contextmanager
def running_fake_sendgrid(**kwargs: Any) -> Iterator[FakeSendGrid]:
    fake = FakeSendGrid(**kwargs)
    with serving(fake.app, "fake-sendgrid") as url:
        fake.url = url
        yield fake
