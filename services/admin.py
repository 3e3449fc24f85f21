"""Admins' changes to accounts, under the rules that keep the service administrable.

- Nobody changes their own role or blocks themselves.
- At least one active admin always remains: the last one is neither demoted nor blocked.

Every change runs under one lock, and re-reads from the account store both the admin
making it (demoted or blocked meanwhile: refused) and the number of active admins, so two
admins demoting each other at once cannot both succeed. The API runs in one process (the
`tot gateway` processes change no accounts), so a process-wide lock serializes them all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from accounts import AccountStore, Role, User
from services.auth import AuthService, ConflictError, ForbiddenError, NotFoundError, Principal

_PAGE = 500


class AdminService:
    def __init__(self, accounts: AccountStore, auth: AuthService, clock: Callable[[], float]):
        self.accounts = accounts
        self.auth = auth
        self.clock = clock
        self._lock = asyncio.Lock()

    async def change_role(
        self, who: Principal, user_id: str, role: Role, clinic_id: str | None
    ) -> User:
        """Give `user_id` another role (and clinic); their logins end so it applies at once."""
        if role is Role.CLINIC_ADMIN and clinic_id is None:
            raise ConflictError("a clinic admin needs a clinic_id")
        async with self._lock:
            user = await self._target(who, user_id)
            if user.user_id == who.user_id:
                raise ConflictError("nobody changes their own role; ask another admin")
            if role is not Role.ADMIN:
                await self._keep_an_admin(user, "demoted")
            user.role = role
            user.clinic_id = clinic_id
            user.updated_s = self.clock()
            await self.accounts.update_user(user)
            # Tokens carry the role: end every login so the new role applies at once.
            await self.auth.end_sessions(user.user_id)
            return user

    async def block(self, who: Principal, user_id: str, reason: str) -> User:
        """Block `user_id`: they cannot log in and their tokens stop working at once."""
        async with self._lock:
            user = await self._target(who, user_id)
            if user.user_id == who.user_id:
                raise ConflictError("nobody blocks themselves; ask another admin")
            await self._keep_an_admin(user, "blocked")
            await self.auth.block(user, reason)
            return user

    async def unblock(self, who: Principal, user_id: str) -> User:
        async with self._lock:
            user = await self._target(who, user_id)
            await self.auth.unblock(user)
            return user

    async def active_admins(self) -> int:
        """Active admins, counted in the account store."""
        count, offset = 0, 0
        while True:
            page = await self.accounts.list_users(role=Role.ADMIN, offset=offset, limit=_PAGE)
            count += sum(1 for u in page if u.is_active and u.role is Role.ADMIN)
            if len(page) < _PAGE:
                return count
            offset += _PAGE

    async def _target(self, who: Principal, user_id: str) -> User:
        """The account to change, once the caller is known to be an active admin still
        (their token may predate a demotion or a block that committed meanwhile)."""
        me = await self.accounts.user(who.user_id)
        if me is None or not me.is_active or me.role is not Role.ADMIN:
            raise ForbiddenError("this account is no longer an active admin")
        user = me if user_id == who.user_id else await self.accounts.user(user_id)
        if user is None:
            raise NotFoundError(f"no user {user_id!r}")
        return user

    async def _keep_an_admin(self, user: User, change: str) -> None:
        if user.role is Role.ADMIN and user.is_active and await self.active_admins() <= 1:
            raise ConflictError(f"the last active admin cannot be {change}")
