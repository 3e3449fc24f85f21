"""Settings from the environment (TOT_* variables), validated at start-up."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_OSM_PATH = PROJECT_ROOT / "data" / "osm" / "nizhny_novgorod_center.osm.pbf"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tot" / "graphs"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOT_", extra="ignore")

    osm_path: Path = Field(
        default=BUNDLED_OSM_PATH, description="OpenStreetMap extract (.osm.pbf) to route on"
    )
    graph_cache_dir: Path = Field(
        default_factory=_default_cache_dir, description="where compiled graphs are cached"
    )
    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="postgresql://... for PostGIS; unset: the embedded SQLite store",
    )
    sqlite_path: Path = Field(
        default_factory=lambda: (
            Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
            / "tot"
            / "tot.sqlite3"
        ),
        description="the embedded store's file when DATABASE_URL is unset",
    )
    max_snap_distance_m: PositiveFloat = Field(
        default=1_000.0, description="points farther than this from any drivable road are refused"
    )
    # -- the HTTP edge ----------------------------------------------------------------
    env: Literal["development", "test", "production"] = Field(
        default="development",
        description="production refuses a default or short JWT secret",
    )
    jwt_secret: str = Field(
        default="tot-development-secret-change-me-0123456789",
        description="HMAC key for tokens; at least 32 bytes; must be set outside development",
    )
    access_token_ttl_s: PositiveInt = Field(default=900, le=900)
    refresh_token_ttl_s: PositiveInt = Field(default=30 * 24 * 3600)
    redis_url: str | None = Field(
        default=None,
        validation_alias="REDIS_URL",
        description="redis://... for rate limits and fan-out; unset: per-process",
    )
    redis_prefix: str = Field(default="tot:", description="prefix of every Redis key we make")
    cors_origins: list[str] = Field(
        default_factory=list, description="browser origins allowed to call the API (JSON list)"
    )
    login_rate_per_min: PositiveInt = Field(default=10, description="per account and per IP")
    booking_rate_per_min: PositiveInt = Field(default=30, description="per account")
    booking_rate_per_ip_per_min: PositiveInt = Field(default=120)
    admin_email: str | None = Field(default=None, description="first admin, created at start-up")
    admin_password: str | None = Field(default=None)
    argon2_time_cost: PositiveInt = 3
    argon2_memory_kib: PositiveInt = 65_536
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65_535)
    ws_port: int = Field(default=8001, ge=0, le=65_535, description="the WebSocket gateway")
    geocoder: Literal["offline", "nominatim", "yandex"] = Field(
        default="offline",
        description="address search: the served extract's own index, or a provider",
    )
    nominatim_url: str | None = Field(
        default=None, description="a Nominatim-compatible service, for TOT_GEOCODER=nominatim"
    )
    yandex_geocoder_key: SecretStr | None = Field(
        default=None, description="the Yandex Geocoder API key, for TOT_GEOCODER=yandex"
    )
    geocoder_contact: str | None = Field(
        default=None, description="an e-mail or URL in the geocoder's User-Agent"
    )
    geocode_rate_per_min: PositiveInt = Field(default=300, description="per account")
    doctor_silence_s: float = Field(
        default=90.0,
        ge=10.0,
        le=3_600.0,
        description="a doctor's socket silent this long is closed and the doctor goes offline",
    )
    documents_dir: Path | None = Field(
        default=None,
        description="doctors' uploaded scans; unset: a `documents` folder beside the SQLite file",
    )
    max_document_bytes: PositiveInt = Field(
        default=10 * 1024 * 1024, le=100 * 1024 * 1024, description="largest scan accepted"
    )
    payments_provider: Literal["sandbox", "yookassa"] = Field(
        default="sandbox",
        description="sandbox: no account, payments confirm themselves (the demo); yookassa: "
        "YooKassa's API v3 with TOT_YOOKASSA_SHOP_ID and TOT_YOOKASSA_SECRET_KEY",
    )
    sandbox_confirm_after_s: float = Field(
        default=3.0,
        ge=0,
        le=3_600,
        description="the sandbox provider's payer confirms a payment by itself this soon (the "
        "demo); 0: only on its page, /pay/sandbox/<id>",
    )
    yookassa_shop_id: str | None = Field(default=None, description="YooKassa's shopId")

    @field_validator("yookassa_shop_id", "yookassa_secret_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    yookassa_secret_key: SecretStr | None = Field(
        default=None, description="YooKassa's secret key (never logged)"
    )
    yookassa_url: str = Field(
        default="https://api.yookassa.ru/v3", description="YooKassa's API base URL"
    )
    yookassa_networks: list[str] | None = Field(
        default=None,
        description="networks notifications are accepted from (JSON list); default: "
        "YooKassa's published ranges",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="where patients reach this service (the payer returns here)",
    )
    ws_origins: list[str] | None = Field(
        default=None,
        description="browser origins for WebSockets (JSON list); default: cors_origins",
    )

    @model_validator(mode="after")
    def _secret_fits_the_environment(self) -> Settings:
        from services.auth import (
            DEVELOPMENT_SECRET,
            MIN_ADMIN_PASSWORD_CHARS,
            MIN_SECRET_BYTES,
            PUBLISHED_PASSWORDS,
        )

        if self.env == "production" and (
            self.jwt_secret == DEVELOPMENT_SECRET
            or len(self.jwt_secret.encode()) < MIN_SECRET_BYTES
        ):
            raise ValueError(
                f"TOT_JWT_SECRET must be set to a random secret of at least {MIN_SECRET_BYTES} "
                "bytes in production (for example: python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))')"
            )
        if self.payments_provider == "yookassa" and not (
            self.yookassa_shop_id and self.yookassa_secret_key
        ):
            raise ValueError(
                "TOT_PAYMENTS_PROVIDER=yookassa needs TOT_YOOKASSA_SHOP_ID and "
                "TOT_YOOKASSA_SECRET_KEY"
            )
        if self.geocoder == "nominatim" and not self.nominatim_url:
            raise ValueError("TOT_GEOCODER=nominatim needs TOT_NOMINATIM_URL")
        if self.geocoder == "yandex" and not self.yandex_geocoder_key:
            raise ValueError("TOT_GEOCODER=yandex needs TOT_YANDEX_GEOCODER_KEY")
        if len(self.jwt_secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"TOT_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
        if self.env == "production" and self.admin_password is not None:
            if self.admin_password in PUBLISHED_PASSWORDS:
                raise ValueError(
                    "TOT_ADMIN_PASSWORD is a password published in this project's README; "
                    "choose your own for production"
                )
            if len(self.admin_password) < MIN_ADMIN_PASSWORD_CHARS:
                raise ValueError(
                    f"TOT_ADMIN_PASSWORD must be at least {MIN_ADMIN_PASSWORD_CHARS} "
                    "characters in production"
                )
        return self
