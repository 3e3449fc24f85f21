"""One SQLite file shared by the embedded stores, each keeping its own schema version in
`schema_versions` under its component's name (bookings use PRAGMA user_version)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_component(
    path: Path | str, component: str, version: int, schema: str
) -> sqlite3.Connection:
    """A connection (WAL, synchronous=FULL, foreign keys on, autocommit: the stores
    BEGIN themselves) with `schema` applied when the component's stored version is
    older than `version`, in one transaction. RuntimeError when the file's is newer."""
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10.0)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_versions"
            " (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        row = conn.execute(
            "SELECT version FROM schema_versions WHERE component = ?", (component,)
        ).fetchone()
        stored = 0 if row is None else int(row[0])
        if stored > version:
            raise RuntimeError(
                f"{path}: {component} schema {stored} is newer than this engine's ({version})"
            )
        if stored < version:
            conn.executescript(
                "BEGIN IMMEDIATE;\n"
                + schema
                + f"INSERT INTO schema_versions (component, version) VALUES"
                f" ('{component}', {version}) ON CONFLICT (component) DO UPDATE"
                " SET version = excluded.version;\nCOMMIT;"
            )
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
        raise
    return conn
