"""Accounts and tokens: argon2id passwords, short JWT access tokens, rotating refresh
tokens with reuse detection (a reused refresh token revokes its whole family)."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from accounts import AccountStore, RefreshToken, Role, User

ALGORITHM = "HS256"  # pinned: a token naming any other algorithm is refused
MIN_SECRET_BYTES = 32
DEVELOPMENT_SECRET = "tot-development-secret-change-me-0123456789"
# Passwords written in this repository (the README, run.sh, the demo): never in production.
PUBLISHED_PASSWORDS = frozenset({"change-me-now-please", "demo-password-123"})
MIN_ADMIN_PASSWORD_CHARS = 12


class AuthError(Exception):
    """Credentials or a token were refused (401). The message is safe to show."""


class ForbiddenError(Exception):
    """Authenticated, but not allowed (403)."""


class NotFoundError(Exception):
    """No such thing, or not yours: the two answer alike (404)."""


class ConflictError(Exception):
    """The request clashes with what is stored (409)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, from a verified access token."""

    user_id: str
    role: Role
    clinic_id: str | None = None
    issued_s: float = 0.0  # the token's iat

    @property
    def actor_id(self) -> str:
        return f"{self.role.value}:{self.user_id}"


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    access_expires_in_s: int
    refresh_expires_in_s: int


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    secret: str
    issuer: str = "tot-dispatch"
    audience: str = "tot-api"
    access_ttl_s: int = 900  # 15 minutes at most
    refresh_ttl_s: int = 30 * 24 * 3600
    leeway_s: int = 10

    def __post_init__(self) -> None:
        if not 0 < self.access_ttl_s <= 900:
            raise ValueError("access tokens live at most 15 minutes (access_ttl_s <= 900)")
        if self.refresh_ttl_s <= self.access_ttl_s:
            raise ValueError("refresh tokens must outlive access tokens")
        if len(self.secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the JWT secret must be at least {MIN_SECRET_BYTES} bytes")


def new_id() -> str:
    return uuid.uuid4().hex


class AuthService:
    """Registration, login, refresh, logout and access-token checks."""

    def __init__(
        self,
        store: AccountStore,
        policy: TokenPolicy,
        clock: Callable[[], float],
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        # Verified against on unknown e-mails so both answers take as long.
        self._dummy_hash = self.hasher.hash(secrets.token_hex(16))
        self._blocked: set[str] = set()  # access tokens of blocked users die at once
        # Access tokens issued before this moment (a role change, say) no longer count.
        self._not_before: dict[str, float] = {}

    async def load_blocked(self) -> None:
        offset = 0
        while True:
            page = await self.store.list_users(offset=offset, limit=500)
            self._blocked.update(u.user_id for u in page if not u.is_active)
            if len(page) < 500:
                return
            offset += 500

    async def hash_password(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    async def register(self, user: User, password: str) -> User:
        """Store a new account (its password hashed here); ConflictError when taken."""
        from accounts import AccountExistsError

        stored = replace(
            user, email=user.email.lower(), password_hash=await self.hash_password(password)
        )
        try:
            await self.store.create_user(stored)
        except AccountExistsError as exc:
            raise ConflictError("an account with this e-mail or phone already exists") from exc
        return stored

    async def login(self, email: str, password: str) -> tuple[User, TokenPair]:
        user = await self.store.user_by_email(email.lower())
        ok = await asyncio.to_thread(self._verify, user.password_hash if user else None, password)
        if user is None or not ok:
            raise AuthError("wrong e-mail or password")
        if not user.is_active:
            raise AuthError("this account is blocked")
        if self.hasher.check_needs_rehash(user.password_hash):
            user.password_hash = await self.hash_password(password)
            await self.store.update_user(user)
        return user, await self._issue(user, family_id=new_id())

    def _verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash or self._dummy_hash, password) and (
                password_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False

    async def refresh(self, refresh_token: str) -> TokenPair:
        claims = self._decode(refresh_token, "refresh")
        now = self.clock()
        stored = await self.store.use_refresh_token(str(claims["jti"]), now)
        if stored is None or stored.user_id != claims["sub"]:
            raise AuthError("unknown refresh token")
        if stored.revoked_s is not None:
            raise AuthError("refresh token revoked")
        if stored.used_s is not None:
            # Used twice: someone holds a copy. End the whole login, both holders.
            await self.store.revoke_family(stored.family_id, now)
            raise AuthError("refresh token reused: every session of this login is revoked")
        if stored.expires_s <= now:
            raise AuthError("refresh token expired")
        user = await self.store.user(stored.user_id)
        if user is None or not user.is_active:
            await self.store.revoke_family(stored.family_id, now)
            raise AuthError("this account is blocked")
        return await self._issue(user, family_id=stored.family_id)

    async def logout(self, refresh_token: str) -> None:
        claims = self._decode(refresh_token, "refresh")
        stored = await self.store.use_refresh_token(str(claims["jti"]), self.clock())
        if stored is not None and stored.user_id == claims["sub"]:
            await self.store.revoke_family(stored.family_id, self.clock())

    async def block(self, user: User, reason: str) -> None:
        user.is_active = False
        user.blocked_reason = reason
        user.updated_s = self.clock()
        await self.store.update_user(user)
        self._blocked.add(user.user_id)
        await self.store.revoke_user_tokens(user.user_id, self.clock())

    async def unblock(self, user: User) -> None:
        user.is_active = True
        user.blocked_reason = ""
        user.updated_s = self.clock()
        await self.store.update_user(user)
        self._blocked.discard(user.user_id)

    def authenticate(self, access_token: str) -> Principal:
        """The caller of a verified, current access token; AuthError otherwise."""
        claims = self._decode(access_token, "access")
        try:
            role = Role(claims["role"])
        except (KeyError, ValueError):
            raise AuthError("token names no valid role") from None
        user_id = str(claims["sub"])
        issued = float(claims["iat"])
        if user_id in self._blocked:
            raise AuthError("this account is blocked")
        if issued < self._not_before.get(user_id, -1.0):
            raise AuthError("this token predates a change to the account; log in again")
        clinic = claims.get("clinic")
        return Principal(user_id, role, clinic if isinstance(clinic, str) else None, issued)

    def still_valid(self, who: Principal) -> bool:
        """For long-lived sockets: is the account behind this principal still as it was?"""
        return who.user_id not in self._blocked and who.issued_s >= self._not_before.get(
            who.user_id, -1.0
        )

    async def end_sessions(self, user_id: str) -> None:
        """Every login of the user ends: refresh tokens revoked, access tokens refused."""
        now = self.clock()
        self._not_before[user_id] = now
        await self.store.revoke_user_tokens(user_id, now)

    async def sign_in(self, user: User) -> TokenPair:
        """Tokens for a user who proved who they are another way (an invitation accepted)."""
        return await self._issue(user, family_id=new_id())

    async def _issue(self, user: User, family_id: str) -> TokenPair:
        now = self.clock()
        p = self.policy
        access = jwt.encode(
            {
                "iss": p.issuer, "aud": p.audience, "sub": user.user_id, "typ": "access",
                "role": user.role.value, "clinic": user.clinic_id,
                "iat": now, "exp": int(now) + p.access_ttl_s, "jti": new_id(),
            },
            p.secret,
            algorithm=ALGORITHM,
        )  # fmt: skip
        token_id = new_id()
        refresh = jwt.encode(
            {
                "iss": p.issuer, "aud": p.audience, "sub": user.user_id, "typ": "refresh",
                "iat": int(now), "exp": int(now) + p.refresh_ttl_s, "jti": token_id,
                "fam": family_id,
            },
            p.secret,
            algorithm=ALGORITHM,
        )  # fmt: skip
        await self.store.add_refresh_token(
            RefreshToken(token_id, family_id, user.user_id, now, now + p.refresh_ttl_s)
        )
        return TokenPair(access, refresh, p.access_ttl_s, p.refresh_ttl_s)

    def _decode(self, token: str, typ: str) -> dict[str, Any]:
        if not token or len(token) > 4096:
            raise AuthError("missing or oversized token")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.policy.secret,
                algorithms=[ALGORITHM],
                audience=self.policy.audience,
                issuer=self.policy.issuer,
                leeway=self.policy.leeway_s,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "typ", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.InvalidTokenError:
            raise AuthError("invalid token") from None
        if claims.get("typ") != typ:
            raise AuthError(f"not an {typ} token" if typ == "access" else f"not a {typ} token")
        return claims
