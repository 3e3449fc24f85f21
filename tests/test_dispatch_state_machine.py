"""The dispatch core's invariants under random sequences of everything that can happen."""

from __future__ import annotations

from collections import Counter
from urllib.parse import quote

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from dispatch_core import Actor, BookingStatus, DispatchPolicy, OfferOutcome, Priority
from dispatch_core.driver import Driver
from dispatch_core.messages import (
    AcceptOffer,
    AssignDoctor,
    CancelBooking,
    ChangePriority,
    CommandRejected,
    DeclineOffer,
    DoAll,
    MarkDoctorOffline,
    MarkDoctorOnline,
    OfferEnded,
    OfferSent,
    ReportProgress,
    RequestBooking,
    ReturnToSearch,
    StatusChanged,
)

S = BookingStatus
DOCTORS = [f"doc-{i:03d}" for i in range(6)]
NEXT_STEP = {
    S.ASSIGNED: S.EN_ROUTE,
    S.EN_ROUTE: S.ARRIVED,
    S.ARRIVED: S.IN_PROGRESS,
    S.IN_PROGRESS: S.COMPLETED,
}


class DispatchMachine(RuleBasedStateMachine):
    @initialize(
        fanout=st.integers(1, 3),
        max_offers=st.integers(1, 6),
        preemption=st.booleans(),
        seed=st.integers(0, 1_000),
    )
    def setup(self, fanout: int, max_offers: int, preemption: bool, seed: int) -> None:
        policy = DispatchPolicy(
            offer_ttl_s=15,
            offer_fanout=fanout,
            max_offers=max_offers,
            max_search_s=240,
            scheduled_lead_s=60,
            offline_grace_s=90,
            preemption_enabled=preemption,
        )
        self.d = Driver.seeded(seed, len(DOCTORS), policy=policy)
        self.n = 0
        self.offer_endings: Counter[str] = Counter()
        self.final: dict[str, BookingStatus] = {}
        self.seen = 0

    # -- helpers ----------------------------------------------------------------------------
    def _bookings(self) -> list[str]:
        return sorted(self.d.core.bookings)

    def _open_offers(self) -> list[str]:
        return sorted(o.offer_id for o in self.d.core.offers.values() if o.open)

    # -- rules -------------------------------------------------------------------------------
    @rule(
        emergency=st.booleans(),
        scheduled_in_s=st.one_of(st.none(), st.floats(0, 600)),
        priority=st.sampled_from(list(Priority)),
        call_type=st.sampled_from(["home_visit", "chest_pain", "consultation"]),
        requested=st.one_of(st.none(), st.sampled_from(DOCTORS)),
        others_if_declined=st.booleans(),
    )
    def create(
        self,
        emergency: bool,
        scheduled_in_s: float | None,
        priority: Priority,
        call_type: str,
        requested: str | None,
        others_if_declined: bool,
    ) -> None:
        self.n += 1
        scheduled = None if scheduled_in_s is None else self.d.now_s + scheduled_in_s
        self.d.do(
            RequestBooking(
                f"b{self.n}",
                f"pat-{self.n % 4}",
                55.75 + (self.n % 7) * 0.004,
                37.62 - (self.n % 5) * 0.004,
                call_type=call_type,
                priority=priority,
                is_emergency=emergency,
                scheduled_s=scheduled,
                requested_doctor_id=requested,
                others_if_declined=others_if_declined,
            )
        )

    @precondition(lambda self: bool(self._open_offers()))
    @rule(data=st.data())
    def accept(self, data: st.DataObject) -> None:
        offer = self.d.core.offers[data.draw(st.sampled_from(self._open_offers()))]
        self.d.do(AcceptOffer(offer.offer_id, offer.doctor_id))

    @precondition(lambda self: bool(self._open_offers()))
    @rule(data=st.data(), reason=st.sampled_from(["busy", "too far", ""]))
    def decline(self, data: st.DataObject, reason: str) -> None:
        offer = self.d.core.offers[data.draw(st.sampled_from(self._open_offers()))]
        self.d.do(DeclineOffer(offer.offer_id, offer.doctor_id, reason))

    @precondition(lambda self: bool(self.d.core.offers))
    @rule(data=st.data(), wrong_doctor=st.sampled_from(DOCTORS))
    def accept_any_offer(self, data: st.DataObject, wrong_doctor: str) -> None:
        """Stale or mistaken acceptances: ended offers, other doctors' offers."""
        offer_id = data.draw(st.sampled_from(sorted(self.d.core.offers)))
        self.d.do(AcceptOffer(offer_id, wrong_doctor))

    @rule(seconds=st.sampled_from([1.0, 5.0, 14.9, 15.0, 30.0, 95.0, 300.0]))
    def wait(self, seconds: float) -> None:
        self.d.advance(seconds)

    @precondition(lambda self: bool(self.d.core.bookings))
    @rule(data=st.data(), actor=st.sampled_from([Actor.PATIENT, Actor.OPERATOR, Actor.DOCTOR]))
    def cancel(self, data: st.DataObject, actor: Actor) -> None:
        booking = self.d.core.bookings[data.draw(st.sampled_from(self._bookings()))]
        actor_id = booking.patient_id if actor is Actor.PATIENT else "op-1"
        self.d.do(CancelBooking(booking.booking_id, actor, actor_id, "changed plans"))

    @precondition(lambda self: bool(self.d.core.bookings))
    @rule(data=st.data(), doctor=st.sampled_from(DOCTORS), release=st.booleans())
    def operator_assign(self, data: st.DataObject, doctor: str, release: bool) -> None:
        booking_id = data.draw(st.sampled_from(self._bookings()))
        self.d.do(
            AssignDoctor(booking_id, doctor, "op-1", "operator's choice", release_current=release)
        )

    @precondition(lambda self: bool(self.d.core.bookings))
    @rule(data=st.data(), doctor=st.text(max_size=20), release=st.booleans())
    def operator_assigns_an_unknown_id(
        self, data: st.DataObject, doctor: str, release: bool
    ) -> None:
        """A random id (a patient's, a typo, nothing) never becomes an assignment."""
        booking_id = data.draw(st.sampled_from(self._bookings()))
        before = self.d.core.bookings[booking_id].doctor_id
        events = self.d.do(
            AssignDoctor(booking_id, doctor, "op-1", "operator's choice", release_current=release)
        )
        if doctor not in DOCTORS:
            assert [type(e) for e in events] == [CommandRejected]
            assert self.d.core.bookings[booking_id].doctor_id == before

    @precondition(lambda self: bool(self.d.core.bookings))
    @rule(data=st.data(), cancel=st.booleans())
    def operator_bulk(self, data: st.DataObject, cancel: bool) -> None:
        """All or nothing: either every booking named moved, or none changed at all."""
        ids = data.draw(st.lists(st.sampled_from(self._bookings()), min_size=1, max_size=4))
        before = {
            b: (self.d.core.bookings[b].status, len(self.d.core.bookings[b].history)) for b in ids
        }
        commands = tuple(
            CancelBooking(b, Actor.OPERATOR, "op-1", "storm")
            if cancel
            else ReturnToSearch(b, "op-1", "road closed")
            for b in ids
        )
        events = self.d.do(DoAll(commands))
        refused = [e for e in events if isinstance(e, CommandRejected)]
        if refused:
            assert len(events) == 1
            for b, (status, changes) in before.items():
                assert self.d.core.bookings[b].status is status
                assert len(self.d.core.bookings[b].history) == changes
        else:
            assert len(set(ids)) == len(ids)
            for b in ids:
                booking = self.d.core.bookings[b]
                if cancel:
                    assert booking.status is S.CANCELLED
                else:  # released, then searched again (maybe offered, or given up)
                    assert any(u.reason == "road closed" for u in booking.history)

    @precondition(lambda self: bool(self.d.core.bookings))
    @rule(data=st.data())
    def operator_return_to_search(self, data: st.DataObject) -> None:
        self.d.do(
            ReturnToSearch(data.draw(st.sampled_from(self._bookings())), "op-1", "unreachable")
        )

    @precondition(lambda self: bool(self.d.core.bookings))
    @rule(data=st.data(), priority=st.sampled_from(list(Priority)))
    def operator_priority(self, data: st.DataObject, priority: Priority) -> None:
        self.d.do(
            ChangePriority(data.draw(st.sampled_from(self._bookings())), "op-1", priority, "triage")
        )

    @precondition(lambda self: bool(self.d.core.doctor_booking))
    @rule(data=st.data())
    def doctor_progress(self, data: st.DataObject) -> None:
        doctor = data.draw(st.sampled_from(sorted(self.d.core.doctor_booking)))
        booking = self.d.core.bookings[self.d.core.doctor_booking[doctor]]
        self.d.do(ReportProgress(booking.booking_id, doctor, NEXT_STEP[booking.status]))

    @rule(doctor=st.sampled_from(DOCTORS))
    def go_offline(self, doctor: str) -> None:
        self.d.do(MarkDoctorOffline(doctor))

    @rule(doctor=st.sampled_from(DOCTORS))
    def come_back(self, doctor: str) -> None:
        self.d.do(MarkDoctorOnline(doctor))

    @precondition(lambda self: bool(self.d.core.bookings))
    @rule(data=st.data())
    def forget(self, data: st.DataObject) -> None:
        """The engine drops stored finished bookings; open ones must stay."""
        booking = self.d.core.bookings[data.draw(st.sampled_from(self._bookings()))]
        forgotten = self.d.core.forget(booking.booking_id)
        assert forgotten == booking.terminal
        assert (booking.booking_id in self.d.core.bookings) != forgotten
        if forgotten:
            assert all(o.booking_id != booking.booking_id for o in self.d.core.offers.values())

    # -- invariants, after every step -------------------------------------------------------
    @invariant()
    def core_invariants(self) -> None:
        # one doctor per booking, one active booking per doctor, open offers only on
        # offered bookings, the history replays to the current state
        self.d.core.check_invariants()

    @invariant()
    def a_chosen_doctor_alone_is_asked_unless_the_patient_agreed(self) -> None:
        for event in self.d.events[self.seen :]:  # the offers this step sent
            if not isinstance(event, OfferSent):
                continue
            booking = self.d.core.bookings[event.booking_id]
            chose = booking.requested_doctor_id
            if chose is not None and not booking.others_if_declined and not booking.is_emergency:
                assert event.doctor_id == chose, event

    @invariant()
    def only_known_doctors_are_bound_or_offered(self) -> None:
        assert set(self.d.core.doctor_booking) <= set(DOCTORS)
        for offer in self.d.core.offers.values():
            assert offer.doctor_id in DOCTORS
            # offer ids go into URL paths: nothing that needs escaping
            assert quote(offer.offer_id, safe="") == offer.offer_id

    @invariant()
    def every_offer_ends_exactly_once(self) -> None:
        for event in self.d.events[self.seen :]:
            if isinstance(event, OfferEnded):
                self.offer_endings[event.offer_id] += 1
        assert all(count == 1 for count in self.offer_endings.values())
        for offer in self.d.core.offers.values():
            ended = self.offer_endings.get(offer.offer_id, 0)
            assert ended == (0 if offer.open else 1)
            if offer.outcome is OfferOutcome.ACCEPTED:
                assert self.d.core.bookings[offer.booking_id].doctor_id is not None or (
                    self.d.core.bookings[offer.booking_id].status is not S.ASSIGNED
                )

    @invariant()
    def terminal_states_are_absorbing(self) -> None:
        for event in self.d.events[self.seen :]:
            if isinstance(event, StatusChanged):
                assert event.booking_id not in self.final, (
                    f"{event.booking_id} moved after {self.final.get(event.booking_id)}"
                )
                if event.new_status in (S.COMPLETED, S.CANCELLED, S.NO_DOCTOR_FOUND):
                    self.final[event.booking_id] = event.new_status
        self.seen = len(self.d.events)


TestDispatchMachine = DispatchMachine.TestCase
TestDispatchMachine.settings = settings(max_examples=200, stateful_step_count=50, deadline=None)
