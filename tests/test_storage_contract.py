"""One contract for every BookingStore adapter: SQLite (embedded) and PostGIS."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch_core import Actor, Booking, BookingStatus, DispatchCore
from dispatch_core.driver import Driver, ScriptedCandidates
from dispatch_core.messages import (
    AcceptOffer,
    CancelBooking,
    DeclineOffer,
    PostMessage,
    ReportProgress,
    RequestBooking,
)
from dispatch_core.ports import BookingStore, DoctorAlreadyBusyError
from services.database import DatabaseBehindError, require_current_schema
from storage.postgis import PostgisBookingStore
from storage.sqlite import SqliteBookingStore
from tests.conftest import migrate, scratch_postgis_database

DOCTORS = {"doc-1": (55.751, 37.62), "doc-2": (55.752, 37.62)}


@pytest.fixture(params=["sqlite", "postgis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BookingStore]:
    if request.param == "sqlite":
        s: BookingStore = SqliteBookingStore(tmp_path / "tot.sqlite3")
        try:
            yield s
        finally:
            await s.close()
        return
    async with scratch_postgis_database() as url:
        await migrate(url)
        s = await PostgisBookingStore.connect(url)
        try:
            yield s
        finally:
            await s.close()


def same(a: Booking, b: Booking) -> None:
    fields = [f.name for f in dataclasses.fields(Booking)]
    transient = {"search_started_s", "offers_made", "doctor_offline_since_s"}
    for name in fields:
        if name in transient:
            continue
        va, vb = getattr(a, name), getattr(b, name)
        if isinstance(va, float):
            assert vb == pytest.approx(va, abs=1e-5), name
        elif name == "history":
            assert len(va) == len(vb)
            for ua, ub in zip(va, vb, strict=True):
                assert (ua.old_status, ua.new_status, ua.updated_by, ua.reason, ua.doctor_id) == (
                    ub.old_status, ub.new_status, ub.updated_by, ub.reason, ub.doctor_id,
                )  # fmt: skip
                assert ub.at_s == pytest.approx(ua.at_s, abs=1e-5)
        elif name == "messages":
            assert [(m.sender_id, m.sender_role, m.message_type, m.content) for m in va] == [
                (m.sender_id, m.sender_role, m.message_type, m.content) for m in vb
            ]
        else:
            assert va == vb, name


async def test_a_visit_round_trips_after_every_step(store: BookingStore) -> None:
    d = Driver(DispatchCore(ScriptedCandidates(DOCTORS)))
    d.do(
        RequestBooking(
            "b1",
            "pat-1",
            55.75,
            37.62,
            address="Tverskaya 1",
            symptoms="fever",
            estimated_price_kopecks=2500_00,
        )
    )
    booking = d.core.bookings["b1"]
    await store.save(booking)
    offer = d.open_offer("doc-1")
    assert offer is not None
    steps = [
        AcceptOffer(offer.offer_id, "doc-1"),
        PostMessage("b1", "pat-1", Actor.PATIENT, "door code 1234 — подъезд 2"),
        ReportProgress("b1", "doc-1", BookingStatus.EN_ROUTE),
        ReportProgress("b1", "doc-1", BookingStatus.ARRIVED),
        ReportProgress("b1", "doc-1", BookingStatus.IN_PROGRESS),
        ReportProgress("b1", "doc-1", BookingStatus.COMPLETED, final_price_kopecks=2750_50),
    ]
    for step in steps:
        events = d.do(step)
        assert not [e for e in events if type(e).__name__ == "CommandRejected"], events
        d.advance(30)
        await store.save(booking)
        loaded = await store.load("b1")
        assert loaded is not None
        same(booking, loaded)
    await store.save(booking)  # saving again adds nothing
    loaded = await store.load("b1")
    assert loaded is not None
    assert len(loaded.history) == len(booking.history)
    assert loaded.final_price_kopecks == 2750_50


async def test_missing_booking(store: BookingStore) -> None:
    assert await store.load("nope") is None


async def test_open_bookings_are_the_unfinished_ones(store: BookingStore) -> None:
    d = Driver(DispatchCore(ScriptedCandidates(DOCTORS)))
    for i in range(3):
        d.do(RequestBooking(f"b{i}", f"pat-{i}", 55.75, 37.62))
        d.advance(1)
    d.do(CancelBooking("b1", Actor.PATIENT, "pat-1", "better now"))
    for b in d.core.bookings.values():
        await store.save(b)
    assert [b.booking_id for b in await store.open_bookings()] == ["b0", "b2"]


async def test_no_doctor_holds_two_active_bookings(store: BookingStore) -> None:
    d = Driver(DispatchCore(ScriptedCandidates(DOCTORS)))
    d.do(RequestBooking("b1", "pat-1", 55.75, 37.62))
    offer = d.open_offer("doc-1")
    assert offer is not None
    d.do(AcceptOffer(offer.offer_id, "doc-1"))
    await store.save(d.core.bookings["b1"])
    # Another process, with its own core, assigns the same doctor elsewhere.
    other = Driver(DispatchCore(ScriptedCandidates({"doc-1": DOCTORS["doc-1"]})))
    other.do(RequestBooking("b2", "pat-2", 55.75, 37.62))
    offer2 = other.open_offer("doc-1")
    assert offer2 is not None
    other.do(AcceptOffer(offer2.offer_id, "doc-1"))
    with pytest.raises(DoctorAlreadyBusyError):
        await store.save(other.core.bookings["b2"])
    assert await store.load("b2") is None  # the whole save was refused
    kept = await store.load("b1")
    assert kept is not None
    assert kept.doctor_id == "doc-1"
    # once the first visit is over, the doctor may be booked again
    for step in (
        BookingStatus.EN_ROUTE,
        BookingStatus.ARRIVED,
        BookingStatus.IN_PROGRESS,
        BookingStatus.COMPLETED,
    ):
        d.do(ReportProgress("b1", "doc-1", step))
    await store.save(d.core.bookings["b1"])
    await store.save(other.core.bookings["b2"])
    loaded = await store.load("b2")
    assert loaded is not None
    assert loaded.status is BookingStatus.ASSIGNED


async def test_status_history_is_append_only(store: BookingStore) -> None:
    d = Driver(DispatchCore(ScriptedCandidates(DOCTORS)))
    d.do(RequestBooking("b1", "pat-1", 55.75, 37.62))
    await store.save(d.core.bookings["b1"])
    if isinstance(store, SqliteBookingStore):
        import sqlite3

        conn = store._conn
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE booking_status_updates SET reason = 'rewritten'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM booking_status_updates")
    else:
        assert isinstance(store, PostgisBookingStore)
        async with store._pool.acquire() as conn:
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute("UPDATE booking.booking_status_updates SET reason = 'rewritten'")
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute("DELETE FROM booking.booking_status_updates")
    loaded = await store.load("b1")
    assert loaded is not None
    assert [u.reason for u in loaded.history] == [u.reason for u in d.core.bookings["b1"].history]


@given(
    text=st.text(
        st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
        min_size=1,
        max_size=300,
    ).filter(lambda t: t.strip())
)
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
async def test_any_text_round_trips(store: BookingStore, text: str) -> None:
    d = Driver(DispatchCore(ScriptedCandidates({})))
    booking_id = f"b-{abs(hash(text))}"
    d.do(RequestBooking(booking_id, "pat-1", 55.75, 37.62, address=text, symptoms=text))
    d.do(PostMessage(booking_id, "pat-1", Actor.PATIENT, text))
    d.do(CancelBooking(booking_id, Actor.PATIENT, "pat-1", text))
    booking = d.core.bookings[booking_id]
    await store.save(booking)
    loaded = await store.load(booking_id)
    assert loaded is not None
    same(booking, loaded)


async def test_postgis_schema_check_and_partitions(postgis_url: str) -> None:
    with pytest.raises(DatabaseBehindError, match="tot db upgrade"):
        await require_current_schema(postgis_url)
    await migrate(postgis_url)
    await require_current_schema(postgis_url)
    conn = await asyncpg.connect(postgis_url)
    try:
        made = await conn.fetchval("SELECT geo.ensure_location_partitions('2026-11-28'::date, 3)")
        again = await conn.fetchval("SELECT geo.ensure_location_partitions('2026-11-28'::date, 3)")
        assert (made, again) == (3, 0)
        await conn.execute(
            "INSERT INTO geo.location_history (doctor_id, recorded_at, latitude, longitude, accuracy_m)"
            " VALUES ('doc-1', '2026-11-29 10:00+00', 55.75, 37.62, 5)"
        )
        part = await conn.fetchrow(
            "SELECT tableoid::regclass::text AS part, ST_Y(location::geometry) AS lat,"
            " ST_X(location::geometry) AS lon FROM geo.location_history"
        )
        assert part["part"] == "geo.location_history_20261129"
        assert (part["lat"], part["lon"]) == (55.75, 37.62)  # the point derived from the doubles
        dropped = await conn.fetchval(
            "SELECT geo.drop_location_partitions_before('2026-11-30'::date)"
        )
        assert dropped == 2  # the 28th and the 29th; the 30th is kept
        assert await conn.fetchval("SELECT count(*) FROM geo.location_history") == 0
        left = await conn.fetch(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'geo.location_history'::regclass ORDER BY 1"
        )
        assert [r["relname"] for r in left] == [
            "location_history_20261130",
            "location_history_default",
        ]
    finally:
        await conn.close()


async def test_save_many_stores_all_or_nothing(store: BookingStore) -> None:
    d = Driver(DispatchCore(ScriptedCandidates(DOCTORS)))
    for i in range(4):
        d.do(RequestBooking(f"b{i}", f"pat-{i}", 55.75, 37.62))
        d.advance(1)
    d.do(PostMessage("b0", "pat-0", Actor.PATIENT, "hello"))
    await store.save_many([d.core.bookings[f"b{i}"] for i in range(4)])
    for i in range(4):
        loaded = await store.load(f"b{i}")
        assert loaded is not None
        same(d.core.bookings[f"b{i}"], loaded)
    # more history later, saved again in a batch: only the new rows are appended
    d.do(CancelBooking("b2", Actor.PATIENT, "pat-2", "better"))
    d.do(PostMessage("b0", "pat-0", Actor.PATIENT, "still there?"))
    await store.save_many([d.core.bookings["b0"], d.core.bookings["b2"]])
    for name in ("b0", "b2"):
        loaded = await store.load(name)
        assert loaded is not None
        same(d.core.bookings[name], loaded)
    # a batch where one booking breaks the one-active-booking rule stores nothing
    offer = d.open_offer("doc-1")
    assert offer is not None
    d.do(AcceptOffer(offer.offer_id, "doc-1"))
    busy = d.core.bookings[offer.booking_id]
    await store.save(busy)
    other = Driver(DispatchCore(ScriptedCandidates({"doc-1": DOCTORS["doc-1"]})))
    other.do(RequestBooking("x1", "pat-9", 55.75, 37.62))
    other.do(RequestBooking("x2", "pat-9", 55.75, 37.62))
    offer2 = other.open_offer("doc-1")
    assert offer2 is not None
    other.do(AcceptOffer(offer2.offer_id, "doc-1"))
    with pytest.raises(DoctorAlreadyBusyError):
        await store.save_many([other.core.bookings["x2"], other.core.bookings["x1"]])
    assert await store.load("x1") is None and await store.load("x2") is None


async def test_save_many_stores_two_doctors_swapping_bookings(store: BookingStore) -> None:
    from dispatch_core.messages import AssignDoctor

    d = Driver(DispatchCore(ScriptedCandidates(DOCTORS)))
    d.do(RequestBooking("x", "pat-1", 55.751, 37.62))
    d.do(AcceptOffer(d.core.open_offers("x")[0].offer_id, "doc-1"))
    d.do(RequestBooking("y", "pat-2", 55.752, 37.62))
    d.do(AcceptOffer(d.core.open_offers("y")[0].offer_id, "doc-2"))
    await store.save_many([d.core.bookings["x"], d.core.bookings["y"]])
    # x takes doc-2 (released from y), and y then takes doc-1: a swap in one round
    d.do(AssignDoctor("x", "doc-2", "op-1", "swap", release_current=True))
    d.do(AssignDoctor("y", "doc-1", "op-1", "swap", release_current=True))
    x, y = d.core.bookings["x"], d.core.bookings["y"]
    assert (x.doctor_id, y.doctor_id) == ("doc-2", "doc-1")
    await store.save_many([y, x])
    sx, sy = await store.load("x"), await store.load("y")
    assert sx is not None and sy is not None
    assert (sx.doctor_id, sy.doctor_id) == ("doc-2", "doc-1")
    same(x, sx)
    same(y, sy)


async def test_who_declined_is_stored_and_not_asked_again_after_a_restart(
    store: BookingStore,
) -> None:
    """A doctor who declined (or let the offer lapse) is not offered the booking again,
    even by a core rebuilt from storage after a restart."""
    d = Driver(DispatchCore(ScriptedCandidates(DOCTORS)))
    d.do(RequestBooking("b1", "pat-1", 55.75, 37.62, call_type="home_visit"))
    first = next(o for o in d.core.offers.values() if o.open)
    d.do(DeclineOffer(first.offer_id, first.doctor_id, "too far"))
    second = next(o for o in d.core.offers.values() if o.open)
    assert second.doctor_id != first.doctor_id
    d.advance(20)  # the second lets it lapse
    booking = d.core.bookings["b1"]
    assert booking.excluded_doctors == {"doc-1", "doc-2"}
    await store.save(booking)
    loaded = await store.load("b1")
    assert loaded is not None and loaded.excluded_doctors == {"doc-1", "doc-2"}
    restarted = DispatchCore(ScriptedCandidates(DOCTORS))
    restarted.restore(await store.open_bookings(), d.now_s + 5)
    assert restarted.bookings["b1"].excluded_doctors == {"doc-1", "doc-2"}
    assert not [o for o in restarted.offers.values() if o.open]  # nobody left to ask


async def test_an_embedded_store_of_the_first_schema_is_upgraded(tmp_path: Path) -> None:
    """A SQLite file written by the first version (schema 1) opens, gains the declines
    columns and prices in kopecks (converted exactly), and keeps its bookings."""
    import sqlite3

    path = tmp_path / "old.sqlite3"
    d = Driver(DispatchCore(ScriptedCandidates(DOCTORS)))
    d.do(RequestBooking("b1", "pat-1", 55.75, 37.62))
    store = SqliteBookingStore(path)
    await store.save(d.core.bookings["b1"])
    await store.close()
    conn = sqlite3.connect(path)
    for column in (
        "excluded_doctors",
        "requested_doctor_id",
        "others_if_declined",
        "patient_is_child",
        "language",
        "estimated_price_kopecks",
        "final_price_kopecks",
    ):
        conn.execute(f"ALTER TABLE bookings DROP COLUMN {column}")
    # schema 1 and 2 kept prices as REAL roubles
    conn.execute("ALTER TABLE bookings ADD COLUMN estimated_price REAL")
    conn.execute("ALTER TABLE bookings ADD COLUMN final_price REAL")
    conn.execute("UPDATE bookings SET estimated_price = 2500.55")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    store = SqliteBookingStore(path)
    try:
        loaded = await store.load("b1")
        assert loaded is not None and loaded.excluded_doctors == set()
        assert loaded.estimated_price_kopecks == 2500_55 and loaded.final_price_kopecks is None
        loaded.excluded_doctors.add("doc-1")
        await store.save(loaded)
        again = await store.load("b1")
        assert again is not None and again.excluded_doctors == {"doc-1"}
    finally:
        await store.close()


async def test_what_the_patient_asked_for_round_trips(store: BookingStore) -> None:
    d = Driver(DispatchCore(ScriptedCandidates(DOCTORS)))
    d.do(
        RequestBooking(
            "b1", "pat-1", 55.75, 37.62, requested_doctor_id="doc-2",
            others_if_declined=False, patient_is_child=True, language="en",
        )
    )  # fmt: skip
    booking = d.core.bookings["b1"]
    await store.save(booking)
    loaded = await store.load("b1")
    assert loaded is not None
    same(booking, loaded)
    assert (loaded.requested_doctor_id, loaded.others_if_declined) == ("doc-2", False)
    assert (loaded.patient_is_child, loaded.language) == (True, "en")


async def test_the_outbox_is_written_with_the_change_and_relayed_once(store: BookingStore) -> None:
    """Each status change a topic acts on is an outbox row written in the save's own
    transaction; claims lease it (a second relay sees nothing), a retry makes it due
    again later, and done ends it."""
    outbox: Any = store
    d = Driver(DispatchCore(ScriptedCandidates(DOCTORS)))
    d.do(RequestBooking("b1", "pat-1", 55.75, 37.62))
    await store.save(d.core.bookings["b1"])
    assert await outbox.outbox_pending("payments") == 0  # requested, offered: nothing to act on
    offer = d.open_offer("doc-1")
    assert offer is not None
    d.do(AcceptOffer(offer.offer_id, "doc-1"))
    await store.save(d.core.bookings["b1"])
    await store.save(d.core.bookings["b1"])  # saving again writes no second message
    now = d.core.bookings["b1"].history[-1].at_s + 1
    claimed = await outbox.claim_outbox("payments", now, lease_s=30)
    assert [(m.booking_id, m.payload["status"], m.payload["doctor_id"]) for m in claimed] == [
        ("b1", "assigned", "doc-1")
    ]
    assert claimed[0].attempts == 1
    assert await outbox.claim_outbox("payments", now) == []  # leased to the first relay
    assert await outbox.claim_outbox("notifications", now + 60) == []  # another topic
    await outbox.outbox_retry(claimed[0].message_id, now + 5, "provider timed out")
    assert await outbox.claim_outbox("payments", now + 4) == []
    again = await outbox.claim_outbox("payments", now + 5)
    assert [m.message_id for m in again] == [claimed[0].message_id] and again[0].attempts == 2
    await outbox.outbox_done(again[0].message_id, now + 6)
    assert await outbox.claim_outbox("payments", now + 1_000) == []
    d.do(CancelBooking("b1", Actor.PATIENT, "pat-1", "changed my mind"))
    await store.save(d.core.bookings["b1"])
    assert await outbox.outbox_pending("payments") == 1
    later = await outbox.claim_outbox("payments", now + 1_000)
    assert [m.payload["status"] for m in later] == ["cancelled"]
    assert later[0].payload["old_status"] == "assigned"


async def test_a_refused_save_writes_no_outbox_message(store: BookingStore) -> None:
    """The outbox row shares the change's transaction: a save refused by the database
    (a doctor already busy) leaves no message behind."""
    outbox: Any = store
    d = Driver(DispatchCore(ScriptedCandidates(DOCTORS)))
    d.do(RequestBooking("b1", "pat-1", 55.75, 37.62))
    offer = d.open_offer("doc-1")
    assert offer is not None
    d.do(AcceptOffer(offer.offer_id, "doc-1"))
    await store.save(d.core.bookings["b1"])
    other = dataclasses.replace(
        d.core.bookings["b1"],
        booking_id="b2",
        history=list(d.core.bookings["b1"].history),
        messages=[],
    )
    with pytest.raises(DoctorAlreadyBusyError):
        await store.save(other)
    claimed = await outbox.claim_outbox("payments", 1e12)
    assert [m.booking_id for m in claimed] == ["b1"]
