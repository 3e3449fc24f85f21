"""One contract for every ClinicStore adapter: SQLite (embedded) and PostGIS."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts import AccountStore, Role, User
from clinics import Clinic, ClinicExistsError, ClinicStore, Invitation, StatScope, validate_area
from clinics.model import parse_hours
from dispatch_core import Booking, BookingStatus
from dispatch_core.model import StatusUpdate
from storage.postgis import PostgisBookingStore
from storage.postgis_accounts import PostgisAccountStore
from storage.postgis_clinics import PostgisClinicStore
from storage.sqlite import SqliteBookingStore
from storage.sqlite_accounts import SqliteAccountStore
from storage.sqlite_clinics import SqliteClinicStore
from tests.postgis_copies import copy_of, migrated_template

T0 = 1_764_000_000.0
AREA = validate_area(
    [[[(60.0, 24.0), (60.0, 25.0), (61.0, 25.0), (61.0, 24.0), (60.0, 24.0)],
      [(60.4, 24.4), (60.4, 24.6), (60.6, 24.6), (60.4, 24.4)]]]
)  # fmt: skip


@pytest.fixture(scope="module")
def template() -> Iterator[str]:
    with migrated_template() as name:
        yield name


@dataclasses.dataclass
class Stores:
    clinics: ClinicStore
    accounts: AccountStore
    bookings: Any


@pytest.fixture(params=["sqlite", "postgis"])
async def stores(
    request: pytest.FixtureRequest, tmp_path: Path, template: str
) -> AsyncIterator[Stores]:
    if request.param == "sqlite":
        path = tmp_path / "tot.sqlite3"
        s = Stores(SqliteClinicStore(path), SqliteAccountStore(path), SqliteBookingStore(path))
        s.clinics = SqliteClinicStore(path)  # after the others: it reads their tables
        try:
            yield s
        finally:
            for x in (s.clinics, s.accounts, s.bookings):
                await x.close()
        return
    async with copy_of(template) as url:
        s = Stores(
            await PostgisClinicStore.connect(url),
            await PostgisAccountStore.connect(url),
            await PostgisBookingStore.connect(url),
        )
        try:
            yield s
        finally:
            for x in (s.clinics, s.accounts, s.bookings):
                await x.close()


def clinic(clinic_id: str, **kw: Any) -> Clinic:
    return Clinic(clinic_id=clinic_id, name=kw.pop("name", f"Clinic {clinic_id}"),
                  created_s=T0, updated_s=T0, **kw)  # fmt: skip


async def test_a_clinic_round_trips_with_its_area_and_hours(stores: Stores) -> None:
    c = clinic(
        "c1", name="Клиника «Здоровье»", phone="+7 900", email="a@b.ru", address="ул. Ленина, 1",
        timezone="Europe/Moscow", opening_hours=parse_hours([(0, "09:00", "18:00")]), area=AREA,
    )  # fmt: skip
    await stores.clinics.create_clinic(c)
    back = await stores.clinics.clinic("c1")
    assert back == c
    assert back is not None and back.area is not None and back.area.contains(60.1, 24.1)
    assert not back.area.contains(60.45, 24.5)
    with pytest.raises(ClinicExistsError):
        await stores.clinics.create_clinic(clinic("c1"))
    assert await stores.clinics.clinic("nope") is None


async def test_update_and_area_removal(stores: Stores) -> None:
    c = clinic("c1", area=AREA)
    await stores.clinics.create_clinic(c)
    c.name, c.area, c.updated_s = "Renamed", None, T0 + 5
    await stores.clinics.update_clinic(c)
    assert await stores.clinics.clinic("c1") == c
    assert await stores.clinics.clinics_with_area() == []
    with pytest.raises(LookupError):
        await stores.clinics.update_clinic(clinic("ghost"))


async def test_list_pages_by_id_and_filters_by_name(stores: Stores) -> None:
    for i, name in enumerate(["Альфа", "Бета", "альфа-мед", "Gamma"]):
        await stores.clinics.create_clinic(clinic(f"c{i}", name=name, area=AREA if i else None))
    page = await stores.clinics.list_clinics(limit=2)
    assert [c.clinic_id for c in page] == ["c0", "c1"]
    page = await stores.clinics.list_clinics(after="c1", limit=5)
    assert [c.clinic_id for c in page] == ["c2", "c3"]
    found = await stores.clinics.list_clinics(q="АЛЬФА")
    assert [c.clinic_id for c in found] == ["c0", "c2"]
    assert [c.clinic_id for c in await stores.clinics.clinics_with_area()] == ["c1", "c2", "c3"]


async def test_an_invitation_is_used_once_and_not_after_it_expires(stores: Stores) -> None:
    await stores.clinics.create_clinic(clinic("c1"))
    now = T0
    await stores.accounts.create_user(
        User("d1", "d1@example.com", "", Role.DOCTOR, now, now, clinic_id="c1")
    )
    await stores.clinics.add_invitation(Invitation("h1", "d1", "c1", T0, T0 + 100))
    await stores.clinics.add_invitation(Invitation("h2", "d1", "c1", T0, T0 + 100))
    first = await stores.clinics.use_invitation("h1", T0 + 10)
    assert first is not None and first.usable(T0 + 10) and first.doctor_id == "d1"
    again = await stores.clinics.use_invitation("h1", T0 + 11)
    assert again is not None and again.used_s == T0 + 10 and not again.usable(T0 + 11)
    late = await stores.clinics.use_invitation("h2", T0 + 100)
    assert late is not None and not late.usable(T0 + 100)
    assert await stores.clinics.use_invitation("unknown", T0) is None


def _booking(i: int, status: BookingStatus, **kw: Any) -> Booking:
    created = T0 + i
    b = Booking(f"b{i:03d}", "p1", 60.2, 24.2, "home_visit", created, **kw)
    b.status = status
    b.history = [StatusUpdate(None, BookingStatus.REQUESTED, "system", "", created)]
    if kw.get("doctor_id") and status is BookingStatus.COMPLETED:
        b.history.append(
            StatusUpdate(BookingStatus.EN_ROUTE, BookingStatus.ARRIVED, "doctor:x", "",
                         created + 600 + i, kw["doctor_id"])
        )  # fmt: skip
    return b


async def test_stat_rows_stream_a_scope_and_period_in_pages(stores: Stores) -> None:
    await stores.clinics.create_clinic(clinic("c1"))
    await stores.accounts.create_user(
        User("d1", "d1@example.com", "", Role.DOCTOR, T0, T0, clinic_id="c1")
    )
    await stores.accounts.create_user(User("d2", "d2@example.com", "", Role.DOCTOR, T0, T0))
    rows = [
        _booking(0, BookingStatus.COMPLETED, doctor_id="d1"),  # the clinic's doctor
        _booking(1, BookingStatus.COMPLETED, doctor_id="d2"),  # another's
        _booking(2, BookingStatus.NO_DOCTOR_FOUND, clinic_id="c1"),  # named the clinic
        _booking(3, BookingStatus.CANCELLED),
        _booking(4, BookingStatus.COMPLETED, doctor_id="d1"),
        _booking(50, BookingStatus.COMPLETED, doctor_id="d1"),  # after the period
    ]
    for b in rows:
        await stores.bookings.save(b)

    async def collect(scope: StatScope, batch: int) -> list[list[str]]:
        return [
            [r.booking_id for r in page]
            async for page in stores.clinics.stat_rows(scope, T0, T0 + 10, batch)
        ]

    assert await collect(StatScope(), 2) == [["b000", "b001"], ["b002", "b003"], ["b004"]]
    assert await collect(StatScope("c1"), 2) == [["b000", "b002"], ["b004"]]
    [page] = [p async for p in stores.clinics.stat_rows(StatScope("c1"), T0, T0 + 10)]
    first = page[0]
    assert first.arrived_s == T0 + 600 and first.doctor_id == "d1"
    assert first.status == "completed" and (first.lat, first.lon) == (60.2, 24.2)
    assert page[1].arrived_s is None and page[1].status == "no_doctor_found"


async def test_completed_visits_are_counted_per_doctor(stores: Stores) -> None:
    for b in (
        _booking(0, BookingStatus.COMPLETED, doctor_id="d1"),
        _booking(1, BookingStatus.CANCELLED, doctor_id="d1"),
        _booking(2, BookingStatus.COMPLETED, doctor_id="d2"),
        _booking(3, BookingStatus.COMPLETED, doctor_id="d2"),
    ):
        await stores.bookings.save(b)
    assert await stores.clinics.completed_visits(["d1", "d2", "d3"]) == {"d1": 1, "d2": 2}
    assert await stores.clinics.completed_visits([]) == {}
