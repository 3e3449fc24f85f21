"""Payments end to end through the HTTP API, the engine, the outbox relay and the YooKassa
adapter against the local YooKassa server (tests/fake_yookassa.py), on SQLite and
PostGIS: a card held at acceptance and captured at completion with the doctor's extras,
notifications duplicated and reordered, timeouts that never double a charge, the
cancellation fee, SBP after the visit, an emergency whose card failed, refunds, the
ledger, reports and earnings, and the refusals."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from accounts import AuditFilter
from routing import Router
from tests.api_harness import HOME, NEARBY, Api, running_api
from tests.fake_yookassa import FakeYooKassa, running_fake_yookassa


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeYooKassa]:
    with running_fake_yookassa() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgis"])
async def api(
    request: pytest.FixtureRequest, helsinki_router: Router, tmp_path: Path, fake: FakeYooKassa
) -> AsyncIterator[Api]:
    fake.reset()
    fake.hold_notifications = True  # the test delivers them itself, reordered and doubled
    async with running_api(
        helsinki_router,
        tmp_path,
        request.param,
        payments_provider="yookassa",
        yookassa_shop_id=fake.shop_id,
        yookassa_secret_key=fake.secret_key,
        yookassa_url=fake.base_url,
        yookassa_networks=("203.0.113.0/24",),  # the harness's client address
    ) as api:
        api.runtime.payments.provider.timeout_s = 0.5  # type: ignore[attr-defined]
        yield api


async def eventually(check: Callable[[], Awaitable[Any]], timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {value!r}")
        await asyncio.sleep(0.05)


async def payment_of(api: Api, token: str, booking_id: str) -> dict[str, Any]:
    r = await api.client.get(f"/api/v1/bookings/{booking_id}/payment", headers=api.auth(token))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def deliver(api: Api, fake: FakeYooKassa, *, copies: int = 2) -> int:
    """Post the provider's held notifications to our webhook, newest first, each twice."""
    with fake.lock:
        bodies, fake.held = list(fake.held), []
    for body in reversed(bodies):
        for _ in range(copies):
            r = await api.client.post(
                "/api/v1/payments/yookassa/notifications", content=orjson.dumps(body)
            )
            assert r.status_code == 200, r.text
    return len(bodies)


async def accept(api: Api, doctor: str) -> None:
    offers = (await api.client.get("/api/v1/offers", headers=api.auth(doctor))).json()
    r = await api.client.post(
        f"/api/v1/offers/{offers[0]['offer_id']}/accept", headers=api.auth(doctor)
    )
    assert r.status_code == 200, r.text


async def progress(api: Api, doctor: str, booking_id: str, *steps: str, **extra: Any) -> None:
    for step in steps:
        r = await api.client.post(
            f"/api/v1/bookings/{booking_id}/progress",
            json={"status": step, **(extra if step == "completed" else {})},
            headers=api.auth(doctor),
        )
        assert r.status_code == 200, r.text


async def held_payment(api: Api, patient: str, booking_id: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        p = await payment_of(api, patient, booking_id)
        return p if p["payable"] else None

    return await eventually(check)  # type: ignore[no-any-return]


async def ledger_sums_to_zero(api: Api) -> dict[Any, int]:
    balances = await api.runtime.payments.store.balances()
    assert sum(balances.values()) == 0
    return balances


async def test_a_card_is_held_at_acceptance_and_captured_with_the_extras(
    api: Api, fake: FakeYooKassa, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, doctor = await api.doctor(on_shift_at=NEARBY, specialization="general")
    _, patient = await api.patient()
    r = await api.client.post(
        "/api/v1/bookings/estimate",
        json={"latitude": HOME[0], "longitude": HOME[1]},
        headers=api.auth(patient),
    )
    estimate = r.json()
    assert estimate["price_kopecks"] == 3_500_00 and estimate["extras_cap_kopecks"] == 1_750_00
    assert estimate["payment_methods"] == ["card", "sbp", "at_visit"]
    booking = await api.book(patient, payment_method="card", symptoms="chest pain")
    assert booking["estimated_price_kopecks"] == 3_500_00
    order = await payment_of(api, patient, booking["id"])
    assert order["status"] == "quoted" and order["payments"] == []

    await accept(api, doctor)
    order = await held_payment(api, patient, booking["id"])
    hold = order["payable"]
    assert hold["amount_kopecks"] == 5_250_00  # the quote and the extras cap accepted
    assert hold["status"] == "pending" and hold["confirmation_url"].startswith(fake.url)
    assert order["status"] == "awaiting_payment"
    provider_id = fake.requests[0][2]["metadata"]["payment_id"]
    assert provider_id == hold["payment_id"]
    (yk_payment,) = fake.state.payments.values()
    assert yk_payment.capture is False

    fake.confirm(yk_payment.id)
    assert await deliver(api, fake) == 1  # waiting_for_capture, posted twice

    async def held() -> bool:
        return (await payment_of(api, patient, booking["id"]))["status"] == "held"

    await eventually(held)
    # Another patient cannot see or pay it; the doctor sees no confirmation link.
    _, stranger = await api.patient()
    r = await api.client.get(
        f"/api/v1/bookings/{booking['id']}/payment", headers=api.auth(stranger)
    )
    assert r.status_code == 404
    r = await api.client.post(
        f"/api/v1/bookings/{booking['id']}/payment", headers=api.auth(stranger)
    )
    assert r.status_code == 404
    seen_by_doctor = await payment_of(api, doctor, booking["id"])
    assert all(p["confirmation_url"] is None for p in seen_by_doctor["payments"])

    # Completion with extras: over the cap refused, an unknown code refused, then one ECG.
    await progress(api, doctor, booking["id"], "en_route", "arrived", "in_progress")
    too_much = [{"code": "ecg", "reason": "twice"}] * 2
    r = await api.client.post(
        f"/api/v1/bookings/{booking['id']}/progress",
        json={"status": "completed", "extras": too_much},
        headers=api.auth(doctor),
    )
    assert r.status_code == 422 and "cap" in r.text
    r = await api.client.post(
        f"/api/v1/bookings/{booking['id']}/progress",
        json={"status": "completed", "extras": [{"code": "massage", "reason": "asked"}]},
        headers=api.auth(doctor),
    )
    assert r.status_code == 422
    fake.inject("capture", "timeout", delay_s=1.0)  # applied, but the answer comes too late
    await progress(
        api, doctor, booking["id"], "completed", extras=[{"code": "ecg", "reason": "chest pain"}]
    )

    async def paid() -> dict[str, Any] | None:
        p = await payment_of(api, patient, booking["id"])
        return p if p["status"] == "paid" else None

    order = await eventually(paid)
    assert order["final_kopecks"] == 5_000_00
    (captured,) = order["payments"]
    assert captured["captured_kopecks"] == 5_000_00 and captured["status"] == "succeeded"
    assert [e["code"] for e in order["extras"]] == ["ecg"]
    receipt = captured["receipt"]
    assert receipt["total_kopecks"] == 5_000_00
    assert {i["payment_subject"] for i in receipt["items"]} == {"service"}
    assert fake.applied["capture"] == 1  # the retry after the timeout captured nothing more

    balances = await ledger_sums_to_zero(api)
    fee = (await api.runtime.payments.store.payment(captured["payment_id"])).fee_kopecks  # type: ignore[union-attr]
    assert balances[("transit", None)] == 5_000_00 - fee  # what the provider holds for us

    # The doctor's earnings and the platform's report see the visit.
    r = await api.client.get("/api/v1/doctors/me/earnings", headers=api.auth(doctor))
    earnings = r.json()
    assert earnings["today_kopecks"] > 0 and earnings["visits"][0]["booking_id"] == booking["id"]
    r = await api.client.get("/api/v1/admin/finance", headers=api.auth(api.admin_token))
    report = r.json()
    assert report["totals"]["revenue_kopecks"] == 5_000_00
    assert report["totals"]["commission_kopecks"] == 750_00  # 15 %

    # Refunds: part, then more than is left (refused), then a non-admin (refused).
    url = f"/api/v1/admin/payments/{captured['payment_id']}/refunds"
    r = await api.client.post(
        url, json={"amount_kopecks": 1_500_00, "reason": "ECG not needed"},
        headers=api.auth(api.admin_token),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    refund = r.json()
    assert refund["receipt"]["total_kopecks"] == 1_500_00
    r = await api.client.post(
        url, json={"amount_kopecks": 3_500_01, "reason": "too much"},
        headers=api.auth(api.admin_token),
    )  # fmt: skip
    assert r.status_code == 422 and "above what can be refunded" in r.text
    for bad in (0, -5, 1.5, "100", True):
        r = await api.client.post(
            url, json={"amount_kopecks": bad, "reason": "x"}, headers=api.auth(api.admin_token)
        )
        assert r.status_code == 422, bad
    r = await api.client.post(
        url, json={"amount_kopecks": 100, "reason": "x"}, headers=api.auth(patient)
    )
    assert r.status_code == 403
    await deliver(api, fake)

    async def refunded() -> dict[str, Any] | None:
        p = await payment_of(api, patient, booking["id"])
        return p if p["refunds"] and p["refunds"][0]["status"] == "succeeded" else None

    order = await eventually(refunded)
    assert order["payments"][0]["refunded_kopecks"] == 1_500_00
    assert fake.applied["refund"] == 1
    await ledger_sums_to_zero(api)
    # The secret key never reached a log line, nor the audit trail; the refund is audited
    # with its reason.
    assert fake.secret_key not in caplog.text
    await api.runtime.audit.flush()
    audited = await api.runtime.accounts.audit_of("payment", captured["payment_id"])
    assert [r.action for r in audited] == ["payment.refund"]
    assert "ECG not needed" in audited[0].detail
    everything = await api.runtime.accounts.audit_page(AuditFilter(), limit=500)
    assert all(fake.secret_key not in repr(r) for r in everything.items)


async def test_a_create_that_times_out_is_retried_without_a_second_payment(
    api: Api, fake: FakeYooKassa
) -> None:
    _, doctor = await api.doctor(on_shift_at=NEARBY, specialization="general")
    _, patient = await api.patient()
    booking = await api.book(patient, payment_method="card")
    fake.inject("create", "timeout", count=3, delay_s=1.0)  # every adapter attempt times out
    fake.inject("create", "500")
    await accept(api, doctor)
    order = await held_payment(api, patient, booking["id"])
    assert fake.applied["create"] == 1  # one payment at the provider, whatever the retries
    assert len(order["payments"]) == 1
    assert await api.runtime.stores.bookings.outbox_pending("payments") == 0


async def test_the_patient_cancelling_after_acceptance_pays_the_fee_from_the_hold(
    api: Api, fake: FakeYooKassa
) -> None:
    _, doctor = await api.doctor(on_shift_at=NEARBY, specialization="general")
    _, patient = await api.patient()
    booking = await api.book(patient, payment_method="card")
    await accept(api, doctor)
    order = await held_payment(api, patient, booking["id"])
    fake.confirm(next(iter(fake.state.payments)))
    await deliver(api, fake)

    async def held() -> bool:
        return (await payment_of(api, patient, booking["id"]))["status"] == "held"

    await eventually(held)
    r = await api.client.post(
        f"/api/v1/bookings/{booking['id']}/cancel", json={"reason": "feel better"},
        headers=api.auth(patient),
    )  # fmt: skip
    assert r.status_code == 200, r.text

    async def fee_taken() -> dict[str, Any] | None:
        p = await payment_of(api, patient, booking["id"])
        return p if p["status"] == "paid" else None

    order = await eventually(fee_taken)
    assert order["final_kopecks"] == 500_00
    assert order["payments"][0]["captured_kopecks"] == 500_00
    await ledger_sums_to_zero(api)


async def test_an_operator_cancelling_releases_the_hold_without_a_fee(
    api: Api, fake: FakeYooKassa
) -> None:
    _, doctor = await api.doctor(on_shift_at=NEARBY, specialization="general")
    _, patient = await api.patient()
    _, operator = await api.staff("operator")
    booking = await api.book(patient, payment_method="card")
    await accept(api, doctor)
    await held_payment(api, patient, booking["id"])
    fake.confirm(next(iter(fake.state.payments)))
    r = await api.client.post(
        f"/api/v1/operator/bookings/{booking['id']}/cancel", json={"reason": "duplicate call"},
        headers=api.auth(operator),
    )  # fmt: skip
    assert r.status_code == 200, r.text

    async def released() -> dict[str, Any] | None:
        p = await payment_of(api, patient, booking["id"])
        return p if p["status"] == "cancelled" else None

    order = await eventually(released)
    assert order["payments"][0]["status"] == "canceled" and order["final_kopecks"] == 0
    assert fake.applied["capture"] == 0


async def test_sbp_is_paid_after_the_visit_by_a_link(api: Api, fake: FakeYooKassa) -> None:
    _, doctor = await api.doctor(on_shift_at=NEARBY, specialization="general")
    _, patient = await api.patient()
    booking = await api.book(patient, payment_method="sbp")
    await accept(api, doctor)
    await progress(api, doctor, booking["id"], "en_route", "arrived", "in_progress", "completed")
    order = await held_payment(api, patient, booking["id"])
    link = order["payable"]
    assert link["method"] == "sbp" and link["amount_kopecks"] == 3_500_00
    assert link["confirmation_url"]
    (yk,) = fake.state.payments.values()
    assert yk.capture is True  # one stage: SBP cannot be held
    fake.confirm(yk.id)
    await deliver(api, fake)

    async def paid() -> bool:
        return (await payment_of(api, patient, booking["id"]))["status"] == "paid"

    await eventually(paid)
    await ledger_sums_to_zero(api)


async def test_an_emergency_whose_card_fails_is_still_dispatched_and_paid_later(
    api: Api, fake: FakeYooKassa
) -> None:
    _, doctor = await api.doctor(on_shift_at=NEARBY, specialization="general")
    _, patient = await api.patient()
    booking = await api.book(patient, payment_method="card", is_emergency=True)
    assert booking["status"] == "offered"  # dispatched before any money
    await accept(api, doctor)
    await held_payment(api, patient, booking["id"])
    fake.confirm(next(iter(fake.state.payments)), succeed=False)  # the card is declined
    await deliver(api, fake)

    async def failed() -> bool:
        return (await payment_of(api, patient, booking["id"]))["status"] == "failed"

    await eventually(failed)
    # The visit goes on regardless, and is paid by a link afterwards.
    await progress(api, doctor, booking["id"], "en_route", "arrived", "in_progress", "completed")

    async def link() -> dict[str, Any] | None:
        p = await payment_of(api, patient, booking["id"])
        return p if p["status"] == "awaiting_payment" and p["payable"] else None

    order = await eventually(link)
    assert order["payable"]["amount_kopecks"] == order["final_kopecks"]


async def test_notifications_from_elsewhere_or_about_nothing_change_nothing(
    api: Api, fake: FakeYooKassa
) -> None:
    outsider = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api.app, client=("198.51.100.9", 4000)),
        base_url="http://tot.test",
    )
    body = {
        "type": "notification", "event": "payment.succeeded",
        "object": {"id": "2f00fee1-000f-5000-9000-1b6d1f1d1a1a", "status": "succeeded"},
    }  # fmt: skip
    async with outsider:
        r = await outsider.post("/api/v1/payments/yookassa/notifications", json=body)
    assert r.status_code == 403
    r = await api.client.post("/api/v1/payments/yookassa/notifications", json=body)
    assert r.status_code == 200  # unknown id: acknowledged, nothing changes
    r = await api.client.post(
        "/api/v1/payments/yookassa/notifications", content=b'{"type": "nonsense"}'
    )
    assert r.status_code == 422
    assert await api.runtime.payments.store.list_payments() == []


async def test_prices_are_the_clinic_admins_and_refuse_floats(api: Api, fake: FakeYooKassa) -> None:
    r = await api.client.post(
        "/api/v1/clinics", json={"name": "Клиника Север", "timezone": "Europe/Helsinki"},
        headers=api.auth(api.admin_token),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    clinic_id = r.json()["clinic_id"]
    _, clinic_admin = await api.staff("clinic_admin", clinic_id)
    _, patient = await api.patient()
    prices = (
        await api.client.get(f"/api/v1/clinics/{clinic_id}/prices", headers=api.auth(patient))
    ).json()
    assert prices["own"] is False and prices["services"][0]["price_kopecks"] == 3_500_00
    body = {
        "services": [{"code": "home", "call_type": "home_visit", "name_ru": "Вызов на дом",
                      "name_en": "Home visit", "price_kopecks": 4_200_00}],
        "extras": [{"code": "ecg", "name_ru": "ЭКГ", "name_en": "ECG", "price_kopecks": 900_00}],
        "surcharges": {"night_kopecks": 1_000_00, "night_from_h": 0, "night_to_h": 24 - 1},
        "methods": ["card", "sbp"], "pay_at_visit_allowed": False,
        "commission": {"percent_bp": 0, "fixed_kopecks": 0, "doctor_share_bp": 10_000},
    }  # fmt: skip
    url = f"/api/v1/clinics/{clinic_id}/prices"
    r = await api.client.put(url, json=body, headers=api.auth(patient))
    assert r.status_code == 403
    float_body = {**body, "services": [{**body["services"][0], "price_kopecks": 4200.5}]}
    r = await api.client.put(url, json=float_body, headers=api.auth(clinic_admin))
    assert r.status_code == 422
    r = await api.client.put(url, json=body, headers=api.auth(clinic_admin))
    assert r.status_code == 200, r.text
    saved = r.json()
    assert saved["own"] is True and saved["commission"]["percent_bp"] == 1_500  # not theirs to set
    r = await api.client.post(
        "/api/v1/bookings/estimate",
        json={"latitude": HOME[0], "longitude": HOME[1], "clinic_id": clinic_id},
        headers=api.auth(patient),
    )
    estimate = r.json()
    assert estimate["price_kopecks"] == 5_200_00 and estimate["payment_methods"] == ["card", "sbp"]
    r = await api.client.post(
        "/api/v1/bookings",
        json={"latitude": HOME[0], "longitude": HOME[1], "clinic_id": clinic_id,
              "payment_method": "at_visit"},
        headers=api.auth(patient),
    )  # fmt: skip
    assert r.status_code == 422 and "does not accept at_visit" in r.text
    other_id = (await api.client.post(
        "/api/v1/clinics", json={"name": "Другая", "timezone": "Europe/Moscow"},
        headers=api.auth(api.admin_token),
    )).json()["clinic_id"]  # fmt: skip
    r = await api.client.put(
        f"/api/v1/clinics/{other_id}/prices", json=body, headers=api.auth(clinic_admin)
    )
    assert r.status_code == 404
    r = await api.client.get(f"/api/v1/clinics/{other_id}/finance", headers=api.auth(clinic_admin))
    assert r.status_code == 404
    r = await api.client.get(
        f"/api/v1/clinics/{clinic_id}/finance.csv", headers=api.auth(clinic_admin)
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")


async def test_a_lost_notification_is_made_up_by_the_sweep(api: Api, fake: FakeYooKassa) -> None:
    """The provider's notification never arrives: the sweep asks the provider about
    payments left unsettled and moves them on."""
    _, doctor = await api.doctor(on_shift_at=NEARBY, specialization="general")
    _, patient = await api.patient()
    booking = await api.book(patient, payment_method="card")
    await accept(api, doctor)
    await held_payment(api, patient, booking["id"])
    fake.confirm(next(iter(fake.state.payments)))
    with fake.lock:
        fake.held.clear()  # lost on the way
    service = api.runtime.payments
    service.config = dataclasses.replace(service.config, sweep_after_s=0.0)
    assert await service.sweep() == 1
    assert (await payment_of(api, patient, booking["id"]))["status"] == "held"


async def test_a_hold_that_expires_before_the_visit_ends_is_paid_by_a_link(
    api: Api, fake: FakeYooKassa
) -> None:
    """YooKassa cancels a hold not captured within 7 days: at completion the patient is
    asked to pay by a link instead, and nothing is captured from the dead hold."""
    _, doctor = await api.doctor(on_shift_at=NEARBY, specialization="general")
    _, patient = await api.patient()
    booking = await api.book(patient, payment_method="card")
    await accept(api, doctor)
    await held_payment(api, patient, booking["id"])
    fake.confirm(next(iter(fake.state.payments)))
    await deliver(api, fake)
    fake.advance(7 * 86_400 + 60)  # the hold expires at the provider
    await progress(api, doctor, booking["id"], "en_route", "arrived", "in_progress", "completed")

    async def link() -> dict[str, Any] | None:
        p = await payment_of(api, patient, booking["id"])
        return p if p["payable"] and p["payable"]["payment_id"].endswith("-2") else None

    order = await eventually(link)
    first, second = order["payments"]
    assert first["status"] == "canceled" and first["captured_kopecks"] == 0
    assert second["amount_kopecks"] == 3_500_00 and second["status"] == "pending"
    assert fake.applied["capture"] == 0


@pytest.mark.parametrize(
    "query",
    [
        "until=0000-01-01",
        "until=0001-01-01",
        "since=2026-02-30",
        "since=2026-12-02&until=2026-12-01",
    ],
)
async def test_report_periods_outside_the_calendar_are_refused(api: Api, query: str) -> None:
    """Found by schemathesis: a date of the right shape that is no date, or a period that
    runs off the calendar, is a 422, never a 500."""
    r = await api.client.get(f"/api/v1/admin/finance?{query}", headers=api.auth(api.admin_token))
    assert r.status_code == 422, r.text


async def test_a_refund_the_provider_did_not_answer_is_sent_again_once(
    api: Api, fake: FakeYooKassa
) -> None:
    """The provider is down when an admin refunds: 503 with Retry-After, the refund kept
    pending; asked again, the same refund (the same key) goes, and the provider makes one."""
    _, doctor = await api.doctor(on_shift_at=NEARBY, specialization="general")
    _, patient = await api.patient()
    booking = await api.book(patient, payment_method="sbp")
    await accept(api, doctor)
    await progress(api, doctor, booking["id"], "en_route", "arrived", "in_progress", "completed")
    order = await held_payment(api, patient, booking["id"])
    fake.confirm(next(iter(fake.state.payments)))
    await deliver(api, fake)

    async def paid() -> bool:
        return (await payment_of(api, patient, booking["id"]))["status"] == "paid"

    await eventually(paid)
    url = f"/api/v1/admin/payments/{order['payable']['payment_id']}/refunds"
    body = {"amount_kopecks": 1_000_00, "reason": "late arrival"}
    fake.inject("refund", "timeout", count=4, delay_s=1.0)  # applied, every answer lost
    r = await api.client.post(url, json=body, headers=api.auth(api.admin_token))
    assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1, r.text
    assert fake.applied["refund"] == 1
    r = await api.client.post(url, json=body, headers=api.auth(api.admin_token))
    assert r.status_code == 201, r.text
    assert r.json()["refund_id"].endswith("-1")  # the same refund, not a second one
    assert fake.applied["refund"] == 1
    refunds = (await api.client.get(url, headers=api.auth(api.admin_token))).json()
    assert len(refunds) == 1


async def test_a_doctors_contract_share_reaches_their_earnings(
    api: Api, fake: FakeYooKassa
) -> None:
    """The clinic sets its doctors' shares (not the platform's commission); a visit by a
    doctor with a contract earns them their share of the clinic's part."""
    r = await api.client.post(
        "/api/v1/clinics", json={"name": "Клиника Юг", "timezone": "Europe/Moscow"},
        headers=api.auth(api.admin_token),
    )  # fmt: skip
    clinic_id = r.json()["clinic_id"]
    _, clinic_admin = await api.staff("clinic_admin", clinic_id)
    doctor_id, doctor = await api.doctor(on_shift_at=NEARBY, specialization="general")
    email = (await api.client.get("/api/v1/auth/me", headers=api.auth(doctor))).json()["email"]
    r = await api.client.post(
        f"/api/v1/clinics/{clinic_id}/doctors", json={"email": email},
        headers=api.auth(clinic_admin),
    )  # fmt: skip
    assert r.status_code in (200, 201), r.text
    prices = (
        await api.client.get(f"/api/v1/clinics/{clinic_id}/prices", headers=api.auth(clinic_admin))
    ).json()
    body = {k: v for k, v in prices.items() if k not in ("clinic_id", "currency", "own")}
    body["commission"] = {"percent_bp": 0, "fixed_kopecks": 0, "doctor_share_bp": 5_000}
    body["doctor_shares"] = [{"doctor_id": doctor_id, "share_bp": 8_000}]
    r = await api.client.put(
        f"/api/v1/clinics/{clinic_id}/prices", json=body, headers=api.auth(clinic_admin)
    )
    assert r.status_code == 200, r.text
    saved = r.json()
    assert saved["commission"] == {
        "percent_bp": 1_500,
        "fixed_kopecks": 0,
        "doctor_share_bp": 5_000,
    }
    assert saved["doctor_shares"] == [{"doctor_id": doctor_id, "share_bp": 8_000}]

    _, patient = await api.patient()
    booking = await api.book(patient, payment_method="sbp", clinic_id=clinic_id)
    await accept(api, doctor)
    await progress(api, doctor, booking["id"], "en_route", "arrived", "in_progress", "completed")
    await held_payment(api, patient, booking["id"])
    fake.confirm(next(iter(fake.state.payments)))
    await deliver(api, fake)

    async def earned() -> dict[str, Any] | None:
        r = await api.client.get("/api/v1/doctors/me/earnings", headers=api.auth(doctor))
        e = r.json()
        return e if e["today_kopecks"] else None

    earnings = await eventually(earned)
    # 3,500 RUB, 15 % to the platform, 80 % of the rest to the doctor by contract
    assert earnings["today_kopecks"] == (3_500_00 - 525_00) * 8_000 // 10_000
    r = await api.client.get(f"/api/v1/clinics/{clinic_id}/finance", headers=api.auth(clinic_admin))
    assert r.json()["totals"]["revenue_kopecks"] == 3_500_00
