"""Matching: the in-memory doctor registry and the choice of doctors for calls.

Pure: positions, times and road ETAs come in as arguments; decisions come out.
"""

from matching.matcher import BatchAssignment, CandidateRecord, Decision, EtaOracle, Matcher
from matching.model import (
    CallRequest,
    DoctorProfile,
    DoctorStatus,
    Exclusion,
    FixRejection,
    MatchingPolicy,
)
from matching.registry import BatchUpdateResult, DoctorRegistry

__all__ = [
    "BatchAssignment",
    "BatchUpdateResult",
    "CallRequest",
    "CandidateRecord",
    "Decision",
    "DoctorProfile",
    "DoctorRegistry",
    "DoctorStatus",
    "EtaOracle",
    "Exclusion",
    "FixRejection",
    "Matcher",
    "MatchingPolicy",
]
