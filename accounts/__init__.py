"""Accounts in their own terms: users and roles, refresh-token families, idempotent
answers, audit records, doctors' documents. Pure, like the dispatch core: no I/O here;
adapters in storage/ implement the ports."""

from accounts.model import (
    AuditRecord,
    DoctorDocument,
    IdempotentResponse,
    RefreshToken,
    Role,
    User,
)
from accounts.ports import AccountExistsError, AccountStore

__all__ = [
    "AccountExistsError",
    "AccountStore",
    "AuditRecord",
    "DoctorDocument",
    "IdempotentResponse",
    "RefreshToken",
    "Role",
    "User",
]
