"""`tot db upgrade` on PostGIS and on the embedded store."""

from __future__ import annotations

import gc
import sqlite3
from pathlib import Path

import pytest

from services.database import require_current_schema
from tot.cli import main


async def test_db_upgrade_on_postgis(postgis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    gc.collect()  # see tests.conftest.migrate: no Router may be freed on the worker thread
    code = await asyncio.to_thread(main, ["db", "upgrade", "--database-url", postgis_url])
    assert code == 0
    assert "up to date" in capsys.readouterr().out
    await require_current_schema(postgis_url)  # the engine would start


def test_db_upgrade_embedded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    db = tmp_path / "tot" / "tot.sqlite3"
    assert str(db) in capsys.readouterr().out
    tables = {
        r[0]
        for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    assert {"bookings", "booking_status_updates", "booking_messages"} <= tables
    assert main(["db", "upgrade"]) == 0  # idempotent


def test_db_upgrade_refuses_a_url_that_is_not_postgres(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--database-url", "mysql://root@localhost/tot"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tot: error:")
    assert "postgresql://" in err


def test_embedded_store_newer_than_the_engine_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    db = tmp_path / "tot" / "tot.sqlite3"
    db.parent.mkdir(parents=True)
    sqlite3.connect(db).execute("PRAGMA user_version = 99")
    assert main(["db", "upgrade"]) == 2
    assert "newer than this engine" in capsys.readouterr().err
