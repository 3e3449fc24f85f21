"""54-FZ receipts: what a payment, a capture or a refund carries to the online cash
register through YooKassa.

`payment_mode`. Every receipt we build says `full_payment` ("полный расчёт") by default:
- a card is held at acceptance but captured only at completion, after the visit, and
  YooKassa registers a two-stage payment's receipt when it is captured, so the money is
  taken when the service has been rendered: that is full payment, not prepayment
  (YooKassa's guidance for two-stage payments captured after the service);
- SBP is paid after completion (our choice): full payment;
- a cancellation fee is the whole price of what it pays for, charged at once: full payment;
- a refund receipt repeats its payment's items and mode.
`full_prepayment` stays available (`payment_mode=`) for a flow that takes money before
the visit, which we do not have.

The receipt sent when a hold is created must sum to the held amount (quote + extras
cap), so `hold_receipt` adds a line for the extras the patient accepted at most; the
capture then sends the real receipt (`receipt_for_lines` over the quote and the extras
actually added, or `fee_receipt`), which YooKassa accepts with a partial capture.

Items carry no medical details: a service's name from the price list, never the
doctor's reason for an extra or anything from the booking's notes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from payments.model import (
    PaymentError,
    PaymentMode,
    Quote,
    QuoteLine,
    Receipt,
    ReceiptItem,
    TaxSettings,
)
from payments.money import amount_json, check_kopecks, split_proportionally

DESCRIPTION_MAX: Final = 128
EXTRAS_CAP_DESCRIPTION: Final = "Дополнительные услуги врача по прейскуранту (не более)"
FEE_DESCRIPTION: Final = "Отмена вызова врача (по условиям отмены)"
_EMAIL_RE: Final = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")


class ReceiptError(PaymentError):
    """A receipt cannot be made: no way to reach the customer, nothing to sell, or an
    amount that does not fit."""


def normalize_phone(phone: str) -> str:
    """The digits of a phone number, E.164 without '+', as YooKassa wants it:
    "+7 (912) 345-67-89" -> "79123456789". A Russian number written with a leading 8
    (11 digits) becomes 7...; ten digits starting with 9 (a Russian mobile written
    without the country code) get a 7. ReceiptError if what remains is not 11..15
    digits."""
    if not isinstance(phone, str) or len(phone) > 40:
        raise ReceiptError("customer phone: not a phone number")
    if any(not (c.isdigit() or c in "+-() .") for c in phone) or phone.count("+") > 1:
        raise ReceiptError("customer phone: digits, spaces, '+', '-', '(' and ')' only")
    digits = "".join(c for c in phone if "0" <= c <= "9")
    if len(digits) != sum(c.isdigit() for c in phone):  # other scripts' digits
        raise ReceiptError("customer phone: digits 0-9 only")
    if len(digits) == 11 and digits.startswith("8") and not phone.lstrip().startswith("+"):
        digits = "7" + digits[1:]
    elif len(digits) == 10 and digits.startswith("9"):
        digits = "7" + digits
    if not 11 <= len(digits) <= 15 or digits.startswith("0"):
        raise ReceiptError("customer phone: a full number with the country code")
    return digits


def normalize_email(email: str) -> str:
    """A plausible e-mail address, stripped (the provider checks the rest)."""
    if not isinstance(email, str):
        raise ReceiptError("customer e-mail: not an e-mail address")
    text = email.strip()
    if len(text) > 254 or _EMAIL_RE.fullmatch(text) is None:
        raise ReceiptError("customer e-mail: not an e-mail address")
    return text


def description(text: str) -> str:
    """A receipt item's description: one line, at most 128 characters (cut with '…')."""
    one_line = " ".join(str(text).split())
    if not one_line:
        raise ReceiptError("a receipt item needs a description")
    if len(one_line) <= DESCRIPTION_MAX:
        return one_line
    return one_line[: DESCRIPTION_MAX - 1].rstrip() + "…"


def _customer(email: str | None, phone: str | None) -> tuple[str | None, str | None]:
    if email is None and phone is None:
        raise ReceiptError("a receipt needs the customer's e-mail or phone")
    return (
        normalize_email(email) if email is not None else None,
        normalize_phone(phone) if phone is not None else None,
    )


def _receipt(
    items: Sequence[tuple[str, int]],
    tax: TaxSettings,
    *,
    customer_email: str | None,
    customer_phone: str | None,
    payment_mode: PaymentMode,
) -> Receipt:
    email, phone = _customer(customer_email, customer_phone)
    built = tuple(
        ReceiptItem(
            description=description(text),
            quantity=1,
            amount_kopecks=check_kopecks(amount, "receipt item amount_kopecks"),
            vat_code=tax.vat_code,
            payment_mode=PaymentMode(payment_mode),
        )
        for text, amount in items
        if amount != 0
    )
    if not built:
        raise ReceiptError("a receipt needs at least one item of a positive amount")
    receipt = Receipt(
        items=built,
        customer_email=email,
        customer_phone=phone,
        tax_system_code=tax.tax_system_code,
    )
    check_kopecks(receipt.total_kopecks, "receipt total")
    return receipt


def receipt_for_lines(
    lines: Sequence[QuoteLine],
    tax: TaxSettings,
    *,
    customer_email: str | None = None,
    customer_phone: str | None = None,
    payment_mode: PaymentMode = PaymentMode.FULL_PAYMENT,
) -> Receipt:
    """A receipt with one item (quantity 1) per line of positive amount: a quote's lines
    and the extras added at completion. Its total is the lines' sum."""
    return _receipt(
        [(line.name_ru, line.amount_kopecks) for line in lines],
        tax,
        customer_email=customer_email,
        customer_phone=customer_phone,
        payment_mode=payment_mode,
    )


def hold_receipt(
    order_quote: Quote,
    tax: TaxSettings,
    *,
    customer_email: str | None = None,
    customer_phone: str | None = None,
    payment_mode: PaymentMode = PaymentMode.FULL_PAYMENT,
) -> Receipt:
    """The receipt sent with a card hold of quote + extras cap: the quote's lines and
    one line for the extras cap. It is replaced by the real one at capture."""
    items = [(line.name_ru, line.amount_kopecks) for line in order_quote.lines]
    items.append((EXTRAS_CAP_DESCRIPTION, order_quote.extras_cap_kopecks))
    return _receipt(
        items,
        tax,
        customer_email=customer_email,
        customer_phone=customer_phone,
        payment_mode=payment_mode,
    )


def fee_receipt(
    amount_kopecks: int,
    tax: TaxSettings,
    *,
    description_ru: str = FEE_DESCRIPTION,
    customer_email: str | None = None,
    customer_phone: str | None = None,
    payment_mode: PaymentMode = PaymentMode.FULL_PAYMENT,
) -> Receipt:
    """A one-item receipt for a single amount (a cancellation fee by default)."""
    check_kopecks(amount_kopecks, "amount_kopecks")
    return _receipt(
        [(description_ru, amount_kopecks)],
        tax,
        customer_email=customer_email,
        customer_phone=customer_phone,
        payment_mode=payment_mode,
    )


def refund_receipt(paid: Receipt, refund_kopecks: int) -> Receipt:
    """The receipt of a refund of `refund_kopecks` of a payment whose receipt was `paid`
    (the one registered at capture): the same items, customer and modes, their amounts
    split in proportion so that they sum to the refund exactly (the rounding remainder
    goes to the last item, never above what it sold for); items refunded nothing are
    left out. ReceiptError if the refund is above the receipt's total."""
    check_kopecks(refund_kopecks, "refund_kopecks")
    if refund_kopecks > paid.total_kopecks:
        raise ReceiptError("a refund cannot be above what its receipt sold")
    parts = split_proportionally(
        refund_kopecks, [item.amount_kopecks * item.quantity for item in paid.items]
    )
    items = tuple(
        ReceiptItem(
            description=item.description,
            quantity=1,
            amount_kopecks=part,
            vat_code=item.vat_code,
            payment_mode=item.payment_mode,
            payment_subject=item.payment_subject,
        )
        for item, part in zip(paid.items, parts, strict=True)
        if part > 0
    )
    return Receipt(
        items=items,
        customer_email=paid.customer_email,
        customer_phone=paid.customer_phone,
        tax_system_code=paid.tax_system_code,
    )


def receipt_to_yookassa(receipt: Receipt) -> dict[str, Any]:
    """YooKassa's `receipt` object: customer, items (amounts as exact strings of
    roubles), and tax_system_code when the clinic's register needs it."""
    if not receipt.items:
        raise ReceiptError("a receipt needs at least one item")
    customer: dict[str, str] = {}
    if receipt.customer_email is not None:
        customer["email"] = receipt.customer_email
    if receipt.customer_phone is not None:
        customer["phone"] = receipt.customer_phone
    if not customer:
        raise ReceiptError("a receipt needs the customer's e-mail or phone")
    out: dict[str, Any] = {
        "customer": customer,
        "items": [
            {
                "description": description(item.description),
                "quantity": f"{item.quantity}.00",
                "amount": amount_json(check_kopecks(item.amount_kopecks, "item amount_kopecks")),
                "vat_code": item.vat_code,
                "payment_mode": str(item.payment_mode),
                "payment_subject": item.payment_subject,
            }
            for item in receipt.items
        ],
    }
    if receipt.tax_system_code is not None:
        out["tax_system_code"] = receipt.tax_system_code
    return out
