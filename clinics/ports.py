"""What the clinic services need from storage."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from clinics.model import Clinic, Invitation
from clinics.stats import StatRow


class ClinicExistsError(Exception):
    """A clinic with this id exists already."""


@dataclass(frozen=True, slots=True)
class StatScope:
    """Which bookings the statistics read: all (clinic_id None), or a clinic's: those that
    named it and those its doctors (members now) took."""

    clinic_id: str | None = None


class ClinicStore(Protocol):
    async def create_clinic(self, clinic: Clinic) -> None:
        """ClinicExistsError when the id is taken."""
        ...

    async def clinic(self, clinic_id: str) -> Clinic | None: ...

    async def update_clinic(self, clinic: Clinic) -> None:
        """Replace the stored clinic; LookupError when there is none."""
        ...

    async def list_clinics(
        self, *, q: str | None = None, after: str | None = None, limit: int = 50
    ) -> list[Clinic]:
        """Clinics ordered by clinic_id (byte-wise), after `after`; `q`: name contains,
        case-insensitively."""
        ...

    async def clinics_with_area(self) -> list[Clinic]:
        """Every clinic that has an area (the matcher holds them)."""
        ...

    async def add_invitation(self, invitation: Invitation) -> None: ...

    async def use_invitation(self, token_sha256: str, now_s: float) -> Invitation | None:
        """Mark the invitation used at now_s, atomically, if it is usable; return it as it
        was before (None: unknown). A returned one with used_s set or expired was refused."""
        ...

    def stat_rows(
        self, scope: StatScope, since_s: float, until_s: float, batch: int = 5_000
    ) -> AsyncIterator[Sequence[StatRow]]:
        """Bookings requested in [since_s, until_s) in scope, in batches (keyset pages),
        with their first arrival."""
        ...

    async def completed_visits(self, doctor_ids: Sequence[str]) -> dict[str, int]:
        """Completed bookings per doctor (counted in the store), for these doctors."""
        ...

    async def close(self) -> None: ...
