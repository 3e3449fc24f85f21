"""The WebSocket protocol as an AsyncAPI 3.0.0 document (a plain dict, JSON-ready).

It describes the gateway (realtime_gateway/): `receive` operations are what clients send
it, `send` operations what it sends them. Each message of each channel has its own
payload schema (JSON Schema keywords common to draft 7 and 2020-12 only), with units in
the field names (`_m` metres, `_s` seconds, `_at` RFC 3339 instants) and descriptions.

The enums come from the code they describe (booking statuses, priorities, outcomes,
doctor statuses); the gateway's figures (frame cap, rates, close codes) are repeated here,
as services/ may not import the gateway, and tests/test_asyncapi_contract.py holds them
equal. That test also records every message the gateway sends and accepts in the test
suite and validates it against this document (tests/asyncapi_contract.py)."""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from accounts import Role
from dispatch_core import BookingStatus, Priority
from dispatch_core.model import Actor, OfferOutcome
from matching import DoctorStatus
from services.doctors import AVAILABLE, ON_BREAK
from services.realtime import OPS, RealtimePolicy
from storage.topic_log import REPLAY_WINDOW

Schema = dict[str, Any]

ASYNCAPI_VERSION = "3.0.0"
DOCUMENT_VERSION = "1.0.0"  # the protocol's version: bump it with any change on the wire
WS_BINDING_VERSION = "0.1.0"

# The gateway's figures (realtime_gateway/), held equal to the code by the contract test.
MAX_FRAME_BYTES = 16 * 1024
MESSAGES_PER_S = 20.0
BURST = 40.0
FLOOD_DROPS_BEFORE_CLOSE = 200
MAX_PENDING_EVENTS = 512
DOCTOR_SILENCE_S = 90.0
OPERATOR_FEED_EVERY_S = 0.8
CLOSE_CODES: dict[int, str] = {
    1009: "a frame over 16 KiB (message too big)",
    4008: "the client did not read: more than 512 events waited for it; reconnect with "
    "`last_seq` and `epoch`",
    4029: "flooding: the client kept sending past the rate limit",
    4401: "the account was blocked or its role changed: log in again",
    4408: "a doctor silent for 90 s (no message of any kind): they are offline",
}
# Refusals before accept, as HTTP with an RFC 9457-style problem document.
HANDSHAKE_REFUSALS: dict[int, str] = {
    400: "`last_seq` is not a whole number, or `epoch` not the hex `hello` gave",
    401: "no token, or a bad or expired one",
    403: "a wrong role for the channel, or a browser `Origin` not allowed",
    404: "an unknown path, or a booking that does not exist or is not the caller's",
    421: "the operator channel asked of an extra gateway process (operators connect to "
    "the engine's own gateway)",
}
SEQ_PATTERN = r"^[0-9]{1,18}$"  # ?last_seq=
EPOCH_PATTERN = r"^[0-9a-f]{1,32}$"  # ?epoch=

# Instants the server writes: RFC 3339, UTC, always with milliseconds.
INSTANT_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$"
# Instants a client may write: RFC 3339 with a zone (Z or an offset), any fraction, in
# the years 1900 to 9998.
INPUT_INSTANT_PATTERN = (
    r"^(19[0-9]{2}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-[0-9]{2}-[0-9]{2}"
    r"[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)

BOOKING_STATUSES = [s.value for s in BookingStatus]
PRIORITIES = [p.value for p in Priority]
DOCTOR_STATUSES = [s.name.lower() for s in DoctorStatus]
PROGRESS_STATUSES = ["en_route", "arrived", "in_progress", "completed"]
ALERT_KINDS = [
    "no_doctor_found", "emergency", "escalation", "doctor_offline", "preempted", "stale_en_route",
]  # fmt: skip
OVERRIDES = ["assign", "return_to_search", "cancel", "priority"]
# `error.code`: what went wrong, by who noticed it.
ERROR_CODES: dict[str, str] = {
    "invalid_json": "the frame is not a JSON object",
    "unknown_type": "`type` is not one this channel takes (the detail lists them)",
    "invalid_message": "a field is missing, of the wrong type or out of range (the detail names it)",
    "rate_limited": "messages were dropped: more than the rate allows (sent once per 20 drops)",
    "not_found": "no such booking or offer, or not yours",
    "forbidden": "not allowed in this account's state (e.g. an unverified doctor)",
    "conflict": "conflicts with the current state (e.g. the offer has ended), or the change "
    "could not be stored",
    "invalid": "cannot be done as asked (e.g. a progress step out of order)",
    "position_refused": "the position fix was refused (the detail says why)",
    "unauthorized": "the token no longer holds",
    "unavailable": "storage or the engine cannot be reached just now: send it again shortly",
    "internal": "an unexpected error; it has been logged",
    "error": "another error",
}

# What Python's str.strip() removes, spelled out (\s differs between regex engines).
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"

_BOOKING_ID = "3f2b8c1d9e4a4b7f8a6c5d4e3f2a1b0c"
_DOCTOR_ID = "9c1e2d3f4a5b4c6d8e7f6a5b4c3d2e1f"
_OPERATOR_ID = "5a6b7c8d9e0f4a1b8c2d3e4f5a6b7c8d"
_EPOCH = "4be1c0a7d2f9"
_AT = "2026-12-01T09:30:00.250Z"


# -- field schemas --------------------------------------------------------------------------


def _nullable(schema: Schema, why: str = "") -> Schema:
    out = copy.deepcopy(schema)
    kind = out.get("type")
    if isinstance(kind, list):
        out["type"] = [*kind, "null"]
    elif kind is not None:
        out["type"] = [kind, "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    if why:
        out["description"] = f"{out.get('description', '')}; null {why}".lstrip("; ")
    return out


def _const(value: str) -> Schema:
    return {"type": "string", "const": value, "description": "the message's kind"}


def _instant(description: str) -> Schema:
    return {
        "type": "string",
        "format": "date-time",
        "pattern": INSTANT_PATTERN,
        "description": f"{description} (RFC 3339, UTC, milliseconds)",
        "examples": [_AT],
    }


def _input_instant(description: str) -> Schema:
    return {
        "type": "string",
        "format": "date-time",
        "pattern": INPUT_INSTANT_PATTERN,
        "minLength": 20,
        "maxLength": 40,
        "description": f"{description} (RFC 3339 with a zone, Z or an offset; the years "
        "1900 to 9998)",
        "examples": [_AT, "2026-12-01T12:30:00+03:00"],
    }


def _lat(description: str = "latitude", lo: float = -90, hi: float = 90) -> Schema:
    return {
        "type": "number",
        "minimum": lo,
        "maximum": hi,
        "description": f"{description}, degrees (WGS 84)",
    }


def _lon(description: str = "longitude") -> Schema:
    return _lat(description, -180, 180)


def _metres(description: str, maximum: float | None = None) -> Schema:
    out: Schema = {"type": "number", "minimum": 0, "description": f"{description}, metres"}
    if maximum is not None:
        out["maximum"] = maximum
    return out


def _seconds(description: str) -> Schema:
    return {"type": "number", "minimum": 0, "description": f"{description}, seconds"}


def _text(description: str, max_length: int | None = None, min_length: int = 0) -> Schema:
    out: Schema = {"type": "string", "description": description}
    if max_length is not None:
        out["maxLength"] = max_length
    if min_length:
        out["minLength"] = min_length
    return out


def _id(what: str, max_length: int | None = None) -> Schema:
    return _text(f"the {what}'s id", max_length, 1)


def _input_id(what: str, max_length: int) -> Schema:
    # The gateway takes any text this long; an unknown id gets `error` not_found.
    return _text(f"the {what}'s id", max_length)


def _enum(values: list[str], description: str) -> Schema:
    return {"type": "string", "enum": list(values), "description": description}


_OFFER_ID: Schema = {
    "type": "string",
    "pattern": r"^[^.]+\.[0-9]+\.[0-9]+$",
    "description": "the offer's id, `<booking_id>.<n>.<k>`: the booking, its round of offers "
    "(n) and the doctor's place in that round (k); safe in a URL path",
    "examples": [f"{_BOOKING_ID}.3.0"],
}
_STATUS = _enum(BOOKING_STATUSES, "the booking's status")
_REF_IN: Schema = {
    "type": ["string", "integer"],
    "maxLength": 64,
    "description": "optional: a string of at most 64 characters or a 64-bit integer; the "
    "reply (or error) to this message carries it back as `ref`; anything else is refused "
    "with `error` invalid_message",
}
_REF_OUT: Schema = {
    "type": ["string", "integer"],
    "maxLength": 64,
    "description": "the `ref` of the message this answers, as it was sent; left out when "
    "that message had none",
}


def _seq(minimum: int, description: str) -> Schema:
    return {"type": "integer", "minimum": minimum, "description": description}


def _epoch(description: str, *, may_be_empty: bool = False) -> Schema:
    return {
        "type": "string",
        "pattern": r"^[0-9a-f]{0,32}$" if may_be_empty else EPOCH_PATTERN,
        "description": description,
        "examples": [_EPOCH],
    }


_TOPIC: Schema = {
    "type": "string",
    "pattern": rf"^(booking:.+|doctor:.+|{OPS})$",
    "description": "the topic: `booking:<id>` (patient), `doctor:<id>` (doctor) or `ops` "
    "(operators)",
}
_EVENT_FIELDS: dict[str, Schema] = {
    "seq": _seq(1, "this event's number in its topic, counting up by one within an epoch"),
    "epoch": _epoch("the engine start whose numbers `seq` counts in"),
    "topic": _TOPIC,
}
# Present on a reply or a snapshot that a gateway process without the engine relays from
# the doctor's topic: there it is a topic event.
_RELAYED_FIELDS: dict[str, Schema] = {
    name: {
        **schema,
        "description": f"{schema['description']} (only when relayed through the doctor's "
        "topic by a gateway process without the engine)",
    }
    for name, schema in _EVENT_FIELDS.items()
}


def _object(
    title: str,
    description: str,
    required: dict[str, Schema],
    optional: dict[str, Schema] | None = None,
    *,
    exact: bool = True,
    example: dict[str, Any] | None = None,
) -> Schema:
    """An object schema; `exact`: no other properties (what the server writes is exact;
    what clients write may carry more, which the gateway ignores)."""
    properties = {**required, **(optional or {})}
    out: Schema = {
        "type": "object",
        "title": title,
        "description": description,
        "properties": properties,
        "required": list(required),
        "additionalProperties": not exact,
    }
    if example is not None:
        out["examples"] = [example]
    return out


# -- what clients send ------------------------------------------------------------------------


def _client(
    title: str,
    kind: str,
    description: str,
    required: dict[str, Schema],
    optional: dict[str, Schema] | None = None,
    example: dict[str, Any] | None = None,
) -> Schema:
    return _object(
        title,
        f"{description} Other fields are ignored.",
        {"type": _const(kind), **required},
        {**(optional or {}), "ref": _REF_IN},
        exact=False,
        example={"type": kind, **(example or {})},
    )


def _client_schemas() -> dict[str, Schema]:
    accuracy = {
        "accuracy_m": _nullable(
            _metres("the fix's accuracy (1 sigma); missing or null count as 10", 10_000),
        )
    }
    reason = _text(
        "why, kept in the booking's history; not blank (a NUL character gets `error` invalid)",
        1_000,
        1,
    )
    reason["pattern"] = f"[^{_SPACE}]"
    schemas = {
        "DoctorPosition": _client(
            "position",
            "position",
            "A GPS fix of the doctor's device. While the doctor is bound to a booking, its "
            "patient sees it (see the patient channel's `position`). No reply.",
            {"lat": _lat(), "lon": _lon()},
            {
                **accuracy,
                "recorded_at": _nullable(
                    _input_instant("when the fix was taken"), "or missing: now"
                ),
            },
            {"lat": 60.171, "lon": 24.941, "accuracy_m": 5, "recorded_at": _AT, "ref": 12},
        ),
        "DoctorShift": _client(
            "shift",
            "shift",
            "Start the shift at a position, or end it. Reply: `shift`.",
            {"action": _enum(["start", "end"], "start or end the shift")},
            {
                "lat": _lat("where the shift starts: latitude (required with start)"),
                "lon": _lon("where the shift starts: longitude (required with start)"),
                **accuracy,
            },
            {"action": "start", "lat": 60.171, "lon": 24.941},
        ),
        "DoctorAvailability": _client(
            "availability",
            "availability",
            "Take a break (false) or come back (true) during the shift. Reply: `availability`.",
            {"available": {"type": "boolean", "description": "true: available for offers"}},
            None,
            {"available": False},
        ),
        "DoctorAccept": _client(
            "accept",
            "accept",
            "Accept an offer. Reply: `accepted`; the booking's `status` (assigned) and "
            "`doctor_assigned` follow as events.",
            {"offer_id": {**_input_id("offer", 300), "description": _OFFER_ID["description"]}},
            None,
            {"offer_id": f"{_BOOKING_ID}.3.0", "ref": "a1"},
        ),
        "DoctorDecline": _client(
            "decline",
            "decline",
            "Decline an offer. Reply: `declined`; the offer goes to the next doctor.",
            {
                "offer_id": {**_input_id("offer", 300), "description": _OFFER_ID["description"]},
                "reason": {**reason, "description": "why, kept with the offer; not blank"},
            },
            None,
            {"offer_id": f"{_BOOKING_ID}.3.0", "reason": "stuck in traffic"},
        ),
        "DoctorProgress": _client(
            "progress",
            "progress",
            "Move one's visit on: en_route, arrived, in_progress, completed (in order). "
            "Reply: `progressed`; the booking's `status` follows as an event.",
            {
                "booking_id": _input_id("booking", 128),
                "status": _enum(PROGRESS_STATUSES, "the visit's next status"),
            },
            {
                "extras": {
                    "type": "array",
                    "maxItems": 20,
                    "description": "with completed: extras from the clinic's price list, each "
                    "with a reason, up to the cap the patient accepted",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["code", "reason"],
                        "properties": {
                            "code": {"type": "string", "pattern": "^[a-z0-9_-]{1,40}$"},
                            "reason": {"type": "string", "minLength": 1, "maxLength": 500},
                        },
                    },
                }
            },
            {
                "booking_id": _BOOKING_ID,
                "status": "completed",
                "extras": [{"code": "ecg", "reason": "chest pain on exertion"}],
            },
        ),
        "Ping": _client(
            "ping",
            "ping",
            "Are you there? Reply: `pong`. Any message counts as a doctor's sign of life.",
            {},
            None,
            {"ref": 1},
        ),
        "Viewport": _client(
            "viewport",
            "viewport",
            "The map box the operator looks at (south <= north, west <= east). The gateway "
            f"answers with a `feed` at once and every {OPERATOR_FEED_EVERY_S:g} s after.",
            {
                "south": _lat("the box's south edge"),
                "west": _lon("the box's west edge"),
                "north": _lat("the box's north edge"),
                "east": _lon("the box's east edge"),
            },
            None,
            {"south": 60.15, "west": 24.9, "north": 60.19, "east": 24.98},
        ),
    }
    for key, kind, summary in [
        ("Assign", "assign", "Assign a doctor to a booking (also reassign)."),
        ("ReturnToSearch", "return_to_search", "Put a booking back to searching."),
        ("Cancel", "cancel", "Cancel a booking."),
        ("ChangePriority", "priority", "Change a booking's priority."),
    ]:
        required: dict[str, Schema] = {"booking_id": _input_id("booking", 128), "reason": reason}
        optional: dict[str, Schema] = {}
        example: dict[str, Any] = {"booking_id": _BOOKING_ID, "reason": "closest by phone"}
        if kind == "assign":
            required["doctor_id"] = _input_id("doctor", 128)
            optional["release_current"] = {
                "type": "boolean",
                "default": False,
                "description": "free the doctor from their current booking first",
            }
            example.update(doctor_id=_DOCTOR_ID, release_current=False, ref=7)
        if kind == "priority":
            required["priority"] = _enum(PRIORITIES, "the new priority")
            example["priority"] = "urgent"
        schemas[key] = _client(
            kind,
            kind,
            f"{summary} Operators and admins; the reason is kept in the booking's history. "
            "Reply: `done`, or `error` (not_found, conflict, invalid, invalid_message).",
            required,
            optional,
            example,
        )
    shift = schemas["DoctorShift"]
    shift["if"] = {"properties": {"action": {"const": "start"}}, "required": ["action"]}
    shift["then"] = {"required": ["lat", "lon"]}
    return schemas


# -- what the gateway sends ---------------------------------------------------------------------


def _server(
    title: str,
    kind: str,
    description: str,
    required: dict[str, Schema],
    optional: dict[str, Schema] | None = None,
    example: dict[str, Any] | None = None,
) -> Schema:
    return _object(
        title,
        description,
        {"type": _const(kind), **required},
        optional,
        example={"type": kind, **(example or {})},
    )


def _event(
    title: str,
    kind: str,
    description: str,
    required: dict[str, Schema],
    example: dict[str, Any],
    topic: str,
) -> Schema:
    return _server(
        title,
        kind,
        f"{description} A topic event: numbered (`seq`), replayed on resume.",
        {**required, **_EVENT_FIELDS},
        None,
        {**example, "seq": 5, "epoch": _EPOCH, "topic": topic},
    )


def _offer_fields() -> dict[str, Schema]:
    return {
        "offer_id": _OFFER_ID,
        "booking_id": _id("booking"),
        "expires_at": _instant("when the offer ends unless accepted"),
        "ttl_s": _seconds("time left to accept when the offer was written"),
        "eta_s": _nullable(
            _seconds("the doctor's road travel time to the patient as ranked"), "when unknown"
        ),
        "call_type": _text("the kind of call (e.g. home_visit, consultation, urgent)", 64, 1),
        "priority": _enum(PRIORITIES, "the booking's priority"),
        "is_emergency": {"type": "boolean", "description": "an emergency call"},
        "address": _text("the patient's address as given"),
        "lat": _lat("the patient's latitude"),
        "lon": _lon("the patient's longitude"),
        "symptoms": _text("the symptoms as the patient described them"),
        "patient_is_child": {"type": "boolean", "description": "the patient is a child"},
        "language": _nullable(
            _text("a language the patient needs the doctor to speak (ISO 639-1)", 16, 1),
            "when the patient asked for none",
        ),
        "chosen": {
            "type": "boolean",
            "description": "the patient chose this doctor by name (the visit came to them first)",
        },
    }


_OFFER_EXAMPLE: dict[str, Any] = {
    "offer_id": f"{_BOOKING_ID}.3.0",
    "booking_id": _BOOKING_ID,
    "expires_at": _AT,
    "ttl_s": 29.875,
    "eta_s": 214.6,
    "call_type": "home_visit",
    "priority": "normal",
    "is_emergency": False,
    "address": "Mannerheimintie 1",
    "lat": 60.1699,
    "lon": 24.9384,
    "symptoms": "fever since yesterday",
    "patient_is_child": False,
    "language": None,
    "chosen": False,
}


def _hello(channel: str, topic: str, example_topic: str) -> Schema:
    return _server(
        "hello",
        "hello",
        "The first message on every connect: where the topic stands. Keep `epoch` and the "
        "highest `seq` seen, to resume with `?last_seq=<seq>&epoch=<epoch>`.",
        {
            "channel": {"type": "string", "const": channel, "description": "this channel"},
            "topic": {"type": "string", "pattern": topic, "description": "this socket's topic"},
            "epoch": _epoch(
                "the engine start this topic's numbers belong to (empty when a gateway "
                "process without the engine cannot read it)",
                may_be_empty=True,
            ),
            "seq": _seq(0, "the topic's last event number now (0: none yet)"),
        },
        None,
        {"channel": channel, "topic": example_topic, "epoch": _EPOCH, "seq": 4},
    )


def _server_schemas() -> dict[str, Schema]:
    position_policy = RealtimePolicy()
    reveal_m = position_policy.reveal_within_m
    arriving_m = position_policy.arriving_within_m
    booking_topic = f"booking:{_BOOKING_ID}"
    doctor_topic = f"doctor:{_DOCTOR_ID}"
    snapshot_epoch = _epoch(
        "the epoch of `hello` (the topic's numbering); empty when unknown", may_be_empty=True
    )
    snapshot_seq = _seq(0, "the topic's last event number this state includes")
    schemas: dict[str, Schema] = {
        "DoctorHello": _hello("doctor", r"^doctor:.+$", doctor_topic),
        "PatientHello": _hello("patient", r"^booking:.+$", booking_topic),
        "OperatorHello": _hello("operator", rf"^{OPS}$", OPS),
        "Resync": _server(
            "resync",
            "resync",
            "The events missed cannot be replayed (the client is more than "
            f"{REPLAY_WINDOW} events behind, ahead of the counter, or the engine restarted): "
            "take this `epoch` and `seq`; the state follows as a `snapshot` (doctor and "
            "patient channels).",
            {
                "topic": _TOPIC,
                "epoch": _epoch("the numbering to take from now on", may_be_empty=True),
                "seq": _seq(0, "the topic's last event number now"),
                "detail": _text("why"),
            },
            None,
            {
                "topic": booking_topic,
                "epoch": _EPOCH,
                "seq": 4,
                "detail": "the engine restarted: the state follows",
            },
        ),
        "DoctorSnapshot": _server(
            "snapshot",
            "snapshot",
            "The doctor's state now, on every connect (after `hello` and any replay) and "
            "after a `resync`: the waiting offer, the shift, the current visit.",
            {
                "doctor_id": _id("doctor"),
                "offer": _nullable(
                    _object(
                        "offer",
                        "the open offer, as in `offer` (not numbered)",
                        {"type": _const("offer"), **_offer_fields()},
                        example={"type": "offer", **_OFFER_EXAMPLE},
                    ),
                    "when none is open",
                ),
                "shift": _nullable(
                    _enum([AVAILABLE, ON_BREAK], "on shift: available or on a break"),
                    "when off shift",
                ),
                "booking_id": _nullable(_id("current visit's booking"), "without a visit"),
                "status": _nullable(_STATUS, "without a visit"),
                "lat": _nullable(_lat("the visit's latitude"), "without a visit"),
                "lon": _nullable(_lon("the visit's longitude"), "without a visit"),
                "address": _nullable(_text("the visit's address"), "without a visit"),
                "epoch": snapshot_epoch,
                "seq": snapshot_seq,
            },
            {"topic": _RELAYED_FIELDS["topic"]},
            {
                "doctor_id": _DOCTOR_ID,
                "offer": None,
                "shift": "available",
                "booking_id": _BOOKING_ID,
                "status": "en_route",
                "lat": 60.1699,
                "lon": 24.9384,
                "address": "Mannerheimintie 1",
                "epoch": _EPOCH,
                "seq": 4,
            },
        ),
        "BookingSnapshot": _server(
            "snapshot",
            "snapshot",
            "The booking's state now, on every connect (after `hello` and any replay) and "
            "after a `resync`.",
            {
                "booking_id": _id("booking"),
                "status": _STATUS,
                "doctor_id": _nullable(
                    _id("doctor bound to the booking"), "unless assigned or later"
                ),
                "epoch": snapshot_epoch,
                "seq": snapshot_seq,
            },
            None,
            {
                "booking_id": _BOOKING_ID,
                "status": "assigned",
                "doctor_id": _DOCTOR_ID,
                "epoch": _EPOCH,
                "seq": 4,
            },
        ),
        "Offer": _event(
            "offer",
            "offer",
            "A booking offered to this doctor: accept (or decline) before `expires_at`.",
            _offer_fields(),
            _OFFER_EXAMPLE,
            doctor_topic,
        ),
        "OfferEnded": _event(
            "offer_ended",
            "offer_ended",
            "An offer to this doctor ended.",
            {
                "offer_id": _OFFER_ID,
                "booking_id": _id("booking"),
                "outcome": _enum([o.value for o in OfferOutcome], "how it ended"),
                "reason": _text("why, in words (may be empty)"),
                "at": _instant("when"),
            },
            {
                "offer_id": f"{_BOOKING_ID}.3.0",
                "booking_id": _BOOKING_ID,
                "outcome": "expired",
                "reason": "not accepted in time",
                "at": _AT,
            },
            doctor_topic,
        ),
        "DoctorAssigned": _event(
            "doctor_assigned",
            "doctor_assigned",
            "A doctor was bound to the booking (accepted, or assigned by an operator).",
            {"booking_id": _id("booking"), "doctor_id": _id("doctor"), "at": _instant("when")},
            {"booking_id": _BOOKING_ID, "doctor_id": _DOCTOR_ID, "at": _AT},
            booking_topic,
        ),
        "DoctorReleased": _event(
            "doctor_released",
            "doctor_released",
            "The doctor was unbound from the booking (reassigned, returned to search, gone "
            "offline past the grace); their positions stop.",
            {
                "booking_id": _id("booking"),
                "doctor_id": _id("doctor"),
                "reason": _text("why (may be empty)"),
                "at": _instant("when"),
            },
            {
                "booking_id": _BOOKING_ID,
                "doctor_id": _DOCTOR_ID,
                "reason": "closer doctor free",
                "at": _AT,
            },
            booking_topic,
        ),
        "Status": _event(
            "status",
            "status",
            "The booking's status changed (to its patient, to its doctor, and to every operator).",
            {
                "booking_id": _id("booking"),
                "status": _STATUS,
                "old_status": _nullable(_STATUS, "for the first status"),
                "reason": _text("why (may be empty)"),
                "at": _instant("when"),
                "doctor_id": _nullable(
                    _id("doctor bound to the booking after the change"), "when none"
                ),
            },
            {
                "booking_id": _BOOKING_ID,
                "status": "en_route",
                "old_status": "assigned",
                "reason": "",
                "at": _AT,
                "doctor_id": _DOCTOR_ID,
            },
            booking_topic,
        ),
        "BookingMessage": _event(
            "message",
            "message",
            "A chat message on the booking (to its patient, and to its doctor while one is bound).",
            {
                "booking_id": _id("booking"),
                "sender_id": _id("sender"),
                "sender_role": _enum([a.value for a in Actor], "who wrote it"),
                "content": _text("the text", 4_000),
                "at": _instant("when"),
            },
            {
                "booking_id": _BOOKING_ID,
                "sender_id": _DOCTOR_ID,
                "sender_role": "doctor",
                "content": "I am parking.",
                "at": _AT,
            },
            booking_topic,
        ),
        "Notice": _event(
            "notice",
            "notice",
            "A word for the patient from the engine (e.g. no doctor could be found).",
            {"booking_id": _id("booking"), "message": _text("the text"), "at": _instant("when")},
            {"booking_id": _BOOKING_ID, "message": "no doctor could be found", "at": _AT},
            booking_topic,
        ),
        "Arriving": _event(
            "arriving",
            "arriving",
            f"The doctor came within {arriving_m:g} m of the patient (once per visit).",
            {
                "booking_id": _id("booking"),
                "doctor_id": _id("doctor"),
                "distance_m": _metres("straight-line distance to the patient", arriving_m),
                "at": _instant("when"),
            },
            {"booking_id": _BOOKING_ID, "doctor_id": _DOCTOR_ID, "distance_m": 92.4, "at": _AT},
            booking_topic,
        ),
        "Alert": _event(
            "alert",
            "alert",
            "Something operators must look at.",
            {
                "kind": _enum(ALERT_KINDS, "what happened"),
                "booking_id": _id("booking"),
                "detail": _text("in words (for emergency and escalation: the number to call)"),
                "at": _instant("when"),
            },
            {
                "kind": "emergency",
                "booking_id": _BOOKING_ID,
                "detail": "chest_pain: call 103",
                "at": _AT,
            },
            OPS,
        ),
        "Route": _server(
            "route",
            "route",
            "The doctor's road route to the patient, at most every "
            f"{position_policy.route_every_s:g} s while a doctor is bound; farther than "
            f"{reveal_m:g} m, only its last {reveal_m:g} m. Not numbered: only the newest "
            "matters (a slow client gets only the newest).",
            {
                "booking_id": _id("booking"),
                "doctor_id": _id("doctor"),
                "at": _instant("when it was computed"),
                "points": {
                    "type": "array",
                    "description": "the line, [lat, lon] pairs in degrees (WGS 84) from the "
                    f"doctor to the patient, at most {position_policy.max_route_points + 1}",
                    "maxItems": position_policy.max_route_points + 1,
                    "items": {
                        "type": "array",
                        "minItems": 2,
                        "maxItems": 2,
                        "items": {"type": "number", "minimum": -180, "maximum": 180},
                        "description": "[latitude, longitude], degrees (WGS 84)",
                    },
                },
                "eta_s": _nullable(_seconds("road travel time to the patient"), "when unknown"),
            },
            None,
            {
                "booking_id": _BOOKING_ID,
                "doctor_id": _DOCTOR_ID,
                "at": _AT,
                "points": [[60.171, 24.941], [60.1705, 24.9398], [60.1699, 24.9384]],
                "eta_s": 95.2,
            },
        ),
        "Position": _server(
            "position",
            "position",
            "The bound doctor approaching, one per accepted fix. Farther than "
            f"{reveal_m:g} m the position is rounded to a "
            f"{position_policy.coarse_grid_deg:g}° grid (`coarse`). The road ETA is "
            f"recomputed at most every {position_policy.eta_every_s:g} s (every fix within "
            f"{arriving_m:g} m). Not numbered: only the newest matters.",
            {
                "booking_id": _id("booking"),
                "doctor_id": _id("doctor"),
                "at": _instant("when the engine took it"),
                "recorded_at": _instant("when the fix was taken (as the device said)"),
                "lat": _lat(),
                "lon": _lon(),
                "coarse": {
                    "type": "boolean",
                    "description": f"true: rounded (the doctor is farther than {reveal_m:g} m)",
                },
                "accuracy_m": _metres("accuracy (at least 500 when coarse)"),
                "distance_m": _metres(
                    "straight-line distance to the patient (to 100 m when coarse, 0.1 m else)"
                ),
                "eta_s": _nullable(_seconds("road travel time to the patient"), "when unknown"),
            },
            None,
            {
                "booking_id": _BOOKING_ID,
                "doctor_id": _DOCTOR_ID,
                "at": _AT,
                "recorded_at": "2026-12-01T09:29:59.900Z",
                "lat": 60.1705,
                "lon": 24.9398,
                "coarse": False,
                "accuracy_m": 5,
                "distance_m": 97.3,
                "eta_s": 41.0,
            },
        ),
        "Feed": _server(
            "feed",
            "feed",
            "The operator's viewport now: doctors and open bookings in it. After each "
            f"`viewport` and every {OPERATOR_FEED_EVERY_S:g} s. Not numbered: only the newest "
            "matters.",
            {
                "at": _instant("when"),
                "doctors": {
                    "type": "array",
                    "description": "doctors on shift with a position in the viewport",
                    "items": _object(
                        "doctor",
                        "a doctor on the map",
                        {
                            "doctor_id": _id("doctor"),
                            "status": _enum(DOCTOR_STATUSES, "the doctor's status"),
                            "lat": _lat("last known latitude"),
                            "lon": _lon("last known longitude"),
                            "stale": {
                                "type": "boolean",
                                "description": "true: no fresh fix lately",
                            },
                        },
                    ),
                },
                "bookings": {
                    "type": "array",
                    "description": "open (not finished) bookings in the viewport",
                    "items": _object(
                        "booking",
                        "an open booking on the map",
                        {
                            "booking_id": _id("booking"),
                            "status": _STATUS,
                            "priority": _enum(PRIORITIES, "priority"),
                            "is_emergency": {"type": "boolean", "description": "an emergency"},
                            "lat": _lat("the patient's latitude"),
                            "lon": _lon("the patient's longitude"),
                            "doctor_id": _nullable(_id("bound doctor"), "when none"),
                        },
                    ),
                },
            },
            None,
            {
                "at": _AT,
                "doctors": [
                    {
                        "doctor_id": _DOCTOR_ID,
                        "status": "available",
                        "lat": 60.171,
                        "lon": 24.941,
                        "stale": False,
                    }
                ],
                "bookings": [
                    {
                        "booking_id": _BOOKING_ID,
                        "status": "offered",
                        "priority": "normal",
                        "is_emergency": False,
                        "lat": 60.1699,
                        "lon": 24.9384,
                        "doctor_id": None,
                    }
                ],
            },
        ),
        "Pong": _server(
            "pong",
            "pong",
            "The reply to `ping`.",
            {"at": _instant("the gateway's clock")},
            {"ref": _REF_OUT},
            {"at": _AT, "ref": 1},
        ),
        "Error": _server(
            "error",
            "error",
            "A message could not be taken or done; the socket keeps working. Replies to a "
            "message with `ref` carry it (rate_limited, invalid_json, unknown_type and "
            "invalid_message errors carry none).",
            {
                "code": {
                    "type": "string",
                    "enum": list(ERROR_CODES),
                    "description": "what went wrong: "
                    + "; ".join(f"`{c}` {d}" for c, d in ERROR_CODES.items()),
                },
                "detail": _text("in words"),
            },
            {"ref": _REF_OUT, **_RELAYED_FIELDS},
            {"code": "not_found", "detail": "no offer '...'", "ref": "a1"},
        ),
        "Done": _server(
            "done",
            "done",
            "An operator's override was done.",
            {
                "command": _enum(OVERRIDES, "the override"),
                "booking_id": _id("booking"),
                "status": _STATUS,
            },
            {"ref": _REF_OUT},
            {"command": "assign", "booking_id": _BOOKING_ID, "status": "assigned", "ref": 7},
        ),
    }
    doctor_status = _enum(DOCTOR_STATUSES, "the doctor's status now")
    replies: list[tuple[str, str, str, dict[str, Schema], dict[str, Any]]] = [
        ("ShiftReply", "shift", "The shift started or ended.", {"status": doctor_status},
         {"status": "available"}),
        ("AvailabilityReply", "availability", "Availability changed.", {"status": doctor_status},
         {"status": "on_break"}),
        ("Accepted", "accepted", "The offer was accepted: the visit is yours.",
         {"offer_id": _OFFER_ID, "booking_id": _id("booking")},
         {"offer_id": f"{_BOOKING_ID}.3.0", "booking_id": _BOOKING_ID}),
        ("Declined", "declined", "The offer was declined.", {"offer_id": _OFFER_ID},
         {"offer_id": f"{_BOOKING_ID}.3.0"}),
        ("Progressed", "progressed", "The visit moved on.",
         {"booking_id": _id("booking"), "status": _STATUS},
         {"booking_id": _BOOKING_ID, "status": "arrived"}),
    ]  # fmt: skip
    for key, kind, description, fields, example in replies:
        schemas[key] = _server(
            kind,
            kind,
            f"{description} The reply to the doctor's `{_asked(kind)}`.",
            fields,
            {"ref": _REF_OUT, **_RELAYED_FIELDS},
            {**example, "ref": "a1"},
        )
    return schemas


def _asked(reply: str) -> str:
    return {"accepted": "accept", "declined": "decline", "progressed": "progress"}.get(reply, reply)


# -- handshake refusals ---------------------------------------------------------------------


def _handshake_problem() -> Schema:
    return _object(
        "handshake refusal",
        "The body of an HTTP refusal before accept (Content-Type: application/problem+json).",
        {
            "title": _text("the status's phrase"),
            "status": {
                "type": "integer",
                "enum": list(HANDSHAKE_REFUSALS),
                "description": "the HTTP status: "
                + "; ".join(f"{c} {d}" for c, d in HANDSHAKE_REFUSALS.items()),
            },
            "detail": _text("in words"),
        },
        example={"title": "Not Found", "status": 404, "detail": "no booking 'x'"},
    )


# -- channels and operations ----------------------------------------------------------------

# What each channel carries: (message key, direction); "in" is client -> gateway.
_IN, _OUT = "in", "out"
_SESSION = ["Resync"]
_CHANNEL_MESSAGES: dict[str, dict[str, list[str]]] = {
    "doctor": {
        _IN: ["DoctorPosition", "DoctorShift", "DoctorAvailability", "DoctorAccept",
              "DoctorDecline", "DoctorProgress", "Ping"],
        _OUT: ["DoctorHello", "Resync", "DoctorSnapshot", "Offer", "OfferEnded",
               "DoctorAssigned", "DoctorReleased", "Status", "BookingMessage", "ShiftReply",
               "AvailabilityReply", "Accepted", "Declined", "Progressed", "Pong", "Error"],
    },
    "patient": {
        _IN: ["Ping"],
        _OUT: ["PatientHello", "Resync", "BookingSnapshot", "Status", "DoctorAssigned",
               "DoctorReleased", "Notice", "BookingMessage", "Arriving", "Route", "Position",
               "Pong", "Error"],
    },
    "operator": {
        _IN: ["Viewport", "Assign", "ReturnToSearch", "Cancel", "ChangePriority", "Ping"],
        _OUT: ["OperatorHello", "Resync", "Status", "Alert", "Feed", "Done", "Pong", "Error"],
    },
}  # fmt: skip
# Per channel: an incoming message -> what answers it (besides `error`).
_REPLIES: dict[str, dict[str, list[str]]] = {
    "doctor": {
        "DoctorPosition": [],
        "DoctorShift": ["ShiftReply"],
        "DoctorAvailability": ["AvailabilityReply"],
        "DoctorAccept": ["Accepted"],
        "DoctorDecline": ["Declined"],
        "DoctorProgress": ["Progressed"],
        "Ping": ["Pong"],
    },
    "patient": {"Ping": ["Pong"]},
    "operator": {
        "Viewport": ["Feed"],
        "Assign": ["Done"],
        "ReturnToSearch": ["Done"],
        "Cancel": ["Done"],
        "ChangePriority": ["Done"],
        "Ping": ["Pong"],
    },
}
_TAGS = {
    "hello": "session", "resync": "session", "snapshot": "session",
    "route": "stream", "position": "stream", "feed": "stream",
    "shift": "reply", "availability": "reply", "accepted": "reply", "declined": "reply",
    "progressed": "reply", "pong": "reply", "done": "reply", "error": "reply",
}  # fmt: skip


def _tag(kind: str, direction: str) -> str:
    return "command" if direction == _IN else _TAGS.get(kind, "event")


_CHANNELS: dict[str, dict[str, str]] = {
    "doctor": {
        "address": "/ws/doctor",
        "title": "Doctor",
        "who": "doctors (role doctor)",
        "topic": "`doctor:<their id>`",
        "description": "Positions, shift and offers in; offers, assignments, the booking's "
        "status and messages, and replies out. Closing the socket (or 90 s of silence, "
        "closed with 4408) makes the doctor unavailable: the core ends their open offer at "
        "once and, past its grace, releases an assignment. Reconnecting on shift makes them "
        "available again.",
    },
    "patient": {
        "address": "/ws/patient/{booking_id}",
        "title": "Patient",
        "who": "the booking's patient (operators and admins too)",
        "topic": "`booking:<booking_id>`",
        "description": "One booking's status, messages and notices, and while a doctor is "
        "bound (assignment to completion, cancellation or reassignment) the doctor "
        "approaching: `route` and `position`, coarse until within "
        f"{RealtimePolicy().reveal_within_m:g} m. On connect the newest `route` and "
        "`position` follow the snapshot.",
    },
    "operator": {
        "address": "/ws/operator",
        "title": "Operator",
        "who": "operators and admins (the engine's own gateway only)",
        "topic": "`ops`",
        "description": "Alerts and every booking's status changes; the viewport's doctors "
        "and open bookings (`feed`); overrides with a reason. No snapshot: the "
        "operator console reads the state over HTTP.",
    },
}


def _query_binding() -> Schema:
    return {
        "ws": {
            "method": "GET",
            "query": {
                "type": "object",
                "description": "the handshake's query string",
                "properties": {
                    "token": {
                        "type": "string",
                        "description": "the access token (a JWT from POST /api/v1/auth/login); "
                        "or send it as `Authorization: Bearer <token>`",
                    },
                    "last_seq": {
                        "type": "string",
                        "pattern": SEQ_PATTERN,
                        "description": "resume: the highest `seq` seen (a whole number); the "
                        "events after it are replayed, or `resync` follows",
                    },
                    "epoch": {
                        "type": "string",
                        "pattern": EPOCH_PATTERN,
                        "description": "resume: the `epoch` that `hello` gave; with another "
                        "one (the engine restarted) the client is resynced",
                    },
                },
                "additionalProperties": True,
            },
            "headers": {
                "type": "object",
                "properties": {
                    "Authorization": {
                        "type": "string",
                        "pattern": "^[Bb]earer .+$",
                        "description": "Bearer <access token>, when not in the query",
                    },
                    "Origin": {
                        "type": "string",
                        "description": "browsers: must be the engine's own pages or listed "
                        "in TOT_WS_ORIGINS, or the handshake gets 403",
                    },
                },
            },
            "bindingVersion": WS_BINDING_VERSION,
        }
    }


def _channels() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    for name, about in _CHANNELS.items():
        keys = dict.fromkeys(_CHANNEL_MESSAGES[name][_IN] + _CHANNEL_MESSAGES[name][_OUT])
        channel: dict[str, Any] = {
            "address": about["address"],
            "title": about["title"],
            "summary": f"For {about['who']}; topic {about['topic']}.",
            "description": about["description"],
            "servers": [{"$ref": "#/servers/gateway"}],
            "messages": {key: {"$ref": f"#/components/messages/{key}"} for key in keys},
            "bindings": _query_binding(),
        }
        if name == "patient":
            channel["parameters"] = {
                "booking_id": {
                    "description": "the booking to follow (its id, as POST /api/v1/bookings "
                    "returned it); not yours or not there: 404 before accept",
                    "examples": [_BOOKING_ID],
                }
            }
        channels[name] = channel
    return channels


def _operations() -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for name in _CHANNELS:
        channel_ref = {"$ref": f"#/channels/{name}"}

        def ref(key: str, name: str = name) -> dict[str, str]:
            return {"$ref": f"#/channels/{name}/messages/{key}"}

        for key in _CHANNEL_MESSAGES[name][_IN]:
            schema = _SCHEMAS[key]
            kind = schema["properties"]["type"]["const"]
            answers = [*_REPLIES[name][key], "Error"]
            operations[f"{name}.{kind}"] = {
                "action": "receive",
                "channel": channel_ref,
                "title": f"{_CHANNELS[name]['title']} sends {kind}",
                "summary": schema["description"],
                "messages": [ref(key)],
                "reply": {"channel": channel_ref, "messages": [ref(k) for k in answers]},
            }
        out = _CHANNEL_MESSAGES[name][_OUT]
        groups = {
            "session": "on connect: `hello`, then any replay (or `resync`), then the state "
            "(`snapshot`), then live events",
            "event": "topic events as they happen, each numbered (`seq`), replayed on resume",
            "stream": "the newest state of something moving, not numbered",
        }
        for group, description in groups.items():
            keys = [
                k for k in out if _tag(_SCHEMAS[k]["properties"]["type"]["const"], _OUT) == group
            ]
            if not keys:
                continue
            operations[f"{name}.{group}"] = {
                "action": "send",
                "channel": channel_ref,
                "title": f"{_CHANNELS[name]['title']} receives: {group}",
                "summary": description,
                "messages": [ref(k) for k in keys],
            }
    return operations


_SCHEMAS: dict[str, Schema] = {**_client_schemas(), **_server_schemas()}


def _messages() -> dict[str, Any]:
    directions: dict[str, str] = {}
    for lists in _CHANNEL_MESSAGES.values():
        for direction, keys in lists.items():
            for key in keys:
                directions[key] = direction
    messages: dict[str, Any] = {}
    for key, direction in directions.items():
        schema = _SCHEMAS[key]
        kind = schema["properties"]["type"]["const"]
        message: dict[str, Any] = {
            "name": kind,
            "title": f"{kind} ({'client → gateway' if direction == _IN else 'gateway → client'})",
            "summary": schema["description"],
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{key}"},
            "tags": [{"name": _tag(kind, direction)}],
            "examples": [{"name": kind, "payload": schema["examples"][0]}],
        }
        if "ref" in schema["properties"]:
            message["correlationId"] = {
                "description": "`ref`: a client's message carrying it gets its reply with it",
                "location": "$message.payload#/ref",
            }
        messages[key] = message
    return messages


_DESCRIPTION = f"""\
The WebSocket protocol of TOT's realtime gateway: doctors, patients and operators, each on
one socket with JSON text frames. This document describes the gateway: a `receive`
operation is what a client sends it, a `send` operation what it sends the client.

### Envelope
Every frame is one JSON object whose `type` says what it is; the fields sit beside `type`
at the top level. A client's message may carry `ref` (a string of at most 64 characters,
or an integer): the reply to it, or the `error` about it, carries the same `ref`.

### Authentication
`?token=<access token>` on the URL (browsers cannot set headers on a WebSocket) or an
`Authorization: Bearer <access token>` header: the JWT from `POST /api/v1/auth/login`.
Refused before accept, as HTTP with a problem document (`application/problem+json`,
{{title, status, detail}}; the schema HandshakeProblem):

{chr(10).join(f"- {c}: {d}" for c, d in HANDSHAKE_REFUSALS.items())}

### Units and times
Instants are RFC 3339 strings in UTC with milliseconds, e.g. `{_AT}`, on the socket as in
the HTTP API; a client may send any RFC 3339 instant with a zone (`Z` or an offset).
Durations are seconds and distances metres, named so (`eta_s`, `ttl_s`, `distance_m`,
`accuracy_m`); coordinates are degrees (WGS 84); money integer kopecks (`*_kopecks`).

### Sequence numbers, resume and resync
Each socket follows one topic (`doctor:<id>`, `booking:<id>` or `ops`). Every topic event
carries `topic`, `seq` (counting up by one per topic) and `epoch` (the engine start the
numbers belong to). The first message on every connect is `hello` with the topic's
`epoch` and current `seq`. Reconnect with `?last_seq=<highest seq seen>&epoch=<epoch>`:
the events after it are replayed; then a `snapshot` of the state now comes on every
connect (doctor and patient channels), then live events. When the events missed cannot be
replayed (more than the last {REPLAY_WINDOW} of the topic, another epoch, or ahead of the
counter) `resync` comes instead, with the numbering to take, and the `snapshot` follows.
If the engine restarts while a socket is open, the socket gets `resync` and a fresh
`snapshot`. `route`, `position` and `feed` are not numbered: only the newest matters.

### Limits
Frames over {MAX_FRAME_BYTES // 1024} KiB close the socket (1009). At most
{MESSAGES_PER_S:g} messages a second per socket (a burst of {BURST:g}); more are dropped
with an `error` `rate_limited`, and a client that keeps flooding is closed (4029). A
malformed message gets `error` (`invalid_json`, `unknown_type` or `invalid_message`) and
the socket keeps working. A client that does not read holds at most the newest position
and {MAX_PENDING_EVENTS} events; beyond that it is closed (4008) and resumes with
`last_seq`. A doctor silent for {DOCTOR_SILENCE_S:g} s is closed (4408).

### Close codes
{chr(10).join(f"- {code}: {text}" for code, text in CLOSE_CODES.items())}

This document is served at `/asyncapi.json` and readable at `/docs/asyncapi`.
"""


@lru_cache(maxsize=8)
def _document(ws_port: int) -> dict[str, Any]:
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:tot:realtime-gateway",
        "info": {
            "title": "TOT realtime gateway",
            "version": DOCUMENT_VERSION,
            "description": _DESCRIPTION,
            "tags": [
                {"name": "command", "description": "a client's message"},
                {"name": "reply", "description": "the answer to a client's message"},
                {"name": "session", "description": "hello, resync, snapshot"},
                {"name": "event", "description": "a topic event: numbered, replayed"},
                {"name": "stream", "description": "the newest state: not numbered"},
            ],
        },
        "defaultContentType": "application/json",
        "servers": {
            "gateway": {
                "host": "{host}:{port}",
                "protocol": "ws",
                "title": "The WebSocket gateway",
                "description": "The engine's own gateway (`tot serve`, `tot demo`) on "
                "TOT_WS_PORT, or an extra `tot gateway` process (doctors and patients only). "
                "Behind a TLS proxy, use `wss`.",
                "variables": {
                    "host": {
                        "default": "127.0.0.1",
                        "description": "the engine's host (the host these pages came from)",
                    },
                    "port": {
                        "default": str(ws_port),
                        "description": "TOT_WS_PORT (8001 unless configured)",
                    },
                },
                "security": [
                    {"$ref": "#/components/securitySchemes/queryToken"},
                    {"$ref": "#/components/securitySchemes/bearer"},
                ],
            }
        },
        "channels": _channels(),
        "operations": _operations(),
        "components": {
            "schemas": {
                **copy.deepcopy(_SCHEMAS),
                "HandshakeProblem": _handshake_problem(),
            },
            "messages": _messages(),
            "securitySchemes": {
                "queryToken": {
                    "type": "httpApiKey",
                    "name": "token",
                    "in": "query",
                    "description": "the access token as `?token=` (what browsers use)",
                },
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "the access token as `Authorization: Bearer <token>`",
                },
            },
        },
        "x-roles": {
            "doctor": [Role.DOCTOR.value],
            "patient": [Role.PATIENT.value, Role.OPERATOR.value, Role.ADMIN.value],
            "operator": [Role.OPERATOR.value, Role.ADMIN.value],
        },
    }


def asyncapi_document(ws_port: int = 8001) -> dict[str, Any]:
    """The document (a fresh copy: the caller may change it), with the gateway's port as
    the server's default."""
    return copy.deepcopy(_document(ws_port))


def message_schemas(channel: str, direction: str) -> dict[str, Schema]:
    """`type` -> payload schema of what a channel carries one way ("in": client ->
    gateway, "out": gateway -> client)."""
    return {
        _SCHEMAS[key]["properties"]["type"]["const"]: copy.deepcopy(_SCHEMAS[key])
        for key in _CHANNEL_MESSAGES[channel][direction]
    }
