"""docker-compose.yml publishes no secret and runs in production mode; production refuses
the passwords this repository publishes. (No Docker engine here: the compose file's
variable interpolation is applied as the Compose Specification defines it.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from tot.settings import Settings

COMPOSE = Path(__file__).resolve().parent.parent / "docker-compose.yml"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


class MissingVariableError(Exception):
    pass


def interpolate(text: str, env: dict[str, str]) -> str:
    """${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        value = env.get(name)
        empty = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-"):
            return arg if empty else str(value)
        if op in (":?", "?"):
            if empty:
                raise MissingVariableError(f"{name}: {arg}")
            return str(value)
        return value or ""

    return _VAR.sub(one, text)


def compose(env: dict[str, str]) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(interpolate(COMPOSE.read_text(), env))
    return loaded


def test_compose_refuses_to_start_without_secrets() -> None:
    with pytest.raises(MissingVariableError, match="TOT_JWT_SECRET"):
        compose({})
    with pytest.raises(MissingVariableError, match="TOT_ADMIN_PASSWORD"):
        compose({"TOT_JWT_SECRET": "x" * 48, "TOT_DB_PASSWORD": "db-secret"})
    with pytest.raises(MissingVariableError, match="TOT_DB_PASSWORD"):
        compose({"TOT_JWT_SECRET": "x" * 48, "TOT_ADMIN_PASSWORD": "p" * 16})


def test_compose_runs_production_with_the_secrets_given() -> None:
    env = {
        "TOT_JWT_SECRET": "s" * 48,
        "TOT_ADMIN_PASSWORD": "a-password-of-my-own",
        "TOT_DB_PASSWORD": "db-secret-of-my-own",
    }
    services = compose(env)["services"]
    engine = services["engine"]["environment"]
    assert engine["TOT_ENV"] == "production"
    assert engine["TOT_JWT_SECRET"] == env["TOT_JWT_SECRET"]
    assert engine["TOT_ADMIN_PASSWORD"] == env["TOT_ADMIN_PASSWORD"]
    assert env["TOT_DB_PASSWORD"] in engine["DATABASE_URL"]
    assert services["postgis"]["environment"]["POSTGRES_PASSWORD"] == env["TOT_DB_PASSWORD"]
    assert engine["TOT_PAYMENTS_PROVIDER"] == "sandbox"  # no money moves until configured
    assert not engine["TOT_YOOKASSA_SECRET_KEY"]  # published nowhere
    # nothing secret is written in the file itself
    text = COMPOSE.read_text()
    for published in ("change-me-now-please", "demo-password-123", "development-secret"):
        assert published not in text


@pytest.mark.parametrize("password", ["change-me-now-please", "demo-password-123", "short-1"])
def test_production_refuses_published_or_short_admin_passwords(
    password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOT_ENV", "production")
    monkeypatch.setenv("TOT_JWT_SECRET", "q" * 48)
    monkeypatch.setenv("TOT_ADMIN_PASSWORD", password)
    with pytest.raises(ValidationError, match="TOT_ADMIN_PASSWORD"):
        Settings()
    monkeypatch.setenv("TOT_ADMIN_PASSWORD", "a-password-of-my-own")
    assert Settings().admin_password == "a-password-of-my-own"
    monkeypatch.setenv("TOT_ENV", "development")  # the demo's published password is fine here
    monkeypatch.setenv("TOT_ADMIN_PASSWORD", password)
    assert Settings().admin_password == password
