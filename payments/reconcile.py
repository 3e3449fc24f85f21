"""Reconciling our payments and refunds with the provider's truth.

A notification is only a hint: the service fetches the object from the provider and
hands it to `observe_payment` / `observe_refund`, which move our copy forward and say
which ledger transactions the move produces. The rules:

- Statuses only move forward: pending < waiting_for_capture < succeeded | canceled. An
  older status seen later (a reordered or duplicated notification, a stale read)
  changes nothing and is not an anomaly.
- Terminal states never flip: our succeeded seen as canceled (or the reverse) is an
  anomaly for a person to look at; nothing changes.
- The capture transaction is produced once, on the move into succeeded; the fee
  transaction once, when the provider first reports a non-zero fee; a refund's
  transaction once, on its move into succeeded. (Their txn_ids are derived from the
  payment or refund too, so the store would skip a repeat anyway.)
- What the provider reports about money is the truth the ledger follows: a capture
  above the amount we asked is recorded as captured (the money was taken) and reported
  as an anomaly. A refund that would take the refunds above what we know was captured
  is refused (an anomaly; nothing changes): observe the payment first, then the refund
  again.

Inputs are never mutated: the results carry updated copies (the `version` unchanged:
the store bumps it when it records them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from payments.ledger import capture_transaction, fee_transaction, refund_transaction
from payments.model import (
    MAX_AMOUNT_KOPECKS,
    TERMINAL_STATUSES,
    Commission,
    Order,
    OrderStatus,
    Payment,
    PaymentError,
    ProviderPayment,
    ProviderRefund,
    ProviderStatus,
    Refund,
    RefundStatus,
    Transaction,
)

_PAYMENT_RANK = {
    ProviderStatus.PENDING: 0,
    ProviderStatus.WAITING_FOR_CAPTURE: 1,
    ProviderStatus.SUCCEEDED: 2,
    ProviderStatus.CANCELED: 2,
}
_REFUND_RANK = {RefundStatus.PENDING: 0, RefundStatus.SUCCEEDED: 1, RefundStatus.CANCELED: 1}


class AnomalyCode(StrEnum):
    WRONG_OBJECT = "wrong_object"  # the provider's object is not this payment's / refund's
    TERMINAL_CONFLICT = "terminal_conflict"  # succeeded vs canceled
    AMOUNT_INVALID = "amount_invalid"  # zero, negative or absurd
    AMOUNT_CHANGED = "amount_changed"  # a pending/held amount other than we asked
    OVER_CAPTURE = "over_capture"  # captured more than we asked (recorded anyway)
    CAPTURE_CHANGED = "capture_changed"  # a succeeded payment's amount changed later
    FEE_INVALID = "fee_invalid"  # income above the amount, or negative
    FEE_CHANGED = "fee_changed"  # a second, different fee
    REFUND_NOT_CAPTURED = "refund_not_captured"  # a refund of a payment not (yet) succeeded here
    REFUND_OVER_CAPTURE = "refund_over_capture"  # refunds would exceed the capture (refused)
    REFUND_AMOUNT_CHANGED = "refund_amount_changed"  # refunded other than we asked


@dataclass(frozen=True, slots=True)
class Anomaly:
    """Something the provider reported that our rules do not accept silently. The
    message names ids and amounts only (no personal or medical data)."""

    code: AnomalyCode
    payment_id: str
    booking_id: str
    message: str
    refund_id: str | None = None


@dataclass(frozen=True, slots=True)
class Observed:
    payment: Payment  # our payment moved forward (a copy; the input is not changed)
    transactions: tuple[Transaction, ...]  # to record with it, in this order
    anomalies: tuple[Anomaly, ...]
    changed: bool  # whether `payment` differs from the input


@dataclass(frozen=True, slots=True)
class ObservedRefund:
    refund: Refund
    payment: Payment  # refunded_kopecks moved forward when the refund succeeded
    transactions: tuple[Transaction, ...]
    anomalies: tuple[Anomaly, ...]
    changed: bool


def observe_payment(
    payment: Payment,
    seen: ProviderPayment,
    *,
    order: Order,
    commission: Commission,
    now_s: float,
) -> Observed:
    """Move `payment` towards `seen` (the provider's object, freshly fetched) under the
    rules above. `commission` is the clinic's, in force now (it is what the capture is
    posted with; keep it to post the refunds with)."""
    if order.booking_id != payment.booking_id:
        raise PaymentError("the order is not this payment's booking")
    p = replace(payment)
    anomalies: list[Anomaly] = []
    txns: list[Transaction] = []

    def anomaly(code: AnomalyCode, message: str) -> None:
        anomalies.append(Anomaly(code, payment.payment_id, payment.booking_id, message))

    def result() -> Observed:
        changed = p != payment
        if changed:
            p.updated_s = now_s
        return Observed(p, tuple(txns), tuple(anomalies), changed)

    meta_id = seen.metadata.get("payment_id")
    if (
        payment.provider_payment_id is not None
        and seen.provider_payment_id != payment.provider_payment_id
    ) or (meta_id is not None and meta_id != payment.payment_id):
        anomaly(
            AnomalyCode.WRONG_OBJECT,
            f"provider payment {seen.provider_payment_id[:64]} is not {payment.payment_id}",
        )
        return result()
    if not 0 < seen.amount_kopecks <= MAX_AMOUNT_KOPECKS:
        anomaly(AnomalyCode.AMOUNT_INVALID, f"provider amount {seen.amount_kopecks}")
        return result()
    if p.provider_payment_id is None:
        p.provider_payment_id = seen.provider_payment_id

    ours, theirs = p.status, seen.status
    if _PAYMENT_RANK[theirs] < _PAYMENT_RANK[ours]:
        return result()  # an older state seen late: nothing to learn
    if ours in TERMINAL_STATUSES and theirs in TERMINAL_STATUSES and ours != theirs:
        anomaly(AnomalyCode.TERMINAL_CONFLICT, f"ours {ours.value}, provider's {theirs.value}")
        return result()

    if theirs in (ProviderStatus.PENDING, ProviderStatus.WAITING_FOR_CAPTURE):
        if seen.amount_kopecks != p.amount_kopecks:
            anomaly(
                AnomalyCode.AMOUNT_CHANGED,
                f"asked {p.amount_kopecks}, provider has {seen.amount_kopecks} ({theirs.value})",
            )
        p.status = theirs
        p.confirmation_url = seen.confirmation_url or p.confirmation_url
        p.confirmation_token = seen.confirmation_token or p.confirmation_token
        p.qr_data = seen.qr_data or p.qr_data
        if seen.expires_s is not None:
            p.expires_s = seen.expires_s
    elif theirs is ProviderStatus.CANCELED:
        p.status = theirs
        p.cancellation_reason = seen.cancellation_reason
    else:  # succeeded
        if ours is not ProviderStatus.SUCCEEDED:
            if seen.amount_kopecks > p.amount_kopecks:
                anomaly(
                    AnomalyCode.OVER_CAPTURE,
                    f"asked {p.amount_kopecks}, provider captured {seen.amount_kopecks}",
                )
            p.status = theirs
            p.captured_kopecks = seen.amount_kopecks
            p.expires_s = None
            at_s = seen.captured_s if seen.captured_s is not None else now_s
            txns.append(capture_transaction(p, order, commission, at_s=at_s))
        elif seen.amount_kopecks != p.captured_kopecks:
            anomaly(
                AnomalyCode.CAPTURE_CHANGED,
                f"captured {p.captured_kopecks}, provider now says {seen.amount_kopecks}",
            )
            return result()
        if seen.income_kopecks is not None:
            fee = seen.amount_kopecks - seen.income_kopecks
            if not 0 <= fee <= seen.amount_kopecks:
                anomaly(AnomalyCode.FEE_INVALID, f"provider income {seen.income_kopecks}")
            elif p.fee_kopecks == 0 and fee > 0:
                p.fee_kopecks = fee
                txns.append(fee_transaction(p, order, fee, at_s=now_s))
            elif fee != p.fee_kopecks and p.fee_kopecks != 0:
                anomaly(AnomalyCode.FEE_CHANGED, f"fee {p.fee_kopecks}, provider now says {fee}")
    return result()


def observe_refund(
    refund: Refund,
    seen: ProviderRefund,
    payment: Payment,
    *,
    order: Order,
    commission: Commission,
    now_s: float,
) -> ObservedRefund:
    """Move `refund` towards `seen` (the provider's refund, freshly fetched). On its move
    into succeeded: the refund transaction (posted with `commission`, which must be the
    one the capture was posted with) and the payment's refunded_kopecks grow by the
    amount the provider refunded. Refused (an anomaly, nothing changes) while our
    payment is not succeeded, or when the refunds would exceed what it captured."""
    if refund.payment_id != payment.payment_id or order.booking_id != payment.booking_id:
        raise PaymentError("the refund, the payment and the order do not belong together")
    r = replace(refund)
    p = replace(payment)
    anomalies: list[Anomaly] = []
    txns: list[Transaction] = []

    def anomaly(code: AnomalyCode, message: str) -> None:
        anomalies.append(
            Anomaly(code, payment.payment_id, payment.booking_id, message, refund.refund_id)
        )

    def result() -> ObservedRefund:
        changed = r != refund or p != payment
        if r != refund:
            r.updated_s = now_s
        if p != payment:
            p.updated_s = now_s
        return ObservedRefund(r, p, tuple(txns), tuple(anomalies), changed)

    if seen.provider_payment_id != payment.provider_payment_id or (
        refund.provider_refund_id is not None
        and refund.provider_refund_id != seen.provider_refund_id
    ):
        anomaly(
            AnomalyCode.WRONG_OBJECT,
            f"provider refund {seen.provider_refund_id[:64]} is not {refund.refund_id}",
        )
        return result()
    if not 0 < seen.amount_kopecks <= MAX_AMOUNT_KOPECKS:
        anomaly(AnomalyCode.AMOUNT_INVALID, f"provider refund amount {seen.amount_kopecks}")
        return result()
    if r.provider_refund_id is None:
        r.provider_refund_id = seen.provider_refund_id
    ours, theirs = r.status, seen.status
    if _REFUND_RANK[theirs] < _REFUND_RANK[ours] or ours == theirs:
        return result()
    if ours is not RefundStatus.PENDING:
        anomaly(AnomalyCode.TERMINAL_CONFLICT, f"ours {ours.value}, provider's {theirs.value}")
        return result()
    if theirs is RefundStatus.CANCELED:
        r.status = theirs
        return result()
    # succeeded
    amount = seen.amount_kopecks
    if p.status is not ProviderStatus.SUCCEEDED:
        anomaly(AnomalyCode.REFUND_NOT_CAPTURED, f"payment is {p.status.value} here")
        return result()
    if p.refunded_kopecks + amount > p.captured_kopecks:
        anomaly(
            AnomalyCode.REFUND_OVER_CAPTURE,
            f"refunded {p.refunded_kopecks} + {amount} > captured {p.captured_kopecks}",
        )
        return result()
    if amount != r.amount_kopecks:
        anomaly(
            AnomalyCode.REFUND_AMOUNT_CHANGED,
            f"asked {r.amount_kopecks}, provider refunded {amount}",
        )
        r.amount_kopecks = amount
    txns.append(
        refund_transaction(
            r, p, order, commission, refunded_before_kopecks=p.refunded_kopecks, at_s=now_s
        )
    )
    r.status = RefundStatus.SUCCEEDED
    p.refunded_kopecks += amount
    return result()


def order_status(
    order: Order, payments: Sequence[Payment], refunds: Iterable[Refund]
) -> OrderStatus:
    """Where a booking's money stands, from its payments (every purpose) and refunds:
    anything captured: PAID, or REFUNDED once the refunds reach the captures; else a
    hold: HELD; else a payment the payer must confirm: AWAITING_PAYMENT; else (every
    payment canceled) CANCELLED if the order was cancelled, FAILED otherwise (the payer
    did not pay; an emergency went ahead anyway). Without payments: PAY_AT_VISIT,
    CANCELLED or FAILED as the order says, else QUOTED. A cancelled booking whose
    cancellation fee was captured is PAID (the fee was paid)."""
    captured = sum(p.captured_kopecks for p in payments if p.status is ProviderStatus.SUCCEEDED)
    ours = {p.payment_id for p in payments}
    refunded = sum(
        r.amount_kopecks
        for r in refunds
        if r.status is RefundStatus.SUCCEEDED and r.payment_id in ours
    )
    if captured > 0:
        return OrderStatus.REFUNDED if refunded >= captured else OrderStatus.PAID
    statuses = {p.status for p in payments}
    if ProviderStatus.WAITING_FOR_CAPTURE in statuses:
        return OrderStatus.HELD
    if ProviderStatus.PENDING in statuses:
        return OrderStatus.AWAITING_PAYMENT
    if payments:
        return (
            OrderStatus.CANCELLED if order.status is OrderStatus.CANCELLED else OrderStatus.FAILED
        )
    if order.status in (OrderStatus.PAY_AT_VISIT, OrderStatus.CANCELLED, OrderStatus.FAILED):
        return order.status
    return OrderStatus.QUOTED


# ---------------------------------------------------------------------------- daily reconciliation


class MismatchKind(StrEnum):
    MISSING_AT_PROVIDER = "missing_at_provider"  # ours, the provider does not know it
    MISSING_HERE = "missing_here"  # the provider's, we do not know it
    STATUS = "status"
    AMOUNT = "amount"  # asked (not captured yet) or captured
    REFUNDED = "refunded"
    FEE = "fee"


@dataclass(frozen=True, slots=True)
class Mismatch:
    kind: MismatchKind
    payment_id: str | None  # ours (None: missing here)
    provider_payment_id: str | None
    ours: str  # our value, as text ("" when missing)
    theirs: str  # the provider's value, as text


def compare_with_provider(
    ours: Sequence[Payment],
    theirs: Sequence[ProviderPayment],
    *,
    since_s: float | None = None,
    until_s: float | None = None,
) -> list[Mismatch]:
    """Every difference between our payments and the provider's list, for the daily
    reconciliation: missing on either side, a different status, a different amount
    (asked before a capture, captured after), refunded or fee. Matched by the
    provider's id, or by `metadata.payment_id` for ours without one.

    Creation times differ slightly between the two sides, so read both lists with a
    margin around the day and give the day as [since_s, until_s): a payment missing on
    one side is then reported only if it was created inside the day. Ours never sent
    (no provider id, canceled) are not expected at the provider."""

    def in_window(created_s: float) -> bool:
        return (since_s is None or created_s >= since_s) and (
            until_s is None or created_s < until_s
        )

    by_provider_id = {t.provider_payment_id: t for t in theirs}
    by_our_id = {t.metadata["payment_id"]: t for t in theirs if "payment_id" in t.metadata}
    matched: set[str] = set()
    out: list[Mismatch] = []
    for p in sorted(ours, key=lambda x: x.payment_id):
        t = (
            by_provider_id.get(p.provider_payment_id)
            if p.provider_payment_id is not None
            else by_our_id.get(p.payment_id)
        )
        if t is None:
            never_sent = p.provider_payment_id is None and p.status is ProviderStatus.CANCELED
            if not never_sent and in_window(p.created_s):
                out.append(
                    Mismatch(
                        MismatchKind.MISSING_AT_PROVIDER,
                        p.payment_id,
                        p.provider_payment_id,
                        p.status.value,
                        "",
                    )
                )
            continue
        matched.add(t.provider_payment_id)

        out.extend(_differences(p, t))
    out.extend(
        Mismatch(
            MismatchKind.MISSING_HERE,
            t.metadata.get("payment_id"),
            t.provider_payment_id,
            "",
            t.status.value,
        )
        for t in sorted(theirs, key=lambda x: x.provider_payment_id)
        if t.provider_payment_id not in matched and in_window(t.created_s)
    )
    return out


def _differences(p: Payment, t: ProviderPayment) -> list[Mismatch]:
    out: list[Mismatch] = []

    def differs(kind: MismatchKind, a: object, b: object) -> None:
        if a != b:
            out.append(Mismatch(kind, p.payment_id, t.provider_payment_id, str(a), str(b)))

    if p.status != t.status:
        differs(MismatchKind.STATUS, p.status.value, t.status.value)
        return out  # the amounts of objects in different states do not compare
    if t.status is ProviderStatus.SUCCEEDED:
        differs(MismatchKind.AMOUNT, p.captured_kopecks, t.amount_kopecks)
        differs(MismatchKind.REFUNDED, p.refunded_kopecks, t.refunded_kopecks)
        if t.income_kopecks is not None:
            differs(MismatchKind.FEE, p.fee_kopecks, t.amount_kopecks - t.income_kopecks)
    elif t.status is not ProviderStatus.CANCELED:
        differs(MismatchKind.AMOUNT, p.amount_kopecks, t.amount_kopecks)
    return out
