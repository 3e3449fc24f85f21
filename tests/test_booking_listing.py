"""BookingListing.list_bookings on both booking stores: filters, order, cursor pages."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Protocol

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch_core import Actor, Booking, BookingStatus
from dispatch_core.model import BookingMessage, StatusUpdate
from dispatch_core.ports import BookingListing, BookingStore
from storage.postgis import PostgisBookingStore
from storage.sqlite import SqliteBookingStore
from tests.postgis_copies import copy_of, migrated_template

T0 = 1_764_000_000.0
# Statuses without a bound doctor (a doctor may hold only one active booking).
UNBOUND = [
    BookingStatus.REQUESTED,
    BookingStatus.SEARCHING,
    BookingStatus.COMPLETED,
    BookingStatus.CANCELLED,
    BookingStatus.NO_DOCTOR_FOUND,
]


class Store(BookingStore, BookingListing, Protocol):
    pass


@pytest.fixture(scope="module")
def template() -> Iterator[str]:
    with migrated_template() as name:
        yield name


@pytest.fixture(params=["sqlite", "postgis"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, template: str
) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        s: Store = SqliteBookingStore(tmp_path / "tot.sqlite3")
        try:
            yield s
        finally:
            await s.close()
        return
    async with copy_of(template) as url:
        s = await PostgisBookingStore.connect(url)
        try:
            yield s
        finally:
            await s.close()


def booking(
    booking_id: str,
    created_s: float,
    *,
    patient_id: str = "pat-1",
    doctor_id: str | None = None,
    clinic_id: str | None = None,
    status: BookingStatus = BookingStatus.REQUESTED,
) -> Booking:
    return Booking(
        booking_id=booking_id,
        patient_id=patient_id,
        latitude=55.75,
        longitude=37.62,
        call_type="home_visit",
        created_s=created_s,
        clinic_id=clinic_id,
        doctor_id=doctor_id,
        status=status,
    )


def key(b: Booking) -> tuple[float, str]:
    return (b.created_s, b.booking_id)


def newest_first(bookings: list[Booking]) -> list[str]:
    return [b.booking_id for b in sorted(bookings, key=key, reverse=True)]


async def ids(store: Store, **kw: object) -> list[str]:
    return [b.booking_id for b in await store.list_bookings(**kw)]  # type: ignore[arg-type]


SAMPLE = [
    booking("b1", T0, patient_id="p1", clinic_id="c1", status=BookingStatus.COMPLETED, doctor_id="d1"),
    booking("b2", T0 + 10, patient_id="p1", clinic_id="c1", status=BookingStatus.ASSIGNED, doctor_id="d1"),
    booking("b3", T0 + 20, patient_id="p2", clinic_id="c2", status=BookingStatus.CANCELLED),
    booking("b4", T0 + 30, patient_id="p2", clinic_id="c1", status=BookingStatus.EN_ROUTE, doctor_id="d2"),
    booking("b5", T0 + 40, patient_id="p1", status=BookingStatus.SEARCHING),
    booking("b6", T0 + 50, patient_id="p3", clinic_id="c2", status=BookingStatus.COMPLETED, doctor_id="d2"),
]  # fmt: skip


async def test_filters_are_anded_and_newest_comes_first(store: Store) -> None:
    for b in SAMPLE:
        await store.save(b)
    assert await ids(store) == ["b6", "b5", "b4", "b3", "b2", "b1"]
    assert await ids(store, patient_id="p1") == ["b5", "b2", "b1"]
    assert await ids(store, doctor_id="d1") == ["b2", "b1"]
    assert await ids(store, clinic_id="c1") == ["b4", "b2", "b1"]
    assert await ids(store, clinic_id="c2", doctor_id="d2") == ["b6"]
    assert await ids(store, patient_id="p1", clinic_id="c2") == []
    done = frozenset({BookingStatus.COMPLETED, BookingStatus.CANCELLED})
    assert await ids(store, statuses=done) == ["b6", "b3", "b1"]
    assert await ids(store, statuses=done, clinic_id="c1") == ["b1"]
    active = frozenset({BookingStatus.ASSIGNED, BookingStatus.EN_ROUTE})
    assert await ids(store, statuses=active) == ["b4", "b2"]
    assert await ids(store, statuses=frozenset()) == []
    assert await ids(store, limit=2) == ["b6", "b5"]
    assert await ids(store, limit=0) == []
    assert await ids(store, before=(T0 + 30, "b4")) == ["b3", "b2", "b1"]
    assert await ids(store, before=(T0 + 30, "b4"), patient_id="p1", limit=1) == ["b2"]
    with pytest.raises(ValueError, match="negative"):
        await store.list_bookings(limit=-1)


async def test_listed_bookings_carry_their_row_but_no_history(store: Store) -> None:
    b = booking("b1", T0 + 0.125, clinic_id="c1")
    b.history.append(StatusUpdate(None, BookingStatus.REQUESTED, "pat-1", "requested", T0))
    b.messages.append(BookingMessage("pat-1", Actor.PATIENT, "text", "door code 12", T0 + 1))
    await store.save(b)
    [listed] = await store.list_bookings()
    assert (listed.booking_id, listed.created_s, listed.clinic_id, listed.status) == (
        "b1", T0 + 0.125, "c1", BookingStatus.REQUESTED,
    )  # fmt: skip
    assert listed.history == [] and listed.messages == []
    loaded = await store.load("b1")
    assert loaded is not None and len(loaded.history) == len(loaded.messages) == 1


async def test_pages_cover_every_booking_once_with_ties_broken_by_id(store: Store) -> None:
    # Ids that sort differently by bytes than by a natural or case-blind collation.
    names = ["b-10", "b9", "B1", "b1", "é1", "b_2", "a", "Z", "b10", "ж"]
    bookings = [
        booking(name, T0 + (i % 3), status=UNBOUND[i % len(UNBOUND)])
        for i, name in enumerate(names)
    ]
    for b in bookings:
        await store.save(b)
    want = newest_first(bookings)
    for size in (1, 3, 4, 10, 11):
        got: list[str] = []
        before: tuple[float, str] | None = None
        while True:
            page = await store.list_bookings(before=before, limit=size)
            got += [b.booking_id for b in page]
            if len(page) < size:
                break
            before = key(page[-1])
        assert got == want, size


_serial = itertools.count()


@given(
    rows=st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(["d1", "d2", None]), st.sampled_from(UNBOUND)),
        max_size=12,
    ),
    size=st.integers(1, 5),
)
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
async def test_any_listing_pages_through_in_order(
    store: Store, rows: list[tuple[int, str | None, BookingStatus]], size: int
) -> None:
    run = next(_serial)  # the store lives across examples: each has a patient of its own
    patient = f"pat-{run}"
    bookings = [
        booking(f"r{run}-{i}", T0 + t, patient_id=patient, doctor_id=d, status=s)
        for i, (t, d, s) in enumerate(rows)
    ]
    for b in bookings:
        await store.save(b)
    for doctor in (None, "d1"):
        want = newest_first([b for b in bookings if doctor is None or b.doctor_id == doctor])
        got: list[str] = []
        before: tuple[float, str] | None = None
        while True:
            page = await store.list_bookings(
                patient_id=patient, doctor_id=doctor, before=before, limit=size
            )
            got += [b.booking_id for b in page]
            if len(page) < size:
                break
            before = key(page[-1])
        assert got == want
