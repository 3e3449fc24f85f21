"""Instants on the wire: RFC 3339 in UTC with milliseconds ("2026-12-01T09:30:00.250Z"),
the one format of the HTTP API and the WebSocket protocol alike. Durations are seconds
(`eta_s`, `ttl_s`)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

# RFC 3339 section 5.6: a full date, "T", a full time with an optional fraction, and a
# zone that is Z or +hh:mm (ISO 8601's +hhmm, +hh and comma fractions are not RFC 3339).
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

EARLIEST_S = datetime(1900, 1, 1, tzinfo=UTC).timestamp()
LATEST_S = datetime(9999, 1, 1, tzinfo=UTC).timestamp()


def rfc3339(epoch_s: float) -> str:
    """Epoch seconds as an RFC 3339 UTC timestamp with milliseconds."""
    return (
        datetime.fromtimestamp(epoch_s, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def rfc3339_or_none(epoch_s: float | None) -> str | None:
    return None if epoch_s is None or not math.isfinite(epoch_s) else rfc3339(epoch_s)


def parse_rfc3339(text: str) -> float:
    """Epoch seconds of an RFC 3339 timestamp with a zone (Z or an offset); ValueError else."""
    if not isinstance(text, str) or len(text) > 40 or not RFC3339.match(text):
        raise ValueError("expected an RFC 3339 date-time such as 2026-12-01T09:30:00.250Z")
    moment = datetime.fromisoformat(text.upper())
    if moment.tzinfo is None:
        raise ValueError("an RFC 3339 date-time needs a zone: Z or an offset like +03:00")
    seconds = moment.timestamp()
    if not EARLIEST_S <= seconds < LATEST_S:
        raise ValueError("the date-time must fall in the years 1900 to 9998 (UTC)")
    return seconds
