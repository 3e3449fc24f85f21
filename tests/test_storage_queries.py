"""The users' questions of the record, on real PostGIS."""

from __future__ import annotations

import math
from datetime import date

import asyncpg
import pytest

from dispatch_core import DispatchCore
from dispatch_core.driver import Driver, ScriptedCandidates
from dispatch_core.messages import AcceptOffer, CancelBooking, ReportProgress, RequestBooking
from dispatch_core.model import Actor, BookingStatus
from routing import haversine_m
from storage.locations import LocationFix, LocationIngest, PostgisLocationWriter
from storage.postgis import PostgisBookingStore
from storage.queries import clinic_daily_figures, doctors_in_polygon_at, doctors_within_radius_at
from tests.conftest import migrate

T0 = 1_800_000_000.0  # 2027-01-15 08:00 UTC
CENTER = (55.75, 37.62)


async def test_where_doctors_were_at_a_past_moment(postgis_url: str) -> None:
    await migrate(postgis_url)
    writer = await PostgisLocationWriter.connect(postgis_url, min_size=1, max_size=2)
    ingest = LocationIngest(writer)
    # doc-a drives north through the centre; doc-b waits 3 km east; doc-c went quiet long ago.
    ingest.submit(
        LocationFix("doc-a", CENTER[0] - 0.01 + i * 0.0002, CENTER[1], 5, T0 + 10 * i)
        for i in range(100)
    )
    ingest.submit(
        LocationFix("doc-b", CENTER[0], CENTER[1] + 0.047, 5, T0 + 60 * i) for i in range(20)
    )
    ingest.submit([LocationFix("doc-c", CENTER[0], CENTER[1], 5, T0 - 3_600)])
    await ingest.flush()
    await writer.close()
    conn = await asyncpg.connect(postgis_url)
    try:
        at = T0 + 500  # doc-a's fix #50: right at the centre
        near = await doctors_within_radius_at(conn, *CENTER, 1_000, at)
        assert [d.doctor_id for d in near] == ["doc-a"]
        assert near[0].fix_s == at
        assert near[0].distance_m == pytest.approx(
            float(haversine_m(*CENTER, near[0].lat, near[0].lon)), rel=5e-3
        )
        wide = await doctors_within_radius_at(conn, *CENTER, 5_000, at)
        assert [d.doctor_id for d in wide] == ["doc-a", "doc-b"]
        # Ten minutes earlier doc-a was 2 km south.
        earlier = await doctors_within_radius_at(conn, *CENTER, 1_000, T0)
        assert earlier == []
        # doc-c's fix is an hour old: not where anyone is "at" T0 + 500.
        everyone = await doctors_within_radius_at(conn, *CENTER, 50_000, at, max_fix_age_s=300)
        assert "doc-c" not in {d.doctor_id for d in everyone}
        box = [(55.74, 37.60), (55.74, 37.64), (55.76, 37.64), (55.76, 37.60)]
        inside = await doctors_in_polygon_at(conn, box, at)
        assert [d.doctor_id for d in inside] == ["doc-a"]
        with pytest.raises(ValueError, match="three points"):
            await doctors_in_polygon_at(conn, box[:2], at)
        with pytest.raises(ValueError, match="latitude"):
            await doctors_within_radius_at(conn, math.nan, 37.6, 100, at)
        with pytest.raises(ValueError, match="radius"):
            await doctors_within_radius_at(conn, *CENTER, -5, at)
    finally:
        await conn.close()


async def test_a_clinics_day(postgis_url: str) -> None:
    await migrate(postgis_url)
    store = await PostgisBookingStore.connect(postgis_url)
    d = Driver(
        DispatchCore(ScriptedCandidates({"doc-1": (55.751, 37.62), "doc-2": (55.752, 37.62)})),
        start_s=T0,
    )
    try:
        # Two visits done (doctor arrives 600 s and 900 s after the request), one cancelled,
        # one for another clinic.
        for i, (booking_id, arrive_after) in enumerate([("b1", 600), ("b2", 900)]):
            d.do(RequestBooking(booking_id, f"pat-{i}", 55.75, 37.62, clinic_id="north"))
            offers = d.core.open_offers(booking_id)
            assert len(offers) == 1
            offer = offers[0]
            doctor = offer.doctor_id
            d.do(AcceptOffer(offer.offer_id, doctor))
            d.do(ReportProgress(booking_id, doctor, BookingStatus.EN_ROUTE))
            d.advance(arrive_after)
            for step in (BookingStatus.ARRIVED, BookingStatus.IN_PROGRESS, BookingStatus.COMPLETED):
                d.do(ReportProgress(booking_id, doctor, step))
        d.do(RequestBooking("b3", "pat-3", 55.75, 37.62, clinic_id="north"))
        d.do(CancelBooking("b3", Actor.PATIENT, "pat-3", "changed my mind"))
        d.do(RequestBooking("b4", "pat-4", 55.75, 37.62, clinic_id="south"))
        for booking in d.core.bookings.values():
            await store.save(booking)
        async with store._pool.acquire() as conn:
            north = await clinic_daily_figures(conn, "north", date(2027, 1, 15))
            other_day = await clinic_daily_figures(conn, "north", date(2027, 1, 16))
    finally:
        await store.close()
    assert (north.requested, north.completed, north.cancelled) == (3, 2, 1)
    assert north.mean_time_to_doctor_s is not None
    # b1 was requested at T0 and reached at T0 + 600; b2 requested at T0 + 600, reached 900 s later
    assert north.mean_time_to_doctor_s == pytest.approx((600 + 900) / 2)
    assert (other_day.requested, other_day.mean_time_to_doctor_s) == (0, None)
