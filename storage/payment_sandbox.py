"""A YooKassa of our own: `YooKassaState`, the provider's state machine speaking its JSON
(the tests' local YooKassa server serves it over HTTP), and `SandboxProvider`, the
PaymentProvider `tot demo` uses with no account: in memory, it confirms payments itself
after a short delay and sends YooKassa-shaped notifications to a callback.

YooKassa's semantics, as documented:
- an idempotence key replays the first answer; the same key with another request is refused;
- pending -> waiting_for_capture (capture false) or succeeded (capture true) when the payer
  confirms; pending -> canceled when the payer refuses or never confirms;
- a capture takes at most the held amount, once (partial: the amount becomes the captured
  one); only pending or waiting_for_capture payments can be canceled;
- refunds only of succeeded payments, their total at most the captured amount;
- a hold not captured within 7 days (of this state's clock) is canceled
  (expired_on_capture); a payment not confirmed within an hour (expired_on_confirmation);
- a receipt's items must add up to the amount they accompany.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import operator
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from payments.model import (
    MAX_AMOUNT_KOPECKS,
    CreatePayment,
    Kopecks,
    ProviderPayment,
    ProviderRefund,
    Receipt,
)
from payments.ports import ProviderNotFoundError, ProviderRejectedError
from storage.yookassa import (
    MAX_DESCRIPTION_CHARS,
    MAX_LIST_LIMIT,
    MAX_REFUND_DESCRIPTION_CHARS,
    amount_to_kopecks,
    capture_body,
    money,
    parse_payment,
    parse_refund,
    parse_time,
    payment_body,
    refund_body,
    rfc3339,
    value_to_kopecks,
)

log = logging.getLogger(__name__)

HOLD_TTL_S = 7 * 86_400  # YooKassa keeps a card hold for 7 days
CONFIRMATION_TTL_S = 3_600  # a payment the payer never confirms is canceled after an hour
DEFAULT_FEE_BP = {"bank_card": 280, "sbp": 40}  # the provider's fee, basis points

NotificationCallback = Callable[[dict[str, Any]], Awaitable[None]]


def _reject(
    description: str, parameter: str | None = None, *, code: str = "invalid_request"
) -> ProviderRejectedError:
    return ProviderRejectedError(description, status=400, code=code, parameter=parameter)


def _not_found(what: str) -> ProviderNotFoundError:
    return ProviderNotFoundError(f"{what} not found", status=404, code="not_found")


@dataclass
class _Payment:
    id: str
    amount_kopecks: Kopecks  # after a partial capture: the captured amount
    held_kopecks: Kopecks  # as created
    capture: bool
    method_type: str
    confirmation: dict[str, str]
    description: str
    metadata: dict[str, str]
    receipt: dict[str, Any] | None
    created_s: float
    confirm_by_s: float
    status: str = "pending"
    paid: bool = False
    captured_s: float | None = None
    expires_s: float | None = None
    refunded_kopecks: Kopecks = 0
    income_kopecks: Kopecks | None = None
    cancellation: dict[str, str] | None = None
    refund_ids: list[str] = field(default_factory=list)


@dataclass
class _Refund:
    id: str
    payment_id: str
    amount_kopecks: Kopecks
    description: str
    created_s: float
    status: str = "succeeded"


class YooKassaState:
    """The provider's objects and rules, JSON in and JSON out (YooKassa's shapes). Every
    operation takes `now_s`; ProviderRejectedError / ProviderNotFoundError for what
    YooKassa answers 4xx. Not thread-safe: callers serialize (one event loop, or a lock)."""

    def __init__(
        self,
        *,
        confirm_url_base: str = "/pay/sandbox/",
        hold_ttl_s: float = HOLD_TTL_S,
        confirmation_ttl_s: float = CONFIRMATION_TTL_S,
        fee_bp: Mapping[str, int] | None = None,
        shop_id: str = "sandbox",
        seed: int | None = None,
    ) -> None:
        self.confirm_url_base = confirm_url_base
        self.hold_ttl_s = hold_ttl_s
        self.confirmation_ttl_s = confirmation_ttl_s
        self.fee_bp = dict(DEFAULT_FEE_BP if fee_bp is None else fee_bp)
        self.shop_id = shop_id
        self._rng = random.Random(seed)
        self._serial = 0
        self.payments: dict[str, _Payment] = {}
        self.refunds: dict[str, _Refund] = {}
        self._open: set[str] = set()  # pending or waiting_for_capture
        self._answers: dict[str, tuple[bytes, dict[str, Any]]] = {}  # key -> (request, answer)
        self.applied: Counter[str] = Counter()  # operations that changed something (no replays)
        self.outbox: list[dict[str, Any]] = []  # notifications not yet delivered

    # -- ids, idempotence, notifications -----------------------------------------------

    def _new_id(self, kind: str) -> str:
        self._serial += 1
        tail = self._rng.getrandbits(48)
        return f"{self._serial:08x}-{kind}-5000-8000-{tail:012x}"

    def _idempotent(
        self, key: str | None, request: object, apply: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        if not key:
            raise _reject("Idempotence-Key header is required", "Idempotence-Key")
        fingerprint = orjson.dumps(request, option=orjson.OPT_SORT_KEYS)
        seen = self._answers.get(key)
        if seen is not None:
            if seen[0] != fingerprint:
                raise _reject(
                    "this Idempotence-Key was used with another request", "Idempotence-Key"
                )
            return seen[1]
        answer = apply()  # a refusal is not remembered: the request may be corrected
        self._answers[key] = (fingerprint, answer)
        return answer

    def _notify(self, event: str, obj: dict[str, Any]) -> None:
        self.outbox.append({"type": "notification", "event": event, "object": obj})

    def drain_notifications(self) -> list[dict[str, Any]]:
        out, self.outbox = self.outbox, []
        return out

    # -- time passes ---------------------------------------------------------------------

    def expire(self, now_s: float) -> list[str]:
        """Cancel the payments whose confirmation or hold ran out; their ids."""
        expired = []
        for payment_id in sorted(self._open):
            payment = self.payments[payment_id]
            if payment.status == "pending" and now_s >= payment.confirm_by_s:
                self._cancel(payment, "yoo_money", "expired_on_confirmation")
                expired.append(payment_id)
            elif (
                payment.status == "waiting_for_capture"
                and payment.expires_s is not None
                and now_s >= payment.expires_s
            ):
                self._cancel(payment, "yoo_money", "expired_on_capture")
                expired.append(payment_id)
        return expired

    def _cancel(self, payment: _Payment, party: str, reason: str) -> None:
        payment.status = "canceled"
        payment.paid = False
        payment.income_kopecks = None
        payment.expires_s = None
        payment.cancellation = {"party": party, "reason": reason}
        self._open.discard(payment.id)
        self._notify("payment.canceled", self.payment_json(payment))

    def _payment(self, payment_id: str, now_s: float) -> _Payment:
        self.expire(now_s)
        payment = self.payments.get(payment_id)
        if payment is None:
            raise _not_found("payment")
        return payment

    # -- JSON ----------------------------------------------------------------------------

    def payment_json(self, payment: _Payment) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": payment.id,
            "status": payment.status,
            "paid": payment.paid,
            "amount": money(payment.amount_kopecks),
            "description": payment.description,
            "recipient": {"account_id": self.shop_id, "gateway_id": "100500"},
            "payment_method": {"type": payment.method_type, "id": payment.id, "saved": False},
            "created_at": rfc3339(payment.created_s),
            "test": True,
            "refundable": payment.status == "succeeded"
            and payment.refunded_kopecks < payment.amount_kopecks,
            "metadata": dict(payment.metadata),
        }
        if payment.status == "pending":
            out["confirmation"] = dict(payment.confirmation)
        if payment.income_kopecks is not None:
            out["income_amount"] = money(payment.income_kopecks)
        if payment.refunded_kopecks:
            out["refunded_amount"] = money(payment.refunded_kopecks)
        if payment.captured_s is not None:
            out["captured_at"] = rfc3339(payment.captured_s)
        if payment.expires_s is not None:
            out["expires_at"] = rfc3339(payment.expires_s)
        if payment.cancellation is not None:
            out["cancellation_details"] = dict(payment.cancellation)
        if payment.receipt is not None and payment.status == "succeeded":
            out["receipt_registration"] = "succeeded"
        return out

    @staticmethod
    def refund_json(refund: _Refund) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": refund.id,
            "payment_id": refund.payment_id,
            "status": refund.status,
            "amount": money(refund.amount_kopecks),
            "created_at": rfc3339(refund.created_s),
        }
        if refund.description:
            out["description"] = refund.description
        return out

    # -- the API -------------------------------------------------------------------------

    def create_payment(
        self, body: Mapping[str, Any], key: str | None, now_s: float
    ) -> dict[str, Any]:
        self.expire(now_s)
        return self._idempotent(key, ["create", body], lambda: self._create(body, now_s))

    def _create(self, body: Mapping[str, Any], now_s: float) -> dict[str, Any]:
        if not isinstance(body, Mapping):
            raise _reject("the body must be a JSON object")
        amount = _amount(body.get("amount"), "amount")
        capture = body.get("capture", False)
        if not isinstance(capture, bool):
            raise _reject("capture must be true or false", "capture")
        method = body.get("payment_method_data")
        method_type = method.get("type") if isinstance(method, Mapping) else None
        if method_type not in self.fee_bp:
            raise _reject("unsupported payment_method_data.type", "payment_method_data.type")
        if method_type == "sbp" and not capture:
            raise _reject("an SBP payment cannot be held: capture must be true", "capture")
        description = body.get("description", "")
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS:
            raise _reject("description: a string of at most 128 characters", "description")
        metadata = body.get("metadata") or {}
        if (
            not isinstance(metadata, Mapping)
            or len(metadata) > 16
            or not all(
                isinstance(k, str) and isinstance(v, str) and len(k) <= 32 and len(v) <= 512
                for k, v in metadata.items()
            )
        ):
            raise _reject("metadata: at most 16 string keys and values", "metadata")
        payment_id = self._new_id("000f")
        confirmation = self._confirmation(body.get("confirmation"), method_type, payment_id)
        receipt = body.get("receipt")
        if receipt is not None:
            _check_receipt(receipt, amount)
        payment = _Payment(
            id=payment_id,
            amount_kopecks=amount,
            held_kopecks=amount,
            capture=capture,
            method_type=method_type,
            confirmation=confirmation,
            description=description,
            metadata=dict(metadata),
            receipt=dict(receipt) if receipt is not None else None,
            created_s=now_s,
            confirm_by_s=now_s + self.confirmation_ttl_s,
        )
        self.payments[payment_id] = payment
        self._open.add(payment_id)
        self.applied["create"] += 1
        return self.payment_json(payment)

    def _confirmation(self, obj: object, method_type: str, payment_id: str) -> dict[str, str]:
        if not isinstance(obj, Mapping):
            raise _reject("confirmation is required", "confirmation")
        kind = obj.get("type")
        url = f"{self.confirm_url_base}{payment_id}"
        if kind == "redirect":
            return_url = obj.get("return_url")
            if not isinstance(return_url, str) or not return_url:
                raise _reject("a redirect needs confirmation.return_url", "confirmation.return_url")
            return {"type": "redirect", "return_url": return_url, "confirmation_url": url}
        if kind == "embedded" and method_type == "bank_card":
            return {"type": "embedded", "confirmation_token": f"ct-{payment_id}"}
        if kind == "qr" and method_type == "sbp":
            return {"type": "qr", "confirmation_data": url}
        raise _reject("unsupported confirmation.type for this method", "confirmation.type")

    def get_payment(self, payment_id: str, now_s: float) -> dict[str, Any]:
        return self.payment_json(self._payment(payment_id, now_s))

    def confirm(self, payment_id: str, now_s: float, *, succeed: bool = True) -> dict[str, Any]:
        """The payer confirms (or, succeed=False, refuses) on the confirmation page."""
        payment = self._payment(payment_id, now_s)
        if payment.status != "pending":
            raise _reject(f"the payment is {payment.status}, not pending")
        if not succeed:
            self._cancel(payment, "payment_network", "insufficient_funds")
            return self.payment_json(payment)
        payment.paid = True
        payment.income_kopecks = self._income(payment.method_type, payment.amount_kopecks)
        if payment.capture:
            payment.status = "succeeded"
            payment.captured_s = now_s
            self._open.discard(payment.id)
            self._notify("payment.succeeded", self.payment_json(payment))
        else:
            payment.status = "waiting_for_capture"
            payment.expires_s = now_s + self.hold_ttl_s
            self._notify("payment.waiting_for_capture", self.payment_json(payment))
        self.applied["confirm"] += 1
        return self.payment_json(payment)

    def _income(self, method_type: str, amount_kopecks: Kopecks) -> Kopecks:
        return amount_kopecks - amount_kopecks * self.fee_bp.get(method_type, 0) // 10_000

    def capture(
        self, payment_id: str, body: Mapping[str, Any], key: str | None, now_s: float
    ) -> dict[str, Any]:
        self.expire(now_s)
        return self._idempotent(
            key, ["capture", payment_id, body], lambda: self._capture(payment_id, body, now_s)
        )

    def _capture(self, payment_id: str, body: Mapping[str, Any], now_s: float) -> dict[str, Any]:
        payment = self._payment(payment_id, now_s)
        if not isinstance(body, Mapping):
            raise _reject("the body must be a JSON object")
        if payment.status != "waiting_for_capture":
            raise _reject(f"the payment is {payment.status}: only a hold can be captured")
        amount = payment.amount_kopecks
        if body.get("amount") is not None:
            amount = _amount(body.get("amount"), "amount")
            if amount > payment.held_kopecks:
                raise _reject("the amount is more than the held amount", "amount")
        receipt = body.get("receipt")
        if receipt is not None:
            _check_receipt(receipt, amount)
            payment.receipt = dict(receipt)
        elif payment.receipt is not None and amount != payment.held_kopecks:
            raise _reject("a partial capture needs a receipt for the captured amount", "receipt")
        payment.amount_kopecks = amount
        payment.status = "succeeded"
        payment.captured_s = now_s
        payment.expires_s = None
        payment.income_kopecks = self._income(payment.method_type, amount)
        self._open.discard(payment.id)
        self.applied["capture"] += 1
        answer = self.payment_json(payment)
        self._notify("payment.succeeded", answer)
        return answer

    def cancel(self, payment_id: str, key: str | None, now_s: float) -> dict[str, Any]:
        self.expire(now_s)
        return self._idempotent(
            key, ["cancel", payment_id], lambda: self._merchant_cancel(payment_id, now_s)
        )

    def _merchant_cancel(self, payment_id: str, now_s: float) -> dict[str, Any]:
        payment = self._payment(payment_id, now_s)
        if payment.status not in ("pending", "waiting_for_capture"):
            raise _reject(f"the payment is {payment.status}: it cannot be canceled")
        self._cancel(payment, "merchant", "canceled_by_merchant")
        self.applied["cancel"] += 1
        return self.payment_json(payment)

    def create_refund(
        self, body: Mapping[str, Any], key: str | None, now_s: float
    ) -> dict[str, Any]:
        self.expire(now_s)
        return self._idempotent(key, ["refund", body], lambda: self._refund(body, now_s))

    def _refund(self, body: Mapping[str, Any], now_s: float) -> dict[str, Any]:
        if not isinstance(body, Mapping):
            raise _reject("the body must be a JSON object")
        payment_id = body.get("payment_id")
        if not isinstance(payment_id, str):
            raise _reject("payment_id is required", "payment_id")
        payment = self.payments.get(payment_id)
        if payment is None:
            raise _reject("no such payment", "payment_id")
        amount = _amount(body.get("amount"), "amount")
        if payment.status != "succeeded":
            raise _reject(
                f"the payment is {payment.status}: only a succeeded one is refunded", "payment_id"
            )
        if payment.refunded_kopecks + amount > payment.amount_kopecks:
            raise _reject("the refunds would exceed the captured amount", "amount")
        description = body.get("description", "")
        if not isinstance(description, str) or len(description) > MAX_REFUND_DESCRIPTION_CHARS:
            raise _reject("description: a string of at most 250 characters", "description")
        receipt = body.get("receipt")
        if receipt is not None:
            _check_receipt(receipt, amount)
        refund = _Refund(
            id=self._new_id("0015"),
            payment_id=payment_id,
            amount_kopecks=amount,
            description=description,
            created_s=now_s,
        )
        self.refunds[refund.id] = refund
        payment.refund_ids.append(refund.id)
        payment.refunded_kopecks += amount
        self.applied["refund"] += 1
        answer = self.refund_json(refund)
        self._notify("refund.succeeded", answer)
        return answer

    def get_refund(self, refund_id: str, now_s: float) -> dict[str, Any]:
        self.expire(now_s)
        refund = self.refunds.get(refund_id)
        if refund is None:
            raise _not_found("refund")
        return self.refund_json(refund)

    def list_payments(self, query: Mapping[str, str], now_s: float) -> dict[str, Any]:
        """GET /payments: created_at.gte/.gt/.lte/.lt filters, newest first, `limit`
        (1..100, default 10) a page, `cursor` from the previous page's next_cursor."""
        self.expire(now_s)
        bounds: list[tuple[float, Callable[[float, float], bool]]] = []
        for name, test in (
            ("created_at.gte", operator.ge),
            ("created_at.gt", operator.gt),
            ("created_at.lte", operator.le),
            ("created_at.lt", operator.lt),
        ):
            if name in query:
                try:
                    bounds.append((parse_time(query[name]), test))
                except ValueError:
                    raise _reject(f"{name} must be an RFC 3339 date-time", name) from None
        try:
            limit = int(query.get("limit", "10"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise _reject("limit must be 1..100", "limit")
        after: tuple[float, str] | None = None
        if query.get("cursor"):
            after = _decode_cursor(query["cursor"])
        rows = sorted(
            (
                p
                for p in self.payments.values()
                if all(test(p.created_s, bound) for bound, test in bounds)
            ),
            key=lambda p: (p.created_s, p.id),
            reverse=True,
        )
        if after is not None:
            rows = [p for p in rows if (p.created_s, p.id) < after]
        page = rows[:limit]
        out: dict[str, Any] = {"type": "list", "items": [self.payment_json(p) for p in page]}
        if len(rows) > limit:
            last = page[-1]
            out["next_cursor"] = _encode_cursor(last.created_s, last.id)
        return out


def _amount(obj: object, parameter: str) -> Kopecks:
    try:
        amount = amount_to_kopecks(obj)
    except ValueError as exc:
        raise _reject(f"{parameter}: {exc}", parameter) from None
    if amount <= 0 or amount > MAX_AMOUNT_KOPECKS:
        raise _reject(f"{parameter} must be positive and under the cap", parameter)
    return amount


def _check_receipt(receipt: object, amount_kopecks: Kopecks) -> None:
    """YooKassa's receipt rules that matter here: a customer, items with every 54-FZ field,
    their total equal to the amount."""
    if not isinstance(receipt, Mapping):
        raise _reject("receipt must be an object", "receipt")
    customer = receipt.get("customer")
    if not isinstance(customer, Mapping) or not (customer.get("email") or customer.get("phone")):
        raise _reject("receipt.customer needs an email or phone", "receipt.customer")
    items = receipt.get("items")
    if not isinstance(items, list) or not items:
        raise _reject("receipt.items must be a non-empty list", "receipt.items")
    total_hundredths = 0
    for item in items:
        if not isinstance(item, Mapping):
            raise _reject("receipt.items: objects", "receipt.items")
        description = item.get("description")
        if not isinstance(description, str) or not 1 <= len(description) <= MAX_DESCRIPTION_CHARS:
            raise _reject(
                "receipt.items.description: 1 to 128 characters", "receipt.items.description"
            )
        vat = item.get("vat_code")
        if isinstance(vat, bool) or not isinstance(vat, int) or not 1 <= vat <= 12:
            raise _reject("receipt.items.vat_code: 1..12", "receipt.items.vat_code")
        for name in ("payment_subject", "payment_mode"):
            if not isinstance(item.get(name), str):
                raise _reject(f"receipt.items.{name} is required", f"receipt.items.{name}")
        try:
            quantity_hundredths = value_to_kopecks(item.get("quantity"))
            price = amount_to_kopecks(item.get("amount"))
        except ValueError as exc:
            raise _reject(f"receipt.items: {exc}", "receipt.items") from None
        total_hundredths += price * quantity_hundredths
    if total_hundredths != amount_kopecks * 100:
        raise _reject("the receipt's items do not add up to the amount", "receipt.items.amount")


def _encode_cursor(created_s: float, payment_id: str) -> str:
    raw = orjson.dumps([created_s, payment_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_s, payment_id = orjson.loads(raw)
        return float(created_s), str(payment_id)
    except (ValueError, TypeError):
        raise _reject("cursor is not one this API gave", "cursor") from None


# ---------------------------------------------------------------------------- the provider


class SandboxProvider:
    """PaymentProvider with no account: YooKassaState in memory, payments confirmed by
    "the payer" after `confirm_after_s` (None: only when `confirm` is called, e.g. by the
    local page at `confirm_url_base` + id), notifications to `notify`."""

    name = "sandbox"

    def __init__(
        self,
        *,
        confirm_url_base: str = "/pay/sandbox/",
        confirm_after_s: float | None = 3.0,
        notify: NotificationCallback | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        hold_ttl_s: float = HOLD_TTL_S,
        confirmation_ttl_s: float = CONFIRMATION_TTL_S,
        fee_bp: Mapping[str, int] | None = None,
        notify_attempts: int = 3,
        seed: int | None = None,
    ) -> None:
        self.state = YooKassaState(
            confirm_url_base=confirm_url_base,
            hold_ttl_s=hold_ttl_s,
            confirmation_ttl_s=confirmation_ttl_s,
            fee_bp=fee_bp,
            seed=seed,
        )
        self.confirm_after_s = confirm_after_s
        self.notify = notify
        self.notify_attempts = max(1, notify_attempts)
        self._clock = clock
        self._sleep = sleep
        self._tasks: set[asyncio.Task[None]] = set()
        self._scheduled: set[str] = set()
        self._queue: asyncio.Queue[dict[str, Any]] | None = None
        self._deliverer: asyncio.Task[None] | None = None
        self.delivered: list[dict[str, Any]] = []  # what `notify` accepted, in order

    def __repr__(self) -> str:
        return f"SandboxProvider(confirm_after_s={self.confirm_after_s}, payments={len(self.state.payments)})"

    # -- the port ---------------------------------------------------------------------

    async def create_payment(self, request: CreatePayment, idempotence_key: str) -> ProviderPayment:
        body = payment_body(request)
        answer = self._run(lambda now: self.state.create_payment(body, idempotence_key, now))
        payment = parse_payment(answer)
        if self.confirm_after_s is not None and payment.provider_payment_id not in self._scheduled:
            self._scheduled.add(payment.provider_payment_id)
            self._spawn(self._confirm_later(payment.provider_payment_id, self.confirm_after_s))
        return payment

    async def get_payment(self, provider_payment_id: str) -> ProviderPayment:
        return parse_payment(
            self._run(lambda now: self.state.get_payment(provider_payment_id, now))
        )

    async def capture_payment(
        self,
        provider_payment_id: str,
        amount_kopecks: Kopecks | None,
        receipt: Receipt | None,
        idempotence_key: str,
    ) -> ProviderPayment:
        body = capture_body(amount_kopecks, receipt)
        return parse_payment(
            self._run(
                lambda now: self.state.capture(provider_payment_id, body, idempotence_key, now)
            )
        )

    async def cancel_payment(
        self, provider_payment_id: str, idempotence_key: str
    ) -> ProviderPayment:
        return parse_payment(
            self._run(lambda now: self.state.cancel(provider_payment_id, idempotence_key, now))
        )

    async def create_refund(
        self,
        provider_payment_id: str,
        amount_kopecks: Kopecks,
        receipt: Receipt | None,
        description: str,
        idempotence_key: str,
    ) -> ProviderRefund:
        body = refund_body(provider_payment_id, amount_kopecks, receipt, description)
        return parse_refund(
            self._run(lambda now: self.state.create_refund(body, idempotence_key, now))
        )

    async def get_refund(self, provider_refund_id: str) -> ProviderRefund:
        return parse_refund(self._run(lambda now: self.state.get_refund(provider_refund_id, now)))

    async def list_payments(
        self,
        created_gte_s: float,
        created_lt_s: float,
        cursor: str | None = None,
        limit: int = 100,
    ) -> tuple[list[ProviderPayment], str | None]:
        query = {
            "created_at.gte": rfc3339(created_gte_s),
            "created_at.lt": rfc3339(created_lt_s),
            "limit": str(limit),
        }
        if cursor:
            query["cursor"] = cursor
        answer = self._run(lambda now: self.state.list_payments(query, now))
        cursor_out = answer.get("next_cursor")
        return [parse_payment(item) for item in answer["items"]], cursor_out

    async def close(self) -> None:
        tasks = list(self._tasks)
        if self._deliverer is not None:
            tasks.append(self._deliverer)
            self._deliverer = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    # -- the payer and time -------------------------------------------------------------

    async def confirm(self, provider_payment_id: str, *, succeed: bool = True) -> ProviderPayment:
        """The payer confirms (or refuses) the payment: what the confirmation page does."""
        return parse_payment(
            self._run(lambda now: self.state.confirm(provider_payment_id, now, succeed=succeed))
        )

    async def sweep(self) -> list[str]:
        """Cancel what expired by now (also done before every operation); their ids."""
        expired: list[str] = self._run(lambda now: self.state.expire(now))
        return expired

    async def wait_delivered(self) -> None:
        """Until every notification so far was handed to `notify` (tests, the demo)."""
        if self._queue is not None:
            await self._queue.join()

    # -- internals --------------------------------------------------------------------

    def _run(self, operation: Callable[[float], Any]) -> Any:
        try:
            return operation(self._clock())
        finally:
            self._flush()

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _confirm_later(self, provider_payment_id: str, delay_s: float) -> None:
        await self._sleep(delay_s)
        with contextlib.suppress(ProviderRejectedError):  # canceled or expired meanwhile
            self._run(lambda now: self.state.confirm(provider_payment_id, now))

    def _flush(self) -> None:
        bodies = self.state.drain_notifications()
        if not bodies or self.notify is None:
            return
        if self._queue is None:
            self._queue = asyncio.Queue()
        for body in bodies:
            self._queue.put_nowait(body)
        if self._deliverer is None or self._deliverer.done():
            self._deliverer = asyncio.ensure_future(self._deliver())

    async def _deliver(self) -> None:
        assert self._queue is not None
        while True:
            body = await self._queue.get()
            try:
                await self._deliver_one(body)
            finally:
                self._queue.task_done()

    async def _deliver_one(self, body: dict[str, Any]) -> None:
        assert self.notify is not None
        for attempt in range(1, self.notify_attempts + 1):
            try:
                await self.notify(body)
                self.delivered.append(body)
                return
            except Exception as exc:  # the receiver's failure: try again, as YooKassa does
                log.warning(
                    "sandbox notification %s for %s failed (attempt %d): %s",
                    body.get("event"), body.get("object", {}).get("id"), attempt, type(exc).__name__,
                )  # fmt: skip
                if attempt < self.notify_attempts:
                    await self._sleep(0.2 * 2 ** (attempt - 1))
