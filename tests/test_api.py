"""The HTTP API end to end: the real app, runtime and stores (SQLite, and PostGIS for
the main flow), through an HTTP client."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import jwt
import pytest

from accounts import Role
from api.app import create_app
from api.security import declared_roles
from routing import Router
from tests.api_harness import ADMIN_EMAIL, HOME, NEARBY, PASSWORD, Api, running_api


@pytest.fixture
async def api(helsinki_router: Router, tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(helsinki_router, tmp_path) as a:
        yield a


def problem_of(r: object) -> dict[str, object]:
    response = r  # httpx.Response
    assert response.headers["content-type"].startswith("application/problem+json"), response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert {"title", "status", "detail"} <= body.keys()
    assert body["status"] == response.status_code  # type: ignore[attr-defined]
    return body  # type: ignore[no-any-return]


# -- every route declares who may call it ---------------------------------------------------


def test_every_route_declares_its_roles() -> None:
    app = create_app(lambda: None)  # type: ignore[arg-type, return-value]
    undeclared = []
    checked = 0
    for route, path in api_routes(app):
        checked += 1
        declared = [
            roles
            for dep in _all_dependencies(route.dependant)  # type: ignore[attr-defined]
            if (roles := declared_roles(dep.call)) is not None
        ]
        if not declared:
            undeclared.append(f"{sorted(route.methods)} {path}")  # type: ignore[attr-defined]
    assert checked > 30
    assert undeclared == []


def api_routes(app: object) -> list[tuple[object, str]]:
    """Every route under /api, through included routers (FastAPI resolves them lazily)."""
    from fastapi.routing import iter_route_contexts

    out = []
    for ctx in iter_route_contexts(app.routes):  # type: ignore[attr-defined]
        path = ctx.path or ""
        if path.startswith("/api/"):
            out.append((ctx.original_route, path))
    return out


def _all_dependencies(dependant: object) -> list[object]:
    out = []
    for dep in dependant.dependencies:  # type: ignore[attr-defined]
        out.append(dep)
        out.extend(_all_dependencies(dep))
    return out


def test_the_walk_catches_a_route_with_no_declaration() -> None:
    from fastapi import APIRouter

    app = create_app(lambda: None)  # type: ignore[arg-type, return-value]
    extra = APIRouter(prefix="/api/v1")

    @extra.get("/forgotten")
    async def forgotten() -> dict[str, str]:
        return {}

    app.include_router(extra)
    route = next(r for r, path in api_routes(app) if path == "/api/v1/forgotten")
    assert not [d for d in _all_dependencies(route.dependant) if declared_roles(d.call) is not None]  # type: ignore[attr-defined]


# -- accounts and tokens ---------------------------------------------------------------------


async def test_register_login_me_and_refresh_rotation(api: Api) -> None:
    r = await api.client.post(
        "/api/v1/auth/register",
        json={"email": "Anna@Example.org", "password": PASSWORD, "first_name": "Anna"},
    )
    assert r.status_code == 201
    assert r.json()["role"] == "patient" and r.json()["email"] == "anna@example.org"
    assert "password" not in r.text and "argon2" not in r.text
    again = await api.client.post(
        "/api/v1/auth/register", json={"email": "anna@example.org", "password": PASSWORD}
    )
    assert again.status_code == 409 and problem_of(again)
    tokens = await api.login("ANNA@example.org")
    me = await api.client.get("/api/v1/auth/me", headers=api.auth(tokens["access_token"]))
    assert me.status_code == 200 and me.json()["first_name"] == "Anna"
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 900 and claims["typ"] == "access"
    assert {"iss", "aud", "exp", "sub"} <= claims.keys()

    first = tokens["refresh_token"]
    r1 = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert r1.status_code == 200
    second = r1.json()["refresh_token"]
    assert second != first
    # The spent token again: reuse. The whole family dies, the thief's and the owner's.
    reuse = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert reuse.status_code == 401 and "reused" in problem_of(reuse)["detail"]  # type: ignore[operator]
    after = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": second})
    assert after.status_code == 401


async def test_logout_revokes_the_login(api: Api) -> None:
    await api.patient()
    email = "leaving@tot.example.org"
    await api.client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    tokens = await api.login(email)
    r = await api.client.post(
        "/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}
    )
    assert r.status_code == 204
    r = await api.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert r.status_code == 401


async def test_wrong_password_and_unknown_email_answer_alike(api: Api) -> None:
    await api.client.post(
        "/api/v1/auth/register", json={"email": "known@tot.example.org", "password": PASSWORD}
    )
    wrong = await api.client.post(
        "/api/v1/auth/login",
        json={"email": "known@tot.example.org", "password": "not the password"},
    )
    unknown = await api.client.post(
        "/api/v1/auth/login",
        json={"email": "nobody@tot.example.org", "password": "not the password"},
    )
    assert wrong.status_code == unknown.status_code == 401
    assert problem_of(wrong)["detail"] == problem_of(unknown)["detail"]


@pytest.mark.parametrize(
    "mutate",
    [
        "expired",
        "wrong_secret",
        "alg_none",
        "hs512",
        "wrong_audience",
        "wrong_issuer",
        "refresh_as_access",
        "garbage",
    ],
)
async def test_bad_access_tokens_are_refused(api: Api, mutate: str) -> None:
    _, token = await api.patient()
    secret = api.runtime.config.jwt_secret
    claims = jwt.decode(token, secret, algorithms=["HS256"], audience="tot-api")
    now = int(time.time())
    if mutate == "expired":
        bad = jwt.encode(
            {**claims, "iat": now - 2000, "exp": now - 1000}, secret, algorithm="HS256"
        )
    elif mutate == "wrong_secret":
        bad = jwt.encode(claims, "another-secret-0123456789-0123456789-xyz", algorithm="HS256")
    elif mutate == "alg_none":
        bad = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    elif mutate == "hs512":
        bad = jwt.encode(claims, secret, algorithm="HS512")
    elif mutate == "wrong_audience":
        bad = jwt.encode({**claims, "aud": "someone-else"}, secret, algorithm="HS256")
    elif mutate == "wrong_issuer":
        bad = jwt.encode({**claims, "iss": "evil"}, secret, algorithm="HS256")
    elif mutate == "refresh_as_access":
        bad = jwt.encode({**claims, "typ": "refresh"}, secret, algorithm="HS256")
    else:
        bad = "not.a.token"
    r = await api.client.get("/api/v1/auth/me", headers=api.auth(bad))
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    problem_of(r)


async def test_no_token_is_401_and_a_wrong_role_is_403(api: Api) -> None:
    r = await api.client.get("/api/v1/operator/bookings")
    assert r.status_code == 401 and problem_of(r)
    _, patient = await api.patient()
    r = await api.client.get("/api/v1/operator/bookings", headers=api.auth(patient))
    assert r.status_code == 403 and problem_of(r)
    r = await api.client.get("/api/v1/admin/users", headers=api.auth(patient))
    assert r.status_code == 403
    _, doctor = await api.doctor()
    r = await api.client.post(
        "/api/v1/bookings",
        json={"latitude": HOME[0], "longitude": HOME[1]},
        headers=api.auth(doctor),
    )
    assert r.status_code == 403


async def test_blocking_stops_tokens_at_once_and_unblocking_restores_login(api: Api) -> None:
    patient_id, token = await api.patient()
    r = await api.client.post(
        f"/api/v1/admin/users/{patient_id}/block",
        json={"reason": "fraud"},
        headers=api.auth(api.admin_token),
    )
    assert r.status_code == 200 and r.json()["is_active"] is False
    r = await api.client.get("/api/v1/auth/me", headers=api.auth(token))
    assert r.status_code == 401
    user = await api.runtime.accounts.user(patient_id)
    assert user is not None
    r = await api.client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
    )
    assert r.status_code == 401
    r = await api.client.post(
        f"/api/v1/admin/users/{patient_id}/unblock", headers=api.auth(api.admin_token)
    )
    assert r.status_code == 200
    assert (await api.login(user.email))["access_token"]
    # the audit trail kept both
    r = await api.client.get(
        f"/api/v1/admin/audit/user/{patient_id}", headers=api.auth(api.admin_token)
    )
    actions = [a["action"] for a in r.json()]
    assert [a for a in actions if a.startswith("user.")] == ["user.block", "user.unblock"]
    assert "auth.login" in actions  # the patient's own logins are on record too


async def test_login_is_rate_limited_with_retry_after(
    helsinki_router: Router, tmp_path: Path
) -> None:
    async with running_api(helsinki_router, tmp_path, login_rate_per_min=3) as api:
        codes = []
        for _ in range(5):
            r = await api.client.post(
                "/api/v1/auth/login",
                json={"email": "x@tot.example.org", "password": "wrong-password"},
            )
            codes.append(r.status_code)
        assert codes[:2] == [401, 401] and codes[-1] == 429
        assert int(r.headers["retry-after"]) >= 1
        problem_of(r)


# -- bookings: the visit, end to end -------------------------------------------------------------


async def visit_flow(api: Api) -> None:
    doctor_id, doctor = await api.doctor(on_shift_at=NEARBY, specialization="general")
    patient_id, patient = await api.patient()
    r = await api.client.post(
        "/api/v1/bookings/estimate",
        json={"latitude": HOME[0], "longitude": HOME[1]},
        headers=api.auth(patient),
    )
    assert r.status_code == 200
    estimate = r.json()
    assert estimate["doctors_available"] == 1 and estimate["eta_s"] > 0
    assert isinstance(estimate["price_kopecks"], int) and estimate["price_kopecks"] > 0

    booking = await api.book(patient, symptoms="fever")
    assert booking["status"] == "offered" and booking["patient_id"] == patient_id
    assert booking["estimated_price_kopecks"] == estimate["price_kopecks"]
    offers = (await api.client.get("/api/v1/offers", headers=api.auth(doctor))).json()
    assert [o["booking_id"] for o in offers] == [booking["id"]]
    assert offers[0]["ttl_s"] > 0 and offers[0]["eta_s"] > 0

    r = await api.client.post(
        f"/api/v1/offers/{offers[0]['offer_id']}/accept", headers=api.auth(doctor)
    )
    assert r.status_code == 200 and r.json()["status"] == "assigned", r.text
    for step in ("en_route", "arrived", "in_progress"):
        r = await api.client.post(
            f"/api/v1/bookings/{booking['id']}/progress",
            json={"status": step},
            headers=api.auth(doctor),
        )
        assert r.status_code == 200 and r.json()["status"] == step, r.text
    r = await api.client.post(
        f"/api/v1/bookings/{booking['id']}/messages",
        json={"content": "Door code 1234"},
        headers=api.auth(patient),
    )
    assert r.status_code == 201
    r = await api.client.post(
        f"/api/v1/bookings/{booking['id']}/progress",
        json={"status": "completed"},
        headers=api.auth(doctor),
    )
    assert r.status_code == 200 and r.json()["status"] == "completed"
    assert r.json()["final_price_kopecks"] == booking["estimated_price_kopecks"]

    seen = (
        await api.client.get(f"/api/v1/bookings/{booking['id']}", headers=api.auth(patient))
    ).json()
    assert [h["status"] for h in seen["history"]] == [
        "requested", "searching", "offered", "assigned", "en_route", "arrived", "in_progress", "completed",
    ]  # fmt: skip
    assert seen["doctor"]["id"] == doctor_id
    assert "license_number" not in seen["doctor"] and "LIC-12345" not in str(seen)
    assert all(h["by"] is None for h in seen["history"])  # who moved it: staff only
    assert seen["messages"][0]["content"] == "Door code 1234"
    # stored, and listed for both sides
    listed = (await api.client.get("/api/v1/bookings", headers=api.auth(patient))).json()
    assert [b["id"] for b in listed["bookings"]] == [booking["id"]]
    listed = (await api.client.get("/api/v1/bookings", headers=api.auth(doctor))).json()
    assert [b["id"] for b in listed["bookings"]] == [booking["id"]]


async def test_a_visit_end_to_end_on_sqlite(api: Api) -> None:
    await visit_flow(api)


@pytest.mark.postgis
async def test_a_visit_end_to_end_on_postgis(helsinki_router: Router, tmp_path: Path) -> None:
    async with running_api(helsinki_router, tmp_path, backend="postgis") as api:
        await visit_flow(api)


async def test_not_yours_answers_exactly_like_does_not_exist(api: Api) -> None:
    _, alice = await api.patient()
    _, bob = await api.patient()
    booking = await api.book(alice)
    theirs = await api.client.get(f"/api/v1/bookings/{booking['id']}", headers=api.auth(bob))
    missing = await api.client.get("/api/v1/bookings/does-not-exist", headers=api.auth(bob))
    assert theirs.status_code == missing.status_code == 404
    a, b = problem_of(theirs), problem_of(missing)
    assert a["title"] == b["title"] and a["detail"] != "" and b["detail"] != ""
    assert a["detail"].replace(booking["id"], "X") == b["detail"].replace("does-not-exist", "X")  # type: ignore[union-attr]
    for path, body in [("cancel", {"reason": "mine now"}), ("messages", {"content": "hi"})]:
        r = await api.client.post(
            f"/api/v1/bookings/{booking['id']}/{path}", json=body, headers=api.auth(bob)
        )
        assert r.status_code == 404
    # a doctor who was never offered it, and a clinic admin of another clinic
    _, doctor = await api.doctor()
    assert (
        await api.client.get(f"/api/v1/bookings/{booking['id']}", headers=api.auth(doctor))
    ).status_code == 404
    _, clinic_admin = await api.staff("clinic_admin", clinic_id="clinic-9")
    assert (
        await api.client.get(f"/api/v1/bookings/{booking['id']}", headers=api.auth(clinic_admin))
    ).status_code == 404
    # and bob's list does not show it
    assert (await api.client.get("/api/v1/bookings", headers=api.auth(bob))).json()[
        "bookings"
    ] == []


async def test_a_clinic_admin_sees_their_clinics_bookings(api: Api) -> None:
    _, patient = await api.patient()
    booking = await api.book(patient, clinic_id="clinic-1")
    _, mine = await api.staff("clinic_admin", clinic_id="clinic-1")
    r = await api.client.get(f"/api/v1/bookings/{booking['id']}", headers=api.auth(mine))
    assert r.status_code == 200
    listed = (await api.client.get("/api/v1/bookings", headers=api.auth(mine))).json()
    assert [b["id"] for b in listed["bookings"]] == [booking["id"]]


@pytest.mark.parametrize(
    "field", ["status", "doctor_id", "price_kopecks", "estimated_price_kopecks", "patient_id"]
)
async def test_bodies_cannot_set_what_the_engine_decides(api: Api, field: str) -> None:
    _, patient = await api.patient()
    body = {"latitude": HOME[0], "longitude": HOME[1], field: "x"}
    r = await api.client.post("/api/v1/bookings", json=body, headers=api.auth(patient))
    assert r.status_code == 422
    assert field in str(problem_of(r)["errors"])
    assert (await api.client.get("/api/v1/bookings", headers=api.auth(patient))).json()[
        "bookings"
    ] == []


@pytest.mark.parametrize(
    "body",
    [
        {"latitude": 91, "longitude": 24.9},
        {"latitude": 60.1, "longitude": -181},
        {"latitude": "NaN", "longitude": 24.9},
        {"longitude": 24.9},
        {"latitude": 60.17, "longitude": 24.94, "address": "x" * 501},
        {"latitude": 60.17, "longitude": 24.94, "call_type": "DROP TABLE"},
    ],
)
async def test_bad_visit_requests_get_422_problems(api: Api, body: dict[str, object]) -> None:
    _, patient = await api.patient()
    r = await api.client.post("/api/v1/bookings", json=body, headers=api.auth(patient))
    assert r.status_code == 422
    problem_of(r)


async def test_an_address_off_the_road_network_is_refused(api: Api) -> None:
    _, patient = await api.patient()
    r = await api.client.post(
        "/api/v1/bookings", json={"latitude": 0.0, "longitude": 0.0}, headers=api.auth(patient)
    )
    assert r.status_code == 422 and "road" in problem_of(r)["detail"]  # type: ignore[operator]


async def test_idempotency_key_replays_the_first_answer(api: Api) -> None:
    _, patient = await api.patient()
    body = {"latitude": HOME[0], "longitude": HOME[1], "symptoms": "cough"}
    headers = {**api.auth(patient), "Idempotency-Key": "create-1"}
    first = await api.client.post("/api/v1/bookings", json=body, headers=headers)
    retry = await api.client.post("/api/v1/bookings", json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert first.content == retry.content
    assert (
        first.headers["idempotent-replayed"] == "false"
        and retry.headers["idempotent-replayed"] == "true"
    )
    other = await api.client.post(
        "/api/v1/bookings", json={**body, "symptoms": "fever"}, headers=headers
    )
    assert other.status_code == 422 and "Idempotency-Key" in problem_of(other)["detail"]  # type: ignore[operator]
    listed = (await api.client.get("/api/v1/bookings", headers=api.auth(patient))).json()
    assert len(listed["bookings"]) == 1
    # another patient may use the same key for their own booking
    _, other_patient = await api.patient()
    r = await api.client.post(
        "/api/v1/bookings",
        json=body,
        headers={**api.auth(other_patient), "Idempotency-Key": "create-1"},
    )
    assert r.status_code == 201 and r.json()["id"] != first.json()["id"]


async def test_patients_cancel_their_own_with_a_reason(api: Api) -> None:
    _, patient = await api.patient()
    booking = await api.book(patient)
    r = await api.client.post(
        f"/api/v1/bookings/{booking['id']}/cancel", json={"reason": ""}, headers=api.auth(patient)
    )
    assert r.status_code == 422
    r = await api.client.post(
        f"/api/v1/bookings/{booking['id']}/cancel",
        json={"reason": "feeling better"},
        headers=api.auth(patient),
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert r.json()["history"][-1]["reason"] == "feeling better"
    again = await api.client.post(
        f"/api/v1/bookings/{booking['id']}/cancel",
        json={"reason": "again"},
        headers=api.auth(patient),
    )
    assert again.status_code == 409


async def test_pagination_walks_every_booking_once(api: Api) -> None:
    _, patient = await api.patient()
    made = [(await api.book(patient))["id"] for _ in range(7)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (
            await api.client.get("/api/v1/bookings", params=params, headers=api.auth(patient))
        ).json()
        seen += [b["id"] for b in page["bookings"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made) and len(seen) == 7
    r = await api.client.get(
        "/api/v1/bookings", params={"cursor": "!!nonsense"}, headers=api.auth(patient)
    )
    assert r.status_code == 422 and problem_of(r)["errors"]  # the query's pattern refuses it


async def test_any_cursor_of_the_right_shape_is_a_place_in_the_list(api: Api) -> None:
    """A cursor names a position (creation time, id): one never given out is no error, it
    just starts where it points."""
    _, patient = await api.patient()
    made = [(await api.book(patient))["id"] for _ in range(3)]
    r = await api.client.get("/api/v1/bookings", params={"limit": 2}, headers=api.auth(patient))
    first = r.json()
    assert [b["id"] for b in first["bookings"]] == made[:0:-1]  # newest first
    created, last_id = first["next_cursor"].split("~")
    assert last_id == made[1] and float(created) > 1e9
    for cursor, expected in (
        (first["next_cursor"], made[:1]),
        ("0~0", []),  # before everything
        ("999999999999~z", made[::-1]),  # after everything (and past the year 9999)
        (f"{created}~{'0' * 32}", made[:1]),  # the same instant: ids break the tie
        (f"{created}~{'z' * 32}", made[:2][::-1]),
    ):
        r = await api.client.get(
            "/api/v1/bookings", params={"cursor": cursor}, headers=api.auth(patient)
        )
        assert r.status_code == 200, (cursor, r.text)
        assert [b["id"] for b in r.json()["bookings"]] == expected, cursor


# -- operators --------------------------------------------------------------------------------------


async def test_operators_override_with_reasons_that_are_kept(api: Api) -> None:
    doctor_id, _ = await api.doctor(on_shift_at=NEARBY)
    _, patient = await api.patient()
    operator_id, operator = await api.staff("operator")
    booking = await api.book(patient)
    live = (await api.client.get("/api/v1/operator/bookings", headers=api.auth(operator))).json()
    assert booking["id"] in [b["id"] for b in live["bookings"]]
    doctors = (await api.client.get("/api/v1/operator/doctors", headers=api.auth(operator))).json()
    assert [d["doctor_id"] for d in doctors["doctors"]] == [doctor_id]
    explained = (
        await api.client.get(
            f"/api/v1/operator/bookings/{booking['id']}/decision", headers=api.auth(operator)
        )
    ).json()
    assert explained["ranking"] == [doctor_id]
    decided = datetime.fromisoformat(explained["decided_at"])
    assert explained["decided_at"].endswith("Z") and abs(decided.timestamp() - time.time()) < 60
    no_reason = await api.client.post(
        f"/api/v1/operator/bookings/{booking['id']}/assign",
        json={"doctor_id": doctor_id},
        headers=api.auth(operator),
    )
    assert no_reason.status_code == 422
    r = await api.client.post(
        f"/api/v1/operator/bookings/{booking['id']}/assign",
        json={"doctor_id": doctor_id, "reason": "patient asked for this doctor"},
        headers=api.auth(operator),
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "assigned"
    last = r.json()["history"][-1]
    assert last["reason"] == "patient asked for this doctor" and operator_id in last["by"]
    r = await api.client.post(
        f"/api/v1/operator/bookings/{booking['id']}/priority",
        json={"priority": "urgent", "reason": "worse"},
        headers=api.auth(operator),
    )
    assert r.status_code == 200 and r.json()["priority"] == "urgent"
    r = await api.client.post(
        f"/api/v1/operator/bookings/{booking['id']}/cancel",
        json={"reason": "duplicate call"},
        headers=api.auth(operator),
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = await api.client.get(
        f"/api/v1/admin/audit/booking/{booking['id']}", headers=api.auth(api.admin_token)
    )
    actions = [a["action"] for a in r.json()]
    assert {"booking.create", "booking.assign", "booking.priority", "booking.cancel"} <= set(
        actions
    )
    for entry in r.json():
        assert entry["at"].endswith("Z") and "at_s" not in entry
        assert abs(datetime.fromisoformat(entry["at"]).timestamp() - time.time()) < 60


async def test_an_unverified_doctor_cannot_go_online(api: Api) -> None:
    doctor_id, doctor = await api.doctor(verified=False)
    r = await api.client.post(
        "/api/v1/doctors/me/shift",
        json={"latitude": NEARBY[0], "longitude": NEARBY[1]},
        headers=api.auth(doctor),
    )
    assert r.status_code == 403 and "verify" in problem_of(r)["detail"]  # type: ignore[operator]
    assert doctor_id not in api.runtime.registry


async def test_doctor_positions_are_validated(api: Api) -> None:
    _, doctor = await api.doctor(on_shift_at=NEARBY)
    r = await api.client.post(
        "/api/v1/doctors/me/location",
        json={"latitude": 61.5, "longitude": 24.94},
        headers=api.auth(doctor),
    )
    # Valid coordinates, but too far from the last fix to be true: a conflict with it.
    assert r.status_code == 409 and "implausible_jump" in problem_of(r)["detail"]  # type: ignore[operator]
    later = datetime.fromtimestamp(time.time() + 10, UTC).isoformat()
    r = await api.client.post(
        "/api/v1/doctors/me/location",
        json={"latitude": 60.1712, "longitude": 24.9412, "recorded_at": later},
        headers=api.auth(doctor),
    )
    assert r.status_code == 200 and r.json()["status"] == "available", r.text
    assert r.json()["latitude"] == pytest.approx(60.1712)
    earlier = datetime.fromtimestamp(time.time() - 60, UTC).isoformat()
    r = await api.client.post(
        "/api/v1/doctors/me/location",
        json={"latitude": 60.1712, "longitude": 24.9412, "recorded_at": earlier},
        headers=api.auth(doctor),
    )
    assert r.status_code == 409 and "out_of_order" in problem_of(r)["detail"]  # type: ignore[operator]
    ahead = datetime.fromtimestamp(time.time() + 3600, UTC).isoformat()
    r = await api.client.post(
        "/api/v1/doctors/me/location",
        json={"latitude": 60.1712, "longitude": 24.9412, "recorded_at": ahead},
        headers=api.auth(doctor),
    )
    assert r.status_code == 409 and "from_the_future" in problem_of(r)["detail"]  # type: ignore[operator]
    for year in ("1899-12-31T23:00:00Z", "9999-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00"):
        r = await api.client.post(
            "/api/v1/doctors/me/location",
            json={"latitude": 60.1712, "longitude": 24.9412, "recorded_at": year},
            headers=api.auth(doctor),
        )
        assert r.status_code == 422 and problem_of(r)["errors"], year  # the schema's pattern


async def test_public_doctor_profile_hides_the_licence(api: Api) -> None:
    doctor_id, _ = await api.doctor(specialization="pediatrics", experience_years=7)
    _, patient = await api.patient()
    r = await api.client.get(f"/api/v1/doctors/{doctor_id}", headers=api.auth(patient))
    assert r.status_code == 200
    assert r.json()["specialization"] == "pediatrics" and "license_number" not in r.json()


# -- the edges: request ids, sizes, CORS, readiness --------------------------------------------------


async def test_request_ids_sizes_cors_and_health(api: Api) -> None:
    r = await api.client.get("/api/v1/health")
    assert r.status_code == 200 and len(r.headers["x-request-id"]) >= 16
    r = await api.client.get("/api/v1/health", headers={"X-Request-ID": "trace-42"})
    assert r.headers["x-request-id"] == "trace-42"
    r = await api.client.get("/api/v1/ready")
    assert r.status_code == 200 and r.json()["checks"]["storage"] == "ok"
    _, patient = await api.patient()
    big = {"latitude": HOME[0], "longitude": HOME[1], "notes": "x" * 70_000}
    r = await api.client.post("/api/v1/bookings", json=big, headers=api.auth(patient))
    assert r.status_code == 413 and problem_of(r)
    r = await api.client.options(
        "/api/v1/bookings",
        headers={"Origin": "https://app.tot.test", "Access-Control-Request-Method": "POST"},
    )
    assert r.headers["access-control-allow-origin"] == "https://app.tot.test"
    r = await api.client.options(
        "/api/v1/bookings",
        headers={"Origin": "https://evil.test", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in r.headers
    r = await api.client.post(
        "/api/v1/bookings",
        content=b"{not json",
        headers={**api.auth(patient), "content-type": "application/json"},
    )
    assert r.status_code == 422 and problem_of(r)


# -- what schemathesis found (tests/test_api_schema.py): each was a 500, a hang or a lie ----------


async def test_a_partial_profile_update_refuses_null_for_what_cannot_be_null(api: Api) -> None:
    _, patient = await api.patient()
    for field in ("languages", "first_name", "last_name"):  # languages: null was a 500
        r = await api.client.patch("/api/v1/auth/me", json={field: None}, headers=api.auth(patient))
        assert r.status_code == 422 and field in str(problem_of(r)["errors"])
    r = await api.client.patch(
        "/api/v1/auth/me",
        json={"first_name": "  Anna ", "phone": None},
        headers=api.auth(patient),
    )
    assert r.status_code == 200 and r.json()["first_name"] == "Anna" and r.json()["phone"] is None


async def test_text_with_nul_is_refused_at_the_edge(api: Api) -> None:
    # The stores cannot keep NUL (PostgreSQL refuses it): it was a 500 on registration, and
    # a 500 on PostGIS for an id in a path or query.
    body = {
        "email": "nul@tot.example.org",
        "password": PASSWORD,
        "license_number": "LIC-12345",
        "last_name": "a\u0000b",
    }
    r = await api.client.post("/api/v1/auth/register/doctor", json=body)
    assert r.status_code == 422 and "last_name" in str(problem_of(r)["errors"])
    _, patient = await api.patient()
    for path in ("/api/v1/bookings/a%00b", "/api/v1/bookings?patient_id=a%00b"):
        r = await api.client.get(path, headers=api.auth(patient))
        assert r.status_code == 422 and problem_of(r)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("latitude", "60.17"),  # numbers are JSON numbers
        ("is_emergency", "yes"),  # booleans are JSON booleans
        ("is_emergency", 1),
        ("scheduled_at", 1_900_000_000),  # date-times are RFC 3339 text
        ("scheduled_at", "2030-01-01T10:00:00"),  # with an offset
        ("scheduled_at", "2030-01-01"),
        ("address", "x\u0000y"),
    ],
)
async def test_visit_fields_are_what_the_schema_says(api: Api, field: str, value: object) -> None:
    _, patient = await api.patient()
    body = {"latitude": HOME[0], "longitude": HOME[1], field: value}
    r = await api.client.post("/api/v1/bookings", json=body, headers=api.auth(patient))
    assert r.status_code == 422 and field in str(problem_of(r)["errors"])


async def test_a_date_time_outside_the_calendar_in_utc_is_a_422(api: Api) -> None:
    # Valid RFC 3339, yet year 0 in UTC: it was stored, then failed to render (500); and
    _, patient = await api.patient()
    # 0001-01-01T00:00:00Z went into PostgreSQL as -infinity, and back as a 500 for every
    # later listing of users.
    for moment in (
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:30:00-01:00",
        "0001-01-01T00:00:00Z",
        "1899-12-31T23:59:59Z",
    ):
        body = {"latitude": HOME[0], "longitude": HOME[1], "scheduled_at": moment}
        r = await api.client.post("/api/v1/bookings", json=body, headers=api.auth(patient))
        # Refused by the schema's pattern (years 1900 to 9998 as written), naming the field.
        assert r.status_code == 422, (moment, r.text)
        assert [e["loc"] for e in problem_of(r)["errors"]] == [["body", "scheduled_at"]]  # type: ignore[union-attr]
    # The edges of the pattern, with the widest offsets, are accepted and stored.
    for moment in ("1900-01-01T00:00:00+23:59", "9998-12-31T23:59:59-23:59"):
        body = {"latitude": HOME[0], "longitude": HOME[1], "scheduled_at": moment}
        r = await api.client.post("/api/v1/bookings", json=body, headers=api.auth(patient))
        assert r.status_code == 201, (moment, r.text)
        assert datetime.fromisoformat(r.json()["scheduled_at"]) == datetime.fromisoformat(moment)


def test_a_time_stored_as_infinity_reads_back() -> None:
    # asyncpg returns PostgreSQL's -infinity as a naive datetime.min: that was "year 0".
    from storage.booking_rows import from_time

    assert from_time(datetime.min) == datetime.min.replace(tzinfo=UTC).timestamp()
    assert from_time(datetime(2030, 1, 1)) == datetime(2030, 1, 1, tzinfo=UTC).timestamp()


async def test_a_decline_needs_a_reason_as_the_schema_says(api: Api) -> None:
    _, doctor = await api.doctor(on_shift_at=NEARBY)
    _, patient = await api.patient()
    await api.book(patient)
    offers = (await api.client.get("/api/v1/offers", headers=api.auth(doctor))).json()
    assert offers
    url = f"/api/v1/offers/{offers[0]['offer_id']}/decline"
    for body in ({}, {"reason": "   "}):  # the schema said optional; the core then refused
        r = await api.client.post(url, json=body, headers=api.auth(doctor))
        assert r.status_code == 422 and "reason" in str(problem_of(r)["errors"])
    r = await api.client.post(url, json={"reason": "stuck in traffic"}, headers=api.auth(doctor))
    assert r.status_code == 204


async def test_405_names_every_method_of_the_resource(api: Api) -> None:
    _, patient = await api.patient()
    r = await api.client.request("OPTIONS", "/api/v1/auth/me", headers=api.auth(patient))
    assert r.status_code == 405 and r.headers["allow"] == "GET, PATCH"  # was "GET"
    r = await api.client.put("/api/v1/bookings/estimate", headers=api.auth(patient))
    assert r.status_code == 405 and r.headers["allow"] == "POST"  # not GET /bookings/{id}'s


async def test_an_operator_may_look_at_the_whole_world(api: Api) -> None:
    # A viewport of millions of H3 cells took seconds with the event loop blocked, and one
    # 180 degrees wide or more found nobody (an H3 polygon goes the short way round).
    doctor_id, _ = await api.doctor(on_shift_at=NEARBY)
    _, operator = await api.staff("operator")
    started = time.perf_counter()
    for box in ("-90,-180,90,180", "-20,-20,70,70", "60,-180,61,180"):
        south, west, north, east = box.split(",")
        r = await api.client.get(
            "/api/v1/operator/doctors",
            params={"south": south, "west": west, "north": north, "east": east},
            headers=api.auth(operator),
        )
        assert r.status_code == 200
        assert [d["doctor_id"] for d in r.json()["doctors"]] == [doctor_id]
    assert time.perf_counter() - started < 2.0


async def test_a_viewport_s_sides_each_bound_it_and_may_be_left_out(api: Api) -> None:
    doctor_id, _ = await api.doctor(on_shift_at=NEARBY)
    _, operator = await api.staff("operator")
    lat, lon = NEARBY
    for sides, found in (
        ({"north": lat + 0.01, "east": lon + 0.01}, True),  # open to the south and west
        ({"south": lat + 0.01}, False),  # the doctor is south of it
        ({"west": lon - 0.01}, True),
        ({"south": lat + 0.5, "north": lat - 0.5}, False),  # south above north: nothing
        ({"west": lon + 0.5, "east": lon - 0.5}, False),
    ):
        r = await api.client.get(
            "/api/v1/operator/doctors", params=sides, headers=api.auth(operator)
        )
        assert r.status_code == 200, (sides, r.text)
        assert [d["doctor_id"] for d in r.json()["doctors"]] == ([doctor_id] if found else []), (
            sides
        )


async def test_commands_the_booking_s_state_refuses_are_conflicts(api: Api) -> None:
    _, doctor = await api.doctor(on_shift_at=NEARBY)
    _, patient = await api.patient()
    _, operator = await api.staff("operator")
    booking = await api.book(patient)
    r = await api.client.post(
        f"/api/v1/operator/bookings/{booking['id']}/return-to-search",
        json={"reason": "no doctor yet"},
        headers=api.auth(operator),
    )
    assert r.status_code == 409 and "no doctor to take off" in problem_of(r)["detail"]  # type: ignore[operator]
    offers = (await api.client.get("/api/v1/offers", headers=api.auth(doctor))).json()
    r = await api.client.post(
        f"/api/v1/offers/{offers[0]['offer_id']}/accept", headers=api.auth(doctor)
    )
    assert r.status_code == 200, r.text
    r = await api.client.post(
        f"/api/v1/bookings/{booking['id']}/progress",
        json={"status": "completed"},  # not yet en route, let alone arrived
        headers=api.auth(doctor),
    )
    assert r.status_code == 409, r.text
    assert problem_of(r)["title"] == "Conflict"


async def test_an_unexpected_error_is_a_problem_with_the_request_id() -> None:
    import httpx
    from fastapi import APIRouter

    app = create_app(lambda: None)  # type: ignore[arg-type, return-value]
    extra = APIRouter()

    @extra.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    app.include_router(extra)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://tot.test") as client:
        r = await client.get("/boom", headers={"X-Request-ID": "trace-500"})
    assert r.status_code == 500 and problem_of(r)["request_id"] == "trace-500"
    assert r.headers["x-request-id"] == "trace-500"  # the middleware never sees this one


def test_production_refuses_a_default_or_short_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from tot.settings import Settings

    monkeypatch.setenv("TOT_ENV", "production")
    with pytest.raises(ValidationError, match="TOT_JWT_SECRET"):
        Settings()
    monkeypatch.setenv("TOT_JWT_SECRET", "short")
    with pytest.raises(ValidationError, match="TOT_JWT_SECRET"):
        Settings()
    monkeypatch.setenv("TOT_JWT_SECRET", "a-real-random-secret-of-enough-length-0123456789")
    assert Settings().env == "production"


def test_roles_are_the_five_of_the_design() -> None:
    assert {r.value for r in Role} == {"patient", "doctor", "clinic_admin", "operator", "admin"}
    assert ADMIN_EMAIL


@pytest.mark.redis
async def test_rate_limits_live_in_redis_when_configured(
    helsinki_router: Router, tmp_path: Path, redis_prefix: str
) -> None:
    import redis.asyncio as aioredis

    from tests.conftest import TEST_REDIS_URL

    async with running_api(
        helsinki_router,
        tmp_path,
        redis_url=TEST_REDIS_URL,
        redis_prefix=redis_prefix,
        login_rate_per_min=3,  # the harness's admin login is the first from this IP
    ) as api:
        codes = [
            (
                await api.client.post(
                    "/api/v1/auth/login",
                    json={"email": "y@tot.example.org", "password": "wrong-password"},
                )
            ).status_code
            for _ in range(4)
        ]
        assert codes == [401, 401, 429, 429]
        client = aioredis.from_url(TEST_REDIS_URL)
        try:
            keys = [k async for k in client.scan_iter(match=f"{redis_prefix}*")]
        finally:
            await client.aclose()
        assert any(b"login" in k for k in keys)
