"""The ledger under random money flows: holds, captures (partial too), cancellations,
expiries, one-stage payments, refunds (pending, succeeded, canceled), the provider's
fee known late, and its notifications duplicated, reordered and lost, with the service's
answers sometimes lost too. The provider is a tiny model of YooKassa's semantics; our
side only ever learns through payments.reconcile.

After every step: every transaction balances and all entries sum to zero; no
transaction is produced twice (so no payment is captured twice); refunds never exceed
captures; each payment's TRANSIT balance is our captured - refunded - fee and never
ahead of the provider. After a full sync (every object fetched): TRANSIT equals the
provider's captured - refunded - fee, statuses agree, the daily reconciliation finds
nothing, and the reports agree with the balances."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from payments.ledger import balances, clinic_owner, transit_by_payment
from payments.model import (
    Account,
    Commission,
    Method,
    Order,
    OrderStatus,
    Payment,
    PriceItemKind,
    ProviderPayment,
    ProviderRefund,
    ProviderStatus,
    Purpose,
    Quote,
    QuoteLine,
    Refund,
    RefundStatus,
    Transaction,
)
from payments.reconcile import compare_with_provider, observe_payment, observe_refund, order_status
from payments.reports import clinic_report, doctor_earnings, platform_report

FEE_BP = 280  # the provider's fee: 2.8 % of the captured amount
TZ = ZoneInfo("Europe/Moscow")


@dataclass
class ProvPay:
    """The provider's payment (YooKassa's rules: pending -> waiting_for_capture ->
    succeeded | canceled; a capture at most the held amount; refunds at most the
    captured amount less refunds and pending refunds; income known some time after
    the capture)."""

    pid: str
    our_id: str
    booking_id: str
    amount: int  # asked; after a capture: the captured amount
    one_stage: bool
    created_s: float
    status: ProviderStatus = ProviderStatus.PENDING
    refunded: int = 0
    fee_known: bool = False
    captured_s: float | None = None

    @property
    def captured(self) -> int:
        return self.amount if self.status is ProviderStatus.SUCCEEDED else 0

    @property
    def fee(self) -> int:
        return self.captured * FEE_BP // 10_000 if self.fee_known else 0

    def snapshot(self) -> ProviderPayment:
        succeeded = self.status is ProviderStatus.SUCCEEDED
        return ProviderPayment(
            provider_payment_id=self.pid,
            status=self.status,
            amount_kopecks=self.amount,
            income_kopecks=self.amount - self.fee if succeeded and self.fee_known else None,
            refunded_kopecks=self.refunded,
            paid=self.status in (ProviderStatus.WAITING_FOR_CAPTURE, ProviderStatus.SUCCEEDED),
            method_type="bank_card",
            confirmation_url=f"https://pay.example/{self.pid}",
            confirmation_token=None,
            qr_data=None,
            created_s=self.created_s,
            captured_s=self.captured_s,
            expires_s=self.created_s + 7 * 86_400 if not self.one_stage else None,
            cancellation_party=None,
            cancellation_reason="expired_on_confirmation"
            if self.status is ProviderStatus.CANCELED
            else None,
            metadata={"booking_id": self.booking_id, "payment_id": self.our_id},
        )


@dataclass
class ProvRefund:
    rid: str
    pid: str
    amount: int
    created_s: float
    status: RefundStatus = RefundStatus.PENDING

    def snapshot(self) -> ProviderRefund:
        return ProviderRefund(self.rid, self.pid, self.status, self.amount, self.created_s)


@dataclass
class World:
    prov: dict[str, ProvPay] = field(default_factory=dict)  # by provider id
    prov_by_ours: dict[str, str] = field(default_factory=dict)  # our id -> provider id
    prov_refunds: dict[str, ProvRefund] = field(default_factory=dict)
    inbox: list[ProviderPayment | ProviderRefund] = field(default_factory=list)


def _quote(total: int) -> Quote:
    line = QuoteLine(PriceItemKind.BASE, "home_visit", "Вызов врача на дом", "Home visit", total)
    return Quote((line,), total, total // 2)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 1_700_000_000.0
        self.world = World()
        self.orders: dict[str, Order] = {}
        self.ours: dict[str, Payment] = {}
        self.refunds: dict[str, Refund] = {}
        self.ledger: dict[str, Transaction] = {}
        self.commission = Commission()
        self.n = 0

    # ------------------------------------------------------------------ helpers

    def _tick(self) -> None:
        self.now += 1_800.0  # half an hour: the reports see several days

    def _record(self, txns: tuple[Transaction, ...]) -> None:
        for txn in txns:
            assert txn.balanced, txn
            assert txn.txn_id not in self.ledger, f"{txn.txn_id} produced twice"
            self.ledger[txn.txn_id] = txn
            event(f"posted a {txn.kind}")

    def _observe_payment(self, seen: ProviderPayment) -> None:
        our_id = seen.metadata["payment_id"]
        ours = self.ours.get(our_id)
        if ours is None:  # an unknown id changes nothing
            return
        obs = observe_payment(
            ours,
            seen,
            order=self.orders[ours.booking_id],
            commission=self.commission,
            now_s=self.now,
        )
        assert obs.anomalies == (), obs.anomalies
        assert obs.changed == (obs.payment != ours)
        self._record(obs.transactions)
        self.ours[our_id] = obs.payment

    def _observe_refund(self, seen: ProviderRefund, refund: Refund | None = None) -> None:
        """`refund`: ours, for the create call's answer (before we know the provider's
        id); else found by the provider's id (unknown ids change nothing)."""
        if refund is None:
            refund = next(
                (
                    r
                    for r in self.refunds.values()
                    if r.provider_refund_id == seen.provider_refund_id
                ),
                None,
            )
        if refund is None:
            return
        payment = self.ours[refund.payment_id]
        obs = observe_refund(
            refund,
            seen,
            payment,
            order=self.orders[payment.booking_id],
            commission=self.commission,
            now_s=self.now,
        )
        assert obs.anomalies == (), obs.anomalies
        self._record(obs.transactions)
        self.refunds[refund.refund_id] = obs.refund
        self.ours[payment.payment_id] = obs.payment

    def _notify(self, obj: ProviderPayment | ProviderRefund) -> None:
        self.world.inbox.append(obj)

    def _pick(self, items: list[str], i: int) -> str:
        return sorted(items)[i % len(items)]

    def _prov_in(self, *statuses: ProviderStatus) -> list[str]:
        return [k for k, p in self.world.prov.items() if p.status in statuses]

    def _ours_in(self, *statuses: ProviderStatus) -> list[str]:
        return [k for k, p in self.ours.items() if p.status in statuses]

    def _prov_of(self, our_id: str) -> ProvPay:
        return self.world.prov[self.world.prov_by_ours[our_id]]

    # ------------------------------------------------------------------ rules

    @initialize(
        percent_bp=st.integers(0, 3_000),
        fixed=st.integers(0, 10_000),
        share=st.integers(0, 10_000),
    )
    def setup(self, percent_bp: int, fixed: int, share: int) -> None:
        self.commission = Commission(percent_bp, fixed, share)
        # a hold and a one-stage payment, confirmed by the payer, to start from
        self.create_payment(
            amount=350_000, one_stage=False, clinic="clinic-1", doctor="doc-1", answer_lost=False
        )
        self.create_payment(
            amount=250_000, one_stage=True, clinic=None, doctor="doc-2", answer_lost=True
        )
        self.payer_confirms(0, fee_now=False)
        self.payer_confirms(0, fee_now=True)

    @rule(
        amount=st.integers(1, 5_000_000),
        one_stage=st.booleans(),
        clinic=st.sampled_from(["clinic-1", "clinic-2", None]),
        doctor=st.sampled_from(["doc-1", "doc-2", None]),
        answer_lost=st.booleans(),
    )
    def create_payment(
        self,
        amount: int,
        one_stage: bool,
        clinic: str | None,
        doctor: str | None,
        answer_lost: bool,
    ) -> None:
        self._tick()
        self.n += 1
        booking = f"b{self.n}"
        our_id = f"pay-{booking}-visit-1"
        method = Method.SBP if one_stage else Method.CARD
        self.orders[booking] = Order(
            booking, "patient-1", clinic, method, _quote(amount), doctor_id=doctor
        )
        self.ours[our_id] = Payment(
            our_id, booking, Purpose.VISIT, method, amount, created_s=self.now
        )
        pid = f"prov-{self.n:04d}"
        self.world.prov[pid] = ProvPay(pid, our_id, booking, amount, one_stage, self.now)
        self.world.prov_by_ours[our_id] = pid
        if not answer_lost:
            self._observe_payment(self.world.prov[pid].snapshot())

    @precondition(lambda self: self._prov_in(ProviderStatus.PENDING))
    @rule(i=st.integers(0, 10_000), fee_now=st.booleans())
    def payer_confirms(self, i: int, fee_now: bool) -> None:
        p = self.world.prov[self._pick(self._prov_in(ProviderStatus.PENDING), i)]
        self._tick()
        if p.one_stage:
            p.status = ProviderStatus.SUCCEEDED
            p.captured_s = self.now
            p.fee_known = fee_now
        else:
            p.status = ProviderStatus.WAITING_FOR_CAPTURE
        self._notify(p.snapshot())

    @precondition(
        lambda self: self._prov_in(ProviderStatus.PENDING, ProviderStatus.WAITING_FOR_CAPTURE)
    )
    @rule(i=st.integers(0, 10_000))
    def link_expires_or_hold_expires(self, i: int) -> None:
        live = self._prov_in(ProviderStatus.PENDING, ProviderStatus.WAITING_FOR_CAPTURE)
        p = self.world.prov[self._pick(live, i)]
        self._tick()
        p.status = ProviderStatus.CANCELED
        self._notify(p.snapshot())

    @precondition(lambda self: self._ours_in(ProviderStatus.WAITING_FOR_CAPTURE))
    @rule(
        i=st.integers(0, 10_000),
        share=st.integers(1, 100),
        fee_now=st.booleans(),
        answer_lost=st.booleans(),
    )
    def service_captures(self, i: int, share: int, fee_now: bool, answer_lost: bool) -> None:
        """At completion (or a cancellation fee): capture up to what we held, as our
        copy says (the service only captures what it knows is held). The provider
        refuses a capture in the wrong state and answers a repeated one with the
        payment as it is (never a second capture)."""
        ours = self.ours[self._pick(self._ours_in(ProviderStatus.WAITING_FOR_CAPTURE), i)]
        self._tick()
        p = self._prov_of(ours.payment_id)
        if p.status is ProviderStatus.WAITING_FOR_CAPTURE:
            p.amount = max(1, ours.amount_kopecks * share // 100)
            p.status = ProviderStatus.SUCCEEDED
            p.captured_s = self.now
            p.fee_known = fee_now
            self._notify(p.snapshot())
        elif p.status is not ProviderStatus.SUCCEEDED:
            return  # 4xx: the hold is gone; the service learns it by fetching
        if not answer_lost:
            self._observe_payment(p.snapshot())

    @precondition(
        lambda self: self._ours_in(ProviderStatus.PENDING, ProviderStatus.WAITING_FOR_CAPTURE)
    )
    @rule(i=st.integers(0, 10_000), answer_lost=st.booleans())
    def service_cancels(self, i: int, answer_lost: bool) -> None:
        live = self._ours_in(ProviderStatus.PENDING, ProviderStatus.WAITING_FOR_CAPTURE)
        ours = self.ours[self._pick(live, i)]
        p = self._prov_of(ours.payment_id)
        if p.status in (ProviderStatus.PENDING, ProviderStatus.WAITING_FOR_CAPTURE):
            self._tick()
            p.status = ProviderStatus.CANCELED
            self._notify(p.snapshot())
        elif p.status is ProviderStatus.SUCCEEDED:
            return  # 4xx: too late to cancel
        if not answer_lost:
            self._observe_payment(p.snapshot())

    @precondition(lambda self: self._prov_in(ProviderStatus.SUCCEEDED))
    @rule(i=st.integers(0, 10_000))
    def provider_learns_its_fee(self, i: int) -> None:
        p = self.world.prov[self._pick(self._prov_in(ProviderStatus.SUCCEEDED), i)]
        p.fee_known = True  # no notification: only a fetch tells

    @precondition(lambda self: self._ours_in(ProviderStatus.SUCCEEDED))
    @rule(i=st.integers(0, 10_000), share=st.integers(1, 100), settle_now=st.booleans())
    def admin_refunds(self, i: int, share: int, settle_now: bool) -> None:
        """A refund of part of what our copy says is still refundable (what the refund
        service allows); the provider checks its own figures too."""
        ours = self.ours[self._pick(self._ours_in(ProviderStatus.SUCCEEDED), i)]
        open_refunds = sum(
            r.amount_kopecks
            for r in self.refunds.values()
            if r.payment_id == ours.payment_id and r.status is RefundStatus.PENDING
        )
        available = ours.captured_kopecks - ours.refunded_kopecks - open_refunds
        amount = available * share // 100
        if amount <= 0:
            return
        self._tick()
        p = self._prov_of(ours.payment_id)
        prov_open = sum(
            r.amount
            for r in self.world.prov_refunds.values()
            if r.pid == p.pid and r.status is RefundStatus.PENDING
        )
        assert amount <= p.captured - p.refunded - prov_open, "we asked more than the provider has"
        n = sum(1 for r in self.refunds.values() if r.payment_id == ours.payment_id) + 1
        refund_id = f"ref-{ours.payment_id}-{n}"
        rid = f"prov-ref-{len(self.world.prov_refunds) + 1:04d}"
        self.refunds[refund_id] = Refund(
            refund_id, ours.payment_id, ours.booking_id, amount, "test", "admin-1",
            created_s=self.now,
        )  # fmt: skip
        pr = ProvRefund(rid, p.pid, amount, self.now)
        self.world.prov_refunds[rid] = pr
        if settle_now:
            pr.status = RefundStatus.SUCCEEDED
            p.refunded += amount
            self._notify(pr.snapshot())
        self._observe_refund(pr.snapshot(), self.refunds[refund_id])  # the create call's answer

    @precondition(
        lambda self: any(r.status is RefundStatus.PENDING for r in self.world.prov_refunds.values())
    )
    @rule(j=st.integers(0, 10_000), succeed=st.booleans())
    def provider_settles_refund(self, j: int, succeed: bool) -> None:
        pending = [
            k for k, r in self.world.prov_refunds.items() if r.status is RefundStatus.PENDING
        ]
        pr = self.world.prov_refunds[self._pick(pending, j)]
        self._tick()
        pr.status = RefundStatus.SUCCEEDED if succeed else RefundStatus.CANCELED
        if succeed:
            self.world.prov[pr.pid].refunded += pr.amount
        self._notify(pr.snapshot())

    @precondition(lambda self: self.world.inbox)
    @rule(k=st.integers(0, 10_000), duplicate=st.booleans())
    def notification_arrives(self, k: int, duplicate: bool) -> None:
        """Any queued notification, in any order; a duplicated one stays queued."""
        inbox = self.world.inbox
        item = inbox[k % len(inbox)] if duplicate else inbox.pop(k % len(inbox))
        self._tick()
        if isinstance(item, ProviderPayment):
            self._observe_payment(item)
        else:
            self._observe_refund(item)

    @precondition(lambda self: self.world.inbox)
    @rule(k=st.integers(0, 10_000))
    def notification_lost(self, k: int) -> None:
        self.world.inbox.pop(k % len(self.world.inbox))

    @precondition(lambda self: self.ours)
    @rule(i=st.integers(0, 10_000))
    def sweeper_fetches_payment(self, i: int) -> None:
        our_id = self._pick(list(self.ours), i)
        self._tick()
        self._observe_payment(self._prov_of(our_id).snapshot())

    @precondition(lambda self: self.world.prov_refunds)
    @rule(j=st.integers(0, 10_000))
    def sweeper_fetches_refund(self, j: int) -> None:
        pr = self.world.prov_refunds[self._pick(list(self.world.prov_refunds), j)]
        self._tick()
        self._observe_refund(pr.snapshot())

    @rule()
    def full_sync(self) -> None:
        self._sync_and_check()

    # ------------------------------------------------------------------ invariants

    @invariant()
    def every_transaction_balances_and_all_sum_to_zero(self) -> None:
        assert all(t.balanced for t in self.ledger.values())
        assert sum(e.amount_kopecks for t in self.ledger.values() for e in t.entries) == 0

    @invariant()
    def captured_at_most_once_and_refunds_within_captures(self) -> None:
        captures = Counter(t.payment_id for t in self.ledger.values() if t.kind == "capture")
        assert all(n == 1 for n in captures.values())
        captured: Counter[str] = Counter()
        refunded: Counter[str] = Counter()
        for t in self.ledger.values():
            for e in t.entries:
                if t.kind == "capture" and e.account is Account.TRANSIT:
                    captured[t.payment_id] += e.amount_kopecks
                if e.account is Account.REFUNDS:
                    refunded[t.payment_id] += e.amount_kopecks
        for payment_id, amount in refunded.items():
            assert amount <= captured[payment_id]
        for ours in self.ours.values():
            assert captured[ours.payment_id] == ours.captured_kopecks
            assert refunded[ours.payment_id] == ours.refunded_kopecks

    @invariant()
    def transit_follows_our_copy_which_never_runs_ahead(self) -> None:
        transit = transit_by_payment(self.ledger.values())
        for ours in self.ours.values():
            assert transit.get(ours.payment_id, 0) == (
                ours.captured_kopecks - ours.refunded_kopecks - ours.fee_kopecks
            )
            p = self._prov_of(ours.payment_id)
            assert ours.captured_kopecks in (0, p.captured)
            assert ours.refunded_kopecks <= p.refunded
            assert ours.fee_kopecks in (0, p.fee)
            rank = {"pending": 0, "waiting_for_capture": 1, "succeeded": 2, "canceled": 2}
            assert rank[ours.status] <= rank[p.status]
            if ours.status in (ProviderStatus.SUCCEEDED, ProviderStatus.CANCELED):
                assert ours.status is p.status

    # ------------------------------------------------------------------ the full sync

    def _sync_and_check(self) -> None:
        for our_id in sorted(self.ours):
            self._observe_payment(self._prov_of(our_id).snapshot())
        for rid in sorted(self.world.prov_refunds):
            self._observe_refund(self.world.prov_refunds[rid].snapshot())
        transit = transit_by_payment(self.ledger.values())
        for our_id, ours in self.ours.items():
            p = self._prov_of(our_id)
            assert ours.status is p.status
            assert transit.get(our_id, 0) == p.captured - p.refunded - p.fee
        theirs = [p.snapshot() for p in self.world.prov.values()]
        assert compare_with_provider(list(self.ours.values()), theirs) == []
        for booking, order in self.orders.items():
            payments = [p for p in self.ours.values() if p.booking_id == booking]
            status = order_status(order, payments, self.refunds.values())
            captured = sum(p.captured_kopecks for p in payments)
            if captured:
                refunded = sum(p.refunded_kopecks for p in payments)
                want = OrderStatus.REFUNDED if refunded == captured else OrderStatus.PAID
                assert status is want
        self._check_reports()

    def _check_reports(self) -> None:
        txns = list(self.ledger.values())
        bal = balances(txns)
        platform = platform_report(txns, tz=TZ)
        assert platform.totals.revenue_kopecks - platform.totals.refunds_kopecks - (
            platform.totals.fees_kopecks
        ) == sum(transit_by_payment(txns).values())
        assert platform.totals.commission_kopecks == -bal.get(
            (Account.PLATFORM_COMMISSION, None), 0
        )
        assert sum(t.revenue_kopecks for t in platform.by_day.values()) == (
            platform.totals.revenue_kopecks
        )
        for clinic in ("clinic-1", "clinic-2", None):
            owner = clinic_owner(clinic)
            report = clinic_report(txns, clinic_id=clinic, tz=TZ)
            assert report.totals.net_kopecks == -(
                bal.get((Account.CLINIC_REVENUE, owner), 0) + bal.get((Account.REFUNDS, owner), 0)
            )
            assert sum(t.net_kopecks for t in report.by_month.values()) == report.totals.net_kopecks
            assert (
                sum(t.doctors_kopecks for t in report.by_doctor.values())
                == report.totals.doctors_kopecks
            )
        for doctor in ("doc-1", "doc-2"):
            earned = doctor_earnings(txns, doctor_id=doctor, tz=TZ, now_s=self.now)
            assert sum(v.earned_kopecks for v in earned.visits) == -bal.get(
                (Account.DOCTOR_EARNINGS, doctor), 0
            )

    def teardown(self) -> None:
        self._sync_and_check()


LedgerMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedgerMachine = LedgerMachine.TestCase
