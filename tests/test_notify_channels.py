"""Each notification channel adapter (storage/notify_*.py) against a local server that
speaks its provider's protocol (tests/fake_*.py, and a real aiosmtpd SMTP server with
STARTTLS): the message arrives exactly as sent, every fault kind maps to the right
error, and no secret shows in a log line, an exception or a repr."""

from __future__ import annotations

import base64
import logging
import os
import time
import traceback
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from notifications.channels import (
    Channel,
    ChannelSender,
    PermanentSendError,
    Rendered,
    SendError,
    Sent,
    TransientSendError,
)
from storage.notify_common import parse_retry_after
from storage.notify_fcm import FcmSender
from storage.notify_sendgrid import SendGridSender
from storage.notify_smsru import SmsRuSender
from storage.notify_smtp import SmtpSender, message_id
from storage.notify_twilio import TwilioSender
from storage.notify_webpush import (
    MAX_PLAINTEXT_BYTES,
    WebPushSender,
    b64url,
    b64url_decode,
    encrypt,
    generate_vapid_keys,
    parse_subscription,
    vapid_public_key,
)
from tests.fake_fcm import FakeFcm, running_fake_fcm
from tests.fake_kit import free_port
from tests.fake_push_service import FakePushService, decrypt, running_fake_push
from tests.fake_sendgrid import FakeSendGrid, running_fake_sendgrid
from tests.fake_smsru import FakeSmsRu, running_fake_smsru
from tests.fake_twilio import FakeTwilio, running_fake_twilio
from tests.smtp_sink import SmtpSink, running_smtp_sink

TIMEOUT_S = 0.3  # the adapters' timeout in these tests; a "timeout" fault waits longer
SLOW_S = 1.0
PHONE = "+79161234567"
SMS_TEXT = "Врач Иванова едет к вам, будет через 12 мин. TOT"


def rendered(channel: Channel, to: str, **changes: Any) -> Rendered:
    fields: dict[str, Any] = {
        "notification_id": "n-1",
        "idempotency_key": "booking-b1:on_the_way:1",
        "channel": channel,
        "to": to,
        "text": SMS_TEXT,
    }
    fields.update(changes)
    return Rendered(**fields)


async def expect(sender: ChannelSender, message: Rendered, kind: type[SendError]) -> Any:
    with pytest.raises(kind) as caught:
        await sender.send(message)
    return caught.value


# ============================================================================ Web Push

RFC8291_PLAINTEXT = b"When I grow up, I want to be a watermelon"
RFC8291 = {  # RFC 8291 section 5 / appendix A
    "as_private": "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw",
    "ua_private": "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94",
    "ua_public": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
    "auth": "BTBZMqHH6r4Tts7J_aSIgg",
    "salt": "DGv6ra1nlYgDCS1FRnbzlw",
    "body": "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
}


def _p256(b64: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(b64url_decode(b64), "big"), ec.SECP256R1())


def test_webpush_encryption_is_rfc8291s_worked_example_byte_for_byte() -> None:
    body = encrypt(
        RFC8291_PLAINTEXT,
        b64url_decode(RFC8291["ua_public"]),
        b64url_decode(RFC8291["auth"]),
        salt=b64url_decode(RFC8291["salt"]),
        as_private=_p256(RFC8291["as_private"]),
    )
    assert b64url(body) == RFC8291["body"]
    # and the fake push service's own decryption reads the RFC's body
    plain = decrypt(body, _p256(RFC8291["ua_private"]), b64url_decode(RFC8291["auth"]))
    assert plain == RFC8291_PLAINTEXT


def test_webpush_fresh_salt_and_key_each_time_and_tampering_is_caught() -> None:
    ua = ec.generate_private_key(ec.SECP256R1())
    ua_public = ua.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    auth = os.urandom(16)
    one, two = encrypt(b"hello", ua_public, auth), encrypt(b"hello", ua_public, auth)
    assert one[:16] != two[:16] and one[21:86] != two[21:86]
    assert decrypt(one, ua, auth) == decrypt(two, ua, auth) == b"hello"
    padded = encrypt(b"hello", ua_public, auth, padding=27)
    assert len(padded) == len(one) + 27 and decrypt(padded, ua, auth) == b"hello"
    tampered = bytearray(one)
    tampered[-1] ^= 1
    with pytest.raises(ValueError, match="decrypt"):
        decrypt(bytes(tampered), ua, auth)
    with pytest.raises(ValueError, match="decrypt"):
        decrypt(one, ua, os.urandom(16))


def test_vapid_keys_generate_and_load() -> None:
    private, public = generate_vapid_keys()
    assert len(b64url_decode(private)) == 32
    raw_public = b64url_decode(public)
    assert len(raw_public) == 65 and raw_public[0] == 4
    assert vapid_public_key(private) == public
    pem = (
        _p256(private)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    assert vapid_public_key(pem) == public
    for bad in ("", "not-a-key", b64url(os.urandom(31))):
        with pytest.raises(ValueError, match="VAPID"):
            vapid_public_key(bad)


def _subscription_keys() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    return ec.generate_private_key(ec.SECP256R1()), os.urandom(16)


def test_malformed_push_subscriptions_are_refused_clearly() -> None:
    ua, auth = _subscription_keys()
    p256dh = b64url(
        ua.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    good = {
        "endpoint": "https://fcm.googleapis.com/fcm/send/abc",
        "keys": {"p256dh": p256dh, "auth": b64url(auth)},
    }
    assert parse_subscription(orjson.dumps(good)).endpoint == good["endpoint"]
    assert parse_subscription({**good, "endpoint": "https://web.push.apple.com/x"}).auth == auth
    cases = {
        "not json": "JSON",
        "[]": "JSON object",
        orjson.dumps({**good, "endpoint": "http://fcm.googleapis.com/x"}).decode(): "https",
        orjson.dumps({**good, "endpoint": "https://evil.example/x"}).decode(): "not a known push",
        orjson.dumps(
            {**good, "endpoint": "https://fcm.googleapis.com.evil.example/x"}
        ).decode(): "not a known push",
        orjson.dumps({**good, "keys": {"p256dh": p256dh}}).decode(): "base64url|16 bytes",
        orjson.dumps(
            {**good, "keys": {"p256dh": p256dh[:-4], "auth": b64url(auth)}}
        ).decode(): "65-byte",
        orjson.dumps(
            {**good, "keys": {"p256dh": "B" + "A" * 86, "auth": b64url(auth)}}
        ).decode(): "P-256",
        orjson.dumps(
            {**good, "keys": {"p256dh": p256dh, "auth": b64url(auth[:8])}}
        ).decode(): "16 bytes",
        orjson.dumps({"keys": good["keys"]}).decode(): "endpoint",
    }
    for text, problem in cases.items():
        with pytest.raises(ValueError, match=problem):
            parse_subscription(text)


@pytest.fixture
def vapid() -> tuple[str, str]:
    return generate_vapid_keys()


@pytest.fixture
def push(vapid: tuple[str, str]) -> Iterator[FakePushService]:
    with running_fake_push(vapid[1]) as fake:
        yield fake


@pytest.fixture
async def webpush(vapid: tuple[str, str]) -> AsyncIterator[WebPushSender]:
    sender = WebPushSender(
        vapid[0],
        "mailto:ops@tot.example",
        timeout_s=TIMEOUT_S,
        allowed_hosts=("127.0.0.1",),
        allow_http=True,
    )
    yield sender
    await sender.close()


def _push_message(push: FakePushService, **changes: Any) -> tuple[Rendered, dict[str, Any]]:
    ua, auth = _subscription_keys()
    subscription = push.subscribe(ua, auth)
    fields = {
        "subject": "Врач в пути",
        "data": {"kind": "on_the_way", "booking_id": "b1", "url": "/bookings/b1"},
        "urgency": "high",
        "ttl_s": 600,
    }
    fields.update(changes)
    return rendered(Channel.WEBPUSH, orjson.dumps(subscription).decode(), **fields), subscription


async def test_webpush_arrives_decrypted_as_sent(
    push: FakePushService, webpush: WebPushSender
) -> None:
    message, _ = _push_message(push)
    sent = await webpush.send(message)
    assert isinstance(sent, Sent) and sent.provider_id and sent.provider_id.startswith(push.url)
    (got,) = push.received
    assert got.json == {
        "id": "n-1",
        "title": "Врач в пути",
        "body": SMS_TEXT,
        "data": {"kind": "on_the_way", "booking_id": "b1", "url": "/bookings/b1"},
    }
    assert got.ttl_s == 600 and got.urgency == "high"
    assert got.topic and len(got.topic) <= 32
    assert got.claims["aud"] == push.url and got.claims["sub"] == "mailto:ops@tot.example"
    assert time.time() < got.claims["exp"] <= time.time() + 24 * 3_600
    # header 86 + plaintext padded to a multiple of 32 + delimiter 1 + tag 16
    assert (got.body_bytes - 86 - 1 - 16) % 32 == 0 and got.body_bytes <= 4_096
    assert not push.refused
    # the same notification again (a retry): the same Topic, so the push service keeps one
    again, _ = _push_message(push)
    await webpush.send(again)
    assert push.received[1].topic == got.topic
    other, _ = _push_message(push, idempotency_key="booking-b1:arrived:1")
    await webpush.send(other)
    assert push.received[2].topic != got.topic


async def test_webpush_payload_is_padded_to_hide_its_length(
    push: FakePushService, webpush: WebPushSender
) -> None:
    sizes = set()
    for text in ("a", "ab", "abc", "abcd"):
        message, _ = _push_message(push, text=text)
        await webpush.send(message)
        sizes.add(push.received[-1].body_bytes)
    assert len(sizes) == 1


async def test_webpush_gone_and_permanent_and_transient(
    push: FakePushService, webpush: WebPushSender
) -> None:
    message, subscription = _push_message(push)
    push.unsubscribe(subscription)
    error = await expect(webpush, message, PermanentSendError)
    assert error.gone and "410" in str(error)

    unknown = orjson.loads(message.to)
    unknown["endpoint"] = f"{push.url}/push/never-was"
    error = await expect(
        webpush, rendered(Channel.WEBPUSH, orjson.dumps(unknown).decode()), PermanentSendError
    )
    assert error.gone and "404" in str(error)

    for status in (413, 400):
        message, _ = _push_message(push)
        push.faults.inject("status", status=status)
        error = await expect(webpush, message, PermanentSendError)
        assert not error.gone and str(status) in str(error)

    message, _ = _push_message(push)
    push.faults.inject("status", status=429, retry_after="17")
    error = await expect(webpush, message, TransientSendError)
    assert error.retry_after_s == 17

    when = format_datetime(
        __import__("datetime").datetime.fromtimestamp(
            time.time() + 120, __import__("datetime").UTC
        ),
        usegmt=True,
    )
    push.faults.inject("status", status=503, retry_after=when)
    error = await expect(webpush, message, TransientSendError)
    assert 100 < (error.retry_after_s or 0) <= 120

    push.faults.inject("status", status=500)
    error = await expect(webpush, message, TransientSendError)
    assert error.retry_after_s is None

    push.faults.inject("timeout", delay_s=SLOW_S)
    started = time.monotonic()
    error = await expect(webpush, message, TransientSendError)
    assert "no answer" in str(error) and time.monotonic() - started < SLOW_S

    # and then it goes
    assert isinstance(await webpush.send(message), Sent)


async def test_webpush_refuses_before_sending_what_cannot_go(
    push: FakePushService, webpush: WebPushSender, vapid: tuple[str, str]
) -> None:
    big, _ = _push_message(push, text="ж" * (MAX_PLAINTEXT_BYTES // 2))
    error = await expect(webpush, big, PermanentSendError)
    assert "payload" in str(error) and not error.gone
    bad = await expect(webpush, rendered(Channel.WEBPUSH, "{}"), PermanentSendError)
    assert bad.gone and "malformed push subscription" in str(bad)
    message, _ = _push_message(push, urgency="urgent")
    await expect(webpush, message, PermanentSendError)
    assert push.requests == 0

    # a subscription made with another applicationServerKey: the push service says 403
    ua, auth = _subscription_keys()
    foreign = push.subscribe(ua, auth, server_key=generate_vapid_keys()[1])
    error = await expect(
        webpush, rendered(Channel.WEBPUSH, orjson.dumps(foreign).decode()), PermanentSendError
    )
    assert "403" in str(error) and not error.gone

    # the production default takes only the push services' hosts
    strict = WebPushSender(vapid[0], "mailto:ops@tot.example")
    try:
        message, _ = _push_message(push)
        error = await expect(strict, message, PermanentSendError)
        assert "https" in str(error)
    finally:
        await strict.close()


async def test_the_push_service_refuses_a_bad_vapid_jwt(
    push: FakePushService, vapid: tuple[str, str]
) -> None:
    """The fake checks exp and aud as a push service does (so the adapter's pass means
    something): an expired JWT, one over 24 h ahead, one for another origin."""
    for shift_s in (-13 * 3_600, 13 * 3_600):
        skewed = WebPushSender(
            vapid[0], "mailto:ops@tot.example", allowed_hosts=("127.0.0.1",), allow_http=True,
            clock=lambda shift_s=shift_s: time.time() + shift_s,
        )  # fmt: skip
        try:
            message, _ = _push_message(push)
            error = await expect(skewed, message, PermanentSendError)
            assert "401" in str(error) and not error.gone
        finally:
            await skewed.close()
    sender = WebPushSender(
        vapid[0], "mailto:ops@tot.example", allowed_hosts=("localhost",), allow_http=True
    )
    try:
        message, subscription = _push_message(push)
        subscription["endpoint"] = subscription["endpoint"].replace("127.0.0.1", "localhost")
        error = await expect(
            sender,
            rendered(Channel.WEBPUSH, orjson.dumps(subscription).decode()),
            PermanentSendError,
        )
        assert "401" in str(error)
    finally:
        await sender.close()
    assert [why for _, why in push.refused] == [
        "exp is not within the next 24 hours",
        "exp is not within the next 24 hours",
        "the JWT does not verify: InvalidAudienceError",
    ]
    assert not push.received


async def test_webpush_connection_refused_is_transient(webpush: WebPushSender) -> None:
    ua, auth = _subscription_keys()
    p256dh = b64url(
        ua.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    sub = {
        "endpoint": f"http://127.0.0.1:{free_port()}/push/x",
        "keys": {"p256dh": p256dh, "auth": b64url(auth)},
    }
    error = await expect(
        webpush, rendered(Channel.WEBPUSH, orjson.dumps(sub).decode()), TransientSendError
    )
    assert "connection failed" in str(error)


async def test_vapid_jwt_is_reused_and_renewed_before_it_runs_out(vapid: tuple[str, str]) -> None:
    now = [1_800_000_000.0]
    sender = WebPushSender(vapid[0], "mailto:ops@tot.example", clock=lambda: now[0])
    try:
        first = sender.vapid_header("https://fcm.googleapis.com")
        assert sender.vapid_header("https://fcm.googleapis.com") == first
        assert sender.vapid_header("https://web.push.apple.com") != first
        now[0] += 11 * 3_600 + 1  # within an hour of its exp (12 h): a new one
        assert sender.vapid_header("https://fcm.googleapis.com") != first
    finally:
        await sender.close()


# ============================================================================ FCM


@pytest.fixture(scope="module")
def rsa_pems() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65_537, key_size=2_048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture
def fcm(rsa_pems: tuple[str, str]) -> Iterator[FakeFcm]:
    with running_fake_fcm(rsa_pems[1], "tot-push@tot-test.iam.gserviceaccount.com") as fake:
        yield fake


@pytest.fixture
async def fcm_sender(fcm: FakeFcm, rsa_pems: tuple[str, str]) -> AsyncIterator[FcmSender]:
    sender = FcmSender(fcm.service_account(rsa_pems[0]), base_url=fcm.url, timeout_s=TIMEOUT_S)
    yield sender
    await sender.close()


async def test_fcm_arrives_as_sent_with_a_cached_token(fcm: FakeFcm, fcm_sender: FcmSender) -> None:
    device = fcm.register()
    message = rendered(
        Channel.FCM, device, subject="Новый вызов", data={"kind": "offer", "booking_id": "b7"},
        urgency="high", ttl_s=30,
    )  # fmt: skip
    sent = await fcm_sender.send(message)
    assert sent.provider_id and sent.provider_id.startswith("projects/tot-test/messages/")
    (got,) = fcm.received
    assert got["token"] == device
    assert got["notification"] == {"title": "Новый вызов", "body": SMS_TEXT}
    assert got["data"] == {"kind": "offer", "booking_id": "b7", "notification_id": "n-1"}
    assert got["android"] == {"priority": "HIGH", "ttl": "30s"}
    assert got["apns"]["headers"]["apns-priority"] == "10"
    (claims,) = fcm.assertions
    assert claims["aud"] == fcm.token_uri and claims["exp"] - claims["iat"] == 3_600
    await fcm_sender.send(rendered(Channel.FCM, device, urgency="normal"))
    assert fcm.token_requests == 1 and len(fcm.received) == 2
    assert fcm.received[1]["android"]["priority"] == "NORMAL"


async def test_fcm_token_is_renewed_shortly_before_expiry_and_after_a_401(
    fcm: FakeFcm, rsa_pems: tuple[str, str]
) -> None:
    now = [time.time()]
    fcm.clock = lambda: now[0]
    sender = FcmSender(
        fcm.service_account(rsa_pems[0]), base_url=fcm.url, timeout_s=TIMEOUT_S,
        clock=lambda: now[0],
    )  # fmt: skip
    try:
        device = fcm.register()
        await sender.send(rendered(Channel.FCM, device))
        now[0] += 3_600 - 90  # still 90 s left: kept
        await sender.send(rendered(Channel.FCM, device))
        assert fcm.token_requests == 1
        now[0] += 45  # 45 s left: renewed first
        await sender.send(rendered(Channel.FCM, device))
        assert fcm.token_requests == 2
        fcm.expire_tokens()  # revoked at Google: a 401, a new token, the send goes
        await sender.send(rendered(Channel.FCM, device))
        assert fcm.token_requests == 3 and len(fcm.received) == 4
    finally:
        await sender.close()


async def test_fcm_errors_by_documented_code(fcm: FakeFcm, fcm_sender: FcmSender) -> None:
    device = fcm.register()
    fcm.unregister(device)
    error = await expect(fcm_sender, rendered(Channel.FCM, device), PermanentSendError)
    assert error.gone and "UNREGISTERED" in str(error)

    error = await expect(fcm_sender, rendered(Channel.FCM, "garbage-token"), PermanentSendError)
    assert not error.gone and "INVALID_ARGUMENT" in str(error)

    fcm.faults.inject("status", code="SENDER_ID_MISMATCH")
    error = await expect(fcm_sender, rendered(Channel.FCM, device), PermanentSendError)
    assert error.gone

    for code, status in (("UNAVAILABLE", 503), ("INTERNAL", 500), ("QUOTA_EXCEEDED", 429)):
        fcm.faults.inject("status", code=code, retry_after="9")
        error = await expect(fcm_sender, rendered(Channel.FCM, device), TransientSendError)
        assert code in str(error) and str(status) in str(error) and error.retry_after_s == 9

    fcm.faults.inject("timeout", delay_s=SLOW_S)
    await expect(fcm_sender, rendered(Channel.FCM, device), TransientSendError)

    fcm.register(device)
    assert isinstance(await fcm_sender.send(rendered(Channel.FCM, device)), Sent)


async def test_fcm_token_endpoint_failures(fcm: FakeFcm, rsa_pems: tuple[str, str]) -> None:
    device = fcm.register()
    other_key = rsa.generate_private_key(public_exponent=65_537, key_size=2_048)
    other_pem = other_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    wrong = FcmSender(fcm.service_account(other_pem), base_url=fcm.url, timeout_s=TIMEOUT_S)
    try:  # a key Google does not know: invalid_grant, a setting to mend
        error = await expect(wrong, rendered(Channel.FCM, device), PermanentSendError)
        assert "invalid_grant" in str(error)
    finally:
        await wrong.close()
    sender = FcmSender(fcm.service_account(rsa_pems[0]), base_url=fcm.url, timeout_s=TIMEOUT_S)
    try:
        fcm.token_faults.inject("status", status=503, retry_after="4")
        error = await expect(sender, rendered(Channel.FCM, device), TransientSendError)
        assert error.retry_after_s == 4
        fcm.token_faults.inject("timeout", delay_s=SLOW_S)
        await expect(sender, rendered(Channel.FCM, device), TransientSendError)
        assert isinstance(await sender.send(rendered(Channel.FCM, device)), Sent)
    finally:
        await sender.close()
    with pytest.raises(ValueError, match="private_key"):
        FcmSender({"client_email": "x@y", "project_id": "p", "private_key": "nope"})


# ============================================================================ Twilio


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with running_fake_twilio() as fake:
        yield fake


@pytest.fixture
async def twilio_sender(twilio: FakeTwilio) -> AsyncIterator[TwilioSender]:
    sender = TwilioSender(
        twilio.account_sid, twilio.auth_token, from_number="+15005550006",
        base_url=twilio.url, timeout_s=TIMEOUT_S,
    )  # fmt: skip
    yield sender
    await sender.close()


async def test_twilio_sms_arrives_as_sent(twilio: FakeTwilio, twilio_sender: TwilioSender) -> None:
    sent = await twilio_sender.send(rendered(Channel.SMS, PHONE))
    assert sent.provider_id and sent.provider_id.startswith("SM") and not sent.delivered
    assert twilio.received == [{"To": PHONE, "Body": SMS_TEXT, "From": "+15005550006"}]
    service = TwilioSender(
        twilio.account_sid, twilio.auth_token, messaging_service_sid="MG" + "0" * 32,
        base_url=twilio.url, status_callback="https://tot.example/hooks/twilio",
    )  # fmt: skip
    try:
        await service.send(rendered(Channel.SMS, PHONE))
    finally:
        await service.close()
    assert twilio.received[1] == {
        "To": PHONE,
        "Body": SMS_TEXT,
        "MessagingServiceSid": "MG" + "0" * 32,
        "StatusCallback": "https://tot.example/hooks/twilio",
    }


async def test_twilio_faults(twilio: FakeTwilio, twilio_sender: TwilioSender) -> None:
    twilio.block(PHONE)
    error = await expect(twilio_sender, rendered(Channel.SMS, PHONE), PermanentSendError)
    assert "21610" in str(error)
    other = "+79990000001"
    twilio.faults.inject("status", status=429, retry_after="3")
    error = await expect(twilio_sender, rendered(Channel.SMS, other), TransientSendError)
    assert "20429" in str(error) and error.retry_after_s == 3
    twilio.faults.inject("status", status=503)
    await expect(twilio_sender, rendered(Channel.SMS, other), TransientSendError)
    twilio.faults.inject("timeout", delay_s=SLOW_S)
    await expect(twilio_sender, rendered(Channel.SMS, other), TransientSendError)
    twilio.faults.inject("status", status=400, code=21408)
    error = await expect(twilio_sender, rendered(Channel.SMS, other), PermanentSendError)
    assert "21408" in str(error)
    for bad in ("89161234567", "+7", "", "+7916123456789012"):
        await expect(twilio_sender, rendered(Channel.SMS, bad), PermanentSendError)
    await expect(twilio_sender, rendered(Channel.SMS, other, text="я" * 1_601), PermanentSendError)
    wrong = TwilioSender(
        twilio.account_sid, "0" * 32, from_number="+15005550006", base_url=twilio.url
    )
    try:
        error = await expect(wrong, rendered(Channel.SMS, other), PermanentSendError)
        assert "401" in str(error) and "20003" in str(error)
    finally:
        await wrong.close()
    assert isinstance(await twilio_sender.send(rendered(Channel.SMS, other)), Sent)
    assert [m["To"] for m in twilio.received] == [other]


# ============================================================================ SMS.ru


@pytest.fixture
def smsru() -> Iterator[FakeSmsRu]:
    with running_fake_smsru() as fake:
        yield fake


@pytest.fixture
async def smsru_sender(smsru: FakeSmsRu) -> AsyncIterator[SmsRuSender]:
    sender = SmsRuSender(smsru.api_id, sender="TOT", base_url=smsru.url, timeout_s=TIMEOUT_S)
    yield sender
    await sender.close()


async def test_smsru_sms_arrives_as_sent(smsru: FakeSmsRu, smsru_sender: SmsRuSender) -> None:
    sent = await smsru_sender.send(rendered(Channel.SMS, PHONE))
    assert sent.provider_id and "-" in sent.provider_id
    assert smsru.received == [
        {"api_id": smsru.api_id, "to": "79161234567", "msg": SMS_TEXT, "json": "1", "from": "TOT"}
    ]


async def test_smsru_codes_and_faults(smsru: FakeSmsRu, smsru_sender: SmsRuSender) -> None:
    smsru.code_faults.inject("status", code=220)
    error = await expect(smsru_sender, rendered(Channel.SMS, PHONE), TransientSendError)
    assert "220" in str(error)
    smsru.code_faults.inject("status", code=231)
    error = await expect(smsru_sender, rendered(Channel.SMS, PHONE), TransientSendError)
    assert error.retry_after_s == 60
    smsru.code_faults.inject("status", code=201)  # no money: the admin's matter
    await expect(smsru_sender, rendered(Channel.SMS, PHONE), PermanentSendError)
    smsru.block(PHONE)
    error = await expect(smsru_sender, rendered(Channel.SMS, PHONE), PermanentSendError)
    assert "207" in str(error)
    other = "+79990000002"
    smsru.faults.inject("status", status=502)
    await expect(smsru_sender, rendered(Channel.SMS, other), TransientSendError)
    smsru.faults.inject("status", status=429, retry_after="5")
    error = await expect(smsru_sender, rendered(Channel.SMS, other), TransientSendError)
    assert error.retry_after_s == 5
    smsru.faults.inject("timeout", delay_s=SLOW_S)
    await expect(smsru_sender, rendered(Channel.SMS, other), TransientSendError)
    await expect(smsru_sender, rendered(Channel.SMS, other, text="ж" * 537), PermanentSendError)
    wrong = SmsRuSender("WRONG-API-ID-0000", base_url=smsru.url)
    try:
        error = await expect(wrong, rendered(Channel.SMS, other), PermanentSendError)
        assert "code 200" in str(error)
    finally:
        await wrong.close()
    assert isinstance(await smsru_sender.send(rendered(Channel.SMS, other)), Sent)
    assert [m["to"] for m in smsru.received] == ["79990000002"]


# ============================================================================ SMTP

SMTP_PASSWORD = "smtp-Pa55word-never-logged"


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpSink]:
    with running_smtp_sink(tmp_path, username="tot-mailer", password=SMTP_PASSWORD) as sink:
        yield sink


def smtp_sender(sink: SmtpSink, **changes: Any) -> SmtpSender:
    fields: dict[str, Any] = {
        "from_address": "noreply@tot.example",
        "from_name": "ТОТ",
        "username": "tot-mailer",
        "password": SMTP_PASSWORD,
        "ca_file": str(sink.cert_path),
        "timeout_s": 1.0,
    }
    fields.update(changes)
    return SmtpSender("127.0.0.1", sink.port, **fields)


def email_message(**changes: Any) -> Rendered:
    fields: dict[str, Any] = {
        "subject": "Напоминание о визите врача",
        "html": "<p>Врач приедет <b>завтра в 10:00</b>.</p>",
        "unsubscribe_url": "https://tot.example/u/one-click?t=abc",
        "text": "Врач приедет завтра в 10:00.",
    }
    fields.update(changes)
    return rendered(Channel.EMAIL, "patient@example.ru", **fields)


async def test_smtp_mail_arrives_over_starttls_as_sent(smtp: SmtpSink) -> None:
    sender = smtp_sender(smtp)
    try:
        sent = await sender.send(email_message())
        await sender.send(email_message(notification_id="n-2", idempotency_key="k-2"))
    finally:
        await sender.close()
    assert sender.connects == 1  # the connection is kept and reused
    assert smtp.logins == [
        "tot-mailer",
    ]
    mail = smtp.messages[0]
    assert isinstance(mail, EmailMessage)
    assert mail["Subject"] == "Напоминание о визите врача"
    assert mail["To"] == "patient@example.ru"
    assert mail["From"].addresses[0].addr_spec == "noreply@tot.example"
    assert mail["From"].addresses[0].display_name == "ТОТ"
    assert (
        mail["Message-ID"]
        == sent.provider_id
        == message_id("booking-b1:on_the_way:1", "tot.example")
    )
    assert mail["List-Unsubscribe"] == "<https://tot.example/u/one-click?t=abc>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["Auto-Submitted"] == "auto-generated" and mail["Date"]
    assert mail.get_content_type() == "multipart/alternative"
    text, html = (part for part in mail.iter_parts())
    assert text.get_content_type() == "text/plain"
    assert text.get_content().strip() == "Врач приедет завтра в 10:00."
    assert html.get_content_type() == "text/html"
    assert "<b>завтра в 10:00</b>" in html.get_content()
    assert smtp.envelopes[0] == ("noreply@tot.example", ["patient@example.ru"])


async def test_smtp_retry_keeps_the_message_id_and_text_only_mail(smtp: SmtpSink) -> None:
    sender = smtp_sender(smtp)
    try:
        await sender.send(email_message(html=None, unsubscribe_url=None))
        await sender.send(email_message(html=None, unsubscribe_url=None))  # a retry
    finally:
        await sender.close()
    mail = smtp.messages[0]
    assert mail.get_content_type() == "text/plain" and "List-Unsubscribe" not in mail
    (count,) = smtp.count_by_message_id.values()
    assert count == 2  # the same Message-ID: a reader can tell it is one notification


async def test_smtp_replies_map_to_transient_and_permanent(smtp: SmtpSink) -> None:
    sender = smtp_sender(smtp)
    try:
        smtp.reject_rcpt["nobody@example.ru"] = "550 5.1.1 <nobody@example.ru>: no such user"
        error = await expect(
            sender, rendered(Channel.EMAIL, "nobody@example.ru", subject="S"), PermanentSendError
        )
        assert "550" in str(error)
        smtp.reject_rcpt["full@example.ru"] = "452 4.2.2 mailbox full"
        await expect(
            sender, rendered(Channel.EMAIL, "full@example.ru", subject="S"), TransientSendError
        )
        smtp.data_replies.append("451 4.3.0 try again later")
        error = await expect(sender, email_message(), TransientSendError)
        assert "451" in str(error)
        smtp.data_replies.append("554 5.7.1 message refused")
        await expect(sender, email_message(), PermanentSendError)
        smtp.data_delay_s = 3.0
        error = await expect(sender, email_message(), TransientSendError)
        assert "no answer" in str(error)
        smtp.data_delay_s = 0.0
        assert isinstance(await sender.send(email_message()), Sent)
        for bad in ("not-an-address", "a@b@c", ""):
            await expect(sender, rendered(Channel.EMAIL, bad, subject="S"), PermanentSendError)
        await expect(sender, email_message(subject=None), PermanentSendError)
        await expect(sender, email_message(subject="a\r\nBcc: x@y.z"), PermanentSendError)
        await expect(
            sender, email_message(unsubscribe_url="http://tot.example/u"), PermanentSendError
        )
    finally:
        await sender.close()


async def test_smtp_login_tls_and_connection_failures(smtp: SmtpSink, tmp_path: Path) -> None:
    wrong = smtp_sender(smtp, password="wrong-password")
    try:
        error = await expect(wrong, email_message(), PermanentSendError)
        assert "535" in str(error)
    finally:
        await wrong.close()
    other_ca = tmp_path / "other"
    other_ca.mkdir()
    from tests.smtp_sink import self_signed_certificate

    untrusted = smtp_sender(smtp, ca_file=str(self_signed_certificate(other_ca)[0]))
    try:  # a certificate we do not trust: nothing is sent in the clear
        error = await expect(untrusted, email_message(), TransientSendError)
        assert "connection failed" in str(error) or "cannot connect" in str(error)
    finally:
        await untrusted.close()
    nowhere = SmtpSender(
        "127.0.0.1", free_port(), from_address="noreply@tot.example", ca_file=str(smtp.cert_path),
        timeout_s=1.0,
    )  # fmt: skip
    try:
        await expect(nowhere, email_message(), TransientSendError)
    finally:
        await nowhere.close()
    assert not smtp.messages
    with pytest.raises(ValueError, match="STARTTLS"):
        SmtpSender("smtp.example.ru", from_address="a@b.c", starttls=False)


async def test_smtp_reconnects_when_the_server_dropped_a_kept_connection(
    tmp_path: Path,
) -> None:
    with running_smtp_sink(tmp_path, username="tot-mailer", password=SMTP_PASSWORD) as sink:
        sender = smtp_sender(sink)
        await sender.send(email_message())
        port = sink.port
    try:  # the server restarted: the kept connection is dead, a fresh one takes the mail
        with running_smtp_sink(
            tmp_path, username="tot-mailer", password=SMTP_PASSWORD, port=port
        ) as again:
            await sender.send(email_message(idempotency_key="k-after-restart"))
            assert len(again.messages) == 1 and sender.connects == 2
    finally:
        await sender.close()


# ============================================================================ SendGrid


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    with running_fake_sendgrid() as fake:
        yield fake


@pytest.fixture
async def sendgrid_sender(sendgrid: FakeSendGrid) -> AsyncIterator[SendGridSender]:
    sender = SendGridSender(
        sendgrid.api_key, from_address="noreply@tot.example", from_name="ТОТ",
        base_url=sendgrid.url, timeout_s=TIMEOUT_S,
    )  # fmt: skip
    yield sender
    await sender.close()


async def test_sendgrid_mail_arrives_as_sent(
    sendgrid: FakeSendGrid, sendgrid_sender: SendGridSender
) -> None:
    sent = await sendgrid_sender.send(email_message())
    (mail,) = sendgrid.received
    assert sent.provider_id == mail["_message_id"]
    assert mail["personalizations"] == [{"to": [{"email": "patient@example.ru"}]}]
    assert mail["from"] == {"email": "noreply@tot.example", "name": "ТОТ"}
    assert mail["subject"] == "Напоминание о визите врача"
    assert mail["content"] == [
        {"type": "text/plain", "value": "Врач приедет завтра в 10:00."},
        {"type": "text/html", "value": "<p>Врач приедет <b>завтра в 10:00</b>.</p>"},
    ]
    assert mail["headers"]["List-Unsubscribe"] == "<https://tot.example/u/one-click?t=abc>"
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["custom_args"] == {
        "notification_id": "n-1",
        "idempotency_key": "booking-b1:on_the_way:1",
    }


async def test_sendgrid_faults(sendgrid: FakeSendGrid, sendgrid_sender: SendGridSender) -> None:
    reset = int(time.time()) + 30
    sendgrid.faults.inject(
        "status", status=429,
        headers={"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
    )  # fmt: skip
    error = await expect(sendgrid_sender, email_message(), TransientSendError)
    assert 25 <= (error.retry_after_s or 0) <= 30
    sendgrid.faults.inject("status", status=503, retry_after="8")
    error = await expect(sendgrid_sender, email_message(), TransientSendError)
    assert error.retry_after_s == 8
    sendgrid.faults.inject("timeout", delay_s=SLOW_S)
    await expect(sendgrid_sender, email_message(), TransientSendError)
    sendgrid.faults.inject("status", status=413)
    await expect(sendgrid_sender, email_message(), PermanentSendError)
    error = await expect(sendgrid_sender, email_message(text=""), PermanentSendError)
    assert "400" in str(error) and "content" in str(error)
    wrong = SendGridSender(
        "SG.wrong-key-000000", from_address="a@tot.example", base_url=sendgrid.url
    )
    try:
        error = await expect(wrong, email_message(), PermanentSendError)
        assert "401" in str(error)
    finally:
        await wrong.close()
    await expect(sendgrid_sender, rendered(Channel.EMAIL, "nope", subject="S"), PermanentSendError)
    assert isinstance(await sendgrid_sender.send(email_message()), Sent)
    assert len(sendgrid.received) == 1


# ============================================================================ shared


def test_retry_after_forms() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = format_datetime(
        __import__("datetime").datetime.fromtimestamp(1_000_060, __import__("datetime").UTC),
        usegmt=True,
    )
    assert parse_retry_after(later, now_s=1_000_000) == 60
    assert parse_retry_after(later, now_s=2_000_000) == 0
    assert parse_retry_after("99999999") == 24 * 3_600


def test_every_adapter_is_a_channel_sender_for_its_channel() -> None:
    # (mypy checks each against the ChannelSender protocol where `expect` takes them)
    expected: dict[type[Any], tuple[Channel, str]] = {
        WebPushSender: (Channel.WEBPUSH, "webpush"),
        FcmSender: (Channel.FCM, "fcm"),
        TwilioSender: (Channel.SMS, "twilio"),
        SmsRuSender: (Channel.SMS, "smsru"),
        SmtpSender: (Channel.EMAIL, "smtp"),
        SendGridSender: (Channel.EMAIL, "sendgrid"),
    }
    for cls, (channel, name) in expected.items():
        assert (cls.channel, cls.name) == (channel, name)
        assert callable(cls.send) and callable(cls.close)


def _texts(error: BaseException) -> str:
    return "\n".join(
        [str(error), repr(error), "".join(traceback.format_exception(error)), repr(vars(error))]
    )


async def test_no_secret_in_logs_exceptions_or_reprs(
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    rsa_pems: tuple[str, str],
) -> None:
    """Every adapter, at DEBUG, sending and failing: no key, token or password anywhere."""
    caplog.set_level(logging.DEBUG)
    secrets_seen: list[str] = []
    texts: list[str] = []

    async def run(sender: Any, good: Rendered, faults: list[Any], bad: list[Rendered]) -> None:
        await sender.send(good)
        for inject in faults:
            inject()
            with pytest.raises(SendError) as caught:
                await sender.send(good)
            texts.append(_texts(caught.value))
        for message in bad:
            with pytest.raises(SendError) as caught:
                await sender.send(message)
            texts.append(_texts(caught.value))
        texts.append(repr(sender))
        await sender.close()

    vapid_private, vapid_public = generate_vapid_keys()
    secrets_seen.append(vapid_private)
    with running_fake_push(vapid_public) as push:
        wp = WebPushSender(
            vapid_private, "mailto:ops@tot.example", timeout_s=TIMEOUT_S,
            allowed_hosts=("127.0.0.1",), allow_http=True,
        )  # fmt: skip
        message, _ = _push_message(push)
        await run(
            wp, message,
            [lambda: push.faults.inject("status", status=500),
             lambda: push.faults.inject("timeout", delay_s=SLOW_S)],
            [rendered(Channel.WEBPUSH, "{}")],
        )  # fmt: skip

    with running_fake_fcm(rsa_pems[1], "tot-push@tot-test.iam.gserviceaccount.com") as fake:
        secrets_seen.extend(line for line in rsa_pems[0].splitlines() if "-----" not in line)
        device = fake.register()
        sender = FcmSender(
            fake.service_account(rsa_pems[0]), base_url=fake.url, timeout_s=TIMEOUT_S
        )

        def revoke_and_refuse_renewal() -> None:
            fake.expire_tokens()
            fake.token_faults.inject("status", status=400, code="invalid_grant")

        await run(
            sender, rendered(Channel.FCM, device),
            [lambda: fake.faults.inject("status", code="UNAVAILABLE"),
             lambda: fake.faults.inject("status", code="UNREGISTERED"),
             revoke_and_refuse_renewal],
            [rendered(Channel.FCM, "bad-token")],
        )  # fmt: skip
        secrets_seen.extend(fake._tokens)  # the access tokens it issued

    with running_fake_twilio() as twilio:
        secrets_seen.append(twilio.auth_token)
        secrets_seen.append(
            base64.b64encode(f"{twilio.account_sid}:{twilio.auth_token}".encode()).decode()
        )
        sender_t = TwilioSender(
            twilio.account_sid, twilio.auth_token, from_number="+15005550006",
            base_url=twilio.url, timeout_s=TIMEOUT_S,
        )  # fmt: skip
        twilio.block("+79990000009")
        await run(
            sender_t, rendered(Channel.SMS, PHONE),
            [lambda: twilio.faults.inject("status", status=429),
             lambda: twilio.faults.inject("timeout", delay_s=SLOW_S)],
            [rendered(Channel.SMS, "+79990000009")],
        )  # fmt: skip
        wrong_t = TwilioSender(
            twilio.account_sid, "secret-wrong-token-123", from_number="+15005550006",
            base_url=twilio.url,
        )  # fmt: skip
        secrets_seen.append("secret-wrong-token-123")
        with pytest.raises(PermanentSendError) as caught:
            await wrong_t.send(rendered(Channel.SMS, PHONE))
        texts.append(_texts(caught.value) + repr(wrong_t))
        await wrong_t.close()

    with running_fake_smsru() as smsru:
        secrets_seen.append(smsru.api_id)
        sender_s = SmsRuSender(smsru.api_id, base_url=smsru.url, timeout_s=TIMEOUT_S)
        await run(
            sender_s, rendered(Channel.SMS, PHONE),
            [lambda: smsru.code_faults.inject("status", code=220),
             lambda: smsru.faults.inject("status", status=500)],
            [],
        )  # fmt: skip

    with running_fake_sendgrid() as sendgrid:
        secrets_seen.append(sendgrid.api_key)
        sender_g = SendGridSender(
            sendgrid.api_key, from_address="noreply@tot.example", base_url=sendgrid.url,
            timeout_s=TIMEOUT_S,
        )  # fmt: skip
        await run(
            sender_g, email_message(),
            [lambda: sendgrid.faults.inject("status", status=429),
             lambda: sendgrid.faults.inject("status", status=400)],
            [email_message(subject=None)],
        )  # fmt: skip

    with running_smtp_sink(tmp_path, username="tot-mailer", password=SMTP_PASSWORD) as smtp:
        secrets_seen.append(SMTP_PASSWORD)
        secrets_seen.append(base64.b64encode(f"\0tot-mailer\0{SMTP_PASSWORD}".encode()).decode())
        sender_m = smtp_sender(smtp)

        def refuse() -> None:
            smtp.data_replies.append("451 4.3.0 later")

        await run(sender_m, email_message(), [refuse], [email_message(subject=None)])
        wrong_m = smtp_sender(smtp, password="another-Secret-pw")
        secrets_seen.append("another-Secret-pw")
        with pytest.raises(PermanentSendError) as caught:
            await wrong_m.send(email_message())
        texts.append(_texts(caught.value) + repr(wrong_m))
        await wrong_m.close()

    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert caplog.records, "the adapters and libraries did log at DEBUG"
    haystack = logged + "\n".join(texts)
    assert all(secrets_seen)
    leaked = [secret[:4] + "..." for secret in secrets_seen if secret in haystack]
    assert leaked == [], "secrets leaked (their first characters shown)"
    # nor a message's text in a log line (it may hold what the patient should not see logged)
    assert SMS_TEXT not in logged and "Врач приедет" not in logged
