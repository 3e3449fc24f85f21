"""Admins' operations: live status, runtime settings (checked, applied, kept, audited),
and every /admin route closed to every other role."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import given, settings
from hypothesis import strategies as st

from api.app import create_app
from routing import Router
from services.bookings import InvalidRequestError
from services.operations import (
    GIVE_UP_AFTER_S,
    MAX_OFFERS,
    OFFER_TTL_S,
    RuntimeSettings,
    apply_changes,
)
from tests.api_harness import HOME, NEARBY, Api, running_api


@pytest.fixture
async def api(helsinki_router: Router, tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(helsinki_router, tmp_path) as a:
        yield a


async def test_status_shows_live_figures(api: Api) -> None:
    admin = api.auth(api.admin_token)
    r = await api.client.get("/api/v1/admin/status", headers=admin)
    assert r.status_code == 200, r.text
    before = r.json()
    assert before["health"] == "ok" and before["ready"] is True
    assert before["checks"] == {"storage": "ok", "engine_writer": "ok", "redis": "not used"}
    assert (before["storage"], before["bus"]) == ("sqlite", "memory")
    assert before["open_bookings"] == {} and before["doctors"] == {}
    assert before["dispatch_ms"] == {"p50": None, "p99": None, "count": 0}

    await api.doctor(on_shift_at=NEARBY)
    _, idle_token = await api.doctor(on_shift_at=NEARBY)
    await api.client.put(
        "/api/v1/doctors/me/availability", json={"available": False}, headers=api.auth(idle_token)
    )
    _, gone_token = await api.doctor(on_shift_at=NEARBY)
    await api.client.delete("/api/v1/doctors/me/shift", headers=api.auth(gone_token))
    _, patient = await api.patient()
    await api.book(patient)
    api.runtime.ops.websocket_connections = lambda: 3

    now = (await api.client.get("/api/v1/admin/status", headers=admin)).json()
    assert now["open_bookings"] == {"offered": 1}
    assert now["doctors"] == {"offered": 1, "on_break": 1}  # the offline one is not counted
    assert now["dispatch_ms"]["count"] == 1
    assert 0 < now["dispatch_ms"]["p50"] <= now["dispatch_ms"]["p99"] < 5_000
    assert now["websocket_connections"] == 3
    assert now["uptime_s"] >= before["uptime_s"]


async def test_settings_apply_at_once_are_audited_and_survive_a_restart(
    helsinki_router: Router, tmp_path: Path
) -> None:
    async with running_api(helsinki_router, tmp_path) as api:
        admin = api.auth(api.admin_token)
        r = await api.client.get("/api/v1/admin/settings", headers=admin)
        assert r.status_code == 200
        defaults = r.json()
        assert defaults["offer_ttl_s"] == 15 and defaults["max_offers"] == 10
        assert [n["number"] for n in defaults["emergency_numbers"]] == ["103", "112"]

        change = {
            "offer_ttl_s": 42.5,
            "max_offers": 3,
            "emergency_numbers": [{"label_ru": "Скорая", "label_en": "Ambulance", "number": "103"}],
            "emergency_text_en": "Call 103.",
        }
        r = await api.client.patch("/api/v1/admin/settings", json=change, headers=admin)
        assert r.status_code == 200, r.text
        assert {k: r.json()[k] for k in change} == change
        assert r.json()["give_up_after_s"] == defaults["give_up_after_s"]  # left as it was

        # The engine uses them at once: a new offer lives 42.5 s.
        doctor_id, _ = await api.doctor(on_shift_at=NEARBY)
        _, patient = await api.patient()
        booking = await api.book(patient)
        core = api.runtime.engine.core
        assert core.policy.max_offers == 3
        offer = next(o for o in core.offers.values() if o.booking_id == booking["id"])
        assert offer.expires_s - offer.sent_s == pytest.approx(42.5)
        assert offer.doctor_id == doctor_id

        # The apps show the new numbers and advice before an emergency booking.
        r = await api.client.get("/api/v1/emergency/contacts", headers=api.auth(patient))
        assert r.status_code == 200, r.text
        assert r.json()["numbers"] == change["emergency_numbers"]
        assert r.json()["text_en"] == "Call 103."
        assert r.json()["text_ru"] == defaults["emergency_text_ru"]
        r = await api.client.get("/api/v1/emergency/contacts")
        assert r.status_code == 401

        await api.runtime.audit.flush()
        r = await api.client.get(
            "/api/v1/admin/audit", params={"action": "settings.change"}, headers=admin
        )
        entries = r.json()["items"]
        details = {e["target_id"]: json.loads(e["detail"]) for e in entries}
        assert set(details) == set(change)  # one record a setting changed
        assert details["offer_ttl_s"] == {"setting": "offer_ttl_s", "old": 15, "new": 42.5}
        assert details["max_offers"] == {"setting": "max_offers", "old": 10, "new": 3}
        assert details["emergency_numbers"]["old"] == defaults["emergency_numbers"]
        assert details["emergency_numbers"]["new"] == change["emergency_numbers"]
        assert {e["actor_id"] for e in entries} == {
            (await api.client.get("/api/v1/auth/me", headers=admin)).json()["id"]
        }
        # The same values again: nothing changes, nothing is audited.
        r = await api.client.patch("/api/v1/admin/settings", json=change, headers=admin)
        assert r.status_code == 200

    async with running_api(helsinki_router, tmp_path) as api:
        r = await api.client.get("/api/v1/admin/settings", headers=api.auth(api.admin_token))
        assert {k: r.json()[k] for k in change} == change
        assert api.runtime.engine.core.policy.offer_ttl_s == 42.5
        r = await api.client.get(
            "/api/v1/admin/audit",
            params={"action": "settings.change"},
            headers=api.auth(api.admin_token),
        )
        assert len(r.json()["items"]) == len(change)  # the second, same PATCH audited nothing


@pytest.mark.parametrize(
    "body",
    [
        {"offer_ttl_s": 1},
        {"offer_ttl_s": 301},
        {"offer_ttl_s": "30"},
        {"offer_ttl_s": None},
        {"give_up_after_s": 10},
        {"max_offers": 0},
        {"max_offers": 1.5},
        {"max_offers": True},
        {"emergency_numbers": []},
        {"emergency_numbers": [{"label_ru": "a", "label_en": "b", "number": "call me"}]},
        {"emergency_numbers": [{"label_ru": " ", "label_en": "b", "number": "103"}]},
        {"emergency_text_ru": ""},
        {"emergency_text_en": "x" * 501},
        {"surprise": 1},
    ],
)
async def test_bad_settings_are_problems_and_change_nothing(api: Api, body: dict[str, Any]) -> None:
    r = await api.client.patch(
        "/api/v1/admin/settings", json=body, headers=api.auth(api.admin_token)
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert api.runtime.engine.core.policy.offer_ttl_s == 15
    assert api.runtime.ops.settings.max_offers == 10


BASE = RuntimeSettings(15.0, 300.0, 10)
anything = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
    st.text(max_size=5), st.lists(st.integers(), max_size=2),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    ttl=st.one_of(anything, st.floats(0, 400)),
    give_up=st.one_of(anything, st.floats(0, 8_000)),
    offers=st.one_of(anything, st.integers(-5, 120)),
)
def test_settings_are_taken_exactly_when_every_value_is_in_range(
    ttl: Any, give_up: Any, offers: Any
) -> None:
    def number_in(v: Any, bounds: tuple[float, float]) -> bool:
        return (
            not isinstance(v, bool) and isinstance(v, int | float) and bounds[0] <= v <= bounds[1]
        )

    valid = (
        number_in(ttl, OFFER_TTL_S)
        and number_in(give_up, GIVE_UP_AFTER_S)
        and number_in(offers, MAX_OFFERS)
        and isinstance(offers, int)
    )
    changes = {"offer_ttl_s": ttl, "give_up_after_s": give_up, "max_offers": offers}
    try:
        new = apply_changes(BASE, changes)
    except InvalidRequestError:
        assert not valid
    else:
        assert valid
        assert (new.offer_ttl_s, new.give_up_after_s, new.max_offers) == (ttl, give_up, offers)
        assert new.emergency_numbers == BASE.emergency_numbers


@settings(max_examples=200, deadline=None)
@given(
    numbers=st.lists(
        st.fixed_dictionaries(
            {
                "label_ru": st.text(max_size=110),
                "label_en": st.text(max_size=3),
                "number": st.from_regex(r"\A\+?[0-9]{1,17}\Z"),
            }
        ),
        max_size=7,
    )
)
def test_emergency_numbers_are_checked(numbers: list[dict[str, str]]) -> None:
    valid = 1 <= len(numbers) <= 5 and all(
        2 <= len(n["number"].lstrip("+")) <= 15
        and 1 <= len(n["label_ru"].strip()) <= 100
        and "\x00" not in n["label_ru"]
        and len(n["label_en"].strip()) >= 1
        and "\x00" not in n["label_en"]
        for n in numbers
    )
    try:
        new = apply_changes(BASE, {"emergency_numbers": numbers})
    except InvalidRequestError:
        assert not valid
    else:
        assert valid
        assert [n.number for n in new.emergency_numbers] == [n["number"] for n in numbers]


# -- every /admin route is the admins' alone ------------------------------------------------


def _admin_routes() -> list[tuple[str, str]]:
    app = create_app(lambda: None)  # type: ignore[arg-type,return-value]
    return sorted(
        (method, ctx.path)
        for ctx in iter_route_contexts(app.routes)
        if isinstance(ctx.original_route, APIRoute) and (ctx.path or "").startswith("/api/v1/admin")
        for method in ctx.original_route.methods
    )


ADMIN_ROUTES = _admin_routes()


def test_the_admin_routes_are_all_here() -> None:
    paths = {p for _, p in ADMIN_ROUTES}
    for expected in (
        "/api/v1/admin/status", "/api/v1/admin/settings", "/api/v1/admin/audit",
        "/api/v1/admin/users", "/api/v1/admin/moderation/doctors",
        "/api/v1/admin/documents/{document_id}/file",
        "/api/v1/admin/doctors/{doctor_id}/verification",
    ):  # fmt: skip
        assert expected in paths


async def test_no_other_role_reaches_any_admin_route(api: Api) -> None:
    _, patient = await api.patient()
    _, doctor = await api.doctor()
    _, operator = await api.staff("operator")
    _, clinic_admin = await api.staff("clinic_admin", clinic_id="clinic-1")
    tried = 0
    for role, token in (
        ("patient", patient), ("doctor", doctor), ("operator", operator),
        ("clinic_admin", clinic_admin),
    ):  # fmt: skip
        for method, path in ADMIN_ROUTES:
            url = path.replace("{", "").replace("}", "")  # every id: its own name
            r = await api.client.request(method, url, json={}, headers=api.auth(token))
            assert r.status_code == 403, (role, method, path, r.status_code, r.text)
            tried += 1
    assert tried == 4 * len(ADMIN_ROUTES) >= 4 * 15
    assert HOME
