"""Payments as table rows and back, shared by the PostGIS and SQLite adapters.

Price lists, quotes, extras and receipts are JSON documents (written and read here, not
by a generic encoder, so a renamed field fails loudly); money stays an `int` number of
kopecks inside them. Times in the value tuples are epoch seconds: the PostGIS adapter
converts the columns named in TIME_COLUMNS to timestamptz and back.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from payments.model import (
    Account,
    CancellationPolicy,
    Commission,
    DoctorShare,
    Entry,
    Extra,
    Method,
    Order,
    OrderStatus,
    Payment,
    PaymentMode,
    PriceItemKind,
    PriceList,
    ProviderStatus,
    Purpose,
    Quote,
    QuoteLine,
    Receipt,
    ReceiptItem,
    Refund,
    RefundStatus,
    Service,
    Surcharges,
    TaxSettings,
    Transaction,
)

ORDER_COLUMNS = (
    "booking_id", "patient_id", "clinic_id", "doctor_id", "method", "status", "emergency",
    "quote", "extras", "final_kopecks", "customer_email", "customer_phone", "created_at",
    "updated_at", "version",
)  # fmt: skip
PAYMENT_COLUMNS = (
    "payment_id", "booking_id", "purpose", "method", "amount_kopecks", "status",
    "provider_payment_id", "captured_kopecks", "refunded_kopecks", "fee_kopecks",
    "confirmation_url", "confirmation_token", "qr_data", "expires_at", "cancellation_reason",
    "receipt", "created_at", "updated_at", "version",
)  # fmt: skip
REFUND_COLUMNS = (
    "refund_id", "payment_id", "booking_id", "amount_kopecks", "reason", "requested_by",
    "status", "provider_refund_id", "receipt", "created_at", "updated_at", "version",
)  # fmt: skip
TXN_COLUMNS = (
    "txn_id", "booking_id", "payment_id", "kind", "at", "clinic_id", "doctor_id", "service_code",
)  # fmt: skip
ENTRY_COLUMNS = ("txn_id", "n", "account", "owner", "amount_kopecks")
TIME_COLUMNS = frozenset({"created_at", "updated_at", "expires_at", "at"})
JSON_COLUMNS = frozenset({"quote", "extras", "receipt"})

DEFAULT_LIST_KEY = ""  # the price list's key for the platform's default list (clinic_id None)

T = TypeVar("T")
TimeFrom = Callable[[Any], float | None]


class UnbalancedTransactionError(ValueError):
    """A ledger transaction whose entries do not sum to zero: refused, nothing written."""


def check_balanced(transactions: Sequence[Transaction]) -> None:
    for t in transactions:
        if not t.balanced:
            total = sum(e.amount_kopecks for e in t.entries)
            raise UnbalancedTransactionError(
                f"ledger transaction {t.txn_id!r} does not balance (sum {total} kopecks)"
            )


def price_list_key(clinic_id: str | None) -> str:
    if clinic_id == DEFAULT_LIST_KEY:
        raise ValueError("a clinic id may not be empty")
    return DEFAULT_LIST_KEY if clinic_id is None else clinic_id


# ---------------------------------------------------------------------------- JSON documents


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _flat(cls: type[T], data: dict[str, Any]) -> T:
    """A dataclass of plain fields from its dict; missing keys take the field's default
    (a list written before a field was added still reads)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


def price_list_to_dict(p: PriceList) -> dict[str, Any]:
    """Everything but clinic_id and updated_s (columns of their own)."""
    return {
        "currency": p.currency,
        "services": [dataclasses.asdict(s) for s in p.services],
        "extras": [dataclasses.asdict(e) for e in p.extras],
        "surcharges": dataclasses.asdict(p.surcharges),
        "cancellation": dataclasses.asdict(p.cancellation),
        "tax": dataclasses.asdict(p.tax),
        "commission": dataclasses.asdict(p.commission),
        "extras_cap_percent": p.extras_cap_percent,
        "pay_at_visit_allowed": p.pay_at_visit_allowed,
        "methods": [str(m) for m in p.methods],
        "doctor_shares": [dataclasses.asdict(d) for d in p.doctor_shares],
    }


def price_list_from_dict(d: dict[str, Any], clinic_id: str | None, updated_s: float) -> PriceList:
    return PriceList(
        clinic_id=clinic_id,
        currency=str(d.get("currency", "RUB")),
        services=tuple(_flat(Service, s) for s in d.get("services", ())),
        extras=tuple(_flat(Extra, e) for e in d.get("extras", ())),
        surcharges=_flat(Surcharges, d.get("surcharges", {})),
        cancellation=_flat(CancellationPolicy, d.get("cancellation", {})),
        tax=_flat(TaxSettings, d.get("tax", {})),
        commission=_flat(Commission, d.get("commission", {})),
        extras_cap_percent=int(d.get("extras_cap_percent", 50)),
        pay_at_visit_allowed=bool(d.get("pay_at_visit_allowed", True)),
        methods=tuple(Method(m) for m in d.get("methods", ("card", "sbp", "at_visit"))),
        updated_s=updated_s,
        doctor_shares=tuple(_flat(DoctorShare, x) for x in d.get("doctor_shares", ())),
    )


def price_list_json(p: PriceList) -> str:
    return _dumps(price_list_to_dict(p))


def price_list_from(text: str, clinic_key: str, updated_s: float) -> PriceList:
    clinic_id = None if clinic_key == DEFAULT_LIST_KEY else clinic_key
    return price_list_from_dict(json.loads(text), clinic_id, updated_s)


def line_to_dict(line: QuoteLine) -> dict[str, Any]:
    return {
        "kind": str(line.kind),
        "code": line.code,
        "name_ru": line.name_ru,
        "name_en": line.name_en,
        "amount_kopecks": line.amount_kopecks,
        "reason": line.reason,
    }


def line_from_dict(d: dict[str, Any]) -> QuoteLine:
    return QuoteLine(
        kind=PriceItemKind(d["kind"]),
        code=str(d["code"]),
        name_ru=str(d["name_ru"]),
        name_en=str(d["name_en"]),
        amount_kopecks=int(d["amount_kopecks"]),
        reason=d.get("reason"),
    )


def quote_to_dict(q: Quote) -> dict[str, Any]:
    return {
        "lines": [line_to_dict(line) for line in q.lines],
        "total_kopecks": q.total_kopecks,
        "extras_cap_kopecks": q.extras_cap_kopecks,
    }


def quote_from_dict(d: dict[str, Any]) -> Quote:
    return Quote(
        lines=tuple(line_from_dict(x) for x in d["lines"]),
        total_kopecks=int(d["total_kopecks"]),
        extras_cap_kopecks=int(d["extras_cap_kopecks"]),
    )


def receipt_to_dict(r: Receipt) -> dict[str, Any]:
    return {
        "items": [
            {
                "description": i.description,
                "quantity": i.quantity,
                "amount_kopecks": i.amount_kopecks,
                "vat_code": i.vat_code,
                "payment_mode": str(i.payment_mode),
                "payment_subject": i.payment_subject,
            }
            for i in r.items
        ],
        "customer_email": r.customer_email,
        "customer_phone": r.customer_phone,
        "tax_system_code": r.tax_system_code,
    }


def receipt_from_dict(d: dict[str, Any]) -> Receipt:
    return Receipt(
        items=tuple(
            ReceiptItem(
                description=str(i["description"]),
                quantity=int(i["quantity"]),
                amount_kopecks=int(i["amount_kopecks"]),
                vat_code=int(i["vat_code"]),
                payment_mode=PaymentMode(i["payment_mode"]),
                payment_subject=str(i.get("payment_subject", "service")),
            )
            for i in d["items"]
        ),
        customer_email=d.get("customer_email"),
        customer_phone=d.get("customer_phone"),
        tax_system_code=d.get("tax_system_code"),
    )


def _receipt_json(r: Receipt | None) -> str | None:
    return None if r is None else _dumps(receipt_to_dict(r))


def _receipt_from(text: str | None) -> Receipt | None:
    return None if text is None else receipt_from_dict(json.loads(text))


# ---------------------------------------------------------------------------- rows


def order_values(o: Order) -> tuple[Any, ...]:
    """In ORDER_COLUMNS order; times as epoch seconds, JSON as text."""
    return (
        o.booking_id, o.patient_id, o.clinic_id, o.doctor_id, str(o.method), str(o.status),
        o.emergency, _dumps(quote_to_dict(o.quote)), _dumps([line_to_dict(x) for x in o.extras]),
        o.final_kopecks, o.customer_email, o.customer_phone, o.created_s, o.updated_s, o.version,
    )  # fmt: skip


def order_from(row: Any, time_from: TimeFrom) -> Order:
    return Order(
        booking_id=row["booking_id"],
        patient_id=row["patient_id"],
        clinic_id=row["clinic_id"],
        method=Method(row["method"]),
        quote=quote_from_dict(json.loads(row["quote"])),
        status=OrderStatus(row["status"]),
        emergency=bool(row["emergency"]),
        doctor_id=row["doctor_id"],
        extras=tuple(line_from_dict(x) for x in json.loads(row["extras"])),
        final_kopecks=None if row["final_kopecks"] is None else int(row["final_kopecks"]),
        customer_email=row["customer_email"],
        customer_phone=row["customer_phone"],
        created_s=_time(time_from, row["created_at"]),
        updated_s=_time(time_from, row["updated_at"]),
        version=int(row["version"]),
    )


def payment_values(p: Payment) -> tuple[Any, ...]:
    """In PAYMENT_COLUMNS order."""
    return (
        p.payment_id, p.booking_id, str(p.purpose), str(p.method), p.amount_kopecks,
        str(p.status), p.provider_payment_id, p.captured_kopecks, p.refunded_kopecks,
        p.fee_kopecks, p.confirmation_url, p.confirmation_token, p.qr_data, p.expires_s,
        p.cancellation_reason, _receipt_json(p.receipt), p.created_s, p.updated_s, p.version,
    )  # fmt: skip


def payment_from(row: Any, time_from: TimeFrom) -> Payment:
    return Payment(
        payment_id=row["payment_id"],
        booking_id=row["booking_id"],
        purpose=Purpose(row["purpose"]),
        method=Method(row["method"]),
        amount_kopecks=int(row["amount_kopecks"]),
        status=ProviderStatus(row["status"]),
        provider_payment_id=row["provider_payment_id"],
        captured_kopecks=int(row["captured_kopecks"]),
        refunded_kopecks=int(row["refunded_kopecks"]),
        fee_kopecks=int(row["fee_kopecks"]),
        confirmation_url=row["confirmation_url"],
        confirmation_token=row["confirmation_token"],
        qr_data=row["qr_data"],
        expires_s=time_from(row["expires_at"]),
        cancellation_reason=row["cancellation_reason"],
        receipt=_receipt_from(row["receipt"]),
        created_s=_time(time_from, row["created_at"]),
        updated_s=_time(time_from, row["updated_at"]),
        version=int(row["version"]),
    )


def refund_values(r: Refund) -> tuple[Any, ...]:
    """In REFUND_COLUMNS order."""
    return (
        r.refund_id, r.payment_id, r.booking_id, r.amount_kopecks, r.reason, r.requested_by,
        str(r.status), r.provider_refund_id, _receipt_json(r.receipt), r.created_s, r.updated_s,
        r.version,
    )  # fmt: skip


def refund_from(row: Any, time_from: TimeFrom) -> Refund:
    return Refund(
        refund_id=row["refund_id"],
        payment_id=row["payment_id"],
        booking_id=row["booking_id"],
        amount_kopecks=int(row["amount_kopecks"]),
        reason=row["reason"],
        requested_by=row["requested_by"],
        status=RefundStatus(row["status"]),
        provider_refund_id=row["provider_refund_id"],
        receipt=_receipt_from(row["receipt"]),
        created_s=_time(time_from, row["created_at"]),
        updated_s=_time(time_from, row["updated_at"]),
        version=int(row["version"]),
    )


def txn_values(t: Transaction) -> tuple[Any, ...]:
    """In TXN_COLUMNS order."""
    return (
        t.txn_id, t.booking_id, t.payment_id, t.kind, t.at_s, t.clinic_id, t.doctor_id,
        t.service_code,
    )  # fmt: skip


def entry_values(t: Transaction) -> list[tuple[Any, ...]]:
    """In ENTRY_COLUMNS order, numbered from 0."""
    return [
        (t.txn_id, n, str(e.account), e.owner, e.amount_kopecks) for n, e in enumerate(t.entries)
    ]


def transactions_from(rows: Sequence[Any], time_from: TimeFrom) -> list[Transaction]:
    """Rows of a transaction joined to its entries (entry columns `n`, `account`, `owner`,
    `amount_kopecks`; NULL for a transaction without entries), in order: consecutive rows
    with one txn_id are one transaction."""
    out: list[Transaction] = []
    current: Any = None
    entries: list[Entry] = []

    def close() -> None:
        r = current
        out.append(
            Transaction(
                txn_id=r["txn_id"], booking_id=r["booking_id"], payment_id=r["payment_id"],
                kind=r["kind"], entries=tuple(entries), at_s=_time(time_from, r["at"]),
                clinic_id=r["clinic_id"], doctor_id=r["doctor_id"],
                service_code=r["service_code"],
            )
        )  # fmt: skip

    for row in rows:
        if current is None or row["txn_id"] != current["txn_id"]:
            if current is not None:
                close()
            current, entries = row, []
        if row["n"] is not None:
            entries.append(Entry(Account(row["account"]), row["owner"], int(row["amount_kopecks"])))
    if current is not None:
        close()
    return out


def balances_from(rows: Sequence[Any]) -> dict[tuple[Account, str | None], int]:
    return {(Account(r["account"]), r["owner"]): int(r["total"]) for r in rows}


def _time(time_from: TimeFrom, value: Any) -> float:
    moment = time_from(value)
    assert moment is not None
    return moment
