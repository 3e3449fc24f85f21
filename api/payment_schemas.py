"""Request and response bodies of the payments routes. Money is always an integer number
of kopecks (`*_kopecks`): a JSON float, a string or a boolean is refused."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, StrictBool, StringConstraints

from api.schemas import NO_NUL, Input, Instant, Output, Reason, _json_number

# A JSON number that is a whole number (3500 or 3500.0, as JSON Schema's "integer" says);
# 3500.5, "3500" and true are refused: money never has a fraction of a kopeck.
_WHOLE = BeforeValidator(_json_number)  # after the Field: its bounds reach the schema
Kopecks = Annotated[int, Field(ge=0, le=10_000_000_000), _WHOLE]
PositiveKopecks = Annotated[int, Field(ge=1, le=10_000_000_000), _WHOLE]
Percent = Annotated[int, Field(ge=0, le=100), _WHOLE]
BasisPoints = Annotated[int, Field(ge=0, le=10_000), _WHOLE]
Hour = Annotated[int, Field(ge=0, le=23), _WHOLE]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,40}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{0,63}$")]
ItemName = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_NUL)]
MethodName = Literal["card", "sbp", "at_visit"]


def _all_methods() -> list[MethodName]:
    return ["card", "sbp", "at_visit"]


class ServiceIn(Input):
    code: Code
    call_type: Slug
    specialty: Slug | None = None
    name_ru: ItemName
    name_en: ItemName
    price_kopecks: PositiveKopecks


class ExtraItem(Input):
    code: Code
    name_ru: ItemName
    name_en: ItemName
    price_kopecks: PositiveKopecks


class SurchargesIn(Input):
    emergency_kopecks: Kopecks = 0
    urgent_kopecks: Kopecks = 0
    night_kopecks: Kopecks = 0
    night_from_h: Hour = 22
    night_to_h: Hour = 7
    free_distance_m: Annotated[int, Field(ge=0, le=1_000_000), _WHOLE] = 10_000
    per_km_kopecks: Kopecks = 0


class CancellationIn(Input):
    before_assigned_percent: Percent = 0
    before_assigned_kopecks: Kopecks = 0
    after_assigned_percent: Percent = 0
    after_assigned_kopecks: Kopecks = 500_00
    after_arrived_percent: Percent = 100
    after_arrived_kopecks: Kopecks = 0


class TaxIn(Input):
    vat_code: Annotated[int, Field(ge=1, le=12), _WHOLE] = 1
    tax_system_code: Annotated[int, Field(ge=1, le=6), _WHOLE] | None = None


class CommissionIn(Input):
    percent_bp: BasisPoints = 1_500
    fixed_kopecks: Kopecks = 0
    doctor_share_bp: BasisPoints = 6_000


class DoctorShareIn(Input):
    doctor_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,128}$")]
    share_bp: BasisPoints = Field(description="the doctor's share of the clinic's part")


class PriceListIn(Input):
    """A clinic's services and prices. The platform's commission (`percent_bp`,
    `fixed_kopecks`) is set by admins only: a clinic's admin sending one has it kept as
    it is; the doctors' share (`commission.doctor_share_bp`, the clinic's default, and
    `doctor_shares`, per doctor by contract) is the clinic's."""

    services: list[ServiceIn] = Field(min_length=1, max_length=200)
    extras: list[ExtraItem] = Field(default_factory=list, max_length=200)
    surcharges: SurchargesIn = Field(default_factory=SurchargesIn)
    cancellation: CancellationIn = Field(default_factory=CancellationIn)
    tax: TaxIn = Field(default_factory=TaxIn)
    commission: CommissionIn | None = None
    extras_cap_percent: Percent = 50
    pay_at_visit_allowed: StrictBool = True
    methods: list[MethodName] = Field(default_factory=_all_methods, min_length=1, max_length=3)
    doctor_shares: list[DoctorShareIn] = Field(default_factory=list, max_length=500)


class PriceListOut(Output):
    clinic_id: str | None
    currency: str
    services: list[ServiceIn]
    extras: list[ExtraItem]
    surcharges: SurchargesIn
    cancellation: CancellationIn
    tax: TaxIn
    commission: CommissionIn
    extras_cap_percent: int
    pay_at_visit_allowed: bool
    methods: list[MethodName]
    doctor_shares: list[DoctorShareIn]
    own: bool = Field(description="false: the clinic has no list of its own (the default)")


class LineOut(Output):
    kind: str
    code: str
    name_ru: str
    name_en: str
    amount_kopecks: int
    reason: str | None = None


class ReceiptItemOut(Output):
    description: str
    quantity: int
    amount_kopecks: int = Field(description="the price of one unit")
    vat_code: int
    payment_mode: str
    payment_subject: str


class ReceiptOut(Output):
    items: list[ReceiptItemOut]
    total_kopecks: int
    customer_email: str | None
    customer_phone: str | None


class PaymentOut(Output):
    payment_id: str
    purpose: Literal["visit", "cancellation_fee"]
    method: MethodName
    status: Literal["pending", "waiting_for_capture", "succeeded", "canceled"]
    amount_kopecks: int
    captured_kopecks: int
    refunded_kopecks: int
    created_at: Instant
    expires_at: Instant | None
    confirmation_url: str | None = Field(
        default=None, description="the patient's: the card page or the SBP link to open"
    )
    confirmation_token: str | None = Field(
        default=None, description="the patient's: for YooKassa's embedded widget"
    )
    receipt: ReceiptOut | None


class RefundOut(Output):
    refund_id: str
    payment_id: str
    amount_kopecks: int
    status: Literal["pending", "succeeded", "canceled"]
    reason: str
    created_at: Instant
    receipt: ReceiptOut | None


class OrderOut(Output):
    booking_id: str
    status: Literal[
        "quoted", "awaiting_payment", "held", "paid", "pay_at_visit", "cancelled", "refunded",
        "failed",
    ]  # fmt: skip
    method: MethodName
    currency: str
    quote: list[LineOut]
    quote_kopecks: int
    extras_cap_kopecks: int
    extras: list[LineOut]
    final_kopecks: int | None
    payments: list[PaymentOut]
    refunds: list[RefundOut]
    payable: PaymentOut | None = Field(description="what the patient should confirm now, if any")


class PayIn(Input):
    confirmation: Literal["redirect", "embedded"] = Field(
        default="redirect",
        description="redirect: a page (a card) or a bank app link / QR (SBP); embedded: "
        "YooKassa's widget (cards)",
    )


class RefundIn(Input):
    amount_kopecks: PositiveKopecks
    reason: Reason


class AdminPaymentOut(PaymentOut):
    booking_id: str
    provider_payment_id: str | None
    fee_kopecks: int


class AdminPaymentPage(Output):
    payments: list[AdminPaymentOut]
    next_cursor: str | None


class TotalsOut(Output):
    revenue_kopecks: int
    commission_kopecks: int
    refunds_kopecks: int
    fees_kopecks: int
    doctors_kopecks: int
    payable_kopecks: int
    net_kopecks: int
    captures: int
    refund_count: int


class GroupOut(Output):
    key: str
    totals: TotalsOut


class FinanceOut(Output):
    clinic_id: str | None
    timezone: str
    since: str
    until: str
    totals: TotalsOut
    by_day: list[GroupOut]
    by_month: list[GroupOut]
    by_doctor: list[GroupOut]
    by_service: list[GroupOut]
    by_clinic: list[GroupOut] = Field(default_factory=list, description="platform report only")


class VisitEarningOut(Output):
    booking_id: str
    service_code: str | None
    at: Instant
    earned_kopecks: int


class EarningsOut(Output):
    timezone: str
    today_kopecks: int
    week_kopecks: int
    month_kopecks: int
    visits: list[VisitEarningOut]


class MismatchOut(Output):
    kind: str
    payment_id: str | None
    provider_payment_id: str | None
    ours: str
    theirs: str


class ReconcileOut(Output):
    day: str
    ours: int
    theirs: int
    mismatches: list[MismatchOut]


class SandboxConfirmIn(Input):
    pay: StrictBool = Field(description="true: pay; false: decline")
