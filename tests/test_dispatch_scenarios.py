"""The dispatch core through scripted scenarios on the deterministic driver."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch_core import (
    TERMINAL,
    TRANSITIONS,
    Actor,
    BookingStatus,
    DispatchCore,
    DispatchPolicy,
    OfferOutcome,
    Priority,
    transition_error,
)
from dispatch_core.driver import Driver, ScriptedCandidates
from dispatch_core.messages import (
    AcceptOffer,
    AssignDoctor,
    CancelBooking,
    ChangePriority,
    CommandRejected,
    DeclineOffer,
    DoctorAssigned,
    DoctorReleased,
    EscalationRaised,
    MarkDoctorOffline,
    MarkDoctorOnline,
    OfferEnded,
    OperatorsAlerted,
    PatientNotified,
    PostMessage,
    ReportProgress,
    RequestBooking,
    ReturnToSearch,
)

S = BookingStatus
HOME = (55.750, 37.620)
# Doctors on a line going east from the patient: doc-1 nearest, doc-5 farthest.
LINE = {f"doc-{i}": (55.750, 37.620 + 0.002 * i) for i in range(1, 6)}


def driver(
    policy: DispatchPolicy | None = None, doctors: dict[str, tuple[float, float]] | None = None
) -> Driver:
    return Driver(DispatchCore(ScriptedCandidates(LINE if doctors is None else doctors), policy))


def request(d: Driver, booking_id: str = "b1", **kw: object) -> None:
    d.do(RequestBooking(booking_id, kw.pop("patient_id", "pat-1"), *kw.pop("at", HOME), **kw))  # type: ignore[arg-type]
    d.core.check_invariants()


def statuses(d: Driver, booking_id: str = "b1") -> list[BookingStatus]:
    return [u.new_status for u in d.core.bookings[booking_id].history]


def accept(d: Driver, doctor: str) -> list[object]:
    offer = d.open_offer(doctor)
    assert offer is not None, f"{doctor} holds no offer"
    return d.do(AcceptOffer(offer.offer_id, doctor))  # type: ignore[return-value]


def rejected(events: list[object]) -> CommandRejected:
    assert len(events) >= 1
    last = events[-1]
    assert isinstance(last, CommandRejected), events
    return last


def test_a_normal_visit_end_to_end() -> None:
    d = driver()
    request(d)
    assert d.offered_doctors("b1") == ["doc-1"]
    accept(d, "doc-1")
    for step in (S.EN_ROUTE, S.ARRIVED, S.IN_PROGRESS):
        d.advance(60)
        assert not [
            e for e in d.do(ReportProgress("b1", "doc-1", step)) if isinstance(e, CommandRejected)
        ]
    d.advance(1_200)
    d.do(ReportProgress("b1", "doc-1", S.COMPLETED, final_price_kopecks=2500_00))
    booking = d.core.bookings["b1"]
    assert statuses(d) == [
        S.REQUESTED,
        S.SEARCHING,
        S.OFFERED,
        S.ASSIGNED,
        S.EN_ROUTE,
        S.ARRIVED,
        S.IN_PROGRESS,
        S.COMPLETED,
    ]
    assert booking.doctor_id == "doc-1"  # kept for the record
    assert booking.actual_duration_s == pytest.approx(1_200)
    assert booking.final_price_kopecks == 2500_00
    assert "doc-1" not in d.core.doctor_booking  # free for the next call
    assert [u.updated_by for u in booking.history][-1] == "doctor:doc-1"
    d.core.check_invariants()


def test_three_declines_then_an_acceptance() -> None:
    d = driver()
    request(d)
    for doctor in ("doc-1", "doc-2", "doc-3"):
        offer = d.open_offer(doctor)
        assert offer is not None
        d.do(DeclineOffer(offer.offer_id, doctor, "too far"))
        d.core.check_invariants()
    accept(d, "doc-4")
    assert d.offered_doctors("b1") == ["doc-1", "doc-2", "doc-3", "doc-4"]
    assert d.core.bookings["b1"].doctor_id == "doc-4"
    declined = [e for e in d.of_type(OfferEnded) if e.outcome is OfferOutcome.DECLINED]
    assert [(e.doctor_id, e.reason) for e in declined] == [
        (f"doc-{i}", "too far") for i in (1, 2, 3)
    ]
    assert d.core.bookings["b1"].excluded_doctors == {"doc-1", "doc-2", "doc-3"}


def test_a_decline_needs_a_reason() -> None:
    d = driver()
    request(d)
    offer = d.open_offer("doc-1")
    assert offer is not None
    assert "reason" in rejected(d.do(DeclineOffer(offer.offer_id, "doc-1", "  "))).reason
    assert d.open_offer("doc-1") is offer


def test_nobody_accepts_and_operators_are_alerted() -> None:
    policy = DispatchPolicy(offer_ttl_s=15, max_offers=3)
    d = driver(policy)
    request(d)
    d.advance(200)
    booking = d.core.bookings["b1"]
    assert booking.status is S.NO_DOCTOR_FOUND
    assert d.offered_doctors("b1") == ["doc-1", "doc-2", "doc-3"]  # nobody offered twice
    assert all(e.outcome is OfferOutcome.EXPIRED for e in d.of_type(OfferEnded))
    alerts = [e for e in d.of_type(OperatorsAlerted) if e.kind == "no_doctor_found"]
    assert len(alerts) == 1
    assert any(isinstance(e, PatientNotified) for e in d.events)


def test_the_search_gives_up_after_its_time() -> None:
    d = driver(DispatchPolicy(max_search_s=60), doctors={})  # nobody online at all
    request(d)
    d.advance(59)
    assert d.core.bookings["b1"].status is S.SEARCHING
    d.advance(2)
    assert d.core.bookings["b1"].status is S.NO_DOCTOR_FOUND


def test_a_doctor_who_comes_online_is_offered_a_waiting_booking() -> None:
    d = driver(doctors={"doc-1": LINE["doc-1"]})
    d.do(MarkDoctorOffline("doc-1"))
    request(d)
    d.advance(5)
    assert d.core.bookings["b1"].status is S.SEARCHING
    d.do(MarkDoctorOnline("doc-1"))
    d.advance(1)
    assert d.core.bookings["b1"].status is S.OFFERED


class TestRaces:
    def test_acceptance_just_before_expiry_wins(self) -> None:
        d = driver(DispatchPolicy(offer_ttl_s=15))
        request(d)
        d.now_s += 14.999
        accept(d, "doc-1")
        assert d.core.bookings["b1"].doctor_id == "doc-1"

    def test_acceptance_at_expiry_loses_and_is_told_why(self) -> None:
        d = driver(DispatchPolicy(offer_ttl_s=15))
        request(d)
        offer = d.open_offer("doc-1")
        assert offer is not None
        d.now_s += 15.0  # no Tick has run yet: the core still decides the race
        events = d.do(AcceptOffer(offer.offer_id, "doc-1"))
        assert "expired" in rejected(events).reason
        assert offer.outcome is OfferOutcome.EXPIRED  # exactly one outcome
        assert d.core.bookings["b1"].status is S.OFFERED
        assert d.offered_doctors("b1") == ["doc-1", "doc-2"]  # the cascade went on
        d.core.check_invariants()

    def test_acceptance_after_cancellation_loses(self) -> None:
        d = driver()
        request(d)
        offer = d.open_offer("doc-1")
        assert offer is not None
        d.do(CancelBooking("b1", Actor.PATIENT, "pat-1", "feeling better"))
        events = d.do(AcceptOffer(offer.offer_id, "doc-1"))
        assert "withdrawn" in rejected(events).reason
        assert d.core.bookings["b1"].status is S.CANCELLED
        assert offer.outcome is OfferOutcome.WITHDRAWN

    def test_top_n_offers_first_yes_wins(self) -> None:
        d = driver(DispatchPolicy(offer_fanout=3))
        request(d)
        assert d.offered_doctors("b1") == ["doc-1", "doc-2", "doc-3"]
        late = d.open_offer("doc-3")
        accept(d, "doc-2")
        assert d.core.bookings["b1"].doctor_id == "doc-2"
        outcomes = {e.doctor_id: e.outcome for e in d.of_type(OfferEnded)}
        assert outcomes == {
            "doc-2": OfferOutcome.ACCEPTED,
            "doc-1": OfferOutcome.WITHDRAWN,
            "doc-3": OfferOutcome.WITHDRAWN,
        }
        assert late is not None
        assert "withdrawn" in rejected(d.do(AcceptOffer(late.offer_id, "doc-3"))).reason


class TestOffline:
    def test_offline_with_an_offer_expires_it_at_once(self) -> None:
        d = driver()
        request(d)
        d.do(MarkDoctorOffline("doc-1"))
        assert d.offered_doctors("b1") == ["doc-1", "doc-2"]
        ended = d.of_type(OfferEnded)[0]
        assert (ended.outcome, ended.reason) == (OfferOutcome.EXPIRED, "the doctor went offline")

    def test_offline_with_an_assignment_is_flagged_then_released(self) -> None:
        d = driver(DispatchPolicy(offline_grace_s=120))
        request(d)
        accept(d, "doc-1")
        d.do(ReportProgress("b1", "doc-1", S.EN_ROUTE))
        d.do(MarkDoctorOffline("doc-1"))
        assert [e.kind for e in d.of_type(OperatorsAlerted)] == ["doctor_offline"]
        d.advance(119)
        assert d.core.bookings["b1"].status is S.EN_ROUTE
        d.advance(2)
        booking = d.core.bookings["b1"]
        assert booking.status is S.OFFERED
        assert d.offered_doctors("b1")[-1] == "doc-2"
        assert "doc-1" in booking.excluded_doctors
        assert d.of_type(DoctorReleased)[0].doctor_id == "doc-1"

    def test_coming_back_within_the_grace_keeps_the_visit(self) -> None:
        d = driver(DispatchPolicy(offline_grace_s=120))
        request(d)
        accept(d, "doc-1")
        d.do(MarkDoctorOffline("doc-1"))
        d.advance(60)
        d.do(MarkDoctorOnline("doc-1"))
        d.advance(300)
        assert d.core.bookings["b1"].status is S.ASSIGNED
        assert d.core.bookings["b1"].doctor_id == "doc-1"


class TestEmergencies:
    def test_an_emergency_preempts_a_doctor_en_route_to_a_routine_visit(self) -> None:
        d = driver(doctors={"doc-1": LINE["doc-1"]})
        request(d, "routine", patient_id="pat-1")
        accept(d, "doc-1")
        d.do(ReportProgress("routine", "doc-1", S.EN_ROUTE))
        request(d, "emergency", patient_id="pat-2", is_emergency=True, emergency_type="cardiac")
        assert d.core.bookings["emergency"].doctor_id == "doc-1"
        assert d.core.bookings["emergency"].status is S.ASSIGNED
        routine = d.core.bookings["routine"]
        assert routine.status is S.SEARCHING
        assert routine.doctor_id is None
        told = [e for e in d.of_type(PatientNotified) if e.booking_id == "routine"]
        assert "emergency" in told[-1].message
        d.core.check_invariants()

    def test_no_preemption_when_disabled_or_the_visit_is_urgent(self) -> None:
        d = driver(DispatchPolicy(preemption_enabled=False), doctors={"doc-1": LINE["doc-1"]})
        request(d, "routine")
        accept(d, "doc-1")
        request(d, "emergency", patient_id="pat-2", is_emergency=True)
        assert d.core.bookings["emergency"].status is S.SEARCHING
        d2 = driver(doctors={"doc-1": LINE["doc-1"]})
        request(d2, "urgent", priority=Priority.URGENT)
        accept(d2, "doc-1")
        request(d2, "emergency", patient_id="pat-2", is_emergency=True)
        assert d2.core.bookings["urgent"].doctor_id == "doc-1"

    def test_emergencies_get_free_doctors_first(self) -> None:
        d = driver(doctors={})
        request(d, "routine", patient_id="pat-1")
        request(d, "emergency", patient_id="pat-2", is_emergency=True)
        d.core.candidates = ScriptedCandidates({"doc-1": LINE["doc-1"]})  # a doctor appears
        d.advance(1)
        assert d.open_offer("doc-1") is not None
        assert d.open_offer("doc-1").booking_id == "emergency"  # type: ignore[union-attr]

    def test_call_types_that_need_it_are_escalated(self) -> None:
        d = driver()
        request(d, call_type="chest_pain")
        escalation = d.of_type(EscalationRaised)
        assert [(e.booking_id, e.emergency_number) for e in escalation] == [("b1", "103")]
        assert any(e.kind == "escalation" for e in d.of_type(OperatorsAlerted))


class TestOperator:
    def test_reassign_mid_route(self) -> None:
        d = driver()
        request(d)
        accept(d, "doc-1")
        d.do(ReportProgress("b1", "doc-1", S.EN_ROUTE))
        d.do(AssignDoctor("b1", "doc-3", "op-7", "doc-1 stuck in traffic"))
        booking = d.core.bookings["b1"]
        assert booking.doctor_id == "doc-3"
        assert booking.status is S.ASSIGNED
        last = booking.history[-1]
        assert (last.updated_by, last.reason, last.doctor_id) == (
            "operator:op-7",
            "doc-1 stuck in traffic",
            "doc-3",
        )
        assert [e.doctor_id for e in d.of_type(DoctorReleased)] == ["doc-1"]
        assert d.core.doctor_booking == {"doc-3": "b1"}

    def test_assigning_a_busy_doctor_needs_their_release(self) -> None:
        d = driver()
        request(d, "b1")
        accept(d, "doc-1")
        request(d, "b2", patient_id="pat-2")
        refused = rejected(d.do(AssignDoctor("b2", "doc-1", "op-1", "she knows the patient")))
        assert "busy" in refused.reason
        d.do(AssignDoctor("b2", "doc-1", "op-1", "she knows the patient", release_current=True))
        assert d.core.bookings["b2"].doctor_id == "doc-1"
        assert d.core.bookings["b1"].status in (S.SEARCHING, S.OFFERED)
        assert d.core.bookings["b1"].doctor_id is None
        d.core.check_invariants()

    def test_overrides_need_a_reason_and_an_operator(self) -> None:
        d = driver()
        request(d)
        for cmd in (
            AssignDoctor("b1", "doc-2", "op-1", " "),
            AssignDoctor("b1", "doc-2", "", "because"),
            ChangePriority("b1", "op-1", Priority.URGENT, ""),
            ReturnToSearch("b1", "op-1", ""),
            CancelBooking("b1", Actor.OPERATOR, "op-1", ""),
        ):
            assert isinstance(d.do(cmd)[-1], CommandRejected)
        assert d.core.bookings["b1"].status is S.OFFERED

    def test_change_priority_and_return_to_search_are_recorded(self) -> None:
        d = driver()
        request(d)
        accept(d, "doc-1")
        d.do(ChangePriority("b1", "op-2", Priority.URGENT, "patient worse"))
        d.do(ReturnToSearch("b1", "op-2", "doctor unreachable by phone"))
        booking = d.core.bookings["b1"]
        reasons = [(u.updated_by, u.reason) for u in booking.history]
        assert ("operator:op-2", "priority normal -> urgent: patient worse") in reasons
        assert ("operator:op-2", "doctor unreachable by phone") in reasons
        assert booking.priority is Priority.URGENT
        assert d.offered_doctors("b1")[-1] == "doc-1"  # released, not banned: may be asked again
        d.core.check_invariants()

    def test_operator_assigns_a_doctor_not_ranked_first(self) -> None:
        d = driver()
        request(d)
        d.do(AssignDoctor("b1", "doc-5", "op-1", "speaks the patient's language"))
        assert d.core.bookings["b1"].doctor_id == "doc-5"
        assert d.of_type(DoctorAssigned)[-1].by == "operator:op-1"
        assert d.of_type(OfferEnded)[-1].outcome is OfferOutcome.WITHDRAWN


class TestRules:
    def test_a_scheduled_booking_fires_on_time(self) -> None:
        d = driver(DispatchPolicy(scheduled_lead_s=1_800))
        request(d, scheduled_s=d.now_s + 7_200)
        assert d.core.bookings["b1"].status is S.SCHEDULED
        assert d.core.next_deadline_s() == pytest.approx(d.now_s + 5_400)
        d.advance(5_399)
        assert d.core.bookings["b1"].status is S.SCHEDULED
        d.advance(1)
        assert d.core.bookings["b1"].status is S.OFFERED

    def test_only_the_patient_cancels_their_booking(self) -> None:
        d = driver()
        request(d)
        refused = rejected(d.do(CancelBooking("b1", Actor.PATIENT, "pat-999", "mine now")))
        assert refused.reason == "no booking 'b1'"  # not yours: as if it did not exist
        assert (
            "doctor cannot cancel"
            in rejected(d.do(CancelBooking("b1", Actor.DOCTOR, "doc-1", "no"))).reason
        )

    def test_only_the_assigned_doctor_reports_progress(self) -> None:
        d = driver()
        request(d)
        accept(d, "doc-1")
        assert "not assigned" in rejected(d.do(ReportProgress("b1", "doc-2", S.EN_ROUTE))).reason
        assert (
            "cannot go from assigned to completed"
            in rejected(d.do(ReportProgress("b1", "doc-1", S.COMPLETED))).reason
        )

    def test_messages(self) -> None:
        d = driver()
        request(d)
        accept(d, "doc-1")
        d.do(PostMessage("b1", "pat-1", Actor.PATIENT, "the door code is 1234"))
        d.do(PostMessage("b1", "doc-1", Actor.DOCTOR, "ten minutes away"))
        assert isinstance(d.do(PostMessage("b1", "doc-2", Actor.DOCTOR, "hi"))[-1], CommandRejected)
        assert isinstance(
            d.do(PostMessage("b1", "pat-1", Actor.PATIENT, "   "))[-1], CommandRejected
        )
        assert [m.content for m in d.core.bookings["b1"].messages] == [
            "the door code is 1234",
            "ten minutes away",
        ]

    def test_bad_requests(self) -> None:
        d = driver()
        request(d)
        assert "already exists" in rejected(d.do(RequestBooking("b1", "pat-1", *HOME))).reason
        assert "latitude" in rejected(d.do(RequestBooking("b2", "pat-1", 95.0, 37.6))).reason
        assert (
            "latitude" in rejected(d.do(RequestBooking("b3", "pat-1", float("nan"), 37.6))).reason
        )
        assert (
            "no booking" in rejected(d.do(CancelBooking("nope", Actor.OPERATOR, "op", "x"))).reason
        )
        with pytest.raises(ValueError, match="policy"):
            DispatchPolicy(offer_ttl_s=0)


ALL = list(BookingStatus)


@given(old=st.sampled_from(ALL), new=st.sampled_from(ALL), actor=st.sampled_from(list(Actor)))
def test_the_table_is_the_only_way(old: BookingStatus, new: BookingStatus, actor: Actor) -> None:
    error = transition_error(old, new, actor)
    allowed = TRANSITIONS.get((old, new), frozenset())
    if old in TERMINAL:
        assert error is not None
        assert "final" in error
    elif actor in allowed:
        assert error is None
    else:
        assert error is not None


def test_terminal_states_have_no_exit_in_the_table() -> None:
    for old, new in itertools.product(TERMINAL, ALL):
        assert (old, new) not in TRANSITIONS


# Every code point, lone surrogates (category Cs) included: JSON can carry them.
ANY_CHAR = st.characters(blacklist_categories=())


def storable(text: str, limit: int) -> bool:
    stripped = text.strip()
    try:
        stripped.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in stripped and len(stripped) <= limit


@given(
    address=st.text(ANY_CHAR, max_size=600),
    reason=st.text(ANY_CHAR, max_size=1_100),
    message=st.text(ANY_CHAR, max_size=4_100),
)
def test_any_text_is_taken_or_refused_with_a_reason(
    address: str, reason: str, message: str
) -> None:
    d = driver()
    events = d.do(RequestBooking("b1", "pat-1", *HOME, address=address))
    if not storable(address, 500):
        assert isinstance(events[-1], CommandRejected)
        assert "b1" not in d.core.bookings
        return
    assert "b1" in d.core.bookings
    posted = d.do(PostMessage("b1", "pat-1", Actor.PATIENT, message))
    ok_message = message.strip() and storable(message, 4_000)
    assert isinstance(posted[-1], CommandRejected) != bool(ok_message)
    cancelled = d.do(CancelBooking("b1", Actor.PATIENT, "pat-1", reason))
    ok_reason = reason.strip() and storable(reason, 1_000)
    assert (d.core.bookings["b1"].status is S.CANCELLED) == bool(ok_reason)
    assert isinstance(cancelled[-1], CommandRejected) != bool(ok_reason)
    d.core.check_invariants()


# -- a doctor the patient chose -------------------------------------------------------------


def open_offer_doctors(d: Driver, booking_id: str = "b1") -> list[str]:
    return [o.doctor_id for o in d.core.open_offers(booking_id)]


def test_the_chosen_doctor_is_offered_first_and_alone() -> None:
    d = driver(DispatchPolicy(offer_fanout=3))
    request(d, requested_doctor_id="doc-4")  # not the nearest
    assert open_offer_doctors(d) == ["doc-4"]
    accept(d, "doc-4")
    assert d.core.bookings["b1"].doctor_id == "doc-4"


def test_when_the_chosen_doctor_declines_others_are_asked_if_the_patient_agreed() -> None:
    d = driver()
    request(d, requested_doctor_id="doc-4", others_if_declined=True)
    d.do(DeclineOffer(d.core.open_offers("b1")[0].offer_id, "doc-4", "off duty soon"))
    assert open_offer_doctors(d) == ["doc-1"]  # the nearest of the rest
    d.core.check_invariants()


@pytest.mark.parametrize("how", ["decline", "lapse"])
def test_when_the_chosen_doctor_does_not_take_it_nobody_else_is_asked_unless_agreed(
    how: str,
) -> None:
    d = driver()
    request(d, requested_doctor_id="doc-4", others_if_declined=False)
    offer = d.core.open_offers("b1")[0]
    if how == "decline":
        events = d.do(DeclineOffer(offer.offer_id, "doc-4", "too far"))
    else:
        events = d.advance(20)  # the offer lives 15 s
    booking = d.core.bookings["b1"]
    assert booking.status is S.NO_DOCTOR_FOUND
    assert "chose" in booking.history[-1].reason
    assert any(isinstance(e, PatientNotified) for e in events)
    assert any(isinstance(e, OperatorsAlerted) for e in events)
    assert all(o.doctor_id == "doc-4" for o in d.core.offers.values())
    d.core.check_invariants()


def test_a_busy_chosen_doctor_is_waited_for_unless_others_may_come() -> None:
    d = driver()
    request(d, "b0", at=(55.750, 37.628))  # doc-4 is nearest to this one
    accept(d, "doc-4")
    request(d, "b1", requested_doctor_id="doc-4", others_if_declined=False)
    assert d.core.bookings["b1"].status is S.SEARCHING and not d.core.open_offers("b1")
    d.advance(30)
    assert d.core.bookings["b1"].status is S.SEARCHING  # still waiting for doc-4
    for step in (S.EN_ROUTE, S.ARRIVED, S.IN_PROGRESS, S.COMPLETED):
        d.do(ReportProgress("b0", "doc-4", step))
    d.advance(2)
    assert open_offer_doctors(d) == ["doc-4"]  # free again: asked at once
    request(d, "b2", requested_doctor_id="doc-4", others_if_declined=True)
    assert open_offer_doctors(d, "b2") == ["doc-1"]  # busy with b1's offer: others may come
    d.core.check_invariants()


def test_an_emergency_goes_to_the_nearest_whoever_was_chosen() -> None:
    d = driver()
    request(d, requested_doctor_id="doc-4", others_if_declined=False, is_emergency=True)
    assert open_offer_doctors(d) == ["doc-1"]
