"""The booking lifecycle: every allowed status change, in one table.

A change not listed here is refused with the reason. Terminal statuses have no way out.
"""

from __future__ import annotations

from dispatch_core.model import TERMINAL, Actor, BookingStatus

S = BookingStatus
P, D, OP, SYS = Actor.PATIENT, Actor.DOCTOR, Actor.OPERATOR, Actor.SYSTEM

# (from, to) -> who may cause it.
TRANSITIONS: dict[tuple[BookingStatus, BookingStatus], frozenset[Actor]] = {
    (S.REQUESTED, S.SEARCHING): frozenset({SYS}),
    (S.REQUESTED, S.SCHEDULED): frozenset({SYS}),
    (S.REQUESTED, S.CANCELLED): frozenset({P, OP, SYS}),
    (S.SCHEDULED, S.SEARCHING): frozenset({SYS, OP}),
    (S.SCHEDULED, S.ASSIGNED): frozenset({OP}),
    (S.SCHEDULED, S.CANCELLED): frozenset({P, OP, SYS}),
    (S.SEARCHING, S.OFFERED): frozenset({SYS}),
    (S.SEARCHING, S.ASSIGNED): frozenset({OP, SYS}),  # operator's pick; emergency preemption
    (S.SEARCHING, S.NO_DOCTOR_FOUND): frozenset({SYS}),
    (S.SEARCHING, S.CANCELLED): frozenset({P, OP, SYS}),
    (S.OFFERED, S.ASSIGNED): frozenset({D, OP, SYS}),  # a doctor accepts; operator's pick
    (S.OFFERED, S.SEARCHING): frozenset({SYS}),  # every open offer ended without a yes
    (S.OFFERED, S.CANCELLED): frozenset({P, OP, SYS}),
    (S.ASSIGNED, S.EN_ROUTE): frozenset({D}),
    (S.ASSIGNED, S.ASSIGNED): frozenset({OP}),  # reassigned to another named doctor
    (S.ASSIGNED, S.SEARCHING): frozenset({OP, SYS}),  # released, offline too long, preempted
    (S.ASSIGNED, S.CANCELLED): frozenset({P, OP, SYS}),
    (S.EN_ROUTE, S.ARRIVED): frozenset({D}),
    (S.EN_ROUTE, S.ASSIGNED): frozenset({OP}),  # reassigned mid-route
    (S.EN_ROUTE, S.SEARCHING): frozenset({OP, SYS}),
    (S.EN_ROUTE, S.CANCELLED): frozenset({P, OP, SYS}),
    (S.ARRIVED, S.IN_PROGRESS): frozenset({D}),
    (S.ARRIVED, S.CANCELLED): frozenset({OP}),
    (S.IN_PROGRESS, S.COMPLETED): frozenset({D, OP}),
    (S.IN_PROGRESS, S.CANCELLED): frozenset({OP}),
}


def transition_error(old: BookingStatus, new: BookingStatus, actor: Actor) -> str | None:
    """None when `actor` may move a booking from `old` to `new`, else the reason it may not."""
    if old in TERMINAL:
        return f"the booking is {old.value}: a final status"
    allowed = TRANSITIONS.get((old, new))
    if allowed is None:
        return f"a booking cannot go from {old.value} to {new.value}"
    if actor not in allowed:
        who = ", ".join(sorted(a.value for a in allowed))
        return f"only {who} may move a booking from {old.value} to {new.value}"
    return None
