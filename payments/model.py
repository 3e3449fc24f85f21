"""Payments as plain data: money in integer kopecks, the price list, a booking's order,
the provider's payments and refunds, 54-FZ receipts and ledger entries.

Nothing here does I/O or reads a clock: times (epoch seconds, `*_s`) come in as
arguments. Money is always an `int` number of kopecks (`*_kopecks`), never a float.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

Kopecks = int

MAX_AMOUNT_KOPECKS = 100_000_000_00  # 100 million roubles: anything above is a mistake


class PaymentError(ValueError):
    """A payment request that cannot be honoured (the edges answer 4xx)."""


class AmountError(PaymentError):
    """A negative, zero, over-cap or otherwise impossible amount."""


class Method(StrEnum):
    """How the patient pays, chosen at booking."""

    CARD = "card"  # two stages: hold at acceptance, capture at completion
    SBP = "sbp"  # one stage, after completion (YooKassa cannot hold SBP)
    AT_VISIT = "at_visit"  # cash or terminal at the door, where the clinic allows it


class ProviderStatus(StrEnum):
    """A provider payment's status, as YooKassa names them."""

    PENDING = "pending"  # created, the payer has not confirmed yet
    WAITING_FOR_CAPTURE = "waiting_for_capture"  # held (capture: false)
    SUCCEEDED = "succeeded"  # money taken (captured)
    CANCELED = "canceled"  # hold released, expired, or refused


TERMINAL_STATUSES = frozenset({ProviderStatus.SUCCEEDED, ProviderStatus.CANCELED})


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


class Purpose(StrEnum):
    """What a provider payment is for."""

    VISIT = "visit"  # the visit's price (a card hold, or an SBP payment after completion)
    CANCELLATION_FEE = "cancellation_fee"  # SBP or a hold that expired: charged separately


class PaymentMode(StrEnum):
    """54-FZ `payment_mode` of a receipt's item."""

    FULL_PREPAYMENT = "full_prepayment"  # paid before the service is rendered
    FULL_PAYMENT = "full_payment"  # paid when (or after) the service is rendered


# ---------------------------------------------------------------------------- prices


class PriceItemKind(StrEnum):
    BASE = "base"  # a call type (and specialty)'s base price
    EMERGENCY = "emergency"  # surcharge for an emergency (or urgent) call
    NIGHT = "night"  # surcharge for a visit requested at night in the clinic's time zone
    DISTANCE = "distance"  # surcharge for road distance beyond the free radius
    EXTRA = "extra"  # added by the doctor at completion, from the price list
    CANCELLATION_FEE = "cancellation_fee"


@dataclass(frozen=True, slots=True)
class Service:
    """One line of a clinic's price list: a call type, optionally for one specialty."""

    code: str  # stable id within the clinic, [a-z0-9_-]{1,40}
    call_type: str  # home_visit, consultation, urgent, ...
    specialty: str | None  # None: any specialty
    name_ru: str
    name_en: str
    price_kopecks: Kopecks


@dataclass(frozen=True, slots=True)
class Extra:
    """Something a doctor may add at completion (an injection, an ECG, a certificate)."""

    code: str
    name_ru: str
    name_en: str
    price_kopecks: Kopecks


@dataclass(frozen=True, slots=True)
class Surcharges:
    emergency_kopecks: Kopecks = 0  # added to an emergency call
    urgent_kopecks: Kopecks = 0  # added to an urgent call
    night_kopecks: Kopecks = 0  # added when the local hour is in [night_from_h, night_to_h)
    night_from_h: int = 22  # 0..23, may wrap past midnight (22 -> 7)
    night_to_h: int = 7
    free_distance_m: int = 10_000  # no distance surcharge up to this road distance
    per_km_kopecks: Kopecks = 0  # for every started km beyond free_distance_m


@dataclass(frozen=True, slots=True)
class CancellationPolicy:
    """What a cancelled booking costs, by how far it had gone. Percentages of the quote
    (0..100); fixed parts in kopecks; the fee never exceeds the quote."""

    before_assigned_percent: int = 0  # searching: free
    before_assigned_kopecks: Kopecks = 0
    after_assigned_percent: int = 0  # a doctor accepted, is on the way
    after_assigned_kopecks: Kopecks = 500_00
    after_arrived_percent: int = 100  # the doctor is at the door
    after_arrived_kopecks: Kopecks = 0


@dataclass(frozen=True, slots=True)
class TaxSettings:
    """What a 54-FZ receipt needs from the clinic."""

    vat_code: int = 1  # YooKassa's vat_code 1..12 (1: without VAT; medical services)
    tax_system_code: int | None = None  # 1..6, where the online cash register needs it


@dataclass(frozen=True, slots=True)
class Commission:
    """The platform's commission on a clinic's captured money, and the doctors' share of
    what remains (their contract with the clinic; one rate per clinic here)."""

    percent_bp: int = 1_500  # basis points of the captured amount (1,500 = 15 %)
    fixed_kopecks: Kopecks = 0  # per captured payment
    doctor_share_bp: int = 6_000  # basis points of the clinic's part that the doctor earns


@dataclass(frozen=True, slots=True)
class DoctorShare:
    """One doctor's share of the clinic's part, by their contract with the clinic (it
    overrides the clinic's default, Commission.doctor_share_bp)."""

    doctor_id: str
    share_bp: int  # basis points, 0..10,000


@dataclass(frozen=True, slots=True)
class PriceList:
    """A clinic's services and prices. `clinic_id` None: the platform's default list, for
    bookings no clinic has taken yet."""

    clinic_id: str | None
    currency: str = "RUB"
    services: tuple[Service, ...] = ()
    extras: tuple[Extra, ...] = ()
    surcharges: Surcharges = field(default_factory=Surcharges)
    cancellation: CancellationPolicy = field(default_factory=CancellationPolicy)
    tax: TaxSettings = field(default_factory=TaxSettings)
    commission: Commission = field(default_factory=Commission)
    extras_cap_percent: int = 50  # the extras a patient accepts: up to this % of the quote
    pay_at_visit_allowed: bool = True
    methods: tuple[Method, ...] = (Method.CARD, Method.SBP, Method.AT_VISIT)
    updated_s: float = 0.0
    doctor_shares: tuple[DoctorShare, ...] = ()  # per doctor, by contract

    def commission_for_doctor(self, doctor_id: str | None) -> Commission:
        """The commission with this doctor's own share, where their contract sets one."""
        for share in self.doctor_shares:
            if share.doctor_id == doctor_id:
                return Commission(
                    self.commission.percent_bp, self.commission.fixed_kopecks, share.share_bp
                )
        return self.commission


@dataclass(frozen=True, slots=True)
class QuoteLine:
    kind: PriceItemKind
    code: str  # the service's or extra's code; the kind for surcharges
    name_ru: str
    name_en: str
    amount_kopecks: Kopecks  # the line's total (quantity 1)
    reason: str | None = None  # extras: why the doctor added it


@dataclass(frozen=True, slots=True)
class Quote:
    lines: tuple[QuoteLine, ...]
    total_kopecks: Kopecks
    extras_cap_kopecks: Kopecks  # the most the doctor may add at completion

    @property
    def currency(self) -> str:
        return "RUB"


# ---------------------------------------------------------------------------- receipts


@dataclass(frozen=True, slots=True)
class ReceiptItem:
    description: str  # at most 128 characters (YooKassa)
    quantity: int  # whole units; services are 1
    amount_kopecks: Kopecks  # the price of ONE unit (YooKassa's item `amount`)
    vat_code: int
    payment_mode: PaymentMode
    payment_subject: str = "service"


@dataclass(frozen=True, slots=True)
class Receipt:
    items: tuple[ReceiptItem, ...]
    customer_email: str | None = None
    customer_phone: str | None = None  # E.164 digits without '+', as YooKassa wants
    tax_system_code: int | None = None

    @property
    def total_kopecks(self) -> Kopecks:
        return sum(item.amount_kopecks * item.quantity for item in self.items)


# ---------------------------------------------------------------------------- orders and payments


class OrderStatus(StrEnum):
    """Where a booking's money stands, as the patient sees it."""

    QUOTED = "quoted"  # priced, nothing asked of the payer yet
    AWAITING_PAYMENT = "awaiting_payment"  # the payer must confirm (card page, SBP link)
    HELD = "held"  # card: the quote is held
    PAID = "paid"  # captured (and maybe later partly refunded)
    PAY_AT_VISIT = "pay_at_visit"  # settled at the door, outside the provider
    CANCELLED = "cancelled"  # nothing charged
    REFUNDED = "refunded"  # everything captured was refunded
    FAILED = "failed"  # the payer did not pay; an emergency still went ahead


@dataclass(slots=True)
class Order:
    """A booking's money: its quote, fixed at creation, and how it is paid."""

    booking_id: str
    patient_id: str
    clinic_id: str | None  # whose price list quoted it
    method: Method
    quote: Quote
    status: OrderStatus = OrderStatus.QUOTED
    emergency: bool = False  # dispatched first, paid later
    doctor_id: str | None = None  # who did (or is doing) the visit, for earnings
    extras: tuple[QuoteLine, ...] = ()  # added by the doctor at completion
    final_kopecks: Kopecks | None = None  # quote + extras, or the cancellation fee
    customer_email: str | None = None
    customer_phone: str | None = None
    created_s: float = 0.0
    updated_s: float = 0.0
    version: int = 0  # optimistic concurrency: the store refuses a stale update


@dataclass(slots=True)
class Payment:
    """One payment at the provider (a booking may have several: a hold that expired and
    was made again, a cancellation fee, an emergency paid after the visit)."""

    payment_id: str  # ours: derived from the booking and the operation, stable on retry
    booking_id: str
    purpose: Purpose
    method: Method
    amount_kopecks: Kopecks  # asked for (held, or to be paid)
    status: ProviderStatus = ProviderStatus.PENDING
    provider_payment_id: str | None = None  # None until the provider answered
    captured_kopecks: Kopecks = 0
    refunded_kopecks: Kopecks = 0
    fee_kopecks: Kopecks = 0  # the provider's fee (amount - income_amount)
    confirmation_url: str | None = None  # card page or SBP link, for the payer
    confirmation_token: str | None = None  # embedded widget
    qr_data: str | None = None  # SBP QR payload (desktop)
    expires_s: float | None = None  # a hold's end, or the SBP link's end
    cancellation_reason: str | None = None  # the provider's, when canceled
    receipt: Receipt | None = None
    created_s: float = 0.0
    updated_s: float = 0.0
    version: int = 0


@dataclass(slots=True)
class Refund:
    refund_id: str  # ours, stable on retry
    payment_id: str
    booking_id: str
    amount_kopecks: Kopecks
    reason: str
    requested_by: str  # the admin's user id (or "system" for an automatic one)
    status: RefundStatus = RefundStatus.PENDING
    provider_refund_id: str | None = None
    receipt: Receipt | None = None
    created_s: float = 0.0
    updated_s: float = 0.0
    version: int = 0  # optimistic concurrency, as for orders and payments


# ---------------------------------------------------------------------------- the provider's view


@dataclass(frozen=True, slots=True)
class ProviderPayment:
    """A payment as the provider reports it (the truth we reconcile to)."""

    provider_payment_id: str
    status: ProviderStatus
    amount_kopecks: Kopecks  # after a partial capture: the captured amount
    income_kopecks: Kopecks | None  # amount minus the provider's fee, once known
    refunded_kopecks: Kopecks
    paid: bool
    method_type: str | None  # bank_card, sbp
    confirmation_url: str | None
    confirmation_token: str | None
    qr_data: str | None
    created_s: float
    captured_s: float | None
    expires_s: float | None  # a hold's end
    cancellation_party: str | None
    cancellation_reason: str | None
    metadata: dict[str, str]
    test: bool = False

    @property
    def captured_kopecks(self) -> Kopecks:
        return self.amount_kopecks if self.status is ProviderStatus.SUCCEEDED else 0


@dataclass(frozen=True, slots=True)
class ProviderRefund:
    provider_refund_id: str
    provider_payment_id: str
    status: RefundStatus
    amount_kopecks: Kopecks
    created_s: float


@dataclass(frozen=True, slots=True)
class CreatePayment:
    """What we ask the provider to create."""

    amount_kopecks: Kopecks
    capture: bool  # False: a two-stage hold (cards only)
    method: Method  # CARD -> bank_card, SBP -> sbp
    confirmation: str  # "redirect" or "embedded" (cards); "redirect" or "qr" (SBP)
    return_url: str | None  # where the payer comes back after the confirmation page
    description: str  # at most 128 characters; no medical details
    booking_id: str  # goes into metadata.booking_id
    payment_id: str  # ours; goes into metadata.payment_id
    receipt: Receipt | None


# ---------------------------------------------------------------------------- the ledger


class Account(StrEnum):
    """The ledger's accounts. Each entry also names its owner (a clinic or doctor id)
    where the account is per owner."""

    TRANSIT = "transit"  # money at the provider, owed to us (debit balance)
    CLINIC_REVENUE = "clinic_revenue"  # per clinic (credit balance)
    PLATFORM_COMMISSION = "platform_commission"  # (credit balance)
    DOCTOR_EARNINGS = "doctor_earnings"  # per doctor: what the clinic owes them (credit)
    REFUNDS = "refunds"  # per clinic: money given back (debit balance)
    PROVIDER_FEES = "provider_fees"  # the provider's fees (debit balance)


@dataclass(frozen=True, slots=True)
class Entry:
    """One side of a movement: positive debits, negative credits."""

    account: Account
    owner: str | None  # the clinic or doctor id, for per-owner accounts
    amount_kopecks: Kopecks


@dataclass(frozen=True, slots=True)
class Transaction:
    """A balanced movement (its entries sum to zero), append-only. `txn_id` derives from
    what caused it (a capture, a refund), so recording it twice is a no-op."""

    txn_id: str
    booking_id: str
    payment_id: str
    kind: str  # capture, refund, fee, ...
    entries: tuple[Entry, ...]
    at_s: float
    clinic_id: str | None = None
    doctor_id: str | None = None
    service_code: str | None = None  # the booking's base service, for the reports

    @property
    def balanced(self) -> bool:
        return sum(e.amount_kopecks for e in self.entries) == 0
