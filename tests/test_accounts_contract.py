"""One contract for every AccountStore adapter: SQLite (embedded) and PostGIS."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import (
    AccountExistsError,
    AccountStore,
    AuditRecord,
    DoctorDocument,
    IdempotentResponse,
    RefreshToken,
    Role,
    User,
)
from storage.postgis_accounts import PostgisAccountStore
from storage.sqlite import SqliteBookingStore
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
        s = await PostgisAccountStore.connect(url, max_size=8)
        try:
            yield s
        finally:
            await s.close()


def user(user_id: str, **kw: object) -> User:
    values: dict[str, object] = {
        "email": f"{user_id}@example.com",
        "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        "role": Role.PATIENT,
        "created_s": T0,
        "updated_s": T0,
    }
    values.update(kw)
    return User(user_id=user_id, **values)  # type: ignore[arg-type]


# -- users -------------------------------------------------------------------------------


async def test_a_user_round_trips_and_is_found_by_email_in_any_case(store: AccountStore) -> None:
    doctor = user(
        "u1",
        email="anna.petrova@example.com",
        role=Role.DOCTOR,
        first_name="Анна",
        last_name="Петрова",
        phone="+79991234567",
        is_verified=True,
        clinic_id="clinic-1",
        specialization="therapist",
        license_number="LIC-77",
        license_expires_s=T0 + 86_400 * 365,
        experience_years=12,
        languages=("ru", "en"),
        treats_children=True,
        rating=4.75,
    )
    await store.create_user(doctor)
    assert await store.user("u1") == doctor
    assert await store.user_by_email("anna.petrova@example.com") == doctor
    assert await store.user_by_email("Anna.Petrova@EXAMPLE.com") == doctor
    assert await store.user("nobody") is None
    assert await store.user_by_email("nobody@example.com") is None


async def test_update_replaces_the_user(store: AccountStore) -> None:
    await store.create_user(user("u1", phone="+100"))
    changed = user(
        "u1",
        email="new@example.com",
        phone=None,
        is_active=False,
        blocked_reason="abuse",
        languages=("fi",),
        rating=3.5,
        updated_s=T0 + 60,
    )
    await store.update_user(changed)
    assert await store.user("u1") == changed
    assert await store.user_by_email("u1@example.com") is None
    assert await store.user_by_email("NEW@example.com") == changed
    await store.create_user(user("u2", phone="+100"))  # the phone was given up
    with pytest.raises(LookupError):
        await store.update_user(user("ghost"))


async def test_a_taken_email_or_phone_is_refused_and_nothing_changes(store: AccountStore) -> None:
    first = user("u1", phone="+100")
    await store.create_user(first)
    for clash in (
        user("u2", email="u1@example.com"),
        user("u2", email="U1@Example.COM"),
        user("u2", phone="+100"),
        user("u1", email="other@example.com"),
    ):
        with pytest.raises(AccountExistsError):
            await store.create_user(clash)
    assert await store.user("u2") is None
    assert await store.user("u1") == first
    second = user("u2")  # phones may be absent on many accounts
    await store.create_user(second)
    await store.create_user(user("u3"))
    for clash in (
        dataclasses.replace(second, email="u1@example.com"),
        dataclasses.replace(second, email="U1@EXAMPLE.COM"),
        dataclasses.replace(second, phone="+100"),
    ):
        with pytest.raises(AccountExistsError):
            await store.update_user(clash)
    assert await store.user("u2") == second
    assert await store.user("u1") == first


async def test_list_users_filters_and_orders(store: AccountStore) -> None:
    people = [
        user("p2", created_s=T0 + 1),
        user("p1", created_s=T0 + 1),  # same time: by user_id
        user("d1", role=Role.DOCTOR, clinic_id="c1", is_verified=True, created_s=T0 + 3),
        user("d2", role=Role.DOCTOR, clinic_id="c1", created_s=T0 + 2),
        user("d3", role=Role.DOCTOR, clinic_id="c2", is_verified=True, created_s=T0),
        user("a1", role=Role.CLINIC_ADMIN, clinic_id="c1", created_s=T0 + 4),
    ]
    for p in people:
        await store.create_user(p)

    async def ids(**kw: object) -> list[str]:
        return [u.user_id for u in await store.list_users(**kw)]  # type: ignore[arg-type]

    assert await ids() == ["d3", "p1", "p2", "d2", "d1", "a1"]
    assert await ids(role=Role.DOCTOR) == ["d3", "d2", "d1"]
    assert await ids(clinic_id="c1") == ["d2", "d1", "a1"]
    assert await ids(is_verified=True) == ["d3", "d1"]
    assert await ids(is_verified=False) == ["p1", "p2", "d2", "a1"]
    assert await ids(role=Role.DOCTOR, clinic_id="c1", is_verified=False) == ["d2"]
    assert await ids(role=Role.OPERATOR) == []
    assert await ids(offset=1, limit=3) == ["p1", "p2", "d2"]
    assert await ids(offset=5, limit=3) == ["a1"]
    assert await ids(limit=0) == []
    with pytest.raises(ValueError, match="negative"):
        await store.list_users(offset=-1)


async def test_text_with_nul_is_refused(store: AccountStore) -> None:
    with pytest.raises(ValueError, match="NUL"):
        await store.create_user(user("u1", first_name="a\x00b"))
    assert await store.user("u1") is None


_text = st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40
)
_time = st.integers(0, 4_102_444_800 * 10**6).map(lambda us: us / 10**6)  # microseconds
_users = st.builds(
    User,
    user_id=_text,
    email=_text,
    password_hash=_text,
    role=st.sampled_from(Role),
    created_s=_time,
    updated_s=_time,
    first_name=_text,
    last_name=_text,
    phone=st.none() | _text,
    is_active=st.booleans(),
    blocked_reason=_text,
    is_verified=st.booleans(),
    clinic_id=st.none() | _text,
    specialization=st.none() | _text,
    license_number=st.none() | _text,
    license_expires_s=st.none() | _time,
    experience_years=st.none() | st.integers(0, 80),
    languages=st.lists(_text, max_size=4).map(tuple),
    treats_adults=st.booleans(),
    treats_children=st.booleans(),
    rating=st.none() | st.floats(0, 5),
)
_serial = itertools.count()


@given(generated=_users)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
async def test_any_user_round_trips_exactly(store: AccountStore, generated: User) -> None:
    n = next(_serial)  # the store lives across examples: make ids, e-mail and phone unique
    u = dataclasses.replace(
        generated,
        user_id=f"{generated.user_id}#{n}",
        email=f"{generated.email}#{n}",
        phone=None if generated.phone is None else f"{generated.phone}#{n}",
    )
    await store.create_user(u)
    assert await store.user(u.user_id) == u
    assert await store.user_by_email(u.email) == u
    changed = dataclasses.replace(u, languages=(*u.languages, "x"), rating=None)
    await store.update_user(changed)
    assert await store.user(u.user_id) == changed


# -- refresh tokens ----------------------------------------------------------------------


def token(token_id: str, family_id: str = "f1", user_id: str = "u1") -> RefreshToken:
    return RefreshToken(token_id, family_id, user_id, issued_s=T0, expires_s=T0 + 86_400)


async def test_a_refresh_token_is_used_once(store: AccountStore) -> None:
    await store.create_user(user("u1"))
    t = token("t1")
    await store.add_refresh_token(t)
    first = await store.use_refresh_token("t1", T0 + 10.25)
    assert first == t  # as it was: never used
    again = await store.use_refresh_token("t1", T0 + 20)
    assert again == dataclasses.replace(t, used_s=T0 + 10.25)  # reuse: the first use shows
    third = await store.use_refresh_token("t1", T0 + 30)
    assert third is not None and third.used_s == T0 + 10.25
    assert await store.use_refresh_token("unknown", T0) is None


async def test_revoking_a_family_and_a_users_tokens(store: AccountStore) -> None:
    await store.create_user(user("u1"))
    await store.create_user(user("u2"))
    for t in (
        token("a1"),
        token("a2"),
        token("a3"),
        token("b1", family_id="f2"),
        token("c1", family_id="f3", user_id="u2"),
    ):
        await store.add_refresh_token(t)
    assert await store.revoke_family("f1", T0 + 5) == 3
    assert await store.revoke_family("f1", T0 + 6) == 0  # already revoked
    assert await store.revoke_family("nope", T0 + 6) == 0
    assert await store.revoke_user_tokens("u1", T0 + 7) == 1  # b1; the f1 tokens were revoked
    assert await store.revoke_user_tokens("u1", T0 + 8) == 0
    a1 = await store.use_refresh_token("a1", T0 + 9)
    b1 = await store.use_refresh_token("b1", T0 + 9)
    c1 = await store.use_refresh_token("c1", T0 + 9)
    assert a1 is not None and a1.revoked_s == T0 + 5
    assert b1 is not None and b1.revoked_s == T0 + 7
    assert c1 is not None and c1.revoked_s is None


async def test_concurrent_uses_of_one_token_let_exactly_one_through(store: AccountStore) -> None:
    await store.create_user(user("u1"))
    for round_ in range(3):
        await store.add_refresh_token(token(f"t{round_}"))
        seen = await asyncio.gather(
            *(store.use_refresh_token(f"t{round_}", T0 + i) for i in range(8))
        )
        assert all(s is not None for s in seen)
        fresh = [s for s in seen if s is not None and s.used_s is None]
        assert len(fresh) == 1
        firsts = {s.used_s for s in seen if s is not None and s.used_s is not None}
        assert len(firsts) == 1  # every later use sees the one winner's time


# -- idempotency -------------------------------------------------------------------------


def response(body: bytes, user_id: str = "u1", key: str = "k1") -> IdempotentResponse:
    return IdempotentResponse(user_id, key, "ab" * 32, 201, body, created_s=T0)


async def test_the_first_answer_is_kept(store: AccountStore) -> None:
    assert await store.recall_response("u1", "k1") is None
    first = response(b'{"booking_id": "b1"}\x00\xff')
    assert await store.remember_response(first) == first
    second = dataclasses.replace(first, status_code=409, body=b"other", created_s=T0 + 1)
    assert await store.remember_response(second) == first
    assert await store.recall_response("u1", "k1") == first
    other_user = response(b"mine", user_id="u2")
    assert await store.remember_response(other_user) == other_user
    other_key = response(b"", key="k2")
    assert await store.remember_response(other_key) == other_key
    assert await store.recall_response("u1", "k2") == other_key


async def test_concurrent_answers_agree_on_one(store: AccountStore) -> None:
    answers = [response(f"body {i}".encode(), key="race") for i in range(6)]
    kept = await asyncio.gather(*(store.remember_response(a) for a in answers))
    assert len(set(kept)) == 1 and kept[0] in answers
    assert await store.recall_response("u1", "race") == kept[0]


# -- audit -------------------------------------------------------------------------------


async def test_audit_records_come_back_oldest_first(store: AccountStore) -> None:
    records = [
        AuditRecord(T0 + 2, "op-1", "operator", "booking.read", "booking", "b1", "r2", "10.0.0.1"),
        AuditRecord(T0 + 1, "pat-1", "patient", "booking.create", "booking", "b1", "r1", "::1"),
        AuditRecord(T0 + 1, "u-9", "admin", "user.block", "user", "pat-1", detail="spam"),
        AuditRecord(T0 + 2, "pat-1", "patient", "booking.cancel", "booking", "b1"),
        AuditRecord(T0 + 3, "op-1", "operator", "booking.read", "booking", "b2"),
    ]
    await store.append_audit(records[:2])
    await store.append_audit([])
    await store.append_audit(records[2:])
    # by time, then in the order appended
    assert await store.audit_of("booking", "b1") == [records[1], records[0], records[3]]
    assert await store.audit_of("booking", "b1", limit=2) == [records[1], records[0]]
    assert await store.audit_of("user", "pat-1") == [records[2]]
    assert await store.audit_of("user", "b1") == []


# -- doctors' documents ------------------------------------------------------------------


async def test_documents_round_trip(store: AccountStore) -> None:
    await store.create_user(user("d1", role=Role.DOCTOR))
    await store.create_user(user("d2", role=Role.DOCTOR))
    license_ = DoctorDocument("doc-2", "d1", "license", "LIC-77", "Минздрав", T0 + 5, T0 + 10**8)
    diploma = DoctorDocument("doc-1", "d1", "diploma", "D-1", "University", T0, sha256="0" * 64)
    await store.add_document(license_)
    await store.add_document(diploma)
    assert await store.documents_of("d1") == [diploma, license_]
    assert await store.documents_of("d2") == []


# -- the embedded store shares its file --------------------------------------------------


async def test_the_embedded_stores_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "tot.sqlite3"
    bookings = SqliteBookingStore(path)
    accounts = SqliteAccountStore(path)
    await accounts.create_user(user("u1"))
    await bookings.close()
    await accounts.close()
    again = SqliteBookingStore(path)  # neither refuses the other's schema
    await again.close()
    accounts = SqliteAccountStore(path)
    assert await accounts.user("u1") == user("u1")
    await accounts.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3  # the booking store's
        assert conn.execute("SELECT component, version FROM schema_versions").fetchall() == [
            ("accounts", 3)
        ]
        conn.execute("UPDATE schema_versions SET version = 99")
        conn.commit()
    finally:
        conn.close()
    with pytest.raises(RuntimeError, match="newer than this engine"):
        SqliteAccountStore(path)


async def test_audit_records_are_append_only(store: AccountStore) -> None:
    await store.append_audit([AuditRecord(T0, "a", "admin", "user.read", "user", "u1")])
    if isinstance(store, SqliteAccountStore):
        conn = store._conn
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE audit_records SET detail = 'rewritten'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM audit_records")
    else:
        assert isinstance(store, PostgisAccountStore)
        async with store._pool.acquire() as conn:
            for sql in (
                "UPDATE audit.records SET detail = 'rewritten'",
                "DELETE FROM audit.records",
                "TRUNCATE audit.records",
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                    await conn.execute(sql)
    assert len(await store.audit_of("user", "u1")) == 1


async def test_the_profiles_language_and_saved_addresses_round_trip(store: AccountStore) -> None:
    from accounts import SavedAddress

    home = SavedAddress("Дом", "ул. Большая Покровская, 5", 56.3219, 44.0025)
    mum = SavedAddress("Мама", "пл. Минина и Пожарского, 1", 56.3271, 44.0062)
    await store.create_user(user("u1", locale="ru", saved_addresses=(home, mum)))
    loaded = await store.user("u1")
    assert loaded is not None
    assert loaded.locale == "ru" and loaded.saved_addresses == (home, mum)
    loaded.locale = "en"
    loaded.saved_addresses = (mum,)
    await store.update_user(loaded)
    again = await store.user("u1")
    assert again is not None and again.locale == "en" and again.saved_addresses == (mum,)
    await store.create_user(user("u2"))
    plain = await store.user("u2")
    assert plain is not None and plain.locale is None and plain.saved_addresses == ()


async def test_an_embedded_accounts_store_of_the_first_schema_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    accounts = SqliteAccountStore(path)
    await accounts.create_user(user("u1"))
    await accounts.close()
    conn = sqlite3.connect(path)
    _drop_version_3(conn)
    conn.execute("ALTER TABLE users DROP COLUMN saved_addresses")
    conn.execute("ALTER TABLE users DROP COLUMN locale")
    conn.execute("UPDATE schema_versions SET version = 1 WHERE component = 'accounts'")
    conn.commit()
    conn.close()
    accounts = SqliteAccountStore(path)
    try:
        loaded = await accounts.user("u1")
        assert loaded is not None and loaded.locale is None and loaded.saved_addresses == ()
        loaded.locale = "en"
        await accounts.update_user(loaded)
        assert (await accounts.user("u1")).locale == "en"  # type: ignore[union-attr]
    finally:
        await accounts.close()


def _drop_version_3(conn: sqlite3.Connection) -> None:
    """Back to the accounts schema 2: no refused verifications, scans, reviews, settings."""
    conn.execute("DROP INDEX doctor_documents_pending")
    for column in (
        "content_type", "size_bytes", "file_uploaded_at", "review", "review_reason",
        "reviewed_at",
    ):  # fmt: skip
        conn.execute(f"ALTER TABLE doctor_documents DROP COLUMN {column}")
    conn.execute("ALTER TABLE users DROP COLUMN rejected_reason")
    conn.execute("DROP TABLE runtime_settings")
    for index in ("audit_records_at", "audit_records_target_at", "audit_records_actor_at",
                  "audit_records_action_at"):  # fmt: skip
        conn.execute(f"DROP INDEX {index}")


async def test_an_embedded_accounts_store_of_the_second_schema_is_upgraded(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    accounts = SqliteAccountStore(path)
    await accounts.create_user(user("u1", role=Role.DOCTOR))
    await accounts.add_document(DoctorDocument("d1", "u1", "license", "1", "them", T0))
    await accounts.close()
    conn = sqlite3.connect(path)
    _drop_version_3(conn)
    conn.execute("UPDATE schema_versions SET version = 2 WHERE component = 'accounts'")
    conn.commit()
    conn.close()
    accounts = SqliteAccountStore(path)
    try:
        loaded = await accounts.user("u1")
        assert loaded is not None and loaded.rejected_reason is None
        assert loaded.verification == "pending"
        document = await accounts.document("d1")
        assert document is not None and document.review == "pending" and not document.has_file
        reviewed = dataclasses.replace(document, review="rejected", review_reason="blurred")
        await accounts.update_document(reviewed)
        assert await accounts.document("d1") == reviewed
        await accounts.save_settings({"offer_ttl_s": "20"}, T0)
        assert await accounts.settings() == {"offer_ttl_s": "20"}
    finally:
        await accounts.close()


async def test_documents_scans_and_reviews_round_trip(store: AccountStore) -> None:
    await store.create_user(user("doc", role=Role.DOCTOR))
    document = DoctorDocument("d1", "doc", "license", "77", "Minzdrav", T0, T0 + 86_400)
    await store.add_document(document)
    updated = dataclasses.replace(
        document, sha256="ab" * 32, content_type="image/png", size_bytes=1_234,
        file_uploaded_s=T0 + 5.25, review="rejected", review_reason="blurred",
        reviewed_s=T0 + 60.5,
    )  # fmt: skip
    await store.update_document(updated)
    assert await store.document("d1") == updated
    assert await store.documents_of("doc") == [updated]
    assert await store.document("nope") is None
    with pytest.raises(LookupError):
        await store.update_document(dataclasses.replace(updated, document_id="nope"))


async def test_settings_are_kept_and_replaced(store: AccountStore) -> None:
    assert await store.settings() == {}
    await store.save_settings({"offer_ttl_s": "15", "max_offers": "10"}, T0)
    await store.save_settings({"offer_ttl_s": "30"}, T0 + 1)
    assert await store.settings() == {"offer_ttl_s": "30", "max_offers": "10"}
