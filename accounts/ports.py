"""What the account services need from storage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from accounts.model import AuditRecord, DoctorDocument, IdempotentResponse, RefreshToken, Role, User


class AccountExistsError(Exception):
    """The e-mail or phone is already used by another account."""


T = TypeVar("T")

# A page's position (Page.after) as text: the last item's time in epoch seconds as a plain
# decimal, "~", its id. Any text of this pattern is a position a store takes.
PAGE_KEY_PATTERN = r"^-?\d{1,12}(\.\d{1,17})?~[0-9A-Za-z_.-]{1,128}$"
AUDIT_KEY_PATTERN = r"^-?\d{1,12}(\.\d{1,17})?~\d{1,19}$"  # the audit trail's: ids are numbers


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a keyset-paginated list. `after` is the store's own key of the last
    item (opaque text; ValueError when a malformed one comes back), None on the last page."""

    items: list[T]
    after: str | None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which audit records to list; None: any. Times are epoch seconds, since inclusive,
    until exclusive."""

    actor_id: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    action: str | None = None
    since_s: float | None = None
    until_s: float | None = None


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
        """Users ordered by created_s then user_id, from after `after`; `q` is found,
        case-insensitively, in the e-mail, the first or the last name."""
        ...

    async def moderation_page(
        self, *, after: str | None = None, limit: int = 50
    ) -> Page[tuple[User, float]]:
        """Active doctors awaiting an admin: neither verified nor rejected, or with a
        document whose review is pending; with when they were submitted (their oldest
        pending document's upload, else their account's creation), oldest first."""
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

    async def audit_page(
        self, where: AuditFilter, *, after: str | None = None, limit: int = 50
    ) -> Page[AuditRecord]:
        """Records that match, newest first (by time, then by the order they were written)."""
        ...

    # -- doctors' documents --------------------------------------------------------------
    async def add_document(self, document: DoctorDocument) -> None: ...

    async def documents_of(self, doctor_id: str) -> list[DoctorDocument]: ...

    async def document(self, document_id: str) -> DoctorDocument | None: ...

    async def update_document(self, document: DoctorDocument) -> None:
        """Replace the stored document (same document_id); LookupError when unknown."""
        ...

    # -- runtime settings ----------------------------------------------------------------
    async def settings(self) -> dict[str, str]:
        """The runtime settings an admin changed, by name (values as JSON text)."""
        ...

    async def save_settings(self, values: dict[str, str], at_s: float) -> None:
        """Store these settings (name -> JSON text), replacing earlier values, at once."""
        ...

    async def close(self) -> None: ...
