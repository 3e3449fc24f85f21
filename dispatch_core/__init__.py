"""Dispatch core: the booking lifecycle, offers, emergencies and operator overrides.

Pure (sans-I/O): commands and the current time go in, events come out.
"""

from dispatch_core.core import CandidateSource, DispatchCore, DispatchPolicy
from dispatch_core.messages import *  # noqa: F403
from dispatch_core.messages import Command, Event
from dispatch_core.model import (
    TERMINAL,
    WITH_DOCTOR,
    Actor,
    Booking,
    BookingMessage,
    BookingStatus,
    Offer,
    OfferOutcome,
    Priority,
    StatusUpdate,
)
from dispatch_core.transitions import TRANSITIONS, transition_error

__all__ = [
    "TERMINAL",
    "TRANSITIONS",
    "WITH_DOCTOR",
    "Actor",
    "Booking",
    "BookingMessage",
    "BookingStatus",
    "CandidateSource",
    "Command",
    "DispatchCore",
    "DispatchPolicy",
    "Event",
    "Offer",
    "OfferOutcome",
    "Priority",
    "StatusUpdate",
    "transition_error",
]
