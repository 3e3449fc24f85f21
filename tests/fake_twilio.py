"""A local Twilio Messages API: POST /2010-04-01/Accounts/{Sid}/Messages.json, form
To, From or MessagingServiceSid, Body; HTTP basic auth with the Account SID and auth token.

Answers as Twilio documents: 201 with the message resource (sid "SM...", status
"queued"); 401 code 20003 on wrong credentials; 400 with code 21211 (invalid To), 21602
(no Body), 21617 (Body over 1600 characters), 21610 (the number replied STOP:
`block(number)`), 21604/21603 (no From / MessagingServiceSid). Faults (tests/fake_kit.py)
answer {code, message, more_info, status} with fault.code (20429 for a 429, 20500 for a
500 by default).
"""

from __future__ import annotations

import base64
import contextlib
import re
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

from tests.fake_kit import Fault, Faults, answer_fault, read_form, serving

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def twilio_error(status: int, code: int, message: str) -> Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


@dataclass
class FakeTwilio:
    account_sid: str = field(default_factory=lambda: "AC" + secrets.token_hex(16))
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    url: str = ""
    faults: Faults = field(default_factory=Faults)
    received: list[dict[str, str]] = field(default_factory=list)
    requests: int = 0

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.blocked: set[str] = set()
        self.app = Starlette(
            routes=[
                Route("/2010-04-01/Accounts/{sid}/Messages.json", self._create, methods=["POST"])
            ]
        )

    def block(self, number: str) -> None:
        """The recipient replied STOP."""
        with self.lock:
            self.blocked.add(number)

    def _authorized(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    async def _create(self, request: Request) -> Response:
        with self.lock:
            self.requests += 1
        fault = self.faults.take()
        if fault is not None:
            return await answer_fault(fault, _fault)
        if not self._authorized(request) or request.path_params["sid"] != self.account_sid:
            return twilio_error(401, 20003, "Authenticate")
        form = await read_form(request)
        to, body = form.get("To", ""), form.get("Body", "")
        if not E164.match(to):
            return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if "From" not in form and "MessagingServiceSid" not in form:
            return twilio_error(400, 21603, "A 'From' or 'MessagingServiceSid' is required.")
        if not body:
            return twilio_error(400, 21602, "Message body is required.")
        if len(body) > 1_600:
            return twilio_error(400, 21617, "The concatenated message body exceeds 1600.")
        with self.lock:
            if to in self.blocked:
                return twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")
            self.received.append(form)
        sid = "SM" + secrets.token_hex(16)
        resource: dict[str, Any] = {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": to,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": body,
            "status": "queued" if "From" in form else "accepted",
            "num_segments": str(-(-len(body) // 67)),
            "direction": "outbound-api",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        return Response(orjson.dumps(resource), status_code=201, media_type="application/json")


def _fault(fault: Fault) -> Response:
    code = fault.code or (20429 if fault.status == 429 else 20000 + fault.status)
    return twilio_error(fault.status, int(code), "injected")


@contextlib.contextmanager
def running_fake_twilio(**kwargs: Any) -> Iterator[FakeTwilio]:
    fake = FakeTwilio(**kwargs)
    with serving(fake.app, "fake-twilio") as url:
        fake.url = url
        yield fake
