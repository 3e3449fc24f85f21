"""Which storage errors mean "the database cannot be reached now" (retry later) rather
than "the database refused this" (retrying the same write cannot help)."""

from __future__ import annotations

import sqlite3

import asyncpg

# SQLSTATE classes: 08 connection exceptions, 57 operator intervention (shutting down,
# cannot connect now, crash recovery), 53 insufficient resources (too many connections,
# disk full), 40001/40P01 serialization failure and deadlock (retry the transaction).
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "57", "53")
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})


def is_unavailable(exc: BaseException) -> bool:
    """True when the error says storage is unreachable or overloaded for now."""
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", None) or ""
        return state.startswith(_TRANSIENT_SQLSTATE_PREFIXES) or state in _TRANSIENT_SQLSTATES
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.exceptions.InternalClientError):
        # "connection is closed", "cannot switch to state ...; another operation is in
        # progress": a connection the server dropped mid-operation
        return True
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return any(
            part in text for part in ("locked", "busy", "disk i/o", "unable to open", "full")
        )
    return isinstance(exc, (OSError, TimeoutError, ConnectionError))
