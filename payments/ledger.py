"""The ledger's postings (double entry: positive debits, negative credits; every
Transaction sums to zero), exactly as the payments design (issue 15) says:

Capture of X (txn_id "capture:{payment_id}"), clinic K, doctor D, commission
C = min(X, X * percent_bp // 10_000 + fixed_kopecks), doctor share
S = (X - C) * doctor_share_bp // 10_000 (0 without a doctor):
    TRANSIT +X, PLATFORM_COMMISSION -C, CLINIC_REVENUE[K] -(X - C),
    CLINIC_REVENUE[K] +S, DOCTOR_EARNINGS[D] -S
Provider fee F (txn_id "fee:{payment_id}"): PROVIDER_FEES +F, TRANSIT -F
Refund R of X (txn_id "refund:{refund_id}"): REFUNDS[K] +R, TRANSIT -R,
    PLATFORM_COMMISSION +c, CLINIC_REVENUE[K] -c, DOCTOR_EARNINGS[D] +s, CLINIC_REVENUE[K] -s

The refund's reversal c, s is proportional: for a single refund c = C * R // X and
s = S * R // X as designed. With several partial refunds each takes the difference of
the cumulative shares, c = C * (before + R) // X - C * before // X (before: what was
refunded earlier), so refunds that add up to X reverse exactly C and S (plain
C * R // X per refund would leave rounding kopecks behind); the sum is never above C.

Entries of 0 kopecks are left out (a booking without a doctor has no doctor lines).
K is the clinic id, or "platform" when no clinic took the booking.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from payments.model import (
    Account,
    AmountError,
    Commission,
    Entry,
    Kopecks,
    Order,
    Payment,
    PriceItemKind,
    Refund,
    Transaction,
)
from payments.money import bp_of, check_kopecks

PLATFORM_OWNER: Final = "platform"


def clinic_owner(clinic_id: str | None) -> str:
    """The owner of a clinic's accounts: its id, or "platform" for a booking no clinic took."""
    return clinic_id if clinic_id is not None else PLATFORM_OWNER


@dataclass(frozen=True, slots=True)
class Split:
    """How a captured amount divides: the platform's commission, the clinic's part
    (captured - commission) and, out of the clinic's part, the doctor's share."""

    captured_kopecks: Kopecks
    commission_kopecks: Kopecks
    clinic_kopecks: Kopecks  # captured - commission, the doctor's share included
    doctor_kopecks: Kopecks


def commission_for(
    captured_kopecks: Kopecks, commission: Commission, *, has_doctor: bool = True
) -> Split:
    """C = min(X, X * percent_bp // 10_000 + fixed), S = (X - C) * doctor_share_bp //
    10_000 (0 without a doctor)."""
    x = check_kopecks(captured_kopecks, "captured_kopecks", allow_zero=True)
    c = min(x, bp_of(x, commission.percent_bp) + commission.fixed_kopecks)
    s = bp_of(x - c, commission.doctor_share_bp) if has_doctor else 0
    return Split(x, c, x - c, s)


def service_code_of(order: Order) -> str | None:
    """The booking's base service (for the reports)."""
    for line in order.quote.lines:
        if line.kind is PriceItemKind.BASE:
            return line.code
    return None


def _entries(*entries: tuple[Account, str | None, int]) -> tuple[Entry, ...]:
    return tuple(Entry(a, o, k) for a, o, k in entries if k != 0)


def _txn(
    txn_id: str, kind: str, payment: Payment, order: Order, at_s: float, entries: tuple[Entry, ...]
) -> Transaction:
    txn = Transaction(
        txn_id=txn_id,
        booking_id=payment.booking_id,
        payment_id=payment.payment_id,
        kind=kind,
        entries=entries,
        at_s=at_s,
        clinic_id=order.clinic_id,
        doctor_id=order.doctor_id,
        service_code=service_code_of(order),
    )
    if not txn.balanced:  # pragma: no cover - the postings above always balance
        raise AssertionError(f"unbalanced transaction {txn_id}")
    return txn


def capture_txn_id(payment_id: str) -> str:
    return f"capture:{payment_id}"


def fee_txn_id(payment_id: str) -> str:
    return f"fee:{payment_id}"


def refund_txn_id(refund_id: str) -> str:
    return f"refund:{refund_id}"


def capture_transaction(
    payment: Payment, order: Order, commission: Commission, *, at_s: float
) -> Transaction:
    """The posting of `payment.captured_kopecks` (positive) for `order`."""
    x = check_kopecks(payment.captured_kopecks, "captured_kopecks")
    split = commission_for(x, commission, has_doctor=order.doctor_id is not None)
    k = clinic_owner(order.clinic_id)
    c, s = split.commission_kopecks, split.doctor_kopecks
    return _txn(
        capture_txn_id(payment.payment_id),
        "capture",
        payment,
        order,
        at_s,
        _entries(
            (Account.TRANSIT, None, x),
            (Account.PLATFORM_COMMISSION, None, -c),
            (Account.CLINIC_REVENUE, k, -(x - c)),
            (Account.CLINIC_REVENUE, k, s),
            (Account.DOCTOR_EARNINGS, order.doctor_id, -s),
        ),
    )


def fee_transaction(
    payment: Payment, order: Order, fee_kopecks: Kopecks, *, at_s: float
) -> Transaction:
    """The provider's fee (positive) on `payment`."""
    f = check_kopecks(fee_kopecks, "fee_kopecks")
    return _txn(
        fee_txn_id(payment.payment_id),
        "fee",
        payment,
        order,
        at_s,
        _entries((Account.PROVIDER_FEES, None, f), (Account.TRANSIT, None, -f)),
    )


def refund_transaction(
    refund: Refund,
    payment: Payment,
    order: Order,
    commission: Commission,
    *,
    refunded_before_kopecks: Kopecks,
    at_s: float,
) -> Transaction:
    """The posting of `refund.amount_kopecks` of `payment` (whose captured amount is
    X), `refunded_before_kopecks` having been refunded already. `commission` must be
    the one the capture was posted with. AmountError if the refunds would exceed X."""
    r = check_kopecks(refund.amount_kopecks, "refund amount_kopecks")
    x = check_kopecks(payment.captured_kopecks, "captured_kopecks")
    before = check_kopecks(refunded_before_kopecks, "refunded_before_kopecks", allow_zero=True)
    if before + r > x:
        raise AmountError(f"refunds of {before + r} kopecks would exceed the {x} captured")
    split = commission_for(x, commission, has_doctor=order.doctor_id is not None)
    big_c, big_s = split.commission_kopecks, split.doctor_kopecks
    c = big_c * (before + r) // x - big_c * before // x
    s = big_s * (before + r) // x - big_s * before // x
    k = clinic_owner(order.clinic_id)
    return _txn(
        refund_txn_id(refund.refund_id),
        "refund",
        payment,
        order,
        at_s,
        _entries(
            (Account.REFUNDS, k, r),
            (Account.TRANSIT, None, -r),
            (Account.PLATFORM_COMMISSION, None, c),
            (Account.CLINIC_REVENUE, k, -c),
            (Account.DOCTOR_EARNINGS, order.doctor_id, s),
            (Account.CLINIC_REVENUE, k, -s),
        ),
    )


def balances(transactions: Iterable[Transaction]) -> dict[tuple[Account, str | None], Kopecks]:
    """Each (account, owner)'s sum of entries (what PaymentStore.balances computes in
    the database), for tests and small reports."""
    out: dict[tuple[Account, str | None], Kopecks] = {}
    for txn in transactions:
        for e in txn.entries:
            key = (e.account, e.owner)
            out[key] = out.get(key, 0) + e.amount_kopecks
    return out


def transit_by_payment(transactions: Iterable[Transaction]) -> dict[str, Kopecks]:
    """Each payment's TRANSIT balance: captured - refunded - fee, as recorded."""
    out: dict[str, Kopecks] = {}
    for txn in transactions:
        for e in txn.entries:
            if e.account is Account.TRANSIT:
                out[txn.payment_id] = out.get(txn.payment_id, 0) + e.amount_kopecks
    return out
