"""The operator console on the web app, end to end in Debian's Chromium at desktop size
against a real engine (`tests/pages_server.py`): an operator signs in, sees the city live
(doctors by status with a legend, open bookings), searches, opens a booking with the
decision's candidates, assigns a doctor with a reason (the keyboard all the way), reassigns
an emergency through its confirmation step, cancels two bookings at once with one reason,
reads the timeline; the shortcuts stay quiet while typing; Russian and English; axe-core
finds no serious violation; nothing is fetched from another host."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.api_harness import HOME, NEARBY, PASSWORD
from tests.test_pages import (
    AXE_SOURCE,
    CHROMIUM,
    DESKTOP,
    Seeder,
    Watch,
    _axe,
    _shoot,
    engine_with_pages,
)

ELSEWHERE = (60.1675, 24.9460)  # another street in central Helsinki


def _book(
    http: httpx.Client, token: str, address: str, at: tuple[float, float], **extra: Any
) -> str:
    body = {"latitude": at[0], "longitude": at[1], "address": address, **extra}
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    r = http.post("/bookings", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _on_shift(seed: Seeder, email: str, at: tuple[float, float]) -> str:
    token = seed.token(email)
    r = seed.http.post(
        "/doctors/me/shift", json={"latitude": at[0], "longitude": at[1]}, headers=seed.auth(token)
    )
    assert r.status_code == 200, r.text
    return token


def test_the_operator_console_end_to_end(tmp_path: Path, graph_cache_dir: Path) -> None:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: apt-get install chromium"
    assert AXE_SOURCE.is_file(), "axe-core comes with the web app's npm packages: cd web && npm ci"
    expect.set_options(timeout=15_000)
    started = time.monotonic()
    shots: list[Path] = []
    axe: dict[str, int] = {}
    watch = Watch()
    with engine_with_pages(tmp_path, graph_cache_dir) as (base, _), sync_playwright() as pw:
        seed = Seeder(base)
        operator_email = seed.operator()
        anna_id, anna_email = seed.doctor("Анна", "Виртанен")
        boris_id, boris_email = seed.doctor("Борис", "Лехто")
        patient_token = seed.token(seed.patient())
        _on_shift(seed, anna_email, NEARBY)
        _on_shift(seed, boris_email, ELSEWHERE)
        target = _book(seed.http, patient_token, "Aleksanterinkatu 17", HOME)
        first = _book(seed.http, patient_token, "Mannerheimintie 3", HOME)
        second = _book(seed.http, patient_token, "Mannerheimintie 5", ELSEWHERE)

        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--enable-unsafe-swiftshader", "--use-angle=swiftshader"],
        )
        try:
            ctx = browser.new_context(viewport=DESKTOP, locale="ru-RU", service_workers="block")
            page = ctx.new_page()
            page.set_default_timeout(15_000)
            watch.attach(page, "operator")
            page.goto(f"{base}/operator")
            expect(page.locator("h1")).to_have_text("Вход для операторов")
            _axe(page, "operator: sign-in", axe)
            page.fill("#signin-email", operator_email)
            page.fill("#signin-password", PASSWORD)
            page.click("#signin-submit")

            # The city live: connected, doctors on the map by status with a legend, the
            # open bookings listed most urgent and oldest first.
            expect(page.locator("#connection")).to_have_attribute("data-state", "open")
            expect(page.locator("#op-map")).to_have_attribute("data-ready", "true", timeout=30_000)
            rows = page.locator("#op-bookings li[data-booking-id]")
            expect(rows).to_have_count(3)
            expect(page.locator("#doctor-count")).to_have_text("2")
            legend = page.locator("#op-legend")
            expect(legend.locator("[data-status]")).not_to_have_count(0)
            for status in legend.locator("[data-status]").all():
                assert int(status.locator("b").inner_text()) > 0  # only statuses shown, counted
            expect(page.locator("#op-map")).to_have_attribute("data-doctors", "2")
            _axe(page, "operator: console", axe)
            _shoot(page, tmp_path, "operator-console", shots)

            # Search (server side) from the keyboard: "/" focuses it; typing "j" there is
            # text, not a shortcut.
            page.keyboard.press("/")
            expect(page.locator("#op-search")).to_be_focused()
            page.keyboard.type("Aleksanterinkatu j")
            expect(page.locator("#op-search")).to_have_value("Aleksanterinkatu j")
            expect(page.locator("#op-action-dialog, #action-dialog")).to_have_count(0)
            page.fill("#op-search", "Aleksanterinkatu")
            expect(rows).to_have_count(1)
            expect(rows.first).to_have_attribute("data-booking-id", target)
            page.keyboard.press("Escape")  # leaves the field
            expect(page.locator("#op-search")).not_to_be_focused()

            # j, Enter: the booking opens with its candidates (ETAs and why).
            page.keyboard.press("j")
            page.keyboard.press("Enter")
            detail = page.locator("#op-detail")
            expect(detail).to_have_attribute("data-booking-id", target)
            expect(page.locator("#detail-address")).to_have_text("Aleksanterinkatu 17")
            candidates = page.locator("#op-candidates tbody tr[data-doctor-id]")
            expect(candidates).not_to_have_count(0)
            expect(page.locator("#op-candidates")).to_contain_text("Анна Виртанен")

            # a: assign, first without a reason (refused in words), then with one.
            page.keyboard.press("a")
            dialog = page.locator("#action-dialog")
            expect(dialog).to_be_visible()
            page.select_option("#action-doctor", anna_id)
            page.click("#action-submit")
            expect(page.locator("#action-error")).to_contain_text("Укажите причину")
            page.fill("#action-reason", "ближе всех, договорились по телефону")
            page.keyboard.press("Enter")
            expect(dialog).to_have_count(0)
            expect(page.locator("#op-result")).to_contain_text("Готово")
            expect(page.locator("#detail-status")).to_have_attribute("data-status", "assigned")
            expect(page.locator("#detail-doctor")).to_have_attribute("data-doctor-id", anna_id)

            # The full timeline: the assignment, by this operator, with the reason.
            timeline = page.locator("#op-timeline")
            expect(
                timeline.locator("li[data-kind='status'][data-status='assigned']")
            ).not_to_have_count(0)
            expect(timeline).to_contain_text("Оператор")
            expect(timeline).to_contain_text("ближе всех, договорились по телефону")
            expect(timeline.locator("li[data-kind='audit']")).not_to_have_count(0)
            _axe(page, "operator: booking", axe)
            _shoot(page, tmp_path, "operator-booking", shots)

            # The help overlay (?), closed with Escape.
            page.locator("#op-detail-title").click()
            page.keyboard.press("?")
            expect(page.locator("#op-help-dialog")).to_be_visible()
            expect(page.locator("#op-help-dialog")).to_contain_text("Shift+C")
            _axe(page, "operator: help", axe)
            page.keyboard.press("Escape")
            expect(page.locator("#op-help-dialog")).to_have_count(0)

            # Bulk: tick the other two (x on each), cancel both with one reason.
            page.fill("#op-search", "Mannerheimintie")
            expect(rows).to_have_count(2)
            page.locator("#op-detail-title").click()  # out of the field
            page.keyboard.press("k")  # the first row
            page.keyboard.press("x")
            page.keyboard.press("j")
            page.keyboard.press("x")
            expect(page.locator("#op-bulk")).to_have_attribute("data-count", "2")
            page.keyboard.press("Shift+C")
            expect(dialog).to_have_attribute("data-kind", "bulk_cancel")
            page.fill("#action-reason", "дубли одного вызова")
            _axe(page, "operator: bulk", axe)
            page.click("#action-submit")
            result = page.locator("#bulk-result")
            expect(result).to_have_attribute("data-ok", "true")
            expect(result).to_have_text("2 вызова отменены")
            expect(rows).to_have_count(0)
            for booking_id in (first, second):
                r = seed.http.get(f"/bookings/{booking_id}", headers=seed.auth(patient_token))
                assert r.json()["status"] == "cancelled", r.text
                assert any(h.get("reason") == "дубли одного вызова" for h in r.json()["history"])

            # An emergency: assigned to Anna... then reassigned to Boris, through the
            # confirmation step.
            page.fill("#op-search", "")
            emergency = _book(
                seed.http, patient_token, "Kaivokatu 1", ELSEWHERE,
                call_type="chest_pain", is_emergency=True,
            )  # fmt: skip
            expect(
                page.locator(f"#op-emergencies li[data-booking-id='{emergency}']")
            ).to_be_visible()
            expect(page.locator("#op-alerts li[data-kind='emergency']")).not_to_have_count(0)
            page.locator(f"#op-emergencies li[data-booking-id='{emergency}'] button").click()
            expect(detail).to_have_attribute("data-booking-id", emergency)
            page.click("#act-assign")
            page.fill("#action-doctor-id", anna_id)
            page.check("#action-release")
            page.fill("#action-reason", "ближайший врач")
            page.click("#action-submit")
            expect(page.locator("#detail-doctor")).to_have_attribute("data-doctor-id", anna_id)
            page.click("#act-assign")
            page.fill("#action-doctor-id", boris_id)
            page.fill("#action-reason", "Анна не отвечает")
            page.click("#action-submit")
            expect(page.locator("#action-confirm-text")).to_be_visible()  # not yet done
            expect(page.locator("#detail-doctor")).to_have_attribute("data-doctor-id", anna_id)
            _axe(page, "operator: confirm emergency", axe)
            page.click("#action-confirm")
            expect(page.locator("#detail-doctor")).to_have_attribute("data-doctor-id", boris_id)

            # In English.
            page.locator(".lang-btn[lang='en']").first.click()
            expect(page.locator("html")).to_have_attribute("lang", "en")
            expect(page.locator("#op-bookings-title")).to_contain_text("Open bookings")
            expect(page.locator("#op-timeline")).to_contain_text("Operator")
            expect(page.locator("#connection")).to_have_text("Live")
            expect(page.locator("#op-map")).to_have_attribute("data-ready", "true", timeout=30_000)
            _axe(page, "operator: console (English)", axe)

            # All or nothing: returning to search a booking with a doctor and one without is
            # refused as a whole, and says so; neither changes.
            fresh = _book(seed.http, patient_token, "Bulevardi 2", HOME)
            for booking_id in (fresh, emergency):
                row = page.locator(f"#op-bookings li[data-booking-id='{booking_id}']")
                row.locator("input.op-tick").check()
            expect(page.locator("#op-bulk")).to_have_attribute("data-count", "2")
            page.click("#bulk-return")
            page.fill("#action-reason", "back to the queue")
            page.click("#action-submit")
            expect(result).to_have_attribute("data-ok", "false")
            expect(result).to_contain_text("Nothing changed (2 bookings)")
            expect(result).to_contain_text("has no doctor to take off")
            r = seed.http.get(f"/bookings/{emergency}", headers=seed.auth(patient_token))
            assert r.json()["doctor"]["id"] == boris_id, r.text
            r = seed.http.get(f"/bookings/{fresh}", headers=seed.auth(patient_token))
            assert r.json()["status"] in ("searching", "offered", "requested"), r.text
            _shoot(page, tmp_path, "operator-console-en", shots)
        finally:
            browser.close()
            seed.http.close()
    assert not watch.outside, watch.outside
    # The refused bulk action's 409 is the browser's own log line about it, and expected.
    refused = [p for p in watch.problems if "409" in p and "/operator/bookings/bulk" in p]
    assert len(refused) == 1, watch.problems
    assert not [p for p in watch.problems if p not in refused], watch.problems
    assert all(v == 0 for v in axe.values()), axe
    assert all(shot.stat().st_size > 10_000 for shot in shots)
    print(f"operator console: axe {axe}; {time.monotonic() - started:.0f} s")
    assert re.fullmatch(r"[0-9a-zA-Z_-]+", target)
