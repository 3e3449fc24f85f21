"""The admins' lists on every AccountStore adapter: users and the audit trail, keyset
pages under filters, each item exactly once however the pages fall."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from accounts import AccountStore, AuditFilter, AuditRecord, Role, User
from storage.postgis_accounts import PostgisAccountStore
from storage.sqlite_accounts import SqliteAccountStore
from tests.postgis_copies import copy_of, migrated_template

T0 = 1_764_000_000.0


@pytest.fixture(scope="module")
def template() -> Iterator[str]:
    with migrated_template() as name:
        yield name


@pytest.fixture(params=["sqlite", "postgis"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, template: str
) -> AsyncIterator[AccountStore]:
    if request.param == "sqlite":
        s: AccountStore = SqliteAccountStore(tmp_path / "tot.sqlite3")
        try:
            yield s
        finally:
            await s.close()
        return
    async with copy_of(template) as url:
        s = await PostgisAccountStore.connect(url, max_size=4)
        try:
            yield s
        finally:
            await s.close()


async def test_twenty_thousand_audit_records_page_newest_first_each_once(
    store: AccountStore,
) -> None:
    rng = random.Random(14)
    actors = [f"actor-{i}" for i in range(5)]
    records = [
        AuditRecord(
            # Many share a time (ties broken by write order); microseconds survive both stores.
            T0 + rng.randrange(2_000) + rng.randrange(3) * 0.000001,
            rng.choice(actors), "admin", rng.choice(["user.read", "user.block", "booking.read"]),
            "user", f"u{rng.randrange(50)}", detail=str(i),
        )
        for i in range(20_000)
    ]  # fmt: skip
    for start in range(0, len(records), 5_000):
        await store.append_audit(records[start : start + 5_000])

    where = AuditFilter(actor_id="actor-3", since_s=T0 + 100, until_s=T0 + 1_900)
    expected = [
        (r.at_s, int(r.detail))
        for r in records
        if r.actor_id == "actor-3" and T0 + 100 <= r.at_s < T0 + 1_900
    ]
    seen: list[tuple[float, int]] = []
    after = None
    pages = 0
    started = time.perf_counter()
    while True:
        page = await store.audit_page(where, after=after, limit=200)
        seen += [(r.at_s, int(r.detail)) for r in page.items]
        pages += 1
        after = page.after
        if after is None:
            break
    elapsed = time.perf_counter() - started
    assert len(seen) == len(expected) > 3_000
    assert sorted(d for _, d in seen) == sorted(d for _, d in expected)  # each exactly once
    # Newest first; within one instant, the later write first.
    assert seen == sorted(seen, key=lambda x: (-x[0], -x[1]))
    assert pages == -(-len(expected) // 200)
    assert elapsed < 20, f"{pages} pages in {elapsed:.1f} s"

    # Other filters, and the whole trail, by larger pages.
    page = await store.audit_page(AuditFilter(action="user.block", target_id="u7"), limit=1_000)
    assert page.after is None
    assert {(r.action, r.target_id) for r in page.items} == {("user.block", "u7")}
    assert len(page.items) == sum(
        1 for r in records if r.action == "user.block" and r.target_id == "u7"
    )
    total, after = 0, None
    while True:
        page = await store.audit_page(AuditFilter(), after=after, limit=200)
        total += len(page.items)
        after = page.after
        if after is None:
            break
    assert total == 20_000


async def test_a_malformed_cursor_is_a_value_error(store: AccountStore) -> None:
    for bad in ("", "nope", "1.5~", "x~1", "1.5~12a", "1e9~1", "nan~1", "1.5~1~2"):
        with pytest.raises(ValueError, match="cursor"):
            await store.audit_page(AuditFilter(), after=bad)
    for bad in ("1.5", "~u1", "1.5~u 1", "inf~u1"):
        with pytest.raises(ValueError, match="cursor"):
            await store.users_page(after=bad)


async def test_users_page_by_filters_and_cursor(store: AccountStore) -> None:
    made: list[User] = []
    for i in range(23):
        u = User(
            f"user-{i:02d}", f"person{i}@example.com", "hash",
            Role.DOCTOR if i % 3 == 0 else Role.PATIENT,
            T0 + i // 4,  # ties on created_s
            T0, first_name="Анна" if i % 5 == 0 else "Boris", last_name=f"L{i}",
            is_active=i % 4 != 1,
        )  # fmt: skip
        await store.create_user(u)
        made.append(u)

    async def every(**kw: object) -> list[str]:
        ids: list[str] = []
        after = None
        while True:
            page = await store.users_page(after=after, limit=4, **kw)  # type: ignore[arg-type]
            ids += [u.user_id for u in page.items]
            after = page.after
            if after is None:
                return ids

    assert await every() == [u.user_id for u in made]
    assert await every(role=Role.DOCTOR) == [u.user_id for u in made if u.role is Role.DOCTOR]
    assert await every(blocked=True) == [u.user_id for u in made if not u.is_active]
    assert await every(blocked=False, role=Role.PATIENT) == [
        u.user_id for u in made if u.is_active and u.role is Role.PATIENT
    ]
    # q: in the e-mail or a name, in any case (Cyrillic too); LIKE's wildcards are literal.
    assert await every(q="анна") == [u.user_id for u in made if u.first_name == "Анна"]
    assert await every(q="PERSON1") == [u.user_id for u in made if "person1" in u.email]
    assert await every(q="%") == []
    assert await every(q="_") == []


async def test_any_position_of_the_pattern_is_taken(store: AccountStore) -> None:
    await store.append_audit([AuditRecord(T0, "a", "admin", "x", "user", "u1")])
    for after in ("0~0", "-99999999999.5~1", "999999999999.99999999999999999~99999999999999999999"):
        page = await store.audit_page(AuditFilter(), after=after)
        assert page.after is None
    for after in ("0~u", "999999999999~zz", "-999999999999.1~A.b-c_d"):
        assert (await store.users_page(after=after)).after is None
        assert (await store.moderation_page(after=after)).after is None
