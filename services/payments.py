"""Payments' use cases: quotes and orders (the bookings' Pricing), the outbox relay that
holds, captures, cancels and charges fees as bookings move, YooKassa's notifications,
refunds, receipts, reconciliation and the finance reports.

The provider is only ever told things through idempotent operations (our operation id
is the Idempotence-Key), and what it says is only ever believed after fetching the
object from its API: a notification is a hint. Every move of money is recorded with its
ledger transactions in one store transaction (payments.reconcile decides them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from accounts import AccountStore, Role
from clinics import ClinicStore
from dispatch_core import Booking, BookingStatus, Priority
from dispatch_core.ports import BookingOutbox, BookingStore, OutboxMessage
from payments.model import (
    TERMINAL_STATUSES,
    AmountError,
    Commission,
    CreatePayment,
    Method,
    Order,
    OrderStatus,
    Payment,
    PaymentError,
    PaymentMode,
    PriceList,
    ProviderPayment,
    ProviderStatus,
    Purpose,
    Refund,
    RefundStatus,
    Transaction,
)
from payments.ports import (
    PaymentProvider,
    PaymentStore,
    ProviderError,
    ProviderNotFoundError,
    ProviderRejectedError,
    ProviderUnavailableError,
    StaleVersionError,
)
from payments.pricing import (
    add_extras,
    cancellation_fee,
    default_price_list,
    final_kopecks,
    hold_at_s,
    hold_kopecks,
    quote,
    validate_price_list,
)
from payments.receipts import fee_receipt, hold_receipt, receipt_for_lines, refund_receipt
from payments.reconcile import (
    Mismatch,
    compare_with_provider,
    observe_payment,
    observe_refund,
    order_status,
)
from payments.reports import (
    ClinicReport,
    ClinicReportBuilder,
    DoctorEarnings,
    PlatformReport,
    PlatformReportBuilder,
    doctor_earnings,
    period_starts,
)
from payments.webhooks import NotificationError, ip_allowed, parse_notification
from services.audit import AuditTrail
from services.auth import ConflictError, ForbiddenError, NotFoundError, Principal
from services.bookings import InvalidRequestError, PriceOffer, PriceRefusedError, VisitRequest

log = logging.getLogger(__name__)

TOPIC = "payments"
DEFAULT_TIMEZONE = "Europe/Moscow"
SBP_LINK_TTL_S = 3_600.0  # YooKassa's SBP confirmation lives an hour
ORDER_RETRIES = 5  # optimistic-concurrency retries of one change


class NotDueError(Exception):
    """The message is not due yet (a card hold for a visit far ahead): retry at at_s."""

    def __init__(self, at_s: float) -> None:
        super().__init__(f"due at {at_s}")
        self.at_s = at_s


@dataclass(frozen=True, slots=True)
class PaymentsConfig:
    return_url_base: str = "http://127.0.0.1:8000"  # where the payer comes back to
    webhook_networks: tuple[str, ...] = ()  # empty: YooKassa's published ranges
    relay_interval_s: float = 0.5
    sweep_interval_s: float = 30.0
    sweep_after_s: float = 120.0  # ask the provider about payments unsettled this long
    default_timezone: str = DEFAULT_TIMEZONE
    platform_commission: Commission = field(default_factory=Commission)


@dataclass(frozen=True, slots=True)
class OrderView:
    """A booking's money, for the people who may see it."""

    order: Order
    payments: list[Payment]
    refunds: list[Refund]
    payable: Payment | None  # the payment the patient should confirm now, if any


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    day: date
    ours: int
    theirs: int
    mismatches: list[Mismatch]


class PaymentService:
    currency = "RUB"

    def __init__(
        self,
        store: PaymentStore,
        provider: PaymentProvider,
        outbox: BookingOutbox,
        bookings: BookingStore,
        accounts: AccountStore,
        clinics: ClinicStore,
        audit: AuditTrail,
        clock: Callable[[], float],
        config: PaymentsConfig | None = None,
    ) -> None:
        self.store = store
        self.provider = provider
        self.outbox = outbox
        self.bookings = bookings
        self.accounts = accounts
        self.clinics = clinics
        self.audit = audit
        self.clock = clock
        self.config = config or PaymentsConfig()
        self._lists: dict[str | None, PriceList] = {}  # price lists by clinic (None: default)
        self._zones: dict[str, ZoneInfo] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self.relayed = 0  # outbox messages handled (tests and the status page)
        self.anomalies = 0
        self.captured = 0  # payments captured by this process (the demo's figures)
        self.captured_kopecks = 0
        self.refunded = 0

    # ------------------------------------------------------------------ price lists

    async def price_list(self, clinic_id: str | None) -> PriceList:
        """The clinic's list; the platform's default list where the clinic has none."""
        if clinic_id in self._lists:
            return self._lists[clinic_id]
        found = await self.store.price_list(clinic_id)
        if found is None and clinic_id is not None:
            found = await self.price_list(None)
            found = replace(found, clinic_id=clinic_id)
        if found is None:
            found = replace(default_price_list(), commission=self.config.platform_commission)
        self._lists[clinic_id] = found
        return found

    async def own_price_list(self, clinic_id: str | None) -> PriceList | None:
        return await self.store.price_list(clinic_id)

    async def save_price_list(
        self, who: Principal, clinic_id: str | None, price_list: PriceList
    ) -> PriceList:
        """A clinic admin sets their clinic's list (the commission stays the platform's:
        only an admin changes it); an admin any list, the default one included."""
        if who.role is Role.CLINIC_ADMIN:
            if clinic_id is None or who.clinic_id != clinic_id:
                raise NotFoundError(f"no clinic {clinic_id!r}")
            # The platform's commission is the platform's; the doctors' shares (their
            # contracts with the clinic) are the clinic's.
            current = (await self.price_list(clinic_id)).commission
            price_list = replace(
                price_list,
                commission=replace(
                    price_list.commission,
                    percent_bp=current.percent_bp,
                    fixed_kopecks=current.fixed_kopecks,
                ),
            )
        elif who.role is not Role.ADMIN:
            raise ForbiddenError("only the clinic's admin or an admin sets prices")
        if clinic_id is not None and await self.clinics.clinic(clinic_id) is None:
            raise NotFoundError(f"no clinic {clinic_id!r}")
        try:
            checked = validate_price_list(
                replace(price_list, clinic_id=clinic_id, updated_s=self.clock())
            )
        except PaymentError as exc:
            raise InvalidRequestError(str(exc)) from None
        await self.store.save_price_list(checked)
        self._lists.clear()  # clinics without a list follow the default one
        self.audit.record(who.user_id, who.role, "prices.update", "clinic", clinic_id or "platform")
        return checked

    async def _zone(self, clinic_id: str | None) -> ZoneInfo:
        name = self.config.default_timezone
        if clinic_id is not None:
            if clinic_id in self._zones:
                return self._zones[clinic_id]
            clinic = await self.clinics.clinic(clinic_id)
            if clinic is not None:
                name = clinic.timezone
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo(DEFAULT_TIMEZONE)
        if clinic_id is not None:
            self._zones[clinic_id] = zone
        return zone

    # ------------------------------------------------------------------ Pricing (bookings)

    async def quote(self, visit: VisitRequest, priority: Priority, now_s: float) -> PriceOffer:
        price_list = await self.price_list(visit.clinic_id)
        at_s = visit.scheduled_s if visit.scheduled_s is not None else now_s
        local_hour = datetime.fromtimestamp(at_s, await self._zone(visit.clinic_id)).hour
        try:
            q = quote(
                price_list,
                call_type=visit.call_type,
                specialty=visit.specialty,
                priority=priority.value,
                local_hour=local_hour,
                distance_m=visit.distance_m,
            )
        except PaymentError as exc:
            raise InvalidRequestError(str(exc)) from None
        methods = tuple(
            m
            for m in price_list.methods
            if m is not Method.AT_VISIT or price_list.pay_at_visit_allowed
        )
        return PriceOffer(q, methods)

    async def open_order(
        self,
        patient_id: str,
        booking_id: str,
        visit: VisitRequest,
        priority: Priority,
        now_s: float,
    ) -> PriceOffer:
        existing = await self.store.order(booking_id)
        offer = await self.quote(visit, priority, now_s)
        if existing is not None:
            if existing.patient_id != patient_id:
                raise ConflictError("this booking id is taken")
            return PriceOffer(existing.quote, offer.methods)
        if visit.payment_method not in offer.methods:
            raise InvalidRequestError(
                f"this clinic does not accept {visit.payment_method.value}: choose one of "
                + ", ".join(m.value for m in offer.methods)
            )
        patient = await self.accounts.user(patient_id)
        order = Order(
            booking_id=booking_id,
            patient_id=patient_id,
            clinic_id=visit.clinic_id,
            method=visit.payment_method,
            quote=offer.quote,
            emergency=priority is Priority.EMERGENCY,
            customer_email=patient.email if patient else None,
            customer_phone=patient.phone if patient else None,
            created_s=now_s,
            updated_s=now_s,
        )
        if not await self.store.add_order(order):  # a racing retry stored it first
            stored = await self.store.order(booking_id)
            if stored is None or stored.patient_id != patient_id:
                raise ConflictError("this booking id is taken")
            return PriceOffer(stored.quote, offer.methods)
        return offer

    async def complete(self, booking: Booking, extras: Sequence[tuple[str, str]]) -> int:
        for _ in range(ORDER_RETRIES):
            order = await self.store.order(booking.booking_id)
            if order is None:  # booked before payments existed
                if extras:
                    raise InvalidRequestError("this visit has no price list: no extras")
                return booking.estimated_price_kopecks or 0
            price_list = await self.price_list(order.clinic_id)
            try:
                lines = add_extras(order.quote, price_list, extras)
            except PaymentError as exc:
                raise PriceRefusedError(str(exc)) from None
            order.extras = lines
            order.final_kopecks = final_kopecks(order.quote, lines)
            order.doctor_id = booking.doctor_id or order.doctor_id
            order.updated_s = self.clock()
            try:
                await self.store.record(order=order)
            except StaleVersionError:
                continue
            return order.final_kopecks
        raise ConflictError("the order changed while completing: try again")

    # ------------------------------------------------------------------ the outbox relay

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._relay_loop(), name="payments-relay"))
        self._tasks.append(asyncio.create_task(self._sweep_loop(), name="payments-sweep"))
        self._tasks.append(
            asyncio.create_task(
                run_reconciliation_daily(self, self.clock), name="payments-reconciliation"
            )
        )

    def wake(self) -> None:
        """Something was written to the outbox: relay it now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.provider.close()

    async def _relay_loop(self) -> None:
        while True:
            try:
                while await self.relay_once():
                    pass
            except Exception:
                log.exception("payments relay round failed")
            try:
                async with asyncio.timeout(self.config.relay_interval_s):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.sweep_interval_s)
            try:
                await self.sweep()
            except Exception:
                log.exception("payments sweep failed")

    async def relay_once(self, limit: int = 50) -> int:
        """Handle the due outbox messages (at least once: every action is idempotent).
        Returns how many were claimed."""
        now = self.clock()
        messages = await self.outbox.claim_outbox(TOPIC, now, limit=limit, lease_s=120.0)
        for message in messages:
            await self._relay(message)
        return len(messages)

    async def _relay(self, message: OutboxMessage) -> None:
        try:
            await self._act(message)
        except NotDueError as later:
            await self.outbox.outbox_retry(message.message_id, later.at_s, "scheduled")
            return
        except ProviderRejectedError as exc:
            # The provider refused (a 4xx): retrying the same request cannot help.
            log.warning(
                "payments: %s of booking %s refused by the provider: %s (%s)",
                message.payload.get("status"), message.booking_id, exc.code, exc,
            )  # fmt: skip
            await self._mark_failed(message.booking_id)
        except Exception as exc:  # unavailable provider or store, a stale read, a bug
            wait_s = min(600.0, 2.0 ** min(message.attempts, 10)) * (0.5 + random.random())
            if not isinstance(exc, ProviderUnavailableError | StaleVersionError):
                log.exception("payments: message %d failed", message.message_id)
            log.info(
                "payments: message %d (%s) again in %.1f s: %s",
                message.message_id, message.payload.get("status"), wait_s, type(exc).__name__,
            )  # fmt: skip
            await self.outbox.outbox_retry(
                message.message_id, self.clock() + wait_s, type(exc).__name__
            )
            return
        await self.outbox.outbox_done(message.message_id, self.clock())
        self.relayed += 1

    async def _act(self, message: OutboxMessage) -> None:
        order = await self.store.order(message.booking_id)
        if order is None:
            return  # a booking without an order (before payments, or a tariff set-up)
        booking = await self.bookings.load(message.booking_id)
        if booking is None:
            return
        status = message.payload.get("status")
        if status == BookingStatus.ASSIGNED.value:
            await self._on_assigned(order, booking)
        elif status == BookingStatus.COMPLETED.value:
            await self._on_completed(order, booking)
        elif status in (BookingStatus.CANCELLED.value, BookingStatus.NO_DOCTOR_FOUND.value):
            await self._on_cancelled(order, booking, message.payload)

    async def _mark_failed(self, booking_id: str) -> None:
        for _ in range(ORDER_RETRIES):
            order = await self.store.order(booking_id)
            if order is None or order.status in (OrderStatus.PAID, OrderStatus.REFUNDED):
                return
            order.status = OrderStatus.FAILED
            order.updated_s = self.clock()
            try:
                await self.store.record(order=order)
                return
            except StaleVersionError:
                continue

    async def _save_order(self, order: Order, **changes: Any) -> Order:
        """Apply `changes` to the order, re-reading it when someone else changed it."""
        for _ in range(ORDER_RETRIES):
            for name, value in changes.items():
                setattr(order, name, value)
            order.updated_s = self.clock()
            try:
                await self.store.record(order=order)
                return order
            except StaleVersionError:
                fresh = await self.store.order(order.booking_id)
                if fresh is None:
                    raise
                order = fresh
        raise StaleVersionError(f"order {order.booking_id} keeps changing")

    async def _on_assigned(self, order: Order, booking: Booking) -> None:
        if booking.status in (BookingStatus.CANCELLED, BookingStatus.NO_DOCTOR_FOUND):
            return  # the cancellation's own message settles it
        doctor = await self.accounts.user(booking.doctor_id) if booking.doctor_id else None
        clinic_id = order.clinic_id or (doctor.clinic_id if doctor else None)
        if order.doctor_id != booking.doctor_id or order.clinic_id != clinic_id:
            order = await self._save_order(
                order, doctor_id=booking.doctor_id or order.doctor_id, clinic_id=clinic_id
            )
        if order.method is not Method.CARD or booking.status is BookingStatus.COMPLETED:
            return
        payments = await self.store.payments_for_booking(order.booking_id)
        if any(
            p.purpose is Purpose.VISIT
            and p.status not in TERMINAL_STATUSES
            and p.provider_payment_id is not None  # one never answered is sent again below
            for p in payments
        ):
            return  # held already (a reassigned booking keeps its hold)
        if any(p.purpose is Purpose.VISIT and p.captured_kopecks for p in payments):
            return
        now = self.clock()
        due_s = hold_at_s(booking.scheduled_s, now)
        if due_s > now + 1:
            raise NotDueError(due_s)  # YooKassa's holds live 7 days: held 6 days before
        price_list = await self.price_list(order.clinic_id)
        receipt = hold_receipt(
            order.quote,
            price_list.tax,
            customer_email=order.customer_email,
            customer_phone=order.customer_phone,
            payment_mode=PaymentMode.FULL_PAYMENT,
        )
        await self._create(
            order, payments, Purpose.VISIT, hold_kopecks(order.quote), False, receipt
        )

    async def _on_completed(self, order: Order, booking: Booking) -> None:
        payments = await self.store.payments_for_booking(order.booking_id)
        final = (
            order.final_kopecks if order.final_kopecks is not None else order.quote.total_kopecks
        )
        price_list = await self.price_list(order.clinic_id)
        receipt = receipt_for_lines(
            (*order.quote.lines, *order.extras),
            price_list.tax,
            customer_email=order.customer_email,
            customer_phone=order.customer_phone,
        )
        if order.method is Method.AT_VISIT:
            await self._save_order(order, status=OrderStatus.PAY_AT_VISIT, final_kopecks=final)
            return
        visit = [p for p in payments if p.purpose is Purpose.VISIT]
        if any(p.status is ProviderStatus.SUCCEEDED for p in visit):
            return  # captured already (a repeated message)
        hold = next((p for p in visit if p.status is ProviderStatus.WAITING_FOR_CAPTURE), None)
        if hold is not None:
            hold = await self._refresh(hold)  # it may have expired meanwhile
        if hold is not None and hold.status is ProviderStatus.WAITING_FOR_CAPTURE:
            await self._capture(order, hold, min(final, hold.amount_kopecks), receipt)
            return
        for p in visit:  # a hold the payer never confirmed: pay by link instead
            if p.status is ProviderStatus.PENDING and p.method is Method.CARD:
                await self._cancel(order, p)
        visit = [p for p in await self.store.payments_for_booking(order.booking_id)
                 if p.purpose is Purpose.VISIT]  # fmt: skip
        if any(p.status is ProviderStatus.PENDING for p in visit):
            return  # a link is out already
        if final > 0:
            await self._create(order, visit, Purpose.VISIT, final, True, receipt)

    async def _on_cancelled(
        self, order: Order, booking: Booking, payload: Mapping[str, Any]
    ) -> None:
        price_list = await self.price_list(order.clinic_id)
        fee = 0
        if (
            booking.status is BookingStatus.CANCELLED
            and payload.get("updated_by") == f"patient:{order.patient_id}"  # the patient did
        ):
            fee = cancellation_fee(
                price_list.cancellation, order.quote.total_kopecks, _stage(booking)
            )
        payments = await self.store.payments_for_booking(order.booking_id)
        if any(p.captured_kopecks for p in payments):
            return  # settled already (a repeated message)
        receipt = (
            fee_receipt(
                fee,
                price_list.tax,
                customer_email=order.customer_email,
                customer_phone=order.customer_phone,
            )
            if fee
            else None
        )
        if fee and order.final_kopecks != fee:  # what is owed, before it is charged
            order = await self._save_order(order, final_kopecks=fee)
        held = next((p for p in payments if p.status is ProviderStatus.WAITING_FOR_CAPTURE), None)
        if held is not None and fee:
            await self._capture(order, held, min(fee, held.amount_kopecks), receipt)
            return
        for p in payments:
            if p.status in (ProviderStatus.PENDING, ProviderStatus.WAITING_FOR_CAPTURE):
                await self._cancel(order, p)
        order = await self._order(order)
        if fee and order.method is not Method.AT_VISIT:
            payments = await self.store.payments_for_booking(order.booking_id)
            await self._create(order, payments, Purpose.CANCELLATION_FEE, fee, True, receipt)
            return
        await self._save_order(order, status=OrderStatus.CANCELLED, final_kopecks=fee or 0)

    async def _order(self, order: Order) -> Order:
        return await self.store.order(order.booking_id) or order

    # ------------------------------------------------------------------ provider operations

    async def _create(
        self,
        order: Order,
        payments: Sequence[Payment],
        purpose: Purpose,
        amount_kopecks: int,
        capture: bool,
        receipt: Any,
        *,
        confirmation: str = "redirect",
    ) -> Payment:
        """A provider payment for the order. Ours is stored first (pending, no provider
        id): a crash between the two leaves it to be retried with the same key, so the
        provider replays its first answer instead of making a second payment."""
        if not amount_kopecks > 0:
            raise AmountError("a payment's amount must be above zero")
        method = Method.SBP if order.method is Method.SBP else Method.CARD
        unsent = next(
            (p for p in payments if p.purpose is purpose and p.provider_payment_id is None), None
        )
        if unsent is None:
            n = sum(1 for p in payments if p.purpose is purpose) + 1
            now = self.clock()
            unsent = Payment(
                payment_id=f"pay-{order.booking_id}-{purpose.value}-{n}",
                booking_id=order.booking_id,
                purpose=purpose,
                method=method,
                amount_kopecks=amount_kopecks,
                receipt=receipt,
                created_s=now,
                updated_s=now,
            )
            if not await self.store.add_payment(unsent):
                # Another task (the relay, the patient's "pay") made this very payment
                # a moment ago: the ids are derived, so it is the same one; carry on with it.
                stored = await self.store.payment(unsent.payment_id)
                if stored is None:
                    raise StaleVersionError("a payment with this id appeared and went")
                unsent = stored
        request = CreatePayment(
            amount_kopecks=unsent.amount_kopecks,
            capture=capture,
            method=unsent.method,
            confirmation=confirmation,
            return_url=f"{self.config.return_url_base}/patient/visits/{order.booking_id}",
            description=_description(purpose, order.booking_id),
            booking_id=order.booking_id,
            payment_id=unsent.payment_id,
            receipt=unsent.receipt,
        )
        seen = await self.provider.create_payment(request, f"create:{unsent.payment_id}")
        others = [p for p in payments if p.payment_id != unsent.payment_id]
        return await self._observe(unsent, seen, order=order, others=others)

    async def _capture(self, order: Order, payment: Payment, amount: int, receipt: Any) -> Payment:
        assert payment.provider_payment_id is not None
        seen = await self.provider.capture_payment(
            payment.provider_payment_id, amount, receipt, f"capture:{payment.payment_id}"
        )
        if receipt is not None:  # the capture's own receipt, recorded with the capture
            payment = replace(payment, receipt=receipt)
        return await self._observe(payment, seen)

    async def _cancel(self, order: Order, payment: Payment) -> Payment:
        if payment.provider_payment_id is None:
            return payment
        try:
            seen = await self.provider.cancel_payment(
                payment.provider_payment_id, f"cancel:{payment.payment_id}"
            )
        except ProviderRejectedError:
            # Not cancellable any more (it just succeeded, or expired): the truth decides.
            seen = await self.provider.get_payment(payment.provider_payment_id)
        return await self._observe(payment, seen)

    async def _refresh(self, payment: Payment) -> Payment:
        if payment.provider_payment_id is None:
            return payment
        try:
            seen = await self.provider.get_payment(payment.provider_payment_id)
        except ProviderNotFoundError:
            log.warning("payments: the provider does not know payment %s", payment.payment_id)
            return payment
        return await self._observe(payment, seen)

    async def _observe(
        self,
        payment: Payment,
        seen: ProviderPayment,
        *,
        order: Order | None = None,
        others: Sequence[Payment] | None = None,
    ) -> Payment:
        """Move our payment to what the provider says, with its ledger transactions, and
        the order's status with it; re-read and redo on a concurrent change. `order` and
        `others` (the booking's other payments), when the caller has just read them, save
        two reads on the first try: the store's version checks refuse them if stale."""
        for attempt in range(ORDER_RETRIES):
            if order is None or attempt > 0:
                order = await self.store.order(payment.booking_id)
            if order is None:
                raise NotFoundError(f"no order for booking {payment.booking_id!r}")
            price_list = await self.price_list(order.clinic_id)
            observed = observe_payment(
                payment,
                seen,
                order=order,
                commission=price_list.commission_for_doctor(order.doctor_id),
                now_s=self.clock(),
            )
            self._report(observed.anomalies)
            if not observed.changed and not observed.transactions:
                return payment
            new = observed.payment
            if others is None or attempt > 0:
                others = [
                    p for p in await self.store.payments_for_booking(order.booking_id)
                    if p.payment_id != new.payment_id
                ]  # fmt: skip
            refunds = [  # only a captured payment has refunds
                r
                for p in (*others, new)
                if p.status is ProviderStatus.SUCCEEDED
                for r in await self.store.refunds_for_payment(p.payment_id)
            ]
            status = order_status(order, [*others, new], refunds)
            order_changed = status is not order.status
            order.status = status
            try:
                appended = await self.store.record(
                    order=order if order_changed else None,
                    payment=new,
                    transactions=observed.transactions,
                )
                for txn in observed.transactions:
                    if txn.kind == "capture" and txn.txn_id in appended:
                        self.captured += 1
                        self.captured_kopecks += new.captured_kopecks
                return new
            except StaleVersionError:
                fresh = await self.store.payment(payment.payment_id)
                if fresh is None:
                    raise
                payment = fresh
        raise StaleVersionError(f"payment {payment.payment_id} keeps changing")

    def _report(self, anomalies: Sequence[Any]) -> None:
        for anomaly in anomalies:
            self.anomalies += 1
            log.warning(
                "payments anomaly %s on %s: %s", anomaly.code.value, anomaly.payment_id,
                anomaly.message,
            )  # fmt: skip

    # ------------------------------------------------------------------ notifications

    async def notification(self, ip: str, body: bytes) -> None:
        """A YooKassa HTTP notification. Only from the allowed networks (ForbiddenError);
        a malformed body is InvalidRequestError. Acted on only after fetching the object
        from the API: duplicates, reordering and unknown ids change nothing."""
        networks = self.config.webhook_networks
        if not (ip_allowed(ip, networks) if networks else ip_allowed(ip)):
            raise ForbiddenError("notifications are accepted only from the provider's networks")
        await self.handle_notification(body)

    async def handle_notification(self, body: bytes | Mapping[str, object]) -> None:
        try:
            note = parse_notification(body)
        except NotificationError as exc:
            raise InvalidRequestError(str(exc)) from None
        if note.event.is_refund:
            await self._refresh_refund(note.object_id)
            return
        payment = await self.store.payment_by_provider_id(note.object_id)
        if payment is None:
            log.info("payments: a notification for an unknown payment; ignored")
            return
        await self._refresh(payment)

    async def _refresh_refund(self, provider_refund_id: str) -> None:
        try:
            seen = await self.provider.get_refund(provider_refund_id)
        except ProviderNotFoundError:
            log.info("payments: a notification for an unknown refund; ignored")
            return
        payment = await self.store.payment_by_provider_id(seen.provider_payment_id)
        if payment is None:
            return
        refund = next(
            (
                r for r in await self.store.refunds_for_payment(payment.payment_id)
                if r.provider_refund_id == provider_refund_id
            ),
            None,
        )  # fmt: skip
        if refund is not None:
            await self._observe_refund(refund, payment, seen)

    async def _observe_refund(self, refund: Refund, payment: Payment, seen: Any) -> Refund:
        for _ in range(ORDER_RETRIES):
            order = await self.store.order(payment.booking_id)
            if order is None:
                raise NotFoundError(f"no order for booking {payment.booking_id!r}")
            price_list = await self.price_list(order.clinic_id)
            observed = observe_refund(
                refund, seen, payment, order=order, commission=price_list.commission_for_doctor(order.doctor_id),
                now_s=self.clock(),
            )  # fmt: skip
            self._report(observed.anomalies)
            if not observed.changed:
                return refund
            payments = [
                observed.payment if p.payment_id == payment.payment_id else p
                for p in await self.store.payments_for_booking(order.booking_id)
            ]
            refunds = [
                observed.refund if r.refund_id == refund.refund_id else r
                for p in payments for r in await self.store.refunds_for_payment(p.payment_id)
            ]  # fmt: skip
            status = order_status(order, payments, refunds)
            order_changed = status is not order.status
            order.status = status
            try:
                await self.store.record(
                    order=order if order_changed else None,
                    payment=observed.payment if observed.payment != payment else None,
                    refund=observed.refund,
                    transactions=observed.transactions,
                )
                if observed.transactions:
                    self.refunded += 1
                return observed.refund
            except StaleVersionError:
                fresh_p = await self.store.payment(payment.payment_id)
                fresh_r = await self.store.refund(refund.refund_id)
                if fresh_p is None or fresh_r is None:
                    raise
                payment, refund = fresh_p, fresh_r
        raise StaleVersionError(f"refund {refund.refund_id} keeps changing")

    async def sweep(self) -> int:
        """Ask the provider about payments left unsettled (a notification lost)."""
        now = self.clock()
        stale = await self.store.unsettled_payments(now - self.config.sweep_after_s, limit=100)
        for payment in stale:
            try:
                await self._refresh(payment)
            except ProviderError as exc:
                log.warning("payments sweep: %s: %s", payment.payment_id, type(exc).__name__)
        return len(stale)

    # ------------------------------------------------------------------ people's views

    async def _booking_for(self, who: Principal, booking_id: str) -> Booking:
        booking = await self.bookings.load(booking_id)
        if booking is None or not await self._may_see(who, booking):
            raise NotFoundError(f"no booking {booking_id!r}")
        return booking

    async def _may_see(self, who: Principal, booking: Booking) -> bool:
        if who.role in (Role.ADMIN, Role.OPERATOR):
            return True
        if who.role is Role.PATIENT:
            return booking.patient_id == who.user_id
        if who.role is Role.DOCTOR:
            return booking.doctor_id == who.user_id
        if who.role is Role.CLINIC_ADMIN and who.clinic_id is not None:
            if booking.clinic_id == who.clinic_id:
                return True
            order = await self.store.order(booking.booking_id)
            return order is not None and order.clinic_id == who.clinic_id
        return False

    async def view(self, who: Principal, booking_id: str) -> OrderView:
        await self._booking_for(who, booking_id)
        # Payments and refunds first, the order last: a change records them together, so
        # whatever change the payments show, the order read after them shows too (the
        # other way round, a payment could be seen before its order's new status).
        payments = await self.store.payments_for_booking(booking_id)
        refunds = [r for p in payments for r in await self.store.refunds_for_payment(p.payment_id)]
        order = await self.store.order(booking_id)
        if order is None:
            raise NotFoundError(f"booking {booking_id!r} has no payment")
        now = self.clock()
        payable = next(
            (
                p for p in reversed(payments)
                if p.status is ProviderStatus.PENDING and p.confirmation_url
                and (p.expires_s is None or p.expires_s > now)
            ),
            None,
        )  # fmt: skip
        return OrderView(order, payments, refunds, payable)

    async def pay(
        self, who: Principal, booking_id: str, *, confirmation: str = "redirect"
    ) -> OrderView:
        """The patient asks to pay: the payment to confirm now, made anew when the last
        link expired (an SBP link lives an hour) or a hold was never confirmed."""
        if who.role is not Role.PATIENT:
            raise ForbiddenError("only the patient pays for their visit")
        booking = await self._booking_for(who, booking_id)
        view = await self.view(who, booking_id)
        if view.payable is not None:
            return view
        order = view.order
        if order.method is Method.AT_VISIT:
            raise ConflictError("this visit is paid at the door")
        if order.status in (OrderStatus.PAID, OrderStatus.HELD, OrderStatus.REFUNDED):
            raise ConflictError(f"nothing to pay: the payment is {order.status.value}")
        for p in view.payments:  # an expired link: the provider cancels it; we follow
            if p.status is ProviderStatus.PENDING:
                await self._cancel(order, p)
        payments = await self.store.payments_for_booking(booking_id)
        price_list = await self.price_list(order.clinic_id)
        if booking.status is BookingStatus.COMPLETED:
            amount = order.final_kopecks or order.quote.total_kopecks
            receipt = receipt_for_lines(
                (*order.quote.lines, *order.extras), price_list.tax,
                customer_email=order.customer_email, customer_phone=order.customer_phone,
            )  # fmt: skip
            await self._create(order, payments, Purpose.VISIT, amount, True, receipt,
                               confirmation=confirmation)  # fmt: skip
        elif booking.status is BookingStatus.CANCELLED and order.final_kopecks:
            receipt = fee_receipt(
                order.final_kopecks, price_list.tax,
                customer_email=order.customer_email, customer_phone=order.customer_phone,
            )  # fmt: skip
            await self._create(order, payments, Purpose.CANCELLATION_FEE, order.final_kopecks,
                               True, receipt, confirmation=confirmation)  # fmt: skip
        elif order.method is Method.CARD and booking.status in (
            BookingStatus.ASSIGNED, BookingStatus.EN_ROUTE, BookingStatus.ARRIVED,
            BookingStatus.IN_PROGRESS,
        ):  # fmt: skip
            receipt = hold_receipt(
                order.quote, price_list.tax,
                customer_email=order.customer_email, customer_phone=order.customer_phone,
            )  # fmt: skip
            await self._create(order, payments, Purpose.VISIT, hold_kopecks(order.quote), False,
                               receipt, confirmation=confirmation)  # fmt: skip
        else:
            raise ConflictError("nothing to pay yet: the visit is paid once a doctor accepts")
        return await self.view(who, booking_id)

    async def sandbox_confirm(self, who: Principal, payment_id: str, *, succeed: bool) -> OrderView:
        """The sandbox's payment page: the patient pays (or declines) one of their own
        pending payments. Only with the sandbox provider."""
        confirm = getattr(self.provider, "confirm", None)
        if self.provider.name != "sandbox" or confirm is None:
            raise NotFoundError("there is no sandbox here")
        payment = await self.store.payment(payment_id) or await self.store.payment_by_provider_id(
            payment_id
        )  # ours, or the provider's id (the sandbox's confirmation page names that)
        if payment is None or payment.provider_payment_id is None:
            raise NotFoundError(f"no payment {payment_id!r}")
        await self._booking_for(who, payment.booking_id)  # theirs, or 404
        if who.role is not Role.PATIENT:
            raise ForbiddenError("only the patient pays")
        if payment.status is not ProviderStatus.PENDING:
            raise ConflictError(f"this payment is {payment.status.value} already")
        seen = await confirm(payment.provider_payment_id, succeed=succeed)
        await self._observe(payment, seen)
        return await self.view(who, payment.booking_id)

    # ------------------------------------------------------------------ refunds (admins)

    async def refund(
        self,
        who: Principal,
        payment_id: str,
        amount_kopecks: int,
        reason: str,
        *,
        request_id: str = "",
        ip: str = "",
    ) -> Refund:
        if who.role is not Role.ADMIN:
            raise ForbiddenError("only admins refund")
        payment = await self.store.payment(payment_id)
        if payment is None:
            raise NotFoundError(f"no payment {payment_id!r}")
        if payment.status is not ProviderStatus.SUCCEEDED or payment.provider_payment_id is None:
            raise ConflictError(
                f"only a captured payment is refunded; this one is {payment.status.value}"
            )
        if type(amount_kopecks) is not int or amount_kopecks <= 0:
            raise InvalidRequestError("amount_kopecks: a whole number of kopecks above zero")
        refunds = await self.store.refunds_for_payment(payment_id)
        unsent = next(
            (
                r for r in refunds
                if r.status is RefundStatus.PENDING and r.provider_refund_id is None
                and r.amount_kopecks == amount_kopecks
            ),
            None,
        )  # fmt: skip
        if unsent is not None:
            # The same refund asked again after the provider did not answer: sent again
            # with its own key, so the provider makes it at most once.
            return await self._send_refund(unsent, payment)
        in_flight = sum(r.amount_kopecks for r in refunds if r.status is RefundStatus.PENDING)
        available = payment.captured_kopecks - payment.refunded_kopecks - in_flight
        if amount_kopecks > available:
            raise InvalidRequestError(
                f"a refund of {amount_kopecks} kopecks is above what can be refunded "
                f"({available} of {payment.captured_kopecks} captured)"
            )
        if not reason.strip():
            raise InvalidRequestError("say why the money is refunded")
        now = self.clock()
        receipt = refund_receipt(payment.receipt, amount_kopecks) if payment.receipt else None
        refund = Refund(
            refund_id=f"ref-{payment_id}-{len(refunds) + 1}",
            payment_id=payment_id,
            booking_id=payment.booking_id,
            amount_kopecks=amount_kopecks,
            reason=reason.strip(),
            requested_by=who.user_id,
            receipt=receipt,
            created_s=now,
            updated_s=now,
        )
        if not await self.store.add_refund(refund):
            raise ConflictError("another refund of this payment was just made: look again")
        self.audit.record(
            who.user_id, who.role, "payment.refund", "payment", payment_id,
            request_id=request_id, ip=ip,
            detail=f"{amount_kopecks} kopecks: {reason.strip()[:300]}",
        )  # fmt: skip
        return await self._send_refund(refund, payment)

    async def _send_refund(self, refund: Refund, payment: Payment) -> Refund:
        """Ask the provider for the stored refund (its key derives from its id), then
        reconcile. When the provider does not answer, the refund stays pending and unsent:
        asking for the same amount again re-sends this one."""
        assert payment.provider_payment_id is not None
        seen = await self.provider.create_refund(
            payment.provider_payment_id,
            refund.amount_kopecks,
            refund.receipt,
            f"Возврат по заказу {payment.booking_id[:12]}",
            f"refund:{refund.refund_id}",
        )
        return await self._observe_refund(refund, payment, seen)

    async def list_payments(
        self,
        who: Principal,
        *,
        status: ProviderStatus | None = None,
        booking_id: str | None = None,
        clinic_id: str | None = None,
        before: tuple[float, str] | None = None,
        limit: int = 50,
    ) -> list[Payment]:
        if who.role is Role.CLINIC_ADMIN:
            clinic_id = who.clinic_id
        elif who.role is not Role.ADMIN:
            raise ForbiddenError("only admins list payments")
        return await self.store.list_payments(
            status=status, booking_id=booking_id, clinic_id=clinic_id, before=before, limit=limit
        )

    async def payment_refunds(self, who: Principal, payment_id: str) -> list[Refund]:
        if who.role is not Role.ADMIN:
            raise ForbiddenError("only admins see refunds")
        return await self.store.refunds_for_payment(payment_id)

    # ------------------------------------------------------------------ reports

    async def clinic_report(
        self, who: Principal, clinic_id: str, since_s: float, until_s: float
    ) -> ClinicReport:
        if who.role is Role.CLINIC_ADMIN:
            if who.clinic_id != clinic_id:
                raise NotFoundError(f"no clinic {clinic_id!r}")
        elif who.role is not Role.ADMIN:
            raise ForbiddenError("only the clinic's admin or an admin sees its finance")
        if await self.clinics.clinic(clinic_id) is None:
            raise NotFoundError(f"no clinic {clinic_id!r}")
        _check_period(since_s, until_s)
        builder = ClinicReportBuilder(clinic_id, tz=await self._zone(clinic_id))
        async for batch in self.store.transactions(since_s, until_s, clinic_id=clinic_id):
            builder.add(batch)
        return builder.report

    async def platform_report(
        self, who: Principal, since_s: float, until_s: float
    ) -> PlatformReport:
        if who.role is not Role.ADMIN:
            raise ForbiddenError("only admins see the platform's finance")
        _check_period(since_s, until_s)
        builder = PlatformReportBuilder(tz=await self._zone(None))
        async for batch in self.store.transactions(since_s, until_s):
            builder.add(batch)
        return builder.report

    async def earnings(self, who: Principal) -> DoctorEarnings:
        if who.role is not Role.DOCTOR:
            raise ForbiddenError("only doctors have earnings")
        doctor = await self.accounts.user(who.user_id)
        zone = await self._zone(doctor.clinic_id if doctor else None)
        now = self.clock()
        earliest = min(period_starts(now, zone))
        txns: list[Transaction] = []
        async for batch in self.store.transactions(earliest, now + 1, doctor_id=who.user_id):
            txns.extend(batch)
        return doctor_earnings(txns, doctor_id=who.user_id, tz=zone, now_s=now)

    # ------------------------------------------------------------------ reconciliation

    async def reconcile(self, day: date) -> ReconcileReport:
        """Our payments created on `day` (UTC) against the provider's list of that day."""
        return await reconcile_day(self.store, self.provider, day)


async def reconcile_day(
    store: PaymentStore, provider: PaymentProvider, day: date
) -> ReconcileReport:
    """Our payments created on `day` (UTC) against the provider's list of that day, both
    read in pages; every mismatch is logged and returned."""
    since = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    until = since + 86_400
    ours: list[Payment] = []
    after: str | None = None
    while True:
        page = await store.payments_created_between(since, until, after=after, limit=1_000)
        ours.extend(page)
        if len(page) < 1_000:
            break
        after = page[-1].payment_id
    theirs: list[ProviderPayment] = []
    cursor: str | None = None
    while True:
        items, cursor = await provider.list_payments(since, until, cursor, 100)
        theirs.extend(items)
        if cursor is None:
            break
    mismatches = compare_with_provider(ours, theirs, since_s=since, until_s=until)
    for m in mismatches:
        log.warning(
            "reconciliation %s: %s %s ours=%s provider=%s", day.isoformat(), m.kind.value,
            m.payment_id or m.provider_payment_id, m.ours, m.theirs,
        )  # fmt: skip
    return ReconcileReport(day, len(ours), len(theirs), mismatches)


def _stage(booking: Booking) -> str:
    """How far a cancelled booking had gone, for its cancellation fee."""
    reached = {u.new_status for u in booking.history}
    if reached & {BookingStatus.ARRIVED, BookingStatus.IN_PROGRESS}:
        return "after_arrived"
    if reached & {BookingStatus.ASSIGNED, BookingStatus.EN_ROUTE}:
        return "after_assigned"
    return "before_assigned"


def _description(purpose: Purpose, booking_id: str) -> str:
    """What the payer's bank statement says: never the symptoms or anything medical."""
    if purpose is Purpose.CANCELLATION_FEE:
        return f"TOT: плата за отмену вызова {booking_id[:12]}"
    return f"TOT: визит врача {booking_id[:12]}"


def _check_period(since_s: float, until_s: float) -> None:
    if not since_s < until_s or until_s - since_s > 400 * 86_400:
        raise InvalidRequestError("the period must be non-empty and at most 400 days")


async def run_reconciliation_daily(
    service: PaymentService, clock: Callable[[], float] = time.time, *, hour_utc: int = 3
) -> None:
    """Every day at hour_utc, reconcile the day before."""
    while True:
        now = clock()
        today = datetime.fromtimestamp(now, UTC)
        run_at = today.replace(hour=hour_utc, minute=0, second=0, microsecond=0)
        if run_at.timestamp() <= now:
            run_at += timedelta(days=1)
        await asyncio.sleep(run_at.timestamp() - now)
        try:
            await service.reconcile((run_at - timedelta(days=1)).date())
        except Exception:
            log.exception("daily reconciliation failed")
