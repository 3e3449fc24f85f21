"""YooKassa's HTTP notifications, read strictly, and the sender allowlist.

A notification is only a hint: whoever receives one fetches the object from the API and
acts on what the API says. So all we take from the body is the event and the object's id
(and, for a refund, its payment's id); anything else about the body is refused with a
clear NotificationError. No I/O here: the edge passes the raw body and the peer's address.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from payments.model import PaymentError

MAX_NOTIFICATION_BYTES = 64 * 1024

# YooKassa's published senders of HTTP notifications (yookassa.ru/developers/using-api/webhooks,
# "IP addresses"); a setting, this is its default.
YOOKASSA_NOTIFICATION_NETWORKS: tuple[str, ...] = (
    "185.71.76.0/27",
    "185.71.77.0/27",
    "77.75.153.0/25",
    "77.75.156.11",
    "77.75.156.35",
    "77.75.154.128/25",
    "2a02:5180::/32",
)

_OBJECT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class NotificationError(PaymentError):
    """A body that is not a YooKassa notification we handle (the edge answers 400)."""


class NotificationEvent(StrEnum):
    PAYMENT_WAITING_FOR_CAPTURE = "payment.waiting_for_capture"
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_CANCELED = "payment.canceled"
    REFUND_SUCCEEDED = "refund.succeeded"

    @property
    def is_refund(self) -> bool:
        return self is NotificationEvent.REFUND_SUCCEEDED

    @property
    def status(self) -> str:
        """The status the object has according to the event."""
        return self.value.split(".", 1)[1]


@dataclass(frozen=True, slots=True)
class Notification:
    event: NotificationEvent
    object_id: str  # the provider's payment id, or refund id for refund.succeeded
    payment_id: str | None = None  # refund.succeeded: the refund's payment (provider id)


def parse_notification(body: bytes | str | Mapping[str, object]) -> Notification:
    """{"type": "notification", "event": ..., "object": {"id": ..., ...}} -> Notification.

    Strict: the type must be "notification", the event one of the four we subscribe to,
    the object an object with a well-formed id, its status (when present) the one the
    event names, and a refund's payment_id well-formed."""
    data: object
    if isinstance(body, bytes | str):
        if len(body) > MAX_NOTIFICATION_BYTES:
            raise NotificationError("the notification is too large")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise NotificationError("the notification is not JSON") from None
    else:
        data = body
    if not isinstance(data, Mapping):
        raise NotificationError("the notification must be a JSON object")
    if data.get("type") != "notification":
        raise NotificationError('the notification\'s "type" must be "notification"')
    event_name = data.get("event")
    try:
        event = NotificationEvent(str(event_name))
    except ValueError:
        shown = event_name[:60] if isinstance(event_name, str) else type(event_name).__name__
        raise NotificationError(
            f"unsupported event {shown!r}: expected one of "
            + ", ".join(e.value for e in NotificationEvent)
        ) from None
    obj = data.get("object")
    if not isinstance(obj, Mapping):
        raise NotificationError('the notification\'s "object" must be an object')
    object_id = obj.get("id")
    if not isinstance(object_id, str) or not _OBJECT_ID.match(object_id):
        raise NotificationError("the notification's object has no valid id")
    status = obj.get("status")
    if status is not None and status != event.status:
        raise NotificationError(
            f"the event {event.value} does not match the object's status {str(status)[:30]!r}"
        )
    payment_id: str | None = None
    if event.is_refund:
        raw = obj.get("payment_id")
        if not isinstance(raw, str) or not _OBJECT_ID.match(raw):
            raise NotificationError("a refund notification needs the refund's payment_id")
        payment_id = raw
    return Notification(event=event, object_id=object_id, payment_id=payment_id)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def _parsed(networks: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(n.strip(), strict=True) for n in networks)


def parse_networks(networks: Sequence[str]) -> tuple[Network, ...]:
    """The allowlist, checked (a setting: ValueError names the first bad entry)."""
    try:
        return _parsed(tuple(networks))
    except (ValueError, AttributeError, TypeError):
        pass
    for entry in networks:
        try:
            ipaddress.ip_network(entry.strip(), strict=True)
        except (ValueError, AttributeError, TypeError):
            raise ValueError(f"not an IP address or network: {str(entry)[:60]!r}") from None
    raise ValueError("not a list of IP addresses or networks")


def ip_allowed(ip: str, networks: Sequence[str] = YOOKASSA_NOTIFICATION_NETWORKS) -> bool:
    """Whether a notification from `ip` comes from one of `networks`. A malformed address
    is not allowed; a malformed network is a ValueError (a bad setting must be loud).
    An IPv4 address mapped into IPv6 (::ffff:185.71.76.1) counts as the IPv4 one."""
    parsed = parse_networks(networks)
    try:
        address = ipaddress.ip_address(ip.strip() if isinstance(ip, str) else "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in parsed)
