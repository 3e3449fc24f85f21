"""YooKassa notifications read strictly, and the senders' allowlist."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.webhooks import (
    YOOKASSA_NOTIFICATION_NETWORKS,
    Notification,
    NotificationError,
    NotificationEvent,
    ip_allowed,
    parse_networks,
    parse_notification,
)

PID = "2419a771-000f-5000-9000-1edaf29243f2"
RID = "216749f7-0016-50be-b000-078d43a63ae4"


def body(event: str, **obj: Any) -> dict[str, Any]:
    return {"type": "notification", "event": event, "object": obj}


@pytest.mark.parametrize(
    ("event", "status"),
    [
        ("payment.waiting_for_capture", "waiting_for_capture"),
        ("payment.succeeded", "succeeded"),
        ("payment.canceled", "canceled"),
    ],
)
def test_payment_events(event: str, status: str) -> None:
    raw = json.dumps(body(event, id=PID, status=status, paid=True)).encode()
    assert parse_notification(raw) == Notification(NotificationEvent(event), PID)
    assert parse_notification(raw.decode()).object_id == PID
    assert parse_notification(body(event, id=PID)).event.value == event  # status is optional


def test_a_refund_names_its_payment() -> None:
    note = parse_notification(body("refund.succeeded", id=RID, payment_id=PID, status="succeeded"))
    assert note == Notification(NotificationEvent.REFUND_SUCCEEDED, RID, PID)
    with pytest.raises(NotificationError, match="payment_id"):
        parse_notification(body("refund.succeeded", id=RID, status="succeeded"))


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"event": "payment.succeeded", "object": {"id": PID}}), '"type"'),
        (json.dumps(body("payment.refunded", id=PID)), "unsupported event"),
        (json.dumps(body("deal.closed", id=PID)), "unsupported event"),
        (json.dumps({"type": "notification", "event": 5, "object": {"id": PID}}), "unsupported"),
        (json.dumps({"type": "notification", "event": "payment.succeeded"}), '"object"'),
        (json.dumps(body("payment.succeeded")), "valid id"),
        (json.dumps(body("payment.succeeded", id="../../etc")), "valid id"),
        (json.dumps(body("payment.succeeded", id=PID, status="canceled")), "does not match"),
        (b"\xff\xfe", "not JSON"),
        (b"{" + b" " * 70_000 + b"}", "too large"),
    ],
)
def test_anything_else_is_refused_clearly(raw: bytes | str, words: str) -> None:
    with pytest.raises(NotificationError, match=words):
        parse_notification(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["type", "event", "object", "id", "status", "x"]), children
        )
    ),
    max_leaves=20,
)


notification_like = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["notification", "event", ""]),
        "event": st.sampled_from([e.value for e in NotificationEvent] + ["payment.refunded"])
        | st.text(max_size=10),
        "object": st.dictionaries(
            st.sampled_from(["id", "status", "payment_id"]),
            st.sampled_from([PID, RID, "succeeded", "canceled", "../x", ""])
            | st.text(max_size=70)
            | st.integers(),
        )
        | json_values,
    }
)


@given(json_values | notification_like)
def test_any_json_is_a_notification_or_a_clear_error(value: Any) -> None:
    try:
        note = parse_notification(json.dumps(value))
    except NotificationError:
        return
    assert isinstance(note, Notification)
    assert value["type"] == "notification" and value["object"]["id"] == note.object_id


@pytest.mark.parametrize(
    ("ip", "allowed"),
    [
        ("185.71.76.0", True),
        ("185.71.76.31", True),
        ("185.71.76.32", False),
        ("185.71.77.17", True),
        ("185.71.78.1", False),
        ("77.75.153.0", True),
        ("77.75.153.127", True),
        ("77.75.153.128", False),
        ("77.75.156.11", True),
        ("77.75.156.35", True),
        ("77.75.156.12", False),
        ("77.75.154.128", True),
        ("77.75.154.255", True),
        ("77.75.154.127", False),
        ("2a02:5180::1", True),
        ("2a02:5180:ffff:ffff::", True),
        ("2a02:5181::1", False),
        ("::ffff:185.71.76.5", True),  # IPv4 mapped into IPv6 (a dual-stack socket)
        ("::ffff:10.0.0.1", False),
        ("127.0.0.1", False),
        ("", False),
        ("not an ip", False),
        ("185.71.76.5/32", False),
        ("185.71.76.5 ", True),
    ],
)
def test_only_yookassas_published_senders(ip: str, allowed: bool) -> None:
    assert ip_allowed(ip) is allowed


def test_the_allowlist_is_a_setting() -> None:
    assert ip_allowed("127.0.0.1", ["127.0.0.1", "::1"])
    assert ip_allowed("::1", ["127.0.0.1", "::1"])
    assert not ip_allowed("185.71.76.1", ["127.0.0.1"])
    assert not ip_allowed("127.0.0.1", [])
    with pytest.raises(ValueError, match=re.escape("185.71.76.1/27")):
        ip_allowed("127.0.0.1", ["127.0.0.1", "185.71.76.1/27"])  # host bits set: a typo
    with pytest.raises(ValueError, match="nonsense"):
        parse_networks(["nonsense"])
    assert len(parse_networks(YOOKASSA_NOTIFICATION_NETWORKS)) == 7


@given(st.integers(0, 2**32 - 1))
def test_ipv4_agrees_with_plain_ranges(number: int) -> None:
    ranges = [
        (ipaddress.ip_network(n).network_address, ipaddress.ip_network(n).broadcast_address)
        for n in YOOKASSA_NOTIFICATION_NETWORKS
        if ":" not in n
    ]
    address = ipaddress.IPv4Address(number)
    expected = any(int(low) <= number <= int(high) for low, high in ranges)
    assert ip_allowed(str(address)) is expected
