"""A local SMS.ru: POST /sms/send (api_id, to, msg, json=1, from, test) answering its JSON
as documented: HTTP 200 with a request-level status_code and one per number.

- wrong api_id -> {"status": "ERROR", "status_code": 200}; no json=1 -> plain text "200";
- a number that is not digits -> per-number 202; `block(number)` -> per-number 207; no
  text -> 203; accepted -> per-number 100 with an sms_id.
- `code_faults.inject("status", code=220)`: the gateway answers that code (HTTP 200);
  `faults` (tests/fake_kit.py): HTTP-level faults (5xx, timeouts).
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
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.fake_kit import Fault, Faults, answer_fault, read_form, serving

TEXTS = {
    100: "Сообщение принято к отправке",
    200: "Неправильный api_id",
    202: "Неправильно указан номер телефона получателя, либо на него нет маршрута",
    203: "Нет текста сообщения",
    207: "На этот номер (или один из номеров) нельзя отправлять сообщения",
    220: "Сервис временно недоступен, попробуйте чуть позже",
    231: "Превышен лимит одинаковых сообщений на этот номер в минуту",
}


def _json(data: object) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def _error(code: int) -> Response:
    return _json({"status": "ERROR", "status_code": code, "status_text": TEXTS.get(code, "")})


@dataclass
class FakeSmsRu:
    api_id: str = field(default_factory=lambda: secrets.token_hex(18).upper())
    url: str = ""
    balance: float = 1_000.0
    faults: Faults = field(default_factory=Faults)  # HTTP faults
    code_faults: Faults = field(default_factory=Faults)  # SMS.ru codes in a 200 answer
    received: list[dict[str, str]] = field(default_factory=list)
    requests: int = 0

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.blocked: set[str] = set()
        self.app = Starlette(routes=[Route("/sms/send", self._send, methods=["POST"])])

    def block(self, number: str) -> None:
        with self.lock:
            self.blocked.add(number.lstrip("+"))

    async def _send(self, request: Request) -> Response:
        with self.lock:
            self.requests += 1
        fault = self.faults.take()
        if fault is not None:
            return await answer_fault(fault, _http_fault)
        form = await read_form(request)
        if form.get("json") != "1":
            return PlainTextResponse("200")
        if form.get("api_id") != self.api_id:
            return _error(200)
        code_fault = self.code_faults.take()
        if code_fault is not None:
            return _error(int(code_fault.code or 220))
        to, msg = form.get("to", ""), form.get("msg", "")
        if not msg:
            return _error(203)
        if not to.isdigit() or not 7 <= len(to) <= 15:
            entry: dict[str, Any] = {"status": "ERROR", "status_code": 202}
        elif to in self.blocked:
            entry = {"status": "ERROR", "status_code": 207, "status_text": TEXTS[207]}
        else:
            sms_id = f"{secrets.randbelow(10**6):06d}-{secrets.randbelow(10**8):08d}"
            entry = {"status": "OK", "status_code": 100, "sms_id": sms_id}
            with self.lock:
                self.received.append(form)
                self.balance -= 0 if form.get("test") == "1" else 2.5
        return _json(
            {"status": "OK", "status_code": 100, "sms": {to: entry}, "balance": self.balance}
        )


def _http_fault(fault: Fault) -> Response:
    return PlainTextResponse("Internal Server Error", status_code=fault.status)


@contextlib.contextmanager
def running_fake_smsru(**kwargs: Any) -> Iterator[FakeSmsRu]:
    fake = FakeSmsRu(**kwargs)
    with serving(fake.app, "fake-smsru") as url:
        fake.url = url
        yield fake
