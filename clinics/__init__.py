"""Clinics in their own terms: the clinic, the area it serves (polygons of (lat, lon)
rings), opening hours and time zone, doctors' invitations, and the call statistics
computed from booking rows. Pure: no I/O, no clock; adapters in storage/ implement the
ports, use cases live in services/clinics.py."""

from clinics.model import (
    Area,
    Clinic,
    ClinicValidationError,
    Invitation,
    OpeningHours,
    Polygon,
    parse_hours,
    validate_area,
    validate_timezone,
)
from clinics.ports import ClinicExistsError, ClinicStore, StatScope
from clinics.stats import StatRow, Stats, StatsAccumulator, percentile

__all__ = [
    "Area",
    "Clinic",
    "ClinicExistsError",
    "ClinicStore",
    "ClinicValidationError",
    "Invitation",
    "OpeningHours",
    "Polygon",
    "StatRow",
    "StatScope",
    "Stats",
    "StatsAccumulator",
    "parse_hours",
    "percentile",
    "validate_area",
    "validate_timezone",
]
