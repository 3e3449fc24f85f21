"""Accounts in their own terms: users and roles, refresh-token families, idempotent
answers, audit records, doctors' documents. Pure, like the dispatch core: no I/O here;
adapters in storage/ implement the ports."""

from accounts.files import DOCUMENT_TYPES, MAX_DOCUMENT_BYTES, FileStore, file_key, sniff
from accounts.model import (
    APPROVED,
    LOCALES,
    MAX_SAVED_ADDRESSES,
    PENDING,
    REJECTED,
    REVIEWS,
    VERIFIED,
    AuditRecord,
    DoctorDocument,
    IdempotentResponse,
    RefreshToken,
    Role,
    SavedAddress,
    User,
)
from accounts.ports import (
    AUDIT_KEY_PATTERN,
    PAGE_KEY_PATTERN,
    AccountExistsError,
    AccountStore,
    AuditFilter,
    Page,
)

__all__ = [
    "APPROVED",
    "AUDIT_KEY_PATTERN",
    "DOCUMENT_TYPES",
    "LOCALES",
    "MAX_DOCUMENT_BYTES",
    "MAX_SAVED_ADDRESSES",
    "PAGE_KEY_PATTERN",
    "PENDING",
    "REJECTED",
    "REVIEWS",
    "VERIFIED",
    "AccountExistsError",
    "AccountStore",
    "AuditFilter",
    "AuditRecord",
    "DoctorDocument",
    "FileStore",
    "IdempotentResponse",
    "Page",
    "RefreshToken",
    "Role",
    "SavedAddress",
    "User",
    "file_key",
    "sniff",
]
