"""Accounts as table rows and back: shared by the PostGIS and SQLite account stores.

PostGIS rows carry times as datetimes (timestamptz, microseconds) and languages as a
text[]; SQLite rows (`embedded=True`) carry epoch seconds as REAL and languages as a JSON
array. Text holding NUL is refused here, for both stores alike (PostgreSQL cannot store
it), so the two adapters accept exactly the same values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from accounts.model import (
    AuditRecord,
    DoctorDocument,
    IdempotentResponse,
    RefreshToken,
    Role,
    SavedAddress,
    User,
)
from accounts.ports import PAGE_KEY_PATTERN
from storage.booking_rows import from_time, to_time


class Row(Protocol):
    """A result row by column name: asyncpg.Record, sqlite3.Row, a dict."""

    def __getitem__(self, key: str, /) -> Any: ...


USER_COLUMNS = (
    "id", "email", "phone", "password_hash", "first_name", "last_name", "role", "is_active",
    "blocked_reason", "is_verified", "clinic_id", "specialization", "license_number",
    "license_expires", "experience_years", "languages", "treats_adults", "treats_children",
    "rating", "created_at", "updated_at", "locale", "saved_addresses", "rejected_reason",
)  # fmt: skip
TOKEN_COLUMNS = (
    "token_id",
    "family_id",
    "user_id",
    "issued_at",
    "expires_at",
    "used_at",
    "revoked_at",
)
RESPONSE_COLUMNS = ("user_id", "key", "request_sha256", "status_code", "body", "created_at")
AUDIT_COLUMNS = (
    "at",
    "actor_id",
    "actor_role",
    "action",
    "target_type",
    "target_id",
    "request_id",
    "ip",
    "detail",
)
DOCUMENT_COLUMNS = (
    "document_id",
    "doctor_id",
    "kind",
    "number",
    "issued_by",
    "uploaded_at",
    "valid_until",
    "sha256",
    "content_type",
    "size_bytes",
    "file_uploaded_at",
    "review",
    "review_reason",
    "reviewed_at",
)


def _times(embedded: bool) -> Callable[[float | None], Any]:
    return (lambda v: v) if embedded else to_time


def _text(*values: str | None) -> None:
    for v in values:
        if v is not None and "\x00" in v:
            raise ValueError("text must not contain NUL characters")


def _epoch(value: Any) -> float:
    out = from_time(value)
    assert out is not None
    return out


def email_key(email: str) -> str:
    """What e-mails are compared by (the services store them lower-cased already)."""
    return email.lower()


def user_row(u: User, *, embedded: bool = False) -> tuple[Any, ...]:
    """Values in USER_COLUMNS order."""
    _text(
        u.user_id, u.email, u.phone, u.password_hash, u.first_name, u.last_name,
        u.blocked_reason, u.clinic_id, u.specialization, u.license_number, *u.languages,
        u.locale, *(a.label for a in u.saved_addresses), *(a.address for a in u.saved_addresses),
        u.rejected_reason,
    )  # fmt: skip
    t = _times(embedded)
    languages: Any = (
        json.dumps(list(u.languages), ensure_ascii=False) if embedded else list(u.languages)
    )
    return (
        u.user_id, u.email, u.phone, u.password_hash, u.first_name, u.last_name, Role(u.role).value,
        u.is_active, u.blocked_reason, u.is_verified, u.clinic_id, u.specialization,
        u.license_number, t(u.license_expires_s), u.experience_years, languages, u.treats_adults,
        u.treats_children, u.rating, t(u.created_s), t(u.updated_s), u.locale,
        json.dumps(
            [{"label": a.label, "address": a.address, "lat": a.lat, "lon": a.lon}
             for a in u.saved_addresses],
            ensure_ascii=False,
        ),
        u.rejected_reason,
    )  # fmt: skip


def user_from(row: Row) -> User:
    languages = row["languages"]
    if isinstance(languages, str):
        languages = json.loads(languages)
    rating = row["rating"]
    return User(
        user_id=row["id"],
        email=row["email"],
        password_hash=row["password_hash"],
        role=Role(row["role"]),
        created_s=_epoch(row["created_at"]),
        updated_s=_epoch(row["updated_at"]),
        first_name=row["first_name"],
        last_name=row["last_name"],
        phone=row["phone"],
        is_active=bool(row["is_active"]),
        blocked_reason=row["blocked_reason"],
        is_verified=bool(row["is_verified"]),
        clinic_id=row["clinic_id"],
        specialization=row["specialization"],
        license_number=row["license_number"],
        license_expires_s=from_time(row["license_expires"]),
        experience_years=row["experience_years"],
        languages=tuple(languages),
        treats_adults=bool(row["treats_adults"]),
        treats_children=bool(row["treats_children"]),
        rating=None if rating is None else float(rating),
        locale=row["locale"],
        saved_addresses=tuple(
            SavedAddress(str(a["label"]), str(a["address"]), float(a["lat"]), float(a["lon"]))
            for a in json.loads(row["saved_addresses"] or "[]")
        ),
        rejected_reason=row["rejected_reason"],
    )


def token_row(t: RefreshToken, *, embedded: bool = False) -> tuple[Any, ...]:
    _text(t.token_id, t.family_id, t.user_id)
    f = _times(embedded)
    return (
        t.token_id,
        t.family_id,
        t.user_id,
        f(t.issued_s),
        f(t.expires_s),
        f(t.used_s),
        f(t.revoked_s),
    )


def token_from(row: Row) -> RefreshToken:
    return RefreshToken(
        token_id=row["token_id"],
        family_id=row["family_id"],
        user_id=row["user_id"],
        issued_s=_epoch(row["issued_at"]),
        expires_s=_epoch(row["expires_at"]),
        used_s=from_time(row["used_at"]),
        revoked_s=from_time(row["revoked_at"]),
    )


def response_row(r: IdempotentResponse, *, embedded: bool = False) -> tuple[Any, ...]:
    _text(r.user_id, r.key, r.request_sha256)
    return (
        r.user_id,
        r.key,
        r.request_sha256,
        r.status_code,
        bytes(r.body),
        _times(embedded)(r.created_s),
    )


def response_from(row: Row) -> IdempotentResponse:
    return IdempotentResponse(
        user_id=row["user_id"],
        key=row["key"],
        request_sha256=row["request_sha256"],
        status_code=int(row["status_code"]),
        body=bytes(row["body"]),
        created_s=_epoch(row["created_at"]),
    )


def audit_row(a: AuditRecord, *, embedded: bool = False) -> tuple[Any, ...]:
    _text(
        a.actor_id, a.actor_role, a.action, a.target_type, a.target_id, a.request_id, a.ip, a.detail
    )
    return (
        _times(embedded)(a.at_s),
        a.actor_id,
        a.actor_role,
        a.action,
        a.target_type,
        a.target_id,
        a.request_id,
        a.ip,
        a.detail,
    )


def audit_from(row: Row) -> AuditRecord:
    return AuditRecord(
        at_s=_epoch(row["at"]),
        actor_id=row["actor_id"],
        actor_role=row["actor_role"],
        action=row["action"],
        target_type=row["target_type"],
        target_id=row["target_id"],
        request_id=row["request_id"],
        ip=row["ip"],
        detail=row["detail"],
    )


def document_row(d: DoctorDocument, *, embedded: bool = False) -> tuple[Any, ...]:
    _text(
        d.document_id, d.doctor_id, d.kind, d.number, d.issued_by, d.sha256, d.content_type,
        d.review, d.review_reason,
    )  # fmt: skip
    t = _times(embedded)
    return (
        d.document_id, d.doctor_id, d.kind, d.number, d.issued_by, t(d.uploaded_s),
        t(d.valid_until_s), d.sha256, d.content_type, d.size_bytes, t(d.file_uploaded_s),
        d.review, d.review_reason, t(d.reviewed_s),
    )  # fmt: skip


def document_from(row: Row) -> DoctorDocument:
    return DoctorDocument(
        document_id=row["document_id"],
        doctor_id=row["doctor_id"],
        kind=row["kind"],
        number=row["number"],
        issued_by=row["issued_by"],
        uploaded_s=_epoch(row["uploaded_at"]),
        valid_until_s=from_time(row["valid_until"]),
        sha256=row["sha256"],
        content_type=row["content_type"],
        size_bytes=int(row["size_bytes"]),
        file_uploaded_s=from_time(row["file_uploaded_at"]),
        review=row["review"],
        review_reason=row["review_reason"],
        reviewed_s=from_time(row["reviewed_at"]),
    )


def check_page(offset: int, limit: int) -> None:
    if offset < 0 or limit < 0:
        raise ValueError("offset and limit must not be negative")


# Positions are written exactly: the SQLite store's REAL by repr, PostgreSQL's microseconds
# as a decimal; times beyond the years 1900-9999 clamp.
_PAGE_KEY = re.compile(PAGE_KEY_PATTERN)
_EARLIEST_S = Decimal(-2_208_988_800)  # 1900-01-01
_LATEST_S = Decimal(253_402_300_799)  # 9999-12-31T23:59:59
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST_ID = 2**63 - 1


def page_key(at: Any, item_id: object) -> str:
    """The position of an item: its time as the store holds it (an epoch float or a
    datetime) and its id."""
    if isinstance(at, datetime):
        delta = at - _EPOCH
        seconds = Decimal(delta.days * 86_400 + delta.seconds) + Decimal(delta.microseconds) / 10**6
        moment = format(seconds, "f")
    else:
        moment = repr(float(at))
    return f"{moment}~{item_id}"


def parse_page_key(key: str, *, embedded: bool, int_id: bool = False) -> tuple[Any, Any]:
    """The (time, id) of a page key, for the store's comparison; ValueError when `key`
    is not of PAGE_KEY_PATTERN (or, with `int_id`, its id is not a number)."""
    if not _PAGE_KEY.fullmatch(key):
        raise ValueError("not a cursor of this list")
    moment, item_id = key.split("~", 1)
    seconds = min(max(Decimal(moment), _EARLIEST_S), _LATEST_S)
    at: Any = float(seconds) if embedded else _EPOCH + timedelta(microseconds=int(seconds * 10**6))
    if int_id:
        if not item_id.isdigit():
            raise ValueError("not a cursor of this list")
        return at, min(int(item_id), _LAST_ID)
    return at, item_id


def like_pattern(q: str) -> str:
    """`q` as a LIKE pattern (escape character `\\`) matching it anywhere, lower-cased."""
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
