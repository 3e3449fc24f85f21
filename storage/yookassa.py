"""YooKassa API v3 (https://api.yookassa.ru/v3): the PaymentProvider adapter, and the wire
format it shares with the sandbox provider and the tests' local YooKassa server.

- HTTP basic authentication with the shop id and the secret key. The key lives only inside
  the httpx client's auth; it never reaches a log line, an exception, a repr or a stored
  object (errors are built outside `except` blocks, so no httpx exception, whose request
  carries the Authorization header, is chained to ours).
- Every POST carries an `Idempotence-Key`: the caller's key (a key longer than YooKassa's
  64 characters is replaced by its SHA-256, the same on every retry).
- Timeouts, connection errors, 5xx, 429 and 202 ("still processing") are retried with
  exponential backoff and jitter, with the SAME key and body; after the last attempt,
  ProviderUnavailableError. Other 4xx: ProviderRejectedError / ProviderNotFoundError with
  YooKassa's code, description and parameter.
- Money is exact: int kopecks <-> "3500.00" strings, never a float.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from payments.model import (
    MAX_AMOUNT_KOPECKS,
    AmountError,
    CreatePayment,
    Kopecks,
    Method,
    PaymentError,
    ProviderPayment,
    ProviderRefund,
    ProviderStatus,
    Receipt,
    RefundStatus,
)
from payments.ports import (
    ProviderError,
    ProviderNotFoundError,
    ProviderRejectedError,
    ProviderUnavailableError,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.yookassa.ru/v3"
CURRENCY = "RUB"
MAX_DESCRIPTION_CHARS = 128  # a payment's and a receipt item's description
MAX_REFUND_DESCRIPTION_CHARS = 250
MAX_IDEMPOTENCE_KEY_CHARS = 64
MAX_LIST_LIMIT = 100

# A provider id goes into a URL path: nothing but what YooKassa's ids are made of.
PROVIDER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KEY_CHARS = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces
_MONEY = re.compile(r"^(0|[1-9]\d{0,11})(?:\.(\d{1,2}))?$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


class ProviderProtocolError(ProviderError):
    """The provider answered 2xx with something that is not what its API documents."""


# ---------------------------------------------------------------------------- money and time


def money(amount_kopecks: Kopecks) -> dict[str, str]:
    """YooKassa's amount object: {"value": "3500.00", "currency": "RUB"}."""
    if isinstance(amount_kopecks, bool) or not isinstance(amount_kopecks, int):
        raise AmountError("an amount is an int number of kopecks")
    if amount_kopecks < 0 or amount_kopecks > MAX_AMOUNT_KOPECKS:
        raise AmountError(f"amount out of range: {amount_kopecks} kopecks")
    roubles, kopecks = divmod(amount_kopecks, 100)
    return {"value": f"{roubles}.{kopecks:02d}", "currency": CURRENCY}


def value_to_kopecks(value: object) -> Kopecks:
    """ "3500.00" (or "3500", "3500.5") -> 350000; anything else is a ValueError."""
    if not isinstance(value, str):
        raise ValueError("an amount's value must be a string such as '3500.00'")
    match = _MONEY.match(value)
    if match is None:
        raise ValueError(f"not an amount: {value[:40]!r}")
    fraction = (match.group(2) or "").ljust(2, "0")
    return int(match.group(1)) * 100 + int(fraction or "0")


def amount_to_kopecks(obj: object, *, currency: str = CURRENCY) -> Kopecks:
    """An amount object {"value": "...", "currency": "RUB"} -> kopecks, strictly."""
    if not isinstance(obj, Mapping):
        raise ValueError("an amount must be an object with value and currency")
    if obj.get("currency") != currency:
        raise ValueError(f"expected currency {currency}, got {str(obj.get('currency'))[:10]!r}")
    return value_to_kopecks(obj.get("value"))


def rfc3339(epoch_s: float) -> str:
    """Epoch seconds as YooKassa writes times: UTC with milliseconds and Z."""
    return (
        datetime.fromtimestamp(epoch_s, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def parse_time(text: object) -> float:
    """An RFC 3339 date-time with a zone -> epoch seconds; ValueError otherwise."""
    if not isinstance(text, str) or len(text) > 40 or not _RFC3339.match(text):
        raise ValueError("expected an RFC 3339 date-time")
    return datetime.fromisoformat(text.upper()).timestamp()


def idempotence_header(key: str) -> str:
    """The caller's key as sent: itself when YooKassa accepts it, else its SHA-256 hex
    (deterministic, so every retry of one operation sends the same header)."""
    if not key:
        raise ValueError("an idempotence key is required")
    if len(key) <= MAX_IDEMPOTENCE_KEY_CHARS and _KEY_CHARS.match(key):
        return key
    return hashlib.sha256(key.encode()).hexdigest()


# ---------------------------------------------------------------------------- request bodies


def receipt_body(receipt: Receipt) -> dict[str, Any]:
    """Our Receipt in YooKassa's shape (54-FZ)."""
    customer: dict[str, str] = {}
    if receipt.customer_email:
        customer["email"] = receipt.customer_email
    if receipt.customer_phone:
        customer["phone"] = receipt.customer_phone
    if not customer:
        raise PaymentError("a receipt needs the customer's e-mail or phone")
    if not receipt.items:
        raise PaymentError("a receipt needs at least one item")
    items = []
    for item in receipt.items:
        if not 1 <= len(item.description) <= MAX_DESCRIPTION_CHARS:
            raise PaymentError("a receipt item's description has 1 to 128 characters")
        if isinstance(item.quantity, bool) or not isinstance(item.quantity, int):
            raise PaymentError("a receipt item's quantity is a whole number")
        if item.quantity < 1:
            raise PaymentError("a receipt item's quantity is at least 1")
        if item.amount_kopecks <= 0:
            raise AmountError("a receipt item's amount must be positive")
        items.append(
            {
                "description": item.description,
                "quantity": f"{item.quantity}.00",
                "amount": money(item.amount_kopecks),
                "vat_code": item.vat_code,
                "payment_subject": item.payment_subject,
                "payment_mode": str(item.payment_mode),
            }
        )
    body: dict[str, Any] = {"customer": customer, "items": items}
    if receipt.tax_system_code is not None:
        body["tax_system_code"] = receipt.tax_system_code
    return body


def _positive(amount_kopecks: Kopecks, what: str) -> None:
    if isinstance(amount_kopecks, bool) or not isinstance(amount_kopecks, int):
        raise AmountError(f"{what} is an int number of kopecks")
    if amount_kopecks <= 0:
        raise AmountError(f"{what} must be positive, got {amount_kopecks}")
    if amount_kopecks > MAX_AMOUNT_KOPECKS:
        raise AmountError(f"{what} is over the cap: {amount_kopecks}")


def _check_receipt_total(receipt: Receipt, amount_kopecks: Kopecks) -> None:
    if receipt.total_kopecks != amount_kopecks:
        raise AmountError(
            f"the receipt's items total {receipt.total_kopecks} kopecks, "
            f"not the amount {amount_kopecks}"
        )


def payment_body(request: CreatePayment) -> dict[str, Any]:
    """POST /payments body for our CreatePayment."""
    _positive(request.amount_kopecks, "the amount")
    if not 1 <= len(request.description) <= MAX_DESCRIPTION_CHARS:
        raise PaymentError("a payment's description has 1 to 128 characters")
    if request.method is Method.CARD:
        method_type = "bank_card"
    elif request.method is Method.SBP:
        method_type = "sbp"
        if not request.capture:
            raise PaymentError("an SBP payment cannot be held: capture must be true")
    else:
        raise PaymentError(f"{request.method} is not paid through the provider")
    confirmation: dict[str, str]
    if request.confirmation == "redirect":
        if not request.return_url:
            raise PaymentError("a redirect confirmation needs a return_url")
        confirmation = {"type": "redirect", "return_url": request.return_url}
    elif request.confirmation == "embedded" and request.method is Method.CARD:
        confirmation = {"type": "embedded"}
    elif request.confirmation == "qr" and request.method is Method.SBP:
        confirmation = {"type": "qr"}
    else:
        raise PaymentError(
            f"confirmation {request.confirmation!r} does not fit {request.method}: "
            "cards take redirect or embedded, SBP redirect or qr"
        )
    body: dict[str, Any] = {
        "amount": money(request.amount_kopecks),
        "capture": request.capture,
        "confirmation": confirmation,
        "payment_method_data": {"type": method_type},
        "description": request.description,
        "metadata": {"booking_id": request.booking_id, "payment_id": request.payment_id},
    }
    if request.receipt is not None:
        _check_receipt_total(request.receipt, request.amount_kopecks)
        body["receipt"] = receipt_body(request.receipt)
    return body


def capture_body(amount_kopecks: Kopecks | None, receipt: Receipt | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if amount_kopecks is not None:
        _positive(amount_kopecks, "the captured amount")
        body["amount"] = money(amount_kopecks)
    if receipt is not None:
        if amount_kopecks is not None:
            _check_receipt_total(receipt, amount_kopecks)
        body["receipt"] = receipt_body(receipt)
    return body


def refund_body(
    provider_payment_id: str,
    amount_kopecks: Kopecks,
    receipt: Receipt | None,
    description: str,
) -> dict[str, Any]:
    _positive(amount_kopecks, "the refund")
    if len(description) > MAX_REFUND_DESCRIPTION_CHARS:
        raise PaymentError("a refund's description has at most 250 characters")
    body: dict[str, Any] = {
        "payment_id": provider_payment_id,
        "amount": money(amount_kopecks),
    }
    if description:
        body["description"] = description
    if receipt is not None:
        _check_receipt_total(receipt, amount_kopecks)
        body["receipt"] = receipt_body(receipt)
    return body


# ---------------------------------------------------------------------------- answers


def _opt_time(obj: Mapping[str, Any], name: str) -> float | None:
    value = obj.get(name)
    return None if value is None else parse_time(value)


def _opt_str(obj: object, name: str) -> str | None:
    if not isinstance(obj, Mapping):
        return None
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


def parse_payment(data: object) -> ProviderPayment:
    """A YooKassa payment object -> ProviderPayment; ProviderProtocolError if malformed."""
    try:
        if not isinstance(data, Mapping):
            raise ValueError("a payment must be an object")
        payment_id = data.get("id")
        if not isinstance(payment_id, str) or not PROVIDER_ID.match(payment_id):
            raise ValueError("a payment needs an id")
        status = ProviderStatus(str(data.get("status")))
        paid = data.get("paid")
        if not isinstance(paid, bool):
            raise ValueError("paid must be true or false")
        amount = amount_to_kopecks(data.get("amount"))
        income = data.get("income_amount")
        refunded = data.get("refunded_amount")
        confirmation = data.get("confirmation")
        cancellation = data.get("cancellation_details")
        method = data.get("payment_method")
        metadata_raw = data.get("metadata") or {}
        if not isinstance(metadata_raw, Mapping):
            raise ValueError("metadata must be an object")
        metadata = {str(k): v for k, v in metadata_raw.items() if isinstance(v, str)}
        test = data.get("test", False)
        return ProviderPayment(
            provider_payment_id=payment_id,
            status=status,
            amount_kopecks=amount,
            income_kopecks=None if income is None else amount_to_kopecks(income),
            refunded_kopecks=0 if refunded is None else amount_to_kopecks(refunded),
            paid=paid,
            method_type=_opt_str(method, "type"),
            confirmation_url=_opt_str(confirmation, "confirmation_url"),
            confirmation_token=_opt_str(confirmation, "confirmation_token"),
            qr_data=_opt_str(confirmation, "confirmation_data"),
            created_s=parse_time(data.get("created_at")),
            captured_s=_opt_time(data, "captured_at"),
            expires_s=_opt_time(data, "expires_at"),
            cancellation_party=_opt_str(cancellation, "party"),
            cancellation_reason=_opt_str(cancellation, "reason"),
            metadata=metadata,
            test=bool(test),
        )
    except (ValueError, TypeError) as exc:
        problem = str(exc)
    raise ProviderProtocolError(f"YooKassa sent a malformed payment: {problem}")


def parse_refund(data: object) -> ProviderRefund:
    """A YooKassa refund object -> ProviderRefund; ProviderProtocolError if malformed."""
    try:
        if not isinstance(data, Mapping):
            raise ValueError("a refund must be an object")
        refund_id, payment_id = data.get("id"), data.get("payment_id")
        if not isinstance(refund_id, str) or not PROVIDER_ID.match(refund_id):
            raise ValueError("a refund needs an id")
        if not isinstance(payment_id, str) or not PROVIDER_ID.match(payment_id):
            raise ValueError("a refund needs its payment_id")
        return ProviderRefund(
            provider_refund_id=refund_id,
            provider_payment_id=payment_id,
            status=RefundStatus(str(data.get("status"))),
            amount_kopecks=amount_to_kopecks(data.get("amount")),
            created_s=parse_time(data.get("created_at")),
        )
    except (ValueError, TypeError) as exc:
        problem = str(exc)
    raise ProviderProtocolError(f"YooKassa sent a malformed refund: {problem}")


def parse_payment_list(data: object) -> tuple[list[ProviderPayment], str | None]:
    if not isinstance(data, Mapping) or not isinstance(data.get("items"), list):
        raise ProviderProtocolError("YooKassa sent a malformed list: no items")
    cursor = data.get("next_cursor")
    if cursor is not None and (not isinstance(cursor, str) or not cursor):
        raise ProviderProtocolError("YooKassa sent a malformed list: bad next_cursor")
    return [parse_payment(item) for item in data["items"]], cursor


def error_from_answer(status: int, data: object, scrub: Callable[[str], str]) -> ProviderError:
    """A 4xx answer -> ProviderRejectedError (ProviderNotFoundError for 404), in words that
    carry YooKassa's code, description and parameter (scrubbed of our secret)."""
    obj = data if isinstance(data, Mapping) else {}
    code = str(obj.get("code") or f"http_{status}")[:64]
    description = scrub(str(obj.get("description") or "")[:500])
    parameter_raw = obj.get("parameter")
    parameter = scrub(str(parameter_raw)[:100]) if parameter_raw is not None else None
    message = f"YooKassa refused ({status} {code})"
    if description:
        message += f": {description}"
    if parameter:
        message += f" [parameter: {parameter}]"
    if status == 404:
        return ProviderNotFoundError(message, status=status, code=code, parameter=parameter)
    return ProviderRejectedError(message, status=status, code=code, parameter=parameter)


# ---------------------------------------------------------------------------- the adapter


class YooKassaProvider:
    """PaymentProvider over YooKassa's HTTP API v3."""

    name = "yookassa"

    def __init__(
        self,
        shop_id: str,
        secret_key: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: float = 10.0,
        attempts: int = 4,
        *,
        backoff_s: float = 0.25,
        backoff_max_s: float = 4.0,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not shop_id or ":" in shop_id:
            raise ValueError("the YooKassa shop id must be non-empty and have no ':'")
        if not secret_key:
            raise ValueError("the YooKassa secret key must be set")
        if timeout_s <= 0 or attempts < 1:
            raise ValueError("timeout_s must be positive and attempts at least 1")
        self.shop_id = shop_id
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.requests_sent = 0  # HTTP requests, retries included
        self._rng = rng or random.Random()
        self._sleep = sleep
        # What must never be shown: the key itself and the header it becomes. Kept only
        # in this closure (not an attribute, so no repr or vars() shows it).
        basic = base64.b64encode(f"{shop_id}:{secret_key}".encode()).decode()
        hidden = (secret_key, basic)

        def scrub(text: str) -> str:
            for secret in hidden:
                if secret:
                    text = text.replace(secret, "***")
            return text

        self._scrub = scrub
        self._client = httpx.AsyncClient(
            base_url=self.base_url + "/",
            auth=httpx.BasicAuth(shop_id, secret_key),
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "tot-dispatch/0.1 payments"},
        )

    def __repr__(self) -> str:
        return (
            f"YooKassaProvider(shop_id={self.shop_id!r}, base_url={self.base_url!r}, "
            f"timeout_s={self.timeout_s}, attempts={self.attempts})"
        )

    # -- the port ---------------------------------------------------------------------

    async def create_payment(self, request: CreatePayment, idempotence_key: str) -> ProviderPayment:
        answer = await self._call(
            "POST", "payments", body=payment_body(request), key=idempotence_key
        )
        return parse_payment(answer)

    async def get_payment(self, provider_payment_id: str) -> ProviderPayment:
        path = f"payments/{_path_id(provider_payment_id)}"
        return parse_payment(await self._call("GET", path))

    async def capture_payment(
        self,
        provider_payment_id: str,
        amount_kopecks: Kopecks | None,
        receipt: Receipt | None,
        idempotence_key: str,
    ) -> ProviderPayment:
        path = f"payments/{_path_id(provider_payment_id)}/capture"
        body = capture_body(amount_kopecks, receipt)
        return parse_payment(await self._call("POST", path, body=body, key=idempotence_key))

    async def cancel_payment(
        self, provider_payment_id: str, idempotence_key: str
    ) -> ProviderPayment:
        path = f"payments/{_path_id(provider_payment_id)}/cancel"
        return parse_payment(await self._call("POST", path, body={}, key=idempotence_key))

    async def create_refund(
        self,
        provider_payment_id: str,
        amount_kopecks: Kopecks,
        receipt: Receipt | None,
        description: str,
        idempotence_key: str,
    ) -> ProviderRefund:
        _path_id(provider_payment_id)
        body = refund_body(provider_payment_id, amount_kopecks, receipt, description)
        return parse_refund(await self._call("POST", "refunds", body=body, key=idempotence_key))

    async def get_refund(self, provider_refund_id: str) -> ProviderRefund:
        return parse_refund(await self._call("GET", f"refunds/{_path_id(provider_refund_id)}"))

    async def list_payments(
        self,
        created_gte_s: float,
        created_lt_s: float,
        cursor: str | None = None,
        limit: int = 100,
    ) -> tuple[list[ProviderPayment], str | None]:
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIST_LIMIT}")
        params = {
            "created_at.gte": rfc3339(created_gte_s),
            "created_at.lt": rfc3339(created_lt_s),
            "limit": str(limit),
        }
        if cursor:
            params["cursor"] = cursor
        return parse_payment_list(await self._call("GET", "payments", params=params))

    async def close(self) -> None:
        await self._client.aclose()

    # -- HTTP with retries ------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        """Exponential (backoff_s, 2x, 4x, ... capped) with jitter in [50 %, 100 %]."""
        ceiling = min(self.backoff_max_s, self.backoff_s * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + 0.5 * self._rng.random())

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        key: str | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        headers: dict[str, str] = {}
        content: bytes | None = None
        if method == "POST":
            if key is None:
                raise ValueError("every POST to YooKassa needs an idempotence key")
            headers["Idempotence-Key"] = idempotence_header(key)
            headers["Content-Type"] = "application/json"
            content = orjson.dumps(body if body is not None else {})  # the same bytes each try
        reason = "no attempt"
        for attempt in range(1, self.attempts + 1):
            wait_s: float | None = None
            started = time.perf_counter()
            self.requests_sent += 1
            response: httpx.Response | None = None
            try:
                async with asyncio.timeout(self.timeout_s):
                    response = await self._client.request(
                        method, path, content=content, headers=headers, params=params
                    )
                    await response.aread()
            except (TimeoutError, httpx.TimeoutException):
                reason = f"no answer within {self.timeout_s:g} s"
            except httpx.TransportError as exc:
                reason = f"connection failed ({type(exc).__name__})"
            elapsed_ms = (time.perf_counter() - started) * 1_000
            if response is not None:
                status = response.status_code
                log.debug(
                    "yookassa %s /%s -> %s in %.1f ms (attempt %d)",
                    method, path, status, elapsed_ms, attempt,
                )  # fmt: skip
                data = _json_or_none(response)
                if status == 200:
                    if data is None:
                        reason = "an answer that is not JSON"
                    else:
                        return data
                elif status == 202:  # "processing": ask again after retry_after (ms)
                    reason = "still processing"
                    retry_after = data.get("retry_after") if isinstance(data, dict) else None
                    if isinstance(retry_after, int) and not isinstance(retry_after, bool):
                        wait_s = min(self.backoff_max_s, max(0.0, retry_after / 1_000))
                elif status == 429 or status >= 500:
                    reason = f"HTTP {status}"
                elif 400 <= status < 500:
                    error = error_from_answer(status, data, self._scrub)
                    log.info("yookassa %s /%s refused: %s", method, path, error)
                    raise error
                else:
                    reason = f"unexpected HTTP {status}"
            else:
                log.info(
                    "yookassa %s /%s: %s (attempt %d of %d)",
                    method, path, reason, attempt, self.attempts,
                )  # fmt: skip
            if attempt < self.attempts:
                await self._sleep(wait_s if wait_s is not None else self._backoff(attempt))
        message = self._scrub(
            f"YooKassa unavailable: {method} /{path}: {reason} after {self.attempts} attempts"
        )
        log.warning("%s", message)
        raise ProviderUnavailableError(message)


def _path_id(provider_id: str) -> str:
    if not isinstance(provider_id, str) or not PROVIDER_ID.match(provider_id):
        raise ProviderNotFoundError(
            "no such object at YooKassa (malformed id)", status=404, code="not_found"
        )
    return provider_id


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
