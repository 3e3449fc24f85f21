"""The YooKassa adapter against the local YooKassa server (a real HTTP server on a free
port, tests/fake_yookassa.py), and the sandbox provider that shares its state machine."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from payments.model import (
    AmountError,
    CreatePayment,
    Method,
    PaymentError,
    PaymentMode,
    ProviderStatus,
    Receipt,
    ReceiptItem,
    RefundStatus,
)
from payments.ports import (
    ProviderError,
    ProviderNotFoundError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from payments.webhooks import NotificationEvent, parse_notification
from storage.payment_sandbox import HOLD_TTL_S, SandboxProvider, YooKassaState
from storage.yookassa import (
    YooKassaProvider,
    idempotence_header,
    money,
    payment_body,
    value_to_kopecks,
)
from tests.fake_yookassa import FakeYooKassa, measure_round_trips, running_fake_yookassa

SECRET = "test_Sup3rSecretKey-do-not-leak-9f8e7d6c5b4a"


def receipt(amount_kopecks: int, mode: PaymentMode = PaymentMode.FULL_PAYMENT) -> Receipt:
    return Receipt(
        items=(ReceiptItem("Визит врача на дом", 1, amount_kopecks, 1, mode),),
        customer_email="patient@example.test",
    )


def card_hold(amount_kopecks: int = 350_000, n: int = 1, **changes: Any) -> CreatePayment:
    fields: dict[str, Any] = {
        "amount_kopecks": amount_kopecks,
        "capture": False,
        "method": Method.CARD,
        "confirmation": "redirect",
        "return_url": "https://tot.example/pay/return",
        "description": "Визит врача, заказ b1",
        "booking_id": "b1",
        "payment_id": f"pay-b1-visit-{n}",
        "receipt": receipt(amount_kopecks, PaymentMode.FULL_PREPAYMENT),
    }
    fields.update(changes)
    return CreatePayment(**fields)


def sbp_payment(amount_kopecks: int = 420_000, confirmation: str = "qr") -> CreatePayment:
    return CreatePayment(
        amount_kopecks=amount_kopecks,
        capture=True,
        method=Method.SBP,
        confirmation=confirmation,
        return_url="https://tot.example/pay/return",
        description="Визит врача, заказ b2",
        booking_id="b2",
        payment_id="pay-b2-visit-1",
        receipt=receipt(amount_kopecks),
    )


@pytest.fixture(scope="module")
def server() -> Iterator[FakeYooKassa]:
    with running_fake_yookassa(secret_key=SECRET) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeYooKassa) -> FakeYooKassa:
    server.reset()
    server.webhook_url = f"{server.url}/_sink"
    return server


@pytest.fixture
async def provider(fake: FakeYooKassa) -> AsyncIterator[YooKassaProvider]:
    client = YooKassaProvider(
        fake.shop_id, fake.secret_key, fake.base_url, timeout_s=0.4, attempts=3, backoff_s=0.01
    )
    yield client
    await client.close()


# ---------------------------------------------------------------------------- the wire format


def test_money_is_exact_strings_both_ways() -> None:
    assert money(350_000) == {"value": "3500.00", "currency": "RUB"}
    assert money(1) == {"value": "0.01", "currency": "RUB"}
    assert money(0) == {"value": "0.00", "currency": "RUB"}
    assert value_to_kopecks("3500.00") == 350_000
    assert value_to_kopecks("3500.5") == 350_050
    assert value_to_kopecks("3500") == 350_000
    for bad in ("1.234", "-1.00", "1e3", " 1.00", "01.00", "1,00", "", "NaN"):
        with pytest.raises(ValueError, match="amount"):
            value_to_kopecks(bad)
    for bad_type in (3500.0, 3500, None):
        with pytest.raises(ValueError, match="amount"):
            value_to_kopecks(bad_type)
    with pytest.raises(AmountError):
        money(-1)
    with pytest.raises(AmountError):
        money(12.5)  # type: ignore[arg-type]


def test_request_bodies_refuse_what_yookassa_would() -> None:
    with pytest.raises(PaymentError, match="SBP"):
        payment_body(_sbp_hold())
    with pytest.raises(AmountError):
        payment_body(card_hold(0, receipt=None))
    with pytest.raises(AmountError):
        payment_body(card_hold(-100, receipt=None))
    with pytest.raises(PaymentError, match="128"):
        payment_body(card_hold(description="x" * 129))
    with pytest.raises(AmountError, match="receipt"):
        payment_body(card_hold(350_000, receipt=receipt(300_000)))
    with pytest.raises(PaymentError, match="confirmation"):
        payment_body(card_hold(confirmation="qr"))
    with pytest.raises(PaymentError, match="return_url"):
        payment_body(card_hold(return_url=None))
    with pytest.raises(PaymentError):
        payment_body(card_hold(method=Method.AT_VISIT))
    with pytest.raises(PaymentError, match="e-mail or phone"):
        payment_body(card_hold(receipt=Receipt(items=receipt(350_000).items)))


def _sbp_hold() -> CreatePayment:
    request = sbp_payment()
    return CreatePayment(
        amount_kopecks=request.amount_kopecks,
        capture=False,
        method=Method.SBP,
        confirmation="qr",
        return_url=None,
        description=request.description,
        booking_id=request.booking_id,
        payment_id=request.payment_id,
        receipt=request.receipt,
    )


def test_long_idempotence_keys_are_hashed_the_same_way_every_time() -> None:
    short = "create:pay-b1-visit-1"
    assert idempotence_header(short) == short
    long_key = "refund:ref-pay-" + "f" * 32 + "-cancellation_fee-1-1"
    assert len(long_key) > 64
    sent = idempotence_header(long_key)
    assert len(sent) == 64 and sent == idempotence_header(long_key) and sent != long_key
    assert idempotence_header(long_key + "2") != sent


# ---------------------------------------------------------------------------- operations


async def test_card_hold_partial_capture_and_refunds(
    fake: FakeYooKassa, provider: YooKassaProvider
) -> None:
    created = await provider.create_payment(card_hold(), "create:pay-b1-visit-1")
    assert created.status is ProviderStatus.PENDING
    assert created.amount_kopecks == 350_000 and not created.paid
    assert created.confirmation_url == f"{fake.url}/_pay/{created.provider_payment_id}"
    assert created.metadata == {"booking_id": "b1", "payment_id": "pay-b1-visit-1"}
    assert created.method_type == "bank_card"

    # what went over the wire: exact strings, YooKassa's receipt shape, our key
    op, key, body = fake.requests[-1]
    assert (op, key) == ("create", "create:pay-b1-visit-1")
    assert body["amount"] == {"value": "3500.00", "currency": "RUB"}
    assert body["capture"] is False
    assert body["confirmation"] == {
        "type": "redirect",
        "return_url": "https://tot.example/pay/return",
    }
    assert body["payment_method_data"] == {"type": "bank_card"}
    assert body["receipt"] == {
        "customer": {"email": "patient@example.test"},
        "items": [
            {
                "description": "Визит врача на дом",
                "quantity": "1.00",
                "amount": {"value": "3500.00", "currency": "RUB"},
                "vat_code": 1,
                "payment_subject": "service",
                "payment_mode": "full_prepayment",
            }
        ],
    }

    fake.confirm(created.provider_payment_id)
    held = await provider.get_payment(created.provider_payment_id)
    assert held.status is ProviderStatus.WAITING_FOR_CAPTURE and held.paid
    assert held.expires_s is not None
    assert held.expires_s - held.created_s == pytest.approx(HOLD_TTL_S, abs=5)
    assert held.captured_kopecks == 0

    # a partial capture without a receipt for the captured amount is refused
    with pytest.raises(ProviderRejectedError) as refused:
        await provider.capture_payment(created.provider_payment_id, 300_000, None, "capture:x1")
    assert refused.value.status == 400 and refused.value.parameter == "receipt"
    # over the hold: refused
    with pytest.raises(ProviderRejectedError) as over:
        await provider.capture_payment(
            created.provider_payment_id, 350_001, receipt(350_001), "capture:x2"
        )
    assert over.value.parameter == "amount"

    captured = await provider.capture_payment(
        created.provider_payment_id, 300_000, receipt(300_000), "capture:pay-b1-visit-1"
    )
    assert captured.status is ProviderStatus.SUCCEEDED
    assert captured.amount_kopecks == captured.captured_kopecks == 300_000
    assert captured.income_kopecks == 300_000 - 300_000 * 280 // 10_000
    assert captured.captured_s is not None
    # the same key again: the first answer, not a second capture
    again = await provider.capture_payment(
        created.provider_payment_id, 300_000, receipt(300_000), "capture:pay-b1-visit-1"
    )
    assert again == captured and fake.applied["capture"] == 1
    # a second capture under another key: refused
    with pytest.raises(ProviderRejectedError):
        await provider.capture_payment(created.provider_payment_id, None, None, "capture:other")

    refund = await provider.create_refund(
        created.provider_payment_id, 100_000, receipt(100_000), "doctor was late", "refund:r1"
    )
    assert refund.status is RefundStatus.SUCCEEDED and refund.amount_kopecks == 100_000
    assert await provider.get_refund(refund.provider_refund_id) == refund
    with pytest.raises(ProviderRejectedError) as too_much:
        await provider.create_refund(created.provider_payment_id, 200_001, None, "", "refund:r2")
    assert too_much.value.parameter == "amount" and too_much.value.code == "invalid_request"
    rest = await provider.create_refund(created.provider_payment_id, 200_000, None, "", "refund:r3")
    assert rest.amount_kopecks == 200_000
    final = await provider.get_payment(created.provider_payment_id)
    assert final.refunded_kopecks == 300_000 == final.captured_kopecks
    assert fake.applied["refund"] == 2


async def test_sbp_payment_by_qr_and_card_embedded(
    fake: FakeYooKassa, provider: YooKassaProvider
) -> None:
    sbp = await provider.create_payment(sbp_payment(), "create:pay-b2-visit-1")
    assert sbp.method_type == "sbp" and sbp.qr_data == f"{fake.url}/_pay/{sbp.provider_payment_id}"
    assert fake.requests[-1][2]["confirmation"] == {"type": "qr"}
    assert fake.requests[-1][2]["capture"] is True
    fake.confirm(sbp.provider_payment_id)
    paid = await provider.get_payment(sbp.provider_payment_id)
    assert paid.status is ProviderStatus.SUCCEEDED and paid.captured_kopecks == 420_000
    assert paid.income_kopecks == 420_000 - 420_000 * 40 // 10_000

    link = await provider.create_payment(sbp_payment(confirmation="redirect"), "create:b2-link")
    assert link.confirmation_url is not None and link.qr_data is None

    embedded = await provider.create_payment(
        card_hold(confirmation="embedded", return_url=None), "create:b1-embedded"
    )
    assert embedded.confirmation_token and embedded.confirmation_url is None


async def test_cancel_releases_a_hold_once(fake: FakeYooKassa, provider: YooKassaProvider) -> None:
    created = await provider.create_payment(card_hold(), "create:c1")
    fake.confirm(created.provider_payment_id)
    canceled = await provider.cancel_payment(created.provider_payment_id, "cancel:c1")
    assert canceled.status is ProviderStatus.CANCELED and not canceled.paid
    assert (canceled.cancellation_party, canceled.cancellation_reason) == (
        "merchant",
        "canceled_by_merchant",
    )
    assert await provider.cancel_payment(created.provider_payment_id, "cancel:c1") == canceled
    with pytest.raises(ProviderRejectedError):
        await provider.capture_payment(created.provider_payment_id, None, None, "capture:c1")
    with pytest.raises(ProviderRejectedError):
        await provider.cancel_payment(created.provider_payment_id, "cancel:c1-again")
    assert fake.applied["cancel"] == 1


async def test_a_hold_expires_after_seven_days(
    fake: FakeYooKassa, provider: YooKassaProvider
) -> None:
    created = await provider.create_payment(card_hold(), "create:e1")
    fake.confirm(created.provider_payment_id)
    fake.advance(HOLD_TTL_S - 60)
    assert (await provider.get_payment(created.provider_payment_id)).status is (
        ProviderStatus.WAITING_FOR_CAPTURE
    )
    fake.advance(120)
    expired = await provider.get_payment(created.provider_payment_id)
    assert expired.status is ProviderStatus.CANCELED
    assert expired.cancellation_reason == "expired_on_capture"
    with pytest.raises(ProviderRejectedError):
        await provider.capture_payment(created.provider_payment_id, None, None, "capture:e1")


async def test_list_pages_through_a_window_with_the_cursor(
    fake: FakeYooKassa, provider: YooKassaProvider
) -> None:
    before = await provider.create_payment(card_hold(n=0), "create:l0")
    fake.advance(100)
    window_start = fake.now() - 1
    ids = []
    for n in range(1, 8):
        created = await provider.create_payment(card_hold(n=n), f"create:l{n}")
        ids.append(created.provider_payment_id)
    window_end = fake.now() + 1
    fake.advance(100)
    await provider.create_payment(card_hold(n=9), "create:l9")

    seen, cursor, pages = [], None, 0
    while True:
        page, cursor = await provider.list_payments(window_start, window_end, cursor, limit=3)
        pages += 1
        seen.extend(p.provider_payment_id for p in page)
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    assert before.provider_payment_id not in seen
    created_times = [p.created_s for p in [await provider.get_payment(i) for i in seen]]
    assert created_times == sorted(created_times, reverse=True)  # newest first
    with pytest.raises(ValueError, match="limit"):
        await provider.list_payments(window_start, window_end, limit=101)
    with pytest.raises(ProviderRejectedError) as bad:
        await provider.list_payments(window_start, window_end, cursor="not-a-cursor")
    assert bad.value.parameter == "cursor"


# ---------------------------------------------------------------------------- idempotence and faults


async def test_a_key_replays_and_refuses_another_request(
    fake: FakeYooKassa, provider: YooKassaProvider
) -> None:
    first = await provider.create_payment(card_hold(), "create:k1")
    assert (await provider.create_payment(card_hold(), "create:k1")) == first
    with pytest.raises(ProviderRejectedError) as other:
        await provider.create_payment(card_hold(360_000), "create:k1")
    assert other.value.parameter == "Idempotence-Key"
    long_key = "create:pay-" + "a" * 32 + "-cancellation_fee-12345"
    one = await provider.create_payment(card_hold(n=7), long_key)
    assert (await provider.create_payment(card_hold(n=7), long_key)) == one
    assert fake.applied["create"] == 2


@pytest.mark.parametrize("op", ["create", "capture", "refund"])
async def test_a_retry_after_a_timeout_does_not_do_it_twice(
    fake: FakeYooKassa, provider: YooKassaProvider, op: str
) -> None:
    created = None
    if op != "create":
        created = await provider.create_payment(card_hold(), "create:t1")
        fake.confirm(created.provider_payment_id)
    if op == "refund":
        assert created is not None
        await provider.capture_payment(created.provider_payment_id, None, None, "capture:t1")
    # the server applies the operation, then answers after the client gave up
    fake.inject(op, "timeout", delay_s=1.0)
    calls_before = fake.calls[op]
    if op == "create":
        result: Any = await provider.create_payment(card_hold(n=2), "create:t2")
        assert result.status is ProviderStatus.PENDING
        assert len(fake.state.payments) == 1
    elif op == "capture":
        assert created is not None
        result = await provider.capture_payment(
            created.provider_payment_id, None, None, "capture:t1"
        )
        assert result.status is ProviderStatus.SUCCEEDED
    else:
        assert created is not None
        result = await provider.create_refund(
            created.provider_payment_id, 50_000, None, "", "refund:t1"
        )
        assert len(fake.state.refunds) == 1
    assert fake.calls[op] - calls_before == 2  # the first try timed out, the retry replayed
    assert fake.applied[op] == 1


async def test_server_errors_are_retried_then_succeed(
    fake: FakeYooKassa, provider: YooKassaProvider
) -> None:
    fake.inject("create", "500", count=2)
    created = await provider.create_payment(card_hold(), "create:s1")
    assert fake.calls["create"] == 3 and fake.applied["create"] == 1
    # a 500 after the provider did it: the retry gets the same payment
    fake.confirm(created.provider_payment_id)
    fake.inject("capture", "500_after")
    captured = await provider.capture_payment(created.provider_payment_id, None, None, "capture:s1")
    assert captured.status is ProviderStatus.SUCCEEDED
    assert fake.applied["capture"] == 1 and fake.calls["capture"] == 2
    # 202 "processing": asked again after retry_after, with the same key
    fake.inject("refund", "processing", delay_s=0.05)
    refund = await provider.create_refund(created.provider_payment_id, 100, None, "", "refund:s1")
    assert refund.amount_kopecks == 100
    assert fake.calls["refund"] == 2 and fake.applied["refund"] == 1
    assert [key for op, key, _ in fake.requests if op == "refund"] == ["refund:s1"] * 2


async def test_after_the_last_attempt_the_provider_is_unavailable(
    fake: FakeYooKassa, provider: YooKassaProvider
) -> None:
    fake.inject("get_payment", "500", count=3)
    created = await provider.create_payment(card_hold(), "create:u1")
    with pytest.raises(ProviderUnavailableError, match="HTTP 500 after 3 attempts"):
        await provider.get_payment(created.provider_payment_id)
    fake.inject("cancel", "stall", count=3, delay_s=1.0)
    with pytest.raises(ProviderUnavailableError, match="no answer within"):
        await provider.cancel_payment(created.provider_payment_id, "cancel:u1")
    assert fake.applied["cancel"] == 0  # a stall does nothing: the caller retries later


async def test_nothing_listening_is_unavailable() -> None:
    from tests.fake_yookassa import free_port

    client = YooKassaProvider(
        "1", SECRET, f"http://127.0.0.1:{free_port()}/v3", timeout_s=0.3, attempts=2, backoff_s=0.01
    )
    try:
        with pytest.raises(ProviderUnavailableError, match="connection failed"):
            await client.get_payment("abc")
    finally:
        await client.close()


async def test_client_errors_are_mapped_not_retried(
    fake: FakeYooKassa, provider: YooKassaProvider
) -> None:
    with pytest.raises(ProviderNotFoundError) as missing:
        await provider.get_payment("00000000-000f-5000-8000-000000000000")
    assert missing.value.status == 404 and missing.value.code == "not_found"
    assert fake.calls["get_payment"] == 1
    with pytest.raises(ProviderNotFoundError):
        await provider.get_payment("../refunds/x")  # never sent
    assert fake.calls["get_payment"] == 1
    with pytest.raises(ProviderNotFoundError):
        await provider.capture_payment("00000000-000f-5000-8000-000000000000", None, None, "cap:z")

    wrong = YooKassaProvider(fake.shop_id, "test_wrong_key", fake.base_url, attempts=3)
    try:
        with pytest.raises(ProviderRejectedError) as denied:
            await wrong.create_payment(card_hold(), "create:w1")
    finally:
        await wrong.close()
    assert denied.value.status == 401 and denied.value.code == "invalid_credentials"
    assert fake.auth_failures == 1  # not retried


async def test_the_secret_never_leaks(fake: FakeYooKassa, caplog: pytest.LogCaptureFixture) -> None:
    basic = base64.b64encode(f"{fake.shop_id}:{SECRET}".encode()).decode()
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log at DEBUG too
    provider = YooKassaProvider(
        fake.shop_id, SECRET, fake.base_url, timeout_s=0.3, attempts=2, backoff_s=0.01
    )
    texts: list[str] = [repr(provider), str(provider), repr(vars(provider))]
    errors: list[BaseException] = []
    try:
        created = await provider.create_payment(card_hold(), "create:leak")
        texts.append(repr(created))
        fake.inject("get_payment", "500", count=2)
        fake.inject("create", "stall", count=2, delay_s=0.6)
        for attempt in (
            provider.get_payment(created.provider_payment_id),
            provider.create_payment(card_hold(n=3), "create:leak-3"),
            provider.get_payment("00000000-000f-5000-8000-000000000000"),
            provider.create_refund(created.provider_payment_id, 1, None, "", "refund:leak"),
            provider.create_payment(card_hold(), "create:leak".replace("leak", "leak")),
        ):
            try:
                texts.append(repr(await attempt))
            except ProviderError as exc:
                errors.append(exc)
        assert len(errors) == 4
    finally:
        await provider.close()
    wrong = YooKassaProvider(fake.shop_id, SECRET + "x", fake.base_url, attempts=1)
    try:
        await wrong.get_payment("abc")
    except ProviderError as exc:
        errors.append(exc)
    finally:
        await wrong.close()
    for error in errors:
        texts += [str(error), repr(error), repr(error.args)]
        assert error.__cause__ is None and error.__context__ is None
    texts += [record.getMessage() for record in caplog.records]
    texts += [str(record.args) for record in caplog.records]
    assert any("yookassa" in t for t in texts)
    for text in texts:
        assert SECRET not in text and basic not in text


# ---------------------------------------------------------------------------- notifications


async def test_notifications_reach_the_webhook_duplicated_and_reordered(
    fake: FakeYooKassa, provider: YooKassaProvider
) -> None:
    created = await provider.create_payment(card_hold(), "create:n1")
    pid = created.provider_payment_id
    fake.confirm(pid)
    await fake.wait_sent_async(1)
    await provider.capture_payment(pid, None, None, "capture:n1")
    await fake.wait_sent_async(2)
    assert [parse_notification(b).event for b in fake.sink] == [
        NotificationEvent.PAYMENT_WAITING_FOR_CAPTURE,
        NotificationEvent.PAYMENT_SUCCEEDED,
    ]
    assert {parse_notification(b).object_id for b in fake.sink} == {pid}

    fake.sink.clear()
    fake.duplicate_notifications = 2
    refund = await provider.create_refund(pid, 10_000, None, "", "refund:n1")
    await fake.wait_sent_async(5)
    parsed = [parse_notification(b) for b in fake.sink]
    assert len(parsed) == 3 and {n.event for n in parsed} == {NotificationEvent.REFUND_SUCCEEDED}
    assert {(n.object_id, n.payment_id) for n in parsed} == {(refund.provider_refund_id, pid)}

    fake.sink.clear()
    fake.duplicate_notifications = 0
    fake.hold_notifications = True
    second = await provider.create_payment(card_hold(n=2), "create:n2")
    fake.confirm(second.provider_payment_id)
    await provider.cancel_payment(second.provider_payment_id, "cancel:n2")
    assert fake.sink == []
    fake.release_notifications()
    await fake.wait_sent_async(7)
    assert [parse_notification(b).event for b in fake.sink] == [
        NotificationEvent.PAYMENT_CANCELED,
        NotificationEvent.PAYMENT_WAITING_FOR_CAPTURE,
    ]


async def test_the_bare_round_trip_is_measurable(fake: FakeYooKassa) -> None:
    samples = await measure_round_trips(fake.base_url, fake.shop_id, fake.secret_key, 20)
    assert len(samples) == 20 and all(s > 0 for s in samples)
    assert fake.applied["create"] == 20
    gets = await measure_round_trips(
        fake.base_url, fake.shop_id, fake.secret_key, 10, operation="get"
    )
    assert len(gets) == 10 and fake.calls["get_payment"] == 10


# ---------------------------------------------------------------------------- the sandbox


class Clock:
    def __init__(self, now_s: float = 1_800_000_000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


async def test_the_sandbox_confirms_by_itself_and_notifies() -> None:
    received: list[dict[str, Any]] = []

    async def notify(body: dict[str, Any]) -> None:
        received.append(body)

    sandbox = SandboxProvider(confirm_after_s=0.02, notify=notify)
    try:
        created = await sandbox.create_payment(card_hold(), "create:sb1")
        assert created.status is ProviderStatus.PENDING
        assert created.confirmation_url == f"/pay/sandbox/{created.provider_payment_id}"
        await asyncio.sleep(0.1)
        await sandbox.wait_delivered()
        held = await sandbox.get_payment(created.provider_payment_id)
        assert held.status is ProviderStatus.WAITING_FOR_CAPTURE
        captured = await sandbox.capture_payment(
            created.provider_payment_id, 200_000, receipt(200_000), "capture:sb1"
        )
        assert captured.captured_kopecks == 200_000
        sbp = await sandbox.create_payment(sbp_payment(), "create:sb2")
        await asyncio.sleep(0.1)
        assert (await sandbox.get_payment(sbp.provider_payment_id)).status is (
            ProviderStatus.SUCCEEDED
        )
        await sandbox.wait_delivered()
        events = [parse_notification(b) for b in received]
        assert [(n.event, n.object_id) for n in events] == [
            (NotificationEvent.PAYMENT_WAITING_FOR_CAPTURE, created.provider_payment_id),
            (NotificationEvent.PAYMENT_SUCCEEDED, created.provider_payment_id),
            (NotificationEvent.PAYMENT_SUCCEEDED, sbp.provider_payment_id),
        ]
    finally:
        await sandbox.close()


async def test_the_sandbox_expires_holds_and_unconfirmed_payments_by_its_clock() -> None:
    clock = Clock()
    received: list[dict[str, Any]] = []

    async def notify(body: dict[str, Any]) -> None:
        received.append(body)

    sandbox = SandboxProvider(confirm_after_s=None, notify=notify, clock=clock)
    try:
        hold = await sandbox.create_payment(card_hold(), "create:x1")
        never = await sandbox.create_payment(card_hold(n=2), "create:x2")
        await sandbox.confirm(hold.provider_payment_id)
        clock.now_s += 3_601
        assert await sandbox.sweep() == [never.provider_payment_id]
        gone = await sandbox.get_payment(never.provider_payment_id)
        assert gone.cancellation_reason == "expired_on_confirmation"
        clock.now_s += HOLD_TTL_S
        expired = await sandbox.get_payment(hold.provider_payment_id)
        assert expired.status is ProviderStatus.CANCELED
        assert (expired.cancellation_party, expired.cancellation_reason) == (
            "yoo_money",
            "expired_on_capture",
        )
        with pytest.raises(ProviderRejectedError):
            await sandbox.capture_payment(hold.provider_payment_id, None, None, "capture:x1")
        await sandbox.wait_delivered()
        assert [b["event"] for b in received] == [
            "payment.waiting_for_capture",
            "payment.canceled",
            "payment.canceled",
        ]
    finally:
        await sandbox.close()


async def test_the_sandbox_keeps_idempotence_and_refuses_the_impossible() -> None:
    sandbox = SandboxProvider(confirm_after_s=None)
    try:
        first = await sandbox.create_payment(card_hold(), "create:i1")
        assert await sandbox.create_payment(card_hold(), "create:i1") == first
        with pytest.raises(ProviderRejectedError, match="Idempotence-Key"):
            await sandbox.create_payment(card_hold(n=5), "create:i1")
        assert sandbox.state.applied["create"] == 1
        with pytest.raises(ProviderRejectedError):  # not held yet
            await sandbox.capture_payment(first.provider_payment_id, None, None, "capture:i1")
        await sandbox.confirm(first.provider_payment_id)
        with pytest.raises(ProviderRejectedError):  # confirmed once only
            await sandbox.confirm(first.provider_payment_id)
        with pytest.raises(ProviderRejectedError):  # refunds only of captured money
            await sandbox.create_refund(first.provider_payment_id, 100, None, "", "refund:i0")
        await sandbox.capture_payment(first.provider_payment_id, None, None, "capture:i1")
        await sandbox.create_refund(first.provider_payment_id, 350_000, None, "", "refund:i1")
        with pytest.raises(ProviderRejectedError):
            await sandbox.create_refund(first.provider_payment_id, 1, None, "", "refund:i2")
        with pytest.raises(ProviderRejectedError):
            await sandbox.cancel_payment(first.provider_payment_id, "cancel:i1")
        refused = await sandbox.create_payment(card_hold(n=3), "create:i3")
        declined = await sandbox.confirm(refused.provider_payment_id, succeed=False)
        assert declined.status is ProviderStatus.CANCELED and not declined.paid
        with pytest.raises(ProviderNotFoundError):
            await sandbox.get_payment("nope")
        page, cursor = await sandbox.list_payments(0, 2e9, limit=1)
        assert len(page) == 1 and cursor is not None
        rest, end = await sandbox.list_payments(0, 2e9, cursor=cursor, limit=1)
        assert len(rest) == 1 and end is None and rest[0] != page[0]
    finally:
        await sandbox.close()


async def test_the_sandbox_retries_a_failing_receiver() -> None:
    calls: list[str] = []

    async def flaky(body: dict[str, Any]) -> None:
        calls.append(body["event"])
        if len(calls) < 3:
            raise ConnectionError("receiver down")

    async def no_wait(_: float) -> None:
        await asyncio.sleep(0)

    sandbox = SandboxProvider(confirm_after_s=None, notify=flaky, sleep=no_wait, notify_attempts=3)
    try:
        created = await sandbox.create_payment(card_hold(), "create:f1")
        await sandbox.confirm(created.provider_payment_id)
        await sandbox.wait_delivered()
        assert calls == ["payment.waiting_for_capture"] * 3
        assert [b["event"] for b in sandbox.delivered] == ["payment.waiting_for_capture"]
    finally:
        await sandbox.close()


# ---------------------------------------------------------------------------- the state machine


def _receipt_json(amount_kopecks: int) -> dict[str, Any]:
    return {
        "customer": {"phone": "79001234567"},
        "items": [
            {
                "description": "Визит",
                "quantity": "1.00",
                "amount": money(amount_kopecks),
                "vat_code": 1,
                "payment_subject": "service",
                "payment_mode": "full_payment",
            }
        ],
    }


class ProviderRules(RuleBasedStateMachine):
    """Random operations on the sandbox's state machine: whatever is asked, refunded <=
    captured <= held, the answers agree with the objects, and keys never double anything."""

    @initialize()
    def start(self) -> None:
        self.now = 1_800_000_000.0
        self.state = YooKassaState(seed=1)
        self.ids: list[str] = []
        self.keys: dict[str, Any] = {}  # key -> first answer
        self.serial = 0

    def _key(self) -> str:
        self.serial += 1
        return f"k{self.serial}"

    def _try(self, key: str, call: Any) -> None:
        try:
            answer = call()
        except ProviderRejectedError:
            return
        if key in self.keys:
            assert answer == self.keys[key]
        else:
            self.keys[key] = answer

    @rule(amount=st.integers(1, 10_000_000), capture=st.booleans(), sbp=st.booleans())
    def create(self, amount: int, capture: bool, sbp: bool) -> None:
        body = {
            "amount": money(amount),
            "capture": capture or sbp,
            "confirmation": {"type": "redirect", "return_url": "https://x/r"},
            "payment_method_data": {"type": "sbp" if sbp else "bank_card"},
            "description": "d",
            "receipt": _receipt_json(amount),
        }
        answer = self.state.create_payment(body, self._key(), self.now)
        self.ids.append(answer["id"])

    @precondition(lambda self: self.ids)
    @rule(i=st.integers(0, 1_000), succeed=st.booleans())
    def payer(self, i: int, succeed: bool) -> None:
        pid = self.ids[i % len(self.ids)]
        try:
            self.state.confirm(pid, self.now, succeed=succeed)
        except ProviderRejectedError:
            assert self.state.payments[pid].status != "pending"

    @precondition(lambda self: self.ids)
    @rule(i=st.integers(0, 1_000), share=st.integers(0, 120), reuse=st.booleans())
    def capture(self, i: int, share: int, reuse: bool) -> None:
        pid = self.ids[i % len(self.ids)]
        payment = self.state.payments[pid]
        amount = max(1, payment.held_kopecks * share // 100)
        body = {"amount": money(amount), "receipt": _receipt_json(amount)}
        key = f"capture:{pid}" if reuse else self._key()
        before = payment.status
        self._try(key, lambda: self.state.capture(pid, body, key, self.now))
        if amount > payment.held_kopecks:
            assert payment.status == before or before != "waiting_for_capture"

    @precondition(lambda self: self.ids)
    @rule(i=st.integers(0, 1_000))
    def cancel(self, i: int) -> None:
        pid = self.ids[i % len(self.ids)]
        key = self._key()
        self._try(key, lambda: self.state.cancel(pid, key, self.now))

    @precondition(lambda self: self.ids)
    @rule(i=st.integers(0, 1_000), amount=st.integers(1, 10_000_000), replay=st.booleans())
    def refund(self, i: int, amount: int, replay: bool) -> None:
        pid = self.ids[i % len(self.ids)]
        body = {"payment_id": pid, "amount": money(amount)}
        key = f"refund:{pid}:{amount}" if replay else self._key()
        self._try(key, lambda: self.state.create_refund(body, key, self.now))

    @rule(seconds=st.sampled_from([1.0, 600.0, 3_600.0, 86_400.0, HOLD_TTL_S]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        self.state.expire(self.now)

    @invariant()
    def money_adds_up(self) -> None:
        for payment in self.state.payments.values():
            captured = payment.amount_kopecks if payment.status == "succeeded" else 0
            assert 0 <= payment.refunded_kopecks <= captured <= payment.held_kopecks
            refunds = sum(self.state.refunds[r].amount_kopecks for r in payment.refund_ids)
            assert refunds == payment.refunded_kopecks
            assert payment.paid == (payment.status in ("waiting_for_capture", "succeeded"))
            assert (payment.captured_s is not None) == (payment.status == "succeeded")
            answer = self.state.payment_json(payment)
            if payment.refunded_kopecks:
                assert value_to_kopecks(answer["refunded_amount"]["value"]) == refunds
        assert self.state.applied["capture"] <= len(self.state.payments)


ProviderRules.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestProviderRules = ProviderRules.TestCase
