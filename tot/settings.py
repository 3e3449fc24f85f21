"""Settings from the environment (TOT_* variables), validated at start-up."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, PositiveFloat
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_OSM_PATH = PROJECT_ROOT / "data" / "osm" / "helsinki.osm.pbf"


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
