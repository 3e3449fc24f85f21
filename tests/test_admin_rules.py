"""Admins cannot lock everyone out: nobody changes their own role or blocks themselves,
and at least one active admin always remains, even when admins act at the same time."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import Role, User
from routing import Router
from services.admin import AdminService
from services.auth import AuthService, ConflictError, ForbiddenError, Principal, TokenPolicy
from storage.sqlite_accounts import SqliteAccountStore
from tests.api_harness import Api, running_api


@pytest.fixture
async def api(helsinki_router: Router, tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(helsinki_router, tmp_path) as a:
        yield a


async def _me(api: Api, token: str) -> str:
    r = await api.client.get("/api/v1/auth/me", headers=api.auth(token))
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


async def _active_admins(api: Api) -> set[str]:
    r = await api.client.get(
        "/api/v1/admin/users", params={"role": "admin"}, headers=api.auth(api.admin_token)
    )
    assert r.status_code == 200, r.text
    return {u["id"] for u in r.json()["items"] if u["is_active"]}


async def test_an_admin_changes_neither_their_own_role_nor_blocks_themselves(api: Api) -> None:
    admin_id = await _me(api, api.admin_token)
    # Even with another admin around, and even to the role they already have.
    await api.staff("admin")
    for role in ("patient", "operator", "admin"):
        r = await api.client.put(
            f"/api/v1/admin/users/{admin_id}/role",
            json={"role": role, "reason": "tidying up"},
            headers=api.auth(api.admin_token),
        )
        assert r.status_code == 409, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert "own role" in r.json()["detail"]
    r = await api.client.post(
        f"/api/v1/admin/users/{admin_id}/block",
        json={"reason": "leaving"},
        headers=api.auth(api.admin_token),
    )
    assert r.status_code == 409 and "blocks themselves" in r.json()["detail"], r.text
    r = await api.client.get("/api/v1/auth/me", headers=api.auth(api.admin_token))
    assert r.status_code == 200 and r.json()["role"] == "admin" and r.json()["is_active"]


async def test_admins_demote_and_block_other_admins_but_one_always_remains(api: Api) -> None:
    first = await _me(api, api.admin_token)
    second, second_token = await api.staff("admin")
    assert await _active_admins(api) == {first, second}
    r = await api.client.post(
        f"/api/v1/admin/users/{first}/block",
        json={"reason": "handing over"},
        headers=api.auth(second_token),
    )
    assert r.status_code == 200 and r.json()["is_active"] is False, r.text
    assert await _active_admins_as(api, second_token) == {second}
    # The blocked admin's token is dead; the remaining one cannot leave.
    r = await api.client.get("/api/v1/admin/users", headers=api.auth(api.admin_token))
    assert r.status_code == 401
    for call in (
        api.client.put(
            f"/api/v1/admin/users/{second}/role",
            json={"role": "operator", "reason": "x"},
            headers=api.auth(second_token),
        ),
        api.client.post(
            f"/api/v1/admin/users/{second}/block",
            json={"reason": "x"},
            headers=api.auth(second_token),
        ),
    ):
        r = await call
        assert r.status_code == 409, r.text
    assert await _active_admins_as(api, second_token) == {second}
    # Unblocked, the first may act again.
    r = await api.client.post(
        f"/api/v1/admin/users/{first}/unblock", headers=api.auth(second_token)
    )
    assert r.status_code == 200 and r.json()["is_active"] is True


async def _active_admins_as(api: Api, token: str) -> set[str]:
    r = await api.client.get(
        "/api/v1/admin/users", params={"role": "admin"}, headers=api.auth(token)
    )
    assert r.status_code == 200, r.text
    return {u["id"] for u in r.json()["items"] if u["is_active"]}


@pytest.mark.parametrize("how", ["role", "block"])
async def test_two_admins_removing_each_other_at_once_leave_one(api: Api, how: str) -> None:
    first = await _me(api, api.admin_token)
    second, second_token = await api.staff("admin")

    def remove(target: str, token: str):  # type: ignore[no-untyped-def]
        if how == "role":
            return api.client.put(
                f"/api/v1/admin/users/{target}/role",
                json={"role": "patient", "reason": "coup"},
                headers=api.auth(token),
            )
        return api.client.post(
            f"/api/v1/admin/users/{target}/block", json={"reason": "coup"}, headers=api.auth(token)
        )

    a, b = await asyncio.gather(remove(second, api.admin_token), remove(first, second_token))
    statuses = sorted([a.status_code, b.status_code])
    # One wins; the other finds its own account demoted or blocked (403 inside the
    # service, or 401 when its token was refused before the request reached it).
    assert statuses[0] == 200 and statuses[1] in (401, 403), (a.text, b.text)
    winner = api.admin_token if a.status_code == 200 else second_token
    assert len(await _active_admins_as(api, winner)) == 1


# -- the service, under concurrent random changes, against a sequential model ---------------


@dataclass
class _Account:
    role: Role
    active: bool = True


_op = st.tuples(
    st.integers(0, 3),  # actor
    st.sampled_from(["role", "block", "unblock"]),
    st.integers(0, 3),  # target
    st.sampled_from([Role.ADMIN, Role.OPERATOR, Role.PATIENT]),
)
_counter = itertools.count()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(st.lists(_op, min_size=1, max_size=6), min_size=1, max_size=5))
def test_concurrent_admin_changes_match_one_at_a_time_and_keep_an_admin(
    tmp_path: Path, batches: list[list[tuple[int, str, int, Role]]]
) -> None:
    asyncio.run(_run_batches(tmp_path / f"accounts{next(_counter)}.sqlite3", batches))


async def _run_batches(path: Path, batches: list[list[tuple[int, str, int, Role]]]) -> None:
    store = SqliteAccountStore(path)
    now = 1_700_000_000.0
    auth = AuthService(
        store,
        TokenPolicy("s" * 32),
        lambda: now,
        PasswordHasher(time_cost=1, memory_cost=64, parallelism=1),
    )
    service = AdminService(store, auth, lambda: now)
    ids = [f"u{i}" for i in range(4)]
    model = [
        _Account(Role.ADMIN),
        _Account(Role.ADMIN),
        _Account(Role.OPERATOR),
        _Account(Role.PATIENT),
    ]
    for user_id, account in zip(ids, model, strict=True):
        await store.create_user(User(user_id, f"{user_id}@tot.test", "x", account.role, now, now))
    try:
        for batch in batches:
            calls = []
            for actor, what, target, role in batch:
                who = Principal(ids[actor], Role.ADMIN)  # a token may be older than a change
                if what == "role":
                    calls.append(service.change_role(who, ids[target], role, None))
                elif what == "block":
                    calls.append(service.block(who, ids[target], "because"))
                else:
                    calls.append(service.unblock(who, ids[target]))
            outcomes = await asyncio.gather(*calls, return_exceptions=True)
            for (actor, what, target, role), outcome in zip(batch, outcomes, strict=True):
                expected = _apply(model, actor, what, target, role)
                got = "ok" if isinstance(outcome, User) else type(outcome).__name__
                assert got == expected, (batch, outcome)
            stored = [await store.user(i) for i in ids]
            assert [(u.role, u.is_active) for u in stored if u] == [
                (a.role, a.active) for a in model
            ]
            assert sum(a.role is Role.ADMIN and a.active for a in model) >= 1
            assert await service.active_admins() >= 1
    finally:
        await store.close()


def _apply(model: list[_Account], actor: int, what: str, target: int, role: Role) -> str:
    """What the rules say, one change at a time, in the order they were made."""
    me = model[actor]
    if me.role is not Role.ADMIN or not me.active:
        return ForbiddenError.__name__
    if what == "unblock":
        model[target].active = True
        return "ok"
    if target == actor:
        return ConflictError.__name__
    user = model[target]
    removing = what == "block" or role is not Role.ADMIN
    admins = sum(a.role is Role.ADMIN and a.active for a in model)
    if removing and user.role is Role.ADMIN and user.active and admins <= 1:
        return ConflictError.__name__
    if what == "block":
        user.active = False
    else:
        user.role = role
    return "ok"
