"""The WebSocket protocol's client messages: parsed with orjson, checked field by field.
A bad message is a ProtocolError (the client gets an error message; the socket lives)."""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

from services.times import parse_rfc3339

MAX_FRAME_BYTES = 16 * 1024


class ProtocolError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.ref: str | int | None = None  # the refused message's own ref, when it had a good one


def _number(
    m: dict[str, Any], name: str, lo: float, hi: float, *, required: bool = True
) -> float | None:
    value = m.get(name)
    if value is None:
        if required:
            raise ProtocolError("invalid_message", f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProtocolError("invalid_message", f"{name} must be a finite number")
    if not lo <= value <= hi:
        raise ProtocolError("invalid_message", f"{name} must be within [{lo}, {hi}]")
    return float(value)


def _instant(m: dict[str, Any], name: str) -> float | None:
    """An optional RFC 3339 date-time, as epoch seconds."""
    value = m.get(name)
    if value is None:
        return None
    try:
        return parse_rfc3339(value)
    except ValueError as exc:
        raise ProtocolError("invalid_message", f"{name}: {exc}") from None


def _text(m: dict[str, Any], name: str, max_len: int, *, required: bool = True) -> str | None:
    value = m.get(name)
    if value is None:
        if required:
            raise ProtocolError("invalid_message", f"{name} is required")
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise ProtocolError(
            "invalid_message", f"{name} must be text of at most {max_len} characters"
        )
    return value


def _accuracy(m: dict[str, Any]) -> float:
    """A fix's accuracy in metres; 10 when the client does not say."""
    value = _number(m, "accuracy_m", 0, 10_000, required=False)
    return 10.0 if value is None else value


# Per channel: the message types a client may send, and how each is checked.
def _position(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "position",
        "lat": _number(m, "lat", -90, 90),
        "lon": _number(m, "lon", -180, 180),
        "accuracy_m": _accuracy(m),
        "recorded_at": _instant(m, "recorded_at"),
    }


def _shift(m: dict[str, Any]) -> dict[str, Any]:
    action = m.get("action")
    if action not in ("start", "end"):
        raise ProtocolError("invalid_message", "action must be 'start' or 'end'")
    out: dict[str, Any] = {"type": "shift", "action": action}
    if action == "start":
        out.update(lat=_number(m, "lat", -90, 90), lon=_number(m, "lon", -180, 180))
        out["accuracy_m"] = _accuracy(m)
    return out


def _offer(kind: str) -> Any:
    def check(m: dict[str, Any]) -> dict[str, Any]:
        out = {"type": kind, "offer_id": _text(m, "offer_id", 300)}
        if kind == "decline":
            reason = _text(m, "reason", 1_000)
            if not (reason or "").strip() or "\x00" in (reason or ""):
                raise ProtocolError("invalid_message", "a decline needs a reason, which is kept")
            out["reason"] = reason
        return out

    return check


def _progress(m: dict[str, Any]) -> dict[str, Any]:
    status = m.get("status")
    if status not in ("en_route", "arrived", "in_progress", "completed"):
        raise ProtocolError(
            "invalid_message", "status must be en_route, arrived, in_progress or completed"
        )
    return {
        "type": "progress",
        "booking_id": _text(m, "booking_id", 128),
        "status": status,
        "extras": _extras(m),
    }


_EXTRA_CODE = re.compile(r"[a-z0-9_-]{1,40}")


def _extras(m: dict[str, Any]) -> list[tuple[str, str]]:
    """With completed: [{"code": ..., "reason": ...}, ...] from the clinic's price list."""
    raw = m.get("extras", [])
    if not isinstance(raw, list) or len(raw) > 20:
        raise ProtocolError("invalid_message", "extras must be a list of at most 20")
    extras = []
    for item in raw:
        if not isinstance(item, dict) or set(item) != {"code", "reason"}:
            raise ProtocolError("invalid_message", "each extra is {code, reason}")
        code = _text(item, "code", 40)
        reason = _text(item, "reason", 500)
        if not code or not _EXTRA_CODE.fullmatch(code) or not reason or not reason.strip():
            raise ProtocolError(
                "invalid_message", "each extra needs a code ([a-z0-9_-]{1,40}) and a reason"
            )
        extras.append((code, reason.strip()))
    return extras


def _availability(m: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(m.get("available"), bool):
        raise ProtocolError("invalid_message", "available must be true or false")
    return {"type": "availability", "available": m["available"]}


def _viewport(m: dict[str, Any]) -> dict[str, Any]:
    out = {
        "type": "viewport",
        "south": _number(m, "south", -90, 90),
        "west": _number(m, "west", -180, 180),
        "north": _number(m, "north", -90, 90),
        "east": _number(m, "east", -180, 180),
    }
    if out["south"] > out["north"] or out["west"] > out["east"]:  # type: ignore[operator]
        raise ProtocolError("invalid_message", "a viewport needs south <= north and west <= east")
    return out


def _override(kind: str) -> Any:
    def check(m: dict[str, Any]) -> dict[str, Any]:
        reason = _text(m, "reason", 1_000)
        if not (reason or "").strip() or "\x00" in (reason or ""):
            raise ProtocolError("invalid_message", "overrides need a reason, which is kept")
        out: dict[str, Any] = {
            "type": kind,
            "booking_id": _text(m, "booking_id", 128),
            "reason": reason,
        }
        if kind == "assign":
            out["doctor_id"] = _text(m, "doctor_id", 128)
            release = m.get("release_current", False)
            if not isinstance(release, bool):
                raise ProtocolError("invalid_message", "release_current must be true or false")
            out["release_current"] = release
        if kind == "priority":
            if m.get("priority") not in ("normal", "urgent", "emergency"):
                raise ProtocolError(
                    "invalid_message", "priority must be normal, urgent or emergency"
                )
            out["priority"] = m["priority"]
        return out

    return check


def _ping(m: dict[str, Any]) -> dict[str, Any]:
    return {"type": "ping"}


CHANNELS: dict[str, dict[str, Any]] = {
    "doctor": {
        "position": _position, "shift": _shift, "availability": _availability,
        "accept": _offer("accept"), "decline": _offer("decline"), "progress": _progress, "ping": _ping,
    },
    "patient": {"ping": _ping},
    "operator": {
        "viewport": _viewport, "assign": _override("assign"), "return_to_search": _override("return_to_search"),
        "cancel": _override("cancel"), "priority": _override("priority"), "ping": _ping,
    },
}  # fmt: skip


def parse(channel: str, raw: str | bytes) -> dict[str, Any]:
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ProtocolError("invalid_json", "messages are JSON objects") from None
    if not isinstance(message, dict):
        raise ProtocolError("invalid_json", "messages are JSON objects")
    kind = message.get("type")
    checks = CHANNELS[channel]
    if not isinstance(kind, str) or kind not in checks:
        raise ProtocolError("unknown_type", f"this channel takes: {', '.join(sorted(checks))}")
    ref = message.get("ref")
    good_ref = not isinstance(ref, bool) and (
        (isinstance(ref, str) and len(ref) <= 64)
        or (isinstance(ref, int) and -(2**63) <= ref < 2**63)
    )
    try:
        parsed: dict[str, Any] = checks[kind](message)
        if "ref" in message and not good_ref:
            raise ProtocolError(
                "invalid_message", "ref must be text of at most 64 characters or an integer"
            )
    except ProtocolError as exc:
        if good_ref:
            exc.ref = ref  # the error answers that message
        raise
    if "ref" in message:
        parsed["ref"] = ref
    return parsed
