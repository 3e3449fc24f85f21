"""Payments: a booking's payment (its patient, doctor, clinic, operators, admins), paying
it (the patient), YooKassa's notifications (the provider's networks only), price lists
(the clinic's admin), finance reports (the clinic's admin, admins), refunds and the
payments' list (admins), a doctor's earnings, and reconciliation (admins).

Thin: decode, call services.payments, encode."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from accounts import Role
from api.openapi import problems
from api.payment_schemas import (
    AdminPaymentOut,
    AdminPaymentPage,
    CommissionIn,
    EarningsOut,
    FinanceOut,
    GroupOut,
    LineOut,
    MismatchOut,
    OrderOut,
    PayIn,
    PaymentOut,
    PriceListIn,
    PriceListOut,
    ReceiptOut,
    ReconcileOut,
    RefundIn,
    RefundOut,
    SandboxConfirmIn,
    TotalsOut,
    VisitEarningOut,
)
from api.payment_texts import NOT_PAYABLE
from api.routes.common import Identifier, client_ip, request_id
from api.schemas import NO_NUL, instant
from api.security import AdminDep, AnyUserDep, DoctorDep, PatientDep, RuntimeDep, allow, public
from payments.model import Payment, PriceList, ProviderStatus, QuoteLine, Receipt, Refund
from payments.pricing import price_list_from_json, price_list_to_json
from payments.reports import ClinicReport, PlatformReport, Totals, finance_rows, to_csv
from services.auth import Principal
from services.bookings import InvalidRequestError

router = APIRouter(tags=["payments"])
ClinicAdminDep = Annotated[Principal, Depends(allow(Role.ADMIN, Role.CLINIC_ADMIN))]
DATE_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
Day = Annotated[str | None, Query(pattern=DATE_PATTERN, description="YYYY-MM-DD (UTC)")]
PAYMENT_CURSOR = r"^\d{1,12}(\.\d{1,17})?~[0-9A-Za-z_.-]{1,200}$"


# -- encoding ------------------------------------------------------------------------------


def _receipt(receipt: Receipt | None) -> ReceiptOut | None:
    if receipt is None:
        return None
    return ReceiptOut(
        items=[
            {  # type: ignore[misc]
                "description": i.description, "quantity": i.quantity,
                "amount_kopecks": i.amount_kopecks, "vat_code": i.vat_code,
                "payment_mode": i.payment_mode.value, "payment_subject": i.payment_subject,
            }
            for i in receipt.items
        ],
        total_kopecks=receipt.total_kopecks,
        customer_email=receipt.customer_email,
        customer_phone=receipt.customer_phone,
    )  # fmt: skip


def _payment(p: Payment, *, payer: bool) -> dict[str, Any]:
    return {
        "payment_id": p.payment_id,
        "purpose": p.purpose.value,
        "method": p.method.value,
        "status": p.status.value,
        "amount_kopecks": p.amount_kopecks,
        "captured_kopecks": p.captured_kopecks,
        "refunded_kopecks": p.refunded_kopecks,
        "created_at": instant(p.created_s),
        "expires_at": instant(p.expires_s) if p.expires_s else None,
        "confirmation_url": p.confirmation_url if payer else None,
        "confirmation_token": p.confirmation_token if payer else None,
        "receipt": _receipt(p.receipt),
    }


def _refund(r: Refund) -> RefundOut:
    return RefundOut(
        refund_id=r.refund_id,
        payment_id=r.payment_id,
        amount_kopecks=r.amount_kopecks,
        status=r.status.value,
        reason=r.reason,
        created_at=instant(r.created_s),
        receipt=_receipt(r.receipt),
    )


def _line(line: QuoteLine) -> LineOut:
    return LineOut(
        kind=line.kind.value, code=line.code, name_ru=line.name_ru, name_en=line.name_en,
        amount_kopecks=line.amount_kopecks, reason=line.reason,
    )  # fmt: skip


def _order(view: Any, who: Principal) -> OrderOut:
    payer = who.role is Role.PATIENT
    o = view.order
    return OrderOut(
        booking_id=o.booking_id,
        status=o.status.value,
        method=o.method.value,
        currency="RUB",
        quote=[_line(line) for line in o.quote.lines],
        quote_kopecks=o.quote.total_kopecks,
        extras_cap_kopecks=o.quote.extras_cap_kopecks,
        extras=[_line(line) for line in o.extras],
        final_kopecks=o.final_kopecks,
        payments=[PaymentOut(**_payment(p, payer=payer)) for p in view.payments],
        refunds=[_refund(r) for r in view.refunds] if who.role is not Role.DOCTOR else [],
        payable=PaymentOut(**_payment(view.payable, payer=payer)) if view.payable else None,
    )


def _price_list(pl: PriceList, *, own: bool) -> PriceListOut:
    data = price_list_to_json(pl)
    data.pop("updated_s", None)
    return PriceListOut(**data, own=own)


def _totals(t: Totals) -> TotalsOut:
    return TotalsOut(
        revenue_kopecks=t.revenue_kopecks, commission_kopecks=t.commission_kopecks,
        refunds_kopecks=t.refunds_kopecks, fees_kopecks=t.fees_kopecks,
        doctors_kopecks=t.doctors_kopecks, payable_kopecks=t.payable_kopecks,
        net_kopecks=t.net_kopecks, captures=t.captures, refund_count=t.refund_count,
    )  # fmt: skip


def _groups(groups: dict[Any, Totals]) -> list[GroupOut]:
    return [
        GroupOut(key=str(k), totals=_totals(v))
        for k, v in sorted(groups.items(), key=lambda kv: str(kv[0]))
    ]


def _finance(r: ClinicReport | PlatformReport, since: date, until: date) -> FinanceOut:
    return FinanceOut(
        clinic_id=getattr(r, "clinic_id", None),
        timezone=r.tz,
        since=since.isoformat(),
        until=until.isoformat(),
        totals=_totals(r.totals),
        by_day=_groups(r.by_day),
        by_month=_groups(r.by_month),
        by_doctor=_groups(getattr(r, "by_doctor", {})),
        by_service=_groups(getattr(r, "by_service", {})),
        by_clinic=_groups(getattr(r, "by_clinic", {})),
    )


def _period(since: str | None, until: str | None) -> tuple[date, date, float, float]:
    """[since, until] as whole UTC days (until inclusive); default the last 30 days."""
    try:
        end = _day_of(until) if until else datetime.now(UTC).date()
        start = _day_of(since) if since else end - timedelta(days=29)
        since_s = datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()
        until_s = datetime(end.year, end.month, end.day, tzinfo=UTC).timestamp() + 86_400
    except (OverflowError, ValueError):  # year 1's "the 30 days before", say
        raise InvalidRequestError("the period is outside the calendar") from None
    if start > end:
        raise InvalidRequestError("since is after until")
    return start, end, since_s, until_s


def _day_of(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidRequestError("not a date of the calendar") from None


# -- a booking's payment ------------------------------------------------------------------


@router.get(
    "/bookings/{booking_id}/payment",
    summary="A booking's payment: quote, extras, payments, refunds and receipts",
    responses=problems(404),
)
async def booking_payment(booking_id: Identifier, who: AnyUserDep, runtime: RuntimeDep) -> OrderOut:
    return _order(await runtime.payments.view(who, booking_id), who)


@router.post(
    "/bookings/{booking_id}/payment",
    summary="Pay: the payment to confirm now (made anew when a link expired)",
    responses=problems(404, 409),
)
async def pay_booking(
    booking_id: Identifier, who: PatientDep, runtime: RuntimeDep, body: PayIn | None = None
) -> OrderOut:
    confirmation = body.confirmation if body else "redirect"
    return _order(await runtime.payments.pay(who, booking_id, confirmation=confirmation), who)


# -- the provider's notifications ---------------------------------------------------------


@router.post(
    "/payments/yookassa/notifications",
    summary="YooKassa's HTTP notifications (from its published networks only)",
    dependencies=[Depends(public())],
    responses=problems(400, 403),
)
async def yookassa_notification(request: Request, runtime: RuntimeDep) -> Response:
    body = await request.body()
    await runtime.payments.notification(client_ip(request), body)
    return Response(status_code=200)


# -- price lists ---------------------------------------------------------------------------


@router.get(
    "/clinics/{clinic_id}/prices",
    summary="A clinic's services and prices (its own, or the platform's default)",
    responses=problems(404),
)
async def clinic_prices(
    clinic_id: Identifier, who: AnyUserDep, runtime: RuntimeDep
) -> PriceListOut:
    own = await runtime.payments.own_price_list(clinic_id)
    if own is None and await runtime.clinics.store.clinic(clinic_id) is None:
        from services.auth import NotFoundError

        raise NotFoundError(f"no clinic {clinic_id!r}")
    return _price_list(own or await runtime.payments.price_list(clinic_id), own=own is not None)


@router.put(
    "/clinics/{clinic_id}/prices",
    summary="Set a clinic's services, prices and doctors' shares (the platform's commission: admins only)",
    responses=problems(404, described={422: NOT_PAYABLE}),
)
async def set_clinic_prices(
    clinic_id: Identifier, body: PriceListIn, who: ClinicAdminDep, runtime: RuntimeDep
) -> PriceListOut:
    current = await runtime.payments.price_list(clinic_id)
    data = body.model_dump()
    commission = data.pop("commission")
    kept = CommissionIn(**price_list_to_json(current)["commission"]).model_dump()
    if commission is None:
        data["commission"] = kept
    elif who.role is not Role.ADMIN:  # the doctors' share is the clinic's, the rest is not
        data["commission"] = {**kept, "doctor_share_bp": commission["doctor_share_bp"]}
    else:
        data["commission"] = commission
    try:
        pl = price_list_from_json(data)
    except ValueError as exc:
        raise InvalidRequestError(str(exc)) from None
    saved = await runtime.payments.save_price_list(who, clinic_id, pl)
    return _price_list(saved, own=True)


@router.get("/prices", summary="The platform's default price list", responses=problems())
async def default_prices(who: AnyUserDep, runtime: RuntimeDep) -> PriceListOut:
    own = await runtime.payments.own_price_list(None)
    return _price_list(own or await runtime.payments.price_list(None), own=own is not None)


@router.put(
    "/admin/prices",
    summary="Set the platform's default price list (admins)",
    responses=problems(described={422: NOT_PAYABLE}),
)
async def set_default_prices(body: PriceListIn, who: AdminDep, runtime: RuntimeDep) -> PriceListOut:
    data = body.model_dump()
    if data["commission"] is None:
        data.pop("commission")
    try:
        pl = price_list_from_json(data)
    except ValueError as exc:
        raise InvalidRequestError(str(exc)) from None
    return _price_list(await runtime.payments.save_price_list(who, None, pl), own=True)


# -- finance -------------------------------------------------------------------------------


@router.get(
    "/clinics/{clinic_id}/finance",
    summary="A clinic's finance: revenue, commission, refunds, per doctor and service, by day and month",
    responses=problems(404, described={422: NOT_PAYABLE}),
)
async def clinic_finance(
    clinic_id: Identifier,
    who: ClinicAdminDep,
    runtime: RuntimeDep,
    since: Day = None,
    until: Day = None,
) -> FinanceOut:
    start, end, since_s, until_s = _period(since, until)
    report = await runtime.payments.clinic_report(who, clinic_id, since_s, until_s)
    return _finance(report, start, end)


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "the report"}
}


@router.get(
    "/clinics/{clinic_id}/finance.csv",
    summary="A clinic's finance report as CSV",
    response_class=Response,
    responses={**CSV_RESPONSE, **problems(404, described={422: NOT_PAYABLE})},
)
async def clinic_finance_csv(
    clinic_id: Identifier,
    who: ClinicAdminDep,
    runtime: RuntimeDep,
    since: Day = None,
    until: Day = None,
    lang: Literal["ru", "en"] = "ru",
) -> Response:
    _, _, since_s, until_s = _period(since, until)
    report = await runtime.payments.clinic_report(who, clinic_id, since_s, until_s)
    return _csv(to_csv(finance_rows(report, lang=lang)), "finance.csv")


@router.get(
    "/admin/finance",
    summary="The platform's finance report (admins)",
    responses=problems(described={422: NOT_PAYABLE}),
)
async def platform_finance(
    who: AdminDep, runtime: RuntimeDep, since: Day = None, until: Day = None
) -> FinanceOut:
    start, end, since_s, until_s = _period(since, until)
    return _finance(await runtime.payments.platform_report(who, since_s, until_s), start, end)


@router.get(
    "/admin/finance.csv",
    summary="The platform's finance report as CSV (admins)",
    response_class=Response,
    responses={**CSV_RESPONSE, **problems(described={422: NOT_PAYABLE})},
)
async def platform_finance_csv(
    who: AdminDep,
    runtime: RuntimeDep,
    since: Day = None,
    until: Day = None,
    lang: Literal["ru", "en"] = "ru",
) -> Response:
    _, _, since_s, until_s = _period(since, until)
    report = await runtime.payments.platform_report(who, since_s, until_s)
    return _csv(to_csv(finance_rows(report, lang=lang)), "platform-finance.csv")


def _csv(text: str, name: str) -> Response:
    return Response(
        content=text.encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/doctors/me/earnings", summary="The doctor's earnings: today, this week, this month, per visit"
)
async def my_earnings(who: DoctorDep, runtime: RuntimeDep) -> EarningsOut:
    e = await runtime.payments.earnings(who)
    return EarningsOut(
        timezone=e.tz,
        today_kopecks=e.today_kopecks,
        week_kopecks=e.week_kopecks,
        month_kopecks=e.month_kopecks,
        visits=[
            VisitEarningOut(
                booking_id=v.booking_id, service_code=v.service_code, at=instant(v.first_at_s),
                earned_kopecks=v.earned_kopecks,
            )
            for v in e.visits[:200]
        ],
    )  # fmt: skip


# -- admins: payments, refunds, reconciliation --------------------------------------------


@router.get("/admin/payments", summary="Payments, newest first (admins)", responses=problems())
async def admin_payments(
    who: AdminDep,
    runtime: RuntimeDep,
    status: Literal["pending", "waiting_for_capture", "succeeded", "canceled"] | None = None,
    booking_id: Annotated[str | None, Query(min_length=1, max_length=128, pattern=NO_NUL)] = None,
    clinic_id: Annotated[str | None, Query(min_length=1, max_length=128, pattern=NO_NUL)] = None,
    cursor: Annotated[str | None, Query(pattern=PAYMENT_CURSOR)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AdminPaymentPage:
    before = None
    if cursor is not None:
        at, _, pid = cursor.partition("~")
        before = (float(at), pid)
    page = await runtime.payments.list_payments(
        who, status=ProviderStatus(status) if status else None, booking_id=booking_id,
        clinic_id=clinic_id, before=before, limit=limit + 1,
    )  # fmt: skip
    more = len(page) > limit
    page = page[:limit]
    return AdminPaymentPage(
        payments=[
            AdminPaymentOut(
                **_payment(p, payer=False), booking_id=p.booking_id,
                provider_payment_id=p.provider_payment_id, fee_kopecks=p.fee_kopecks,
            )
            for p in page
        ],
        next_cursor=f"{page[-1].created_s!r}~{page[-1].payment_id}" if more and page else None,
    )  # fmt: skip


@router.get(
    "/admin/payments/{payment_id}/refunds",
    summary="A payment's refunds (admins)",
    responses=problems(404),
)
async def payment_refunds(
    payment_id: Identifier, who: AdminDep, runtime: RuntimeDep
) -> list[RefundOut]:
    return [_refund(r) for r in await runtime.payments.payment_refunds(who, payment_id)]


@router.post(
    "/admin/payments/{payment_id}/refunds",
    status_code=201,
    summary="Refund a captured payment, fully or partly, with a reason (audited)",
    responses=problems(404, 409, described={422: NOT_PAYABLE}),
)
async def refund_payment(
    payment_id: Identifier, body: RefundIn, who: AdminDep, runtime: RuntimeDep, request: Request
) -> RefundOut:
    refund = await runtime.payments.refund(
        who, payment_id, body.amount_kopecks, body.reason,
        request_id=request_id(request), ip=client_ip(request),
    )  # fmt: skip
    return _refund(refund)


@router.post(
    "/admin/payments/reconcile",
    summary="Compare one day's payments with the provider's list (admins)",
    responses=problems(described={422: NOT_PAYABLE}),
)
async def reconcile_payments(
    who: AdminDep,
    runtime: RuntimeDep,
    day: Annotated[str, Query(pattern=DATE_PATTERN, description="YYYY-MM-DD (UTC)")],
) -> ReconcileOut:
    report = await runtime.payments.reconcile(_day_of(day))
    runtime.audit.record(who.user_id, who.role, "payments.reconcile", "payments", day)
    return ReconcileOut(
        day=report.day.isoformat(),
        ours=report.ours,
        theirs=report.theirs,
        mismatches=[
            MismatchOut(kind=m.kind.value, payment_id=m.payment_id,
                        provider_payment_id=m.provider_payment_id, ours=m.ours, theirs=m.theirs)
            for m in report.mismatches
        ],
    )  # fmt: skip


@router.post(
    "/payments/sandbox/{payment_id}/confirm",
    summary="The sandbox provider's payment page: the patient pays or declines (sandbox only)",
    responses=problems(404, 409),
)
async def sandbox_confirm(
    payment_id: Identifier, body: SandboxConfirmIn, who: PatientDep, runtime: RuntimeDep
) -> OrderOut:
    view = await runtime.payments.sandbox_confirm(who, payment_id, succeed=body.pay)
    return _order(view, who)
