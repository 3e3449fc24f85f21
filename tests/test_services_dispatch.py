"""The dispatch core driven by the real matcher on the bundled map."""

from __future__ import annotations

from dispatch_core import BookingStatus, DispatchCore
from dispatch_core.messages import AcceptOffer, DeclineOffer, ReportProgress, RequestBooking
from matching import DoctorProfile, DoctorRegistry, DoctorStatus, Matcher
from routing import Router
from services.dispatch import MatcherCandidates

NOW = 1_800_000_000.0
PATIENT = (60.1673, 24.9534)
PLACES = {"near": (60.1690, 24.9500), "mid": (60.1710, 24.9414), "far": (60.1620, 24.9300)}


def setup(router: Router) -> tuple[DispatchCore, MatcherCandidates]:
    registry = DoctorRegistry(router._projection)
    for doctor, (lat, lon) in PLACES.items():
        registry.upsert_doctor(DoctorProfile(doctor), DoctorStatus.AVAILABLE)
        assert registry.update_position(doctor, lat, lon, 5.0, NOW - 1, NOW) is None
    source = MatcherCandidates(Matcher(registry, router))
    return DispatchCore(source), source


def test_offers_cascade_in_road_eta_order(helsinki_router: Router) -> None:
    core, source = setup(helsinki_router)
    core.handle(RequestBooking("b1", "pat-1", *PATIENT), NOW)
    first = core.offers[core.doctor_offer["near"]]
    decision = source.decisions["b1"]
    assert decision.ranking[0] == "near"
    core.handle(DeclineOffer(first.offer_id, "near", "on a break"), NOW + 2)
    second_doctor = next(iter(core.doctor_offer))
    assert second_doctor == source.decisions["b1"].ranking[0]
    assert "near" not in source.decisions["b1"].ranking  # declined: never offered again
    assert source.decisions["b1"].record("near").excluded.value == "declined_this_call"  # type: ignore[union-attr]
    core.handle(AcceptOffer(core.doctor_offer[second_doctor], second_doctor), NOW + 4)
    assert core.bookings["b1"].status is BookingStatus.ASSIGNED
    core.check_invariants()


def test_a_doctor_held_elsewhere_is_not_offered(helsinki_router: Router) -> None:
    core, source = setup(helsinki_router)
    core.handle(RequestBooking("b1", "pat-1", *PATIENT), NOW)
    core.handle(AcceptOffer(core.doctor_offer["near"], "near"), NOW + 1)
    core.handle(RequestBooking("b2", "pat-2", *PATIENT), NOW + 2)
    assert "near" not in source.decisions["b2"].ranking
    assert source.decisions["b2"].record("near").excluded.value == "not_available"  # type: ignore[union-attr]
    assert core.offers[next(iter(core.doctor_offer.values()))].booking_id == "b2"


def test_an_emergency_preempts_the_nearest_busy_doctor_by_road(helsinki_router: Router) -> None:
    core, _ = setup(helsinki_router)
    # Everyone busy with routine visits, driving to them.
    for i, doctor in enumerate(PLACES):
        core.handle(RequestBooking(f"r{i}", f"pat-{i}", *PLACES[doctor]), NOW + i)
        offer_id = core.doctor_offer[doctor]
        core.handle(AcceptOffer(offer_id, doctor), NOW + i)
        core.handle(ReportProgress(f"r{i}", doctor, BookingStatus.EN_ROUTE), NOW + i)
    assert not core.doctor_offer
    core.handle(RequestBooking("e1", "pat-9", *PATIENT, is_emergency=True), NOW + 10)
    assert core.bookings["e1"].doctor_id == "near"
    assert core.bookings["r0"].status in (BookingStatus.SEARCHING, BookingStatus.NO_DOCTOR_FOUND)
    core.check_invariants()


def test_an_emergency_outside_a_clinics_area_does_not_preempt_its_doctor(
    helsinki_router: Router,
) -> None:
    """Everyone busy; the nearest, "near", was put on a routine visit by an operator (an
    override of their clinic's area): the emergency preempts another doctor, not them."""
    from clinics import validate_area
    from dispatch_core.messages import AssignDoctor

    core, source = setup(helsinki_router)
    source.matcher.registry.upsert_doctor(DoctorProfile("near", clinic_id="north"))
    elsewhere = [(61.0, 25.0), (61.0, 25.1), (61.1, 25.1), (61.1, 25.0), (61.0, 25.0)]
    source.matcher.registry.set_clinic_area("north", validate_area([[elsewhere]]).contains)
    for i, doctor in enumerate(PLACES):
        core.handle(RequestBooking(f"r{i}", f"pat-{i}", *PLACES[doctor]), NOW + i)
        if doctor == "near":
            assert "near" not in core.doctor_offer  # outside its clinic's area
            core.handle(AssignDoctor(f"r{i}", "near", "op-1", "by phone"), NOW + i)
        else:
            core.handle(AcceptOffer(core.doctor_offer[doctor], doctor), NOW + i)
        core.handle(ReportProgress(f"r{i}", doctor, BookingStatus.EN_ROUTE), NOW + i)
    assert core.doctor_booking["near"] == "r0"  # the operator's override stands
    assert not core.doctor_offer
    core.handle(RequestBooking("e1", "pat-9", *PATIENT, is_emergency=True), NOW + 10)
    assert core.bookings["e1"].doctor_id in ("mid", "far")
    assert core.doctor_booking["near"] == "r0"
    core.check_invariants()
