"""What the account services need from storage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from accounts.model import AuditRecord, DoctorDocument, IdempotentResponse, RefreshToken, Role, User


class AccountExistsError(Exception):
    """The e-mail or phone is already used by another account."""


class AccountStore(Protocol):
    # -- users ---------------------------------------------------------------------------
    async def create_user(self, user: User) -> None:
        """Store a new user; AccountExistsError when the e-mail or phone is taken."""
        ...

    async def user(self, user_id: str) -> User | None: ...

    async def user_by_email(self, email: str) -> User | None:
        """Look up by e-mail, case-insensitively."""
        ...

    async def update_user(self, user: User) -> None:
        """Replace the stored user (same user_id); AccountExistsError on a taken e-mail/phone."""
        ...

    async def list_users(
        self,
        *,
        role: Role | None = None,
        clinic_id: str | None = None,
        is_verified: bool | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> list[User]:
        """Users ordered by created_s then user_id."""
        ...

    # -- refresh tokens ------------------------------------------------------------------
    async def add_refresh_token(self, token: RefreshToken) -> None: ...

    async def use_refresh_token(self, token_id: str, now_s: float) -> RefreshToken | None:
        """Mark the token used at now_s, atomically, and return it as it was before: a
        returned used_s that is not None means it had been used already (reuse). None
        when the token is unknown."""
        ...

    async def revoke_family(self, family_id: str, now_s: float) -> int:
        """Revoke every token of the family; the number newly revoked."""
        ...

    async def revoke_user_tokens(self, user_id: str, now_s: float) -> int: ...

    # -- idempotency ---------------------------------------------------------------------
    async def recall_response(self, user_id: str, key: str) -> IdempotentResponse | None: ...

    async def remember_response(self, response: IdempotentResponse) -> IdempotentResponse:
        """Store the answer unless one is stored for (user_id, key); return the stored one."""
        ...

    # -- audit ---------------------------------------------------------------------------
    async def append_audit(self, records: Sequence[AuditRecord]) -> None: ...

    async def audit_of(
        self, target_type: str, target_id: str, limit: int = 100
    ) -> list[AuditRecord]:
        """Records about one target, oldest first."""
        ...

    # -- doctors' documents --------------------------------------------------------------
    async def add_document(self, document: DoctorDocument) -> None: ...

    async def documents_of(self, doctor_id: str) -> list[DoctorDocument]: ...

    async def close(self) -> None: ...
