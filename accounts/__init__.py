"""Accounts in their own terms: users and roles, refresh-token families, idempotent
answers, audit records, doctors' documents. Pure, like the dispatch core: no I/O here;
adapters in storage/ implement the ports."""

from accounts.model import (
    LOCALES,
    MAX_SAVED_ADDRESSES,
    AuditRecord,
    DoctorDocument,
    IdempotentResponse,
    RefreshToken,
    Role,
    SavedAddress,
    User,
)
from accounts.ports import AccountExistsError, AccountStore

__all__ = [
    "LOCALES",
    "MAX_SAVED_ADDRESSES",
    "AccountExistsError",
    "AccountStore",
    "AuditRecord",
    "DoctorDocument",
    "IdempotentResponse",
    "RefreshToken",
    "Role",
    "SavedAddress",
    "User",
]
