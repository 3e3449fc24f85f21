"""Accounts in the embedded SQLite store (the default without DATABASE_URL).

Same behaviour as storage.postgis_accounts, for one machine. Like the booking store: one
connection, used from a worker thread under a lock so the event loop never waits on the
disk; WAL with synchronous=FULL, so a write has reached the disk when it returns; every
write is one `BEGIN IMMEDIATE` transaction, which also serialises it against other
processes using the same file.

Sharing the file with SqliteBookingStore: that store owns `PRAGMA user_version`. This one
never touches it; it keeps its own version in a small table, `schema_versions(component,
version)`, under the component "accounts", and its tables (users, refresh_tokens,
idempotency_keys, audit_records, doctor_documents) are distinct from the booking and
location tables. A file whose accounts schema is newer than this code is refused.

E-mails are compared by `email_key`, the e-mail lower-cased in Python (SQLite's lower()
knows only ASCII); times are epoch seconds (REAL, exact); languages a JSON array.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

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
    email_key,
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

COMPONENT = "accounts"
SCHEMA_VERSION = 3

_VERSIONS = """
CREATE TABLE IF NOT EXISTS schema_versions (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL
)
"""
# Version 1. A later version appends its changes after these (run when the stored
# version is older); IF NOT EXISTS keeps a re-run harmless.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL UNIQUE,
    phone TEXT UNIQUE,
    password_hash TEXT NOT NULL,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL CHECK (role IN ('patient', 'doctor', 'clinic_admin', 'operator', 'admin')),
    is_active INTEGER NOT NULL DEFAULT 1,
    blocked_reason TEXT NOT NULL DEFAULT '',
    is_verified INTEGER NOT NULL DEFAULT 0,
    clinic_id TEXT,
    specialization TEXT,
    license_number TEXT,
    license_expires REAL,
    experience_years INTEGER CHECK (experience_years >= 0),
    languages TEXT NOT NULL DEFAULT '[]',
    treats_adults INTEGER NOT NULL DEFAULT 1,
    treats_children INTEGER NOT NULL DEFAULT 0,
    rating REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    locale TEXT CHECK (locale IN ('ru', 'en')),
    saved_addresses TEXT NOT NULL DEFAULT '[]',
    rejected_reason TEXT
);
CREATE INDEX IF NOT EXISTS users_created ON users (created_at, id);
CREATE INDEX IF NOT EXISTS users_role_created ON users (role, created_at, id);
CREATE INDEX IF NOT EXISTS users_clinic_created ON users (clinic_id, created_at, id);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_id TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at REAL,
    revoked_at REAL
);
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX IF NOT EXISTS refresh_tokens_user_live ON refresh_tokens (user_id)
    WHERE revoked_at IS NULL;
CREATE TABLE IF NOT EXISTS idempotency_keys (
    user_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    status_code INTEGER NOT NULL CHECK (status_code BETWEEN 100 AND 599),
    body BLOB NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at);
CREATE TABLE IF NOT EXISTS audit_records (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    actor_id TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    request_id TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_records_target ON audit_records (target_type, target_id, at);
CREATE INDEX IF NOT EXISTS audit_records_actor ON audit_records (actor_id, at);
CREATE TRIGGER IF NOT EXISTS audit_records_no_update BEFORE UPDATE ON audit_records
    BEGIN SELECT RAISE(ABORT, 'audit records are append-only (UPDATE refused)'); END;
CREATE TRIGGER IF NOT EXISTS audit_records_no_delete BEFORE DELETE ON audit_records
    BEGIN SELECT RAISE(ABORT, 'audit records are append-only (DELETE refused)'); END;
CREATE TABLE IF NOT EXISTS doctor_documents (
    document_id TEXT PRIMARY KEY,
    doctor_id TEXT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    number TEXT NOT NULL,
    issued_by TEXT NOT NULL,
    uploaded_at REAL NOT NULL,
    valid_until REAL,
    sha256 TEXT NOT NULL DEFAULT '',
    content_type TEXT NOT NULL DEFAULT '',
    size_bytes INTEGER NOT NULL DEFAULT 0,
    file_uploaded_at REAL,
    review TEXT NOT NULL DEFAULT 'pending',
    review_reason TEXT NOT NULL DEFAULT '',
    reviewed_at REAL
);
CREATE INDEX IF NOT EXISTS doctor_documents_doctor ON doctor_documents (doctor_id, uploaded_at);
CREATE INDEX IF NOT EXISTS doctor_documents_pending ON doctor_documents (doctor_id, uploaded_at)
    WHERE review = 'pending';
CREATE INDEX IF NOT EXISTS audit_records_at ON audit_records (at, id);
CREATE INDEX IF NOT EXISTS audit_records_target_at ON audit_records (target_type, target_id, at, id);
CREATE INDEX IF NOT EXISTS audit_records_actor_at ON audit_records (actor_id, at, id);
CREATE INDEX IF NOT EXISTS audit_records_action_at ON audit_records (action, at, id);
CREATE TABLE IF NOT EXISTS runtime_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""

# SQLite's users table has email_key after the shared columns.
_USER_INSERT_COLUMNS = (*USER_COLUMNS, "email_key")
_USER_SELECT = f"SELECT {', '.join(USER_COLUMNS)} FROM users"
_INSERT_USER = f"INSERT INTO users ({', '.join(_USER_INSERT_COLUMNS)}) VALUES ({', '.join('?' * len(_USER_INSERT_COLUMNS))})"
_UPDATE_USER = (
    "UPDATE users SET "
    + ", ".join(f"{c} = ?" for c in _USER_INSERT_COLUMNS if c != "id")
    + " WHERE id = ?"
)
_INSERT_TOKEN = f"INSERT INTO refresh_tokens ({', '.join(TOKEN_COLUMNS)}) VALUES ({', '.join('?' * len(TOKEN_COLUMNS))})"
_SELECT_TOKEN = f"SELECT {', '.join(TOKEN_COLUMNS)} FROM refresh_tokens WHERE token_id = ?"
_INSERT_RESPONSE = (
    f"INSERT INTO idempotency_keys ({', '.join(RESPONSE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(RESPONSE_COLUMNS))}) ON CONFLICT (user_id, key) DO NOTHING"
)
_SELECT_RESPONSE = (
    f"SELECT {', '.join(RESPONSE_COLUMNS)} FROM idempotency_keys WHERE user_id = ? AND key = ?"
)
_INSERT_AUDIT = f"INSERT INTO audit_records ({', '.join(AUDIT_COLUMNS)}) VALUES ({', '.join('?' * len(AUDIT_COLUMNS))})"
_UPDATE_DOCUMENT = (
    "UPDATE doctor_documents SET "
    + ", ".join(f"{c} = ?" for c in DOCUMENT_COLUMNS if c != "document_id")
    + " WHERE document_id = ?"
)
_INSERT_DOCUMENT = f"INSERT INTO doctor_documents ({', '.join(DOCUMENT_COLUMNS)}) VALUES ({', '.join('?' * len(DOCUMENT_COLUMNS))})"

_TAKEN = {"users.id": "user id", "users.email_key": "e-mail", "users.phone": "phone"}

T = TypeVar("T")


def _exists(exc: sqlite3.IntegrityError) -> AccountExistsError | None:
    """AccountExistsError when the error is a taken id, e-mail or phone."""
    message = str(exc)
    if not message.startswith("UNIQUE constraint failed"):
        return None
    for column, what in _TAKEN.items():
        if column in message:
            return AccountExistsError(f"an account with this {what} exists already")
    return None


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


def _user_values(user: User) -> tuple[Any, ...]:
    return (*user_row(user, embedded=True), email_key(user.email))


class SqliteAccountStore:
    def __init__(self, path: Path | str) -> None:
        self._conn = sqlite3.connect(
            str(path), check_same_thread=False, isolation_level=None, timeout=10.0
        )
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            c = self._conn
            try:
                c.execute("PRAGMA journal_mode = WAL")
                c.execute("PRAGMA synchronous = FULL")
                c.execute("PRAGMA foreign_keys = ON")
                # SQLite's lower() knows only ASCII; searches lower-case as Python does.
                c.create_function("py_lower", 1, _lower, deterministic=True)
                c.execute(_VERSIONS)
                self._upgrade(path)
            except BaseException:
                c.close()
                raise

    def _upgrade(self, path: Path | str) -> None:
        c = self._conn
        row = c.execute(
            "SELECT version FROM schema_versions WHERE component = ?", (COMPONENT,)
        ).fetchone()
        version = 0 if row is None else int(row[0])
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{path}: accounts schema {version} is newer than this engine's ({SCHEMA_VERSION})"
            )
        if version == SCHEMA_VERSION:
            return
        upgrade = ""
        if version == 1:  # 1 -> 2: the profile's language and saved addresses
            upgrade = (
                "ALTER TABLE users ADD COLUMN locale TEXT CHECK (locale IN ('ru', 'en'));\n"
                "ALTER TABLE users ADD COLUMN saved_addresses TEXT NOT NULL DEFAULT '[]';\n"
            )
        if version in (1, 2):  # 2 -> 3: verification refused, scans and their review
            upgrade += (
                "ALTER TABLE users ADD COLUMN rejected_reason TEXT;\n"
                "ALTER TABLE doctor_documents ADD COLUMN content_type TEXT NOT NULL DEFAULT '';\n"
                "ALTER TABLE doctor_documents ADD COLUMN size_bytes INTEGER NOT NULL DEFAULT 0;\n"
                "ALTER TABLE doctor_documents ADD COLUMN file_uploaded_at REAL;\n"
                "ALTER TABLE doctor_documents ADD COLUMN review TEXT NOT NULL DEFAULT 'pending';\n"
                "ALTER TABLE doctor_documents ADD COLUMN review_reason TEXT NOT NULL DEFAULT '';\n"
                "ALTER TABLE doctor_documents ADD COLUMN reviewed_at REAL;\n"
            )
        # executescript commits first, so the transaction is part of the script.
        try:
            c.executescript(
                "BEGIN IMMEDIATE;\n"
                + upgrade
                + _SCHEMA
                + f"INSERT INTO schema_versions (component, version) VALUES ('{COMPONENT}', {SCHEMA_VERSION})"
                " ON CONFLICT (component) DO UPDATE SET version = excluded.version"
                " WHERE excluded.version > schema_versions.version;\n"
                "COMMIT;"
            )
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(self._locked, fn, *args)

    def _locked(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            return fn(*args)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    async def close(self) -> None:
        await self._run(self._conn.close)

    # -- users ---------------------------------------------------------------------------
    async def create_user(self, user: User) -> None:
        await self._run(self._create_user, _user_values(user))

    def _create_user(self, values: tuple[Any, ...]) -> None:
        try:
            with self._write() as c:
                c.execute(_INSERT_USER, values)
        except sqlite3.IntegrityError as exc:
            taken = _exists(exc)
            if taken is None:
                raise
            raise taken from exc

    async def user(self, user_id: str) -> User | None:
        return await self._run(self._one_user, f"{_USER_SELECT} WHERE id = ?", user_id)

    async def user_by_email(self, email: str) -> User | None:
        return await self._run(
            self._one_user, f"{_USER_SELECT} WHERE email_key = ?", email_key(email)
        )

    def _one_user(self, sql: str, value: str) -> User | None:
        row = self._conn.execute(sql, (value,)).fetchone()
        return None if row is None else user_from(row)

    async def update_user(self, user: User) -> None:
        values = _user_values(user)
        await self._run(self._update_user, (*values[1:], values[0]))

    def _update_user(self, values: tuple[Any, ...]) -> None:
        try:
            with self._write() as c:
                changed = c.execute(_UPDATE_USER, values).rowcount
        except sqlite3.IntegrityError as exc:
            taken = _exists(exc)
            if taken is None:
                raise
            raise taken from exc
        if changed == 0:
            raise LookupError(f"no user {values[-1]!r}")

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
                where.append(f"{column} = ?")
                args.append(value)
        sql = (
            _USER_SELECT
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY created_at, id LIMIT ? OFFSET ?"
        )
        return await self._run(self._users, sql, (*args, limit, offset))

    def _users(self, sql: str, args: tuple[object, ...]) -> list[User]:
        return [user_from(r) for r in self._conn.execute(sql, args).fetchall()]

    # -- refresh tokens ------------------------------------------------------------------
    async def add_refresh_token(self, token: RefreshToken) -> None:
        await self._run(self._insert, _INSERT_TOKEN, token_row(token, embedded=True))

    def _insert(self, sql: str, values: tuple[Any, ...]) -> None:
        with self._write() as c:
            c.execute(sql, values)

    async def use_refresh_token(self, token_id: str, now_s: float) -> RefreshToken | None:
        return await self._run(self._use_token, token_id, now_s)

    def _use_token(self, token_id: str, now_s: float) -> RefreshToken | None:
        with self._write() as c:  # the write lock: no other process reads it in between
            row = c.execute(_SELECT_TOKEN, (token_id,)).fetchone()
            if row is None:
                return None
            c.execute(
                "UPDATE refresh_tokens SET used_at = coalesce(used_at, ?) WHERE token_id = ?",
                (now_s, token_id),
            )
        return token_from(row)

    async def revoke_family(self, family_id: str, now_s: float) -> int:
        return await self._run(
            self._update_count,
            "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
            (now_s, family_id),
        )

    async def revoke_user_tokens(self, user_id: str, now_s: float) -> int:
        return await self._run(
            self._update_count,
            "UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
            (now_s, user_id),
        )

    def _update_count(self, sql: str, values: tuple[Any, ...]) -> int:
        with self._write() as c:
            return c.execute(sql, values).rowcount

    # -- idempotency ---------------------------------------------------------------------
    async def recall_response(self, user_id: str, key: str) -> IdempotentResponse | None:
        return await self._run(self._recall, user_id, key)

    def _recall(self, user_id: str, key: str) -> IdempotentResponse | None:
        row = self._conn.execute(_SELECT_RESPONSE, (user_id, key)).fetchone()
        return None if row is None else response_from(row)

    async def remember_response(self, response: IdempotentResponse) -> IdempotentResponse:
        return await self._run(self._remember, response_row(response, embedded=True))

    def _remember(self, values: tuple[Any, ...]) -> IdempotentResponse:
        with self._write() as c:
            c.execute(_INSERT_RESPONSE, values)
            row = c.execute(_SELECT_RESPONSE, (values[0], values[1])).fetchone()
        return response_from(row)

    # -- audit ---------------------------------------------------------------------------
    async def append_audit(self, records: Sequence[AuditRecord]) -> None:
        rows = [audit_row(r, embedded=True) for r in records]
        if rows:
            await self._run(self._append_audit, rows)

    def _append_audit(self, rows: list[tuple[Any, ...]]) -> None:
        with self._write() as c:
            c.executemany(_INSERT_AUDIT, rows)

    async def audit_of(
        self, target_type: str, target_id: str, limit: int = 100
    ) -> list[AuditRecord]:
        check_page(0, limit)
        return await self._run(self._audit_of, target_type, target_id, limit)

    def _audit_of(self, target_type: str, target_id: str, limit: int) -> list[AuditRecord]:
        rows = self._conn.execute(
            f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_records"
            " WHERE target_type = ? AND target_id = ? ORDER BY at, id LIMIT ?",
            (target_type, target_id, limit),
        ).fetchall()
        return [audit_from(r) for r in rows]

    # -- doctors' documents --------------------------------------------------------------
    async def add_document(self, document: DoctorDocument) -> None:
        await self._run(self._insert, _INSERT_DOCUMENT, document_row(document, embedded=True))

    async def documents_of(self, doctor_id: str) -> list[DoctorDocument]:
        return await self._run(self._documents_of, doctor_id)

    def _documents_of(self, doctor_id: str) -> list[DoctorDocument]:
        rows = self._conn.execute(
            f"SELECT {', '.join(DOCUMENT_COLUMNS)} FROM doctor_documents"
            " WHERE doctor_id = ? ORDER BY uploaded_at, document_id",
            (doctor_id,),
        ).fetchall()
        return [document_from(r) for r in rows]

    async def document(self, document_id: str) -> DoctorDocument | None:
        return await self._run(self._document, document_id)

    def _document(self, document_id: str) -> DoctorDocument | None:
        row = self._conn.execute(
            f"SELECT {', '.join(DOCUMENT_COLUMNS)} FROM doctor_documents WHERE document_id = ?",
            (document_id,),
        ).fetchone()
        return None if row is None else document_from(row)

    async def update_document(self, document: DoctorDocument) -> None:
        values = document_row(document, embedded=True)
        changed = await self._run(self._update_count, _UPDATE_DOCUMENT, (*values[1:], values[0]))
        if changed == 0:
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
                where.append(f"{column} = ?")
                args.append(value)
        if q:
            where.append(
                "(email_key LIKE ? ESCAPE '\\' OR py_lower(first_name) LIKE ? ESCAPE '\\'"
                " OR py_lower(last_name) LIKE ? ESCAPE '\\')"
            )
            args += [like_pattern(q)] * 3
        if after is not None:
            at, last_id = parse_page_key(after, embedded=True)
            where.append("(created_at, id) > (?, ?)")
            args += [at, last_id]
        sql = (
            _USER_SELECT
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY created_at, id LIMIT ?"
        )
        users = await self._run(self._users, sql, (*args, limit + 1))
        more = len(users) > limit
        users = users[:limit]
        return Page(users, page_key(users[-1].created_s, users[-1].user_id) if more else None)

    async def moderation_page(
        self, *, after: str | None = None, limit: int = 50
    ) -> Page[tuple[User, float]]:
        check_page(0, limit)
        args: list[object] = []
        keyset = ""
        if after is not None:
            at, last_id = parse_page_key(after, embedded=True)
            keyset = " WHERE (submitted_at, id) > (?, ?)"
            args += [at, last_id]
        sql = (
            "SELECT * FROM (SELECT u.*, coalesce((SELECT min(d.uploaded_at) FROM doctor_documents d"
            " WHERE d.doctor_id = u.id AND d.review = 'pending'), u.created_at) AS submitted_at,"
            " EXISTS (SELECT 1 FROM doctor_documents d WHERE d.doctor_id = u.id"
            " AND d.review = 'pending') AS has_pending"
            " FROM users u WHERE u.role = 'doctor' AND u.is_active = 1) AS q"
            " WHERE ((is_verified = 0 AND rejected_reason IS NULL) OR has_pending)"
            + keyset.replace(" WHERE", " AND")
            + " ORDER BY submitted_at, id LIMIT ?"
        )
        rows = await self._run(self._rows, sql, (*args, limit + 1))
        items = [(user_from(r), float(r["submitted_at"])) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(items, page_key(items[-1][1], items[-1][0].user_id) if more else None)

    def _rows(self, sql: str, args: tuple[object, ...]) -> list[sqlite3.Row]:
        return self._conn.execute(sql, args).fetchall()

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
                conditions.append(f"{column} = ?")
                args.append(value)
        if where.since_s is not None:
            conditions.append("at >= ?")
            args.append(where.since_s)
        if where.until_s is not None:
            conditions.append("at < ?")
            args.append(where.until_s)
        if after is not None:
            at, last_id = parse_page_key(after, embedded=True, int_id=True)
            conditions.append("(at, id) < (?, ?)")
            args += [at, last_id]
        sql = (
            f"SELECT id, {', '.join(AUDIT_COLUMNS)} FROM audit_records"
            + (f" WHERE {' AND '.join(conditions)}" if conditions else "")
            + " ORDER BY at DESC, id DESC LIMIT ?"
        )
        rows = await self._run(self._rows, sql, (*args, limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(
            [audit_from(r) for r in rows],
            page_key(rows[-1]["at"], int(rows[-1]["id"])) if more else None,
        )

    # -- runtime settings ----------------------------------------------------------------
    async def settings(self) -> dict[str, str]:
        rows = await self._run(self._rows, "SELECT name, value FROM runtime_settings", ())
        return {str(r["name"]): str(r["value"]) for r in rows}

    async def save_settings(self, values: dict[str, str], at_s: float) -> None:
        await self._run(self._save_settings, values, at_s)

    def _save_settings(self, values: dict[str, str], at_s: float) -> None:
        with self._write() as c:
            c.executemany(
                "INSERT INTO runtime_settings (name, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                [(name, value, at_s) for name, value in values.items()],
            )
