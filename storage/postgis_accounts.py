"""The PostGIS adapter for accounts (asyncpg): users, refresh tokens, idempotent answers,
the audit trail and doctors' documents, in the tables of migration 0002.

Every method is one statement (or, for remember_response, two that are each atomic):
no transaction is held across an await of the caller. Users and lists are ordered by
(created_at, id) with ids compared byte-wise (COLLATE "C"), as Python compares them,
whatever the database's collation.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from accounts.model import AuditRecord, DoctorDocument, IdempotentResponse, RefreshToken, Role, User
from accounts.ports import AccountExistsError, AuditFilter, Page
from storage.account_rows import (
    AUDIT_COLUMNS,
    DOCUMENT_COLUMNS,
    RESPONSE_COLUMNS,
    TOKEN_COLUMNS,
    USER_COLUMNS,
    audit_from,
    audit_row,
    check_page,
    document_from,
    document_row,
    like_pattern,
    page_key,
    parse_page_key,
    response_from,
    response_row,
    token_from,
    token_row,
    user_from,
    user_row,
)
from storage.booking_rows import from_time, to_time
from storage.pg import Pool, create_pool


def _marks(n: int, start: int = 1) -> str:
    return ", ".join(f"${i}" for i in range(start, start + n))


_USER_SELECT = f"SELECT {', '.join(USER_COLUMNS)} FROM auth.users"
_INSERT_USER = (
    f"INSERT INTO auth.users ({', '.join(USER_COLUMNS)}) VALUES ({_marks(len(USER_COLUMNS))})"
)
_UPDATE_USER = (
    "UPDATE auth.users SET "
    + ", ".join(f"{c} = ${i}" for i, c in enumerate(USER_COLUMNS, start=1) if c != "id")
    + " WHERE id = $1"
)
_INSERT_TOKEN = f"INSERT INTO auth.refresh_tokens ({', '.join(TOKEN_COLUMNS)}) VALUES ({_marks(len(TOKEN_COLUMNS))})"
# One statement: the CTE locks the row (waiting for a concurrent user of the same token,
# then seeing its committed write), the UPDATE marks it used (keeping the first use's
# time) and RETURNING gives the row as it was before.
_USE_TOKEN = """
WITH old AS (
    SELECT token_id, used_at FROM auth.refresh_tokens WHERE token_id = $1 FOR UPDATE
)
UPDATE auth.refresh_tokens AS t SET used_at = coalesce(t.used_at, $2)
FROM old WHERE t.token_id = old.token_id
RETURNING t.token_id, t.family_id, t.user_id, t.issued_at, t.expires_at,
          old.used_at AS used_at, t.revoked_at
"""
_INSERT_RESPONSE = (
    f"INSERT INTO auth.idempotency_keys ({', '.join(RESPONSE_COLUMNS)}) "
    f"VALUES ({_marks(len(RESPONSE_COLUMNS))}) ON CONFLICT (user_id, key) DO NOTHING "
    f"RETURNING {', '.join(RESPONSE_COLUMNS)}"
)
_SELECT_RESPONSE = f"SELECT {', '.join(RESPONSE_COLUMNS)} FROM auth.idempotency_keys WHERE user_id = $1 AND key = $2"
_UPDATE_DOCUMENT = (
    "UPDATE auth.doctor_documents SET "
    + ", ".join(
        f"{c} = ${i}" for i, c in enumerate(DOCUMENT_COLUMNS, start=1) if c != "document_id"
    )
    + " WHERE document_id = $1"
)
_INSERT_DOCUMENT = f"INSERT INTO auth.doctor_documents ({', '.join(DOCUMENT_COLUMNS)}) VALUES ({_marks(len(DOCUMENT_COLUMNS))})"

_TAKEN = {
    "users_pkey": "user id",
    "users_email_key": "e-mail",
    "users_email_lower": "e-mail",
    "users_phone_key": "phone",
}


def _exists(exc: asyncpg.UniqueViolationError) -> AccountExistsError:
    what = _TAKEN.get(getattr(exc, "constraint_name", None) or "", "e-mail or phone")
    return AccountExistsError(f"an account with this {what} exists already")


def to_epoch(value: object) -> float:
    out = from_time(value)
    assert out is not None
    return out


def _count(status: str) -> int:
    """The row count of an asyncpg command status such as 'UPDATE 3'."""
    return int(status.rsplit(" ", 1)[-1])


class PostgisAccountStore:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    @classmethod
    async def connect(
        cls, database_url: str, *, min_size: int = 1, max_size: int = 5
    ) -> PostgisAccountStore:
        pool = await create_pool(database_url, min_size=min_size, max_size=max_size)
        return cls(pool)

    async def close(self) -> None:
        await self._pool.close()

    # -- users ---------------------------------------------------------------------------
    async def create_user(self, user: User) -> None:
        try:
            await self._pool.execute(_INSERT_USER, *user_row(user))
        except asyncpg.UniqueViolationError as exc:
            raise _exists(exc) from exc

    async def user(self, user_id: str) -> User | None:
        row = await self._pool.fetchrow(f"{_USER_SELECT} WHERE id = $1", user_id)
        return None if row is None else user_from(row)

    async def user_by_email(self, email: str) -> User | None:
        row = await self._pool.fetchrow(f"{_USER_SELECT} WHERE lower(email) = lower($1)", email)
        return None if row is None else user_from(row)

    async def update_user(self, user: User) -> None:
        try:
            status = await self._pool.execute(_UPDATE_USER, *user_row(user))
        except asyncpg.UniqueViolationError as exc:
            raise _exists(exc) from exc
        if _count(status) == 0:
            raise LookupError(f"no user {user.user_id!r}")

    async def list_users(
        self,
        *,
        role: Role | None = None,
        clinic_id: str | None = None,
        is_verified: bool | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> list[User]:
        check_page(offset, limit)
        where: list[str] = []
        args: list[object] = []
        for column, value in (
            ("role", None if role is None else Role(role).value),
            ("clinic_id", clinic_id),
            ("is_verified", is_verified),
        ):
            if value is not None:
                args.append(value)
                where.append(f"{column} = ${len(args)}")
        args += [offset, limit]
        sql = (
            _USER_SELECT
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + f' ORDER BY created_at, id COLLATE "C" OFFSET ${len(args) - 1} LIMIT ${len(args)}'
        )
        return [user_from(r) for r in await self._pool.fetch(sql, *args)]

    # -- refresh tokens ------------------------------------------------------------------
    async def add_refresh_token(self, token: RefreshToken) -> None:
        await self._pool.execute(_INSERT_TOKEN, *token_row(token))

    async def use_refresh_token(self, token_id: str, now_s: float) -> RefreshToken | None:
        row = await self._pool.fetchrow(_USE_TOKEN, token_id, to_time(now_s))
        return None if row is None else token_from(row)

    async def revoke_family(self, family_id: str, now_s: float) -> int:
        status = await self._pool.execute(
            "UPDATE auth.refresh_tokens SET revoked_at = $2"
            " WHERE family_id = $1 AND revoked_at IS NULL",
            family_id,
            to_time(now_s),
        )
        return _count(status)

    async def revoke_user_tokens(self, user_id: str, now_s: float) -> int:
        status = await self._pool.execute(
            "UPDATE auth.refresh_tokens SET revoked_at = $2"
            " WHERE user_id = $1 AND revoked_at IS NULL",
            user_id,
            to_time(now_s),
        )
        return _count(status)

    # -- idempotency ---------------------------------------------------------------------
    async def recall_response(self, user_id: str, key: str) -> IdempotentResponse | None:
        row = await self._pool.fetchrow(_SELECT_RESPONSE, user_id, key)
        return None if row is None else response_from(row)

    async def remember_response(self, response: IdempotentResponse) -> IdempotentResponse:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(_INSERT_RESPONSE, *response_row(response))
            if row is None:
                # Another answer is stored (ON CONFLICT waited for its writer to commit);
                # this statement's fresh snapshot sees it.
                row = await conn.fetchrow(_SELECT_RESPONSE, response.user_id, response.key)
        assert row is not None
        return response_from(row)

    # -- audit ---------------------------------------------------------------------------
    async def append_audit(self, records: Sequence[AuditRecord]) -> None:
        rows = [audit_row(r) for r in records]
        if not rows:
            return
        async with self._pool.acquire() as conn:
            await conn.copy_records_to_table(
                "records", schema_name="audit", columns=AUDIT_COLUMNS, records=rows
            )

    async def audit_of(
        self, target_type: str, target_id: str, limit: int = 100
    ) -> list[AuditRecord]:
        check_page(0, limit)
        rows = await self._pool.fetch(
            f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit.records"
            " WHERE target_type = $1 AND target_id = $2 ORDER BY at, id LIMIT $3",
            target_type,
            target_id,
            limit,
        )
        return [audit_from(r) for r in rows]

    # -- doctors' documents --------------------------------------------------------------
    async def add_document(self, document: DoctorDocument) -> None:
        await self._pool.execute(_INSERT_DOCUMENT, *document_row(document))

    async def documents_of(self, doctor_id: str) -> list[DoctorDocument]:
        rows = await self._pool.fetch(
            f"SELECT {', '.join(DOCUMENT_COLUMNS)} FROM auth.doctor_documents"
            ' WHERE doctor_id = $1 ORDER BY uploaded_at, document_id COLLATE "C"',
            doctor_id,
        )
        return [document_from(r) for r in rows]

    async def document(self, document_id: str) -> DoctorDocument | None:
        row = await self._pool.fetchrow(
            f"SELECT {', '.join(DOCUMENT_COLUMNS)} FROM auth.doctor_documents"
            " WHERE document_id = $1",
            document_id,
        )
        return None if row is None else document_from(row)

    async def update_document(self, document: DoctorDocument) -> None:
        status = await self._pool.execute(_UPDATE_DOCUMENT, *document_row(document))
        if _count(status) == 0:
            raise LookupError(f"no document {document.document_id!r}")

    # -- pages ---------------------------------------------------------------------------
    async def users_page(
        self,
        *,
        role: Role | None = None,
        clinic_id: str | None = None,
        is_verified: bool | None = None,
        blocked: bool | None = None,
        q: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> Page[User]:
        check_page(0, limit)
        where: list[str] = []
        args: list[object] = []
        for column, value in (
            ("role", None if role is None else Role(role).value),
            ("clinic_id", clinic_id),
            ("is_verified", is_verified),
            ("is_active", None if blocked is None else not blocked),
        ):
            if value is not None:
                args.append(value)
                where.append(f"{column} = ${len(args)}")
        if q:
            args.append(like_pattern(q))
            n = len(args)
            where.append(
                f"(lower(email) LIKE ${n} OR lower(first_name) LIKE ${n}"
                f" OR lower(last_name) LIKE ${n})"
            )
        if after is not None:
            at, last_id = parse_page_key(after, embedded=False)
            args += [at, last_id]
            where.append(f'(created_at, id COLLATE "C") > (${len(args) - 1}, ${len(args)})')
        args.append(limit + 1)
        sql = (
            _USER_SELECT
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + f' ORDER BY created_at, id COLLATE "C" LIMIT ${len(args)}'
        )
        rows = await self._pool.fetch(sql, *args)
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(
            [user_from(r) for r in rows],
            page_key(rows[-1]["created_at"], rows[-1]["id"]) if more else None,
        )

    async def moderation_page(
        self, *, after: str | None = None, limit: int = 50
    ) -> Page[tuple[User, float]]:
        check_page(0, limit)
        args: list[object] = []
        keyset = ""
        if after is not None:
            at, last_id = parse_page_key(after, embedded=False)
            args += [at, last_id]
            keyset = ' AND (submitted_at, id COLLATE "C") > ($1, $2)'
        args.append(limit + 1)
        sql = (
            "SELECT * FROM (SELECT u.*, coalesce((SELECT min(d.uploaded_at)"
            " FROM auth.doctor_documents d WHERE d.doctor_id = u.id AND d.review = 'pending'),"
            " u.created_at) AS submitted_at, EXISTS (SELECT 1 FROM auth.doctor_documents d"
            " WHERE d.doctor_id = u.id AND d.review = 'pending') AS has_pending"
            " FROM auth.users u WHERE u.role = 'doctor' AND u.is_active) AS q"
            " WHERE ((NOT is_verified AND rejected_reason IS NULL) OR has_pending)"
            + keyset
            + f' ORDER BY submitted_at, id COLLATE "C" LIMIT ${len(args)}'
        )
        rows = await self._pool.fetch(sql, *args)
        more = len(rows) > limit
        rows = rows[:limit]
        items = [(user_from(r), to_epoch(r["submitted_at"])) for r in rows]
        return Page(items, page_key(rows[-1]["submitted_at"], rows[-1]["id"]) if more else None)

    async def audit_page(
        self, where: AuditFilter, *, after: str | None = None, limit: int = 50
    ) -> Page[AuditRecord]:
        check_page(0, limit)
        conditions: list[str] = []
        args: list[object] = []
        for column, value in (
            ("actor_id", where.actor_id),
            ("target_type", where.target_type),
            ("target_id", where.target_id),
            ("action", where.action),
        ):
            if value is not None:
                args.append(value)
                conditions.append(f"{column} = ${len(args)}")
        if where.since_s is not None:
            args.append(to_time(where.since_s))
            conditions.append(f"at >= ${len(args)}")
        if where.until_s is not None:
            args.append(to_time(where.until_s))
            conditions.append(f"at < ${len(args)}")
        if after is not None:
            at, last_id = parse_page_key(after, embedded=False, int_id=True)
            args += [at, last_id]
            conditions.append(f"(at, id) < (${len(args) - 1}, ${len(args)})")
        args.append(limit + 1)
        sql = (
            f"SELECT id, {', '.join(AUDIT_COLUMNS)} FROM audit.records"
            + (f" WHERE {' AND '.join(conditions)}" if conditions else "")
            + f" ORDER BY at DESC, id DESC LIMIT ${len(args)}"
        )
        rows = await self._pool.fetch(sql, *args)
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(
            [audit_from(r) for r in rows],
            page_key(rows[-1]["at"], int(rows[-1]["id"])) if more else None,
        )

    # -- runtime settings ----------------------------------------------------------------
    async def settings(self) -> dict[str, str]:
        rows = await self._pool.fetch("SELECT name, value FROM auth.runtime_settings")
        return {str(r["name"]): str(r["value"]) for r in rows}

    async def save_settings(self, values: dict[str, str], at_s: float) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "INSERT INTO auth.runtime_settings (name, value, updated_at) VALUES ($1, $2, $3)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                [(name, value, to_time(at_s)) for name, value in values.items()],
            )
