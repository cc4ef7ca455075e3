"""Settings, read from the environment (``BAMRUNG_*``, plus the usual ``DATABASE_URL``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Everything that can be configured, with defaults that need no configuration."""

    model_config = SettingsConfigDict(env_prefix="BAMRUNG_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "BAMRUNG_DATABASE_URL"),
        description="postgresql://user:password@host:port/db; unset = the private local cluster",
    )
    home: Path = Field(default=Path(".bamrung"), description="where the private cluster lives")
    pg_bindir: Path | None = Field(default=None, description="PostgreSQL's bin folder")
    boundaries_dir: Path = PROJECT_ROOT / "data" / "boundaries"
    taxonomy_file: Path = PROJECT_ROOT / "data" / "taxonomy.yaml"
    statement_timeout_ms: int = 60_000
    page_size_max: int = 1_000
    bbox_max_km2: float = Field(default=100_000.0, description="largest bbox a feature query takes")
    export_max_features: int = Field(
        default=50_000, description="most features one GeoJSON response carries"
    )
    download_timeout_s: float = 60.0
    upload_max_bytes: int = Field(default=200 * 1024 * 1024, description="largest survey upload")
    map_tiles: str = Field(
        default="OpenStreetMap",
        description="basemap of the maps: a folium tile name or URL template; 'none' = offline",
    )
    map_attribution: str | None = Field(default=None, description="attribution of map_tiles")
    map_points_max: int = Field(
        default=5_000, description="most household points a map shows (hexagons above it)"
    )
    jwt_secret: SecretStr | None = Field(
        default=None, description="key signing login tokens; unset = generated in BAMRUNG_HOME"
    )
    token_minutes: int = Field(default=30, description="lifetime of a login token")
    login_failures_per_user: int = Field(
        default=5, ge=1, description="failed logins of one user name let through per window"
    )
    login_failures_per_address: int = Field(
        default=20, ge=1, description="failed logins from one client address let through per window"
    )
    login_window_s: int = Field(default=900, ge=1, description="the throttling window, seconds")
    pii_key: SecretStr | None = Field(
        default=None,
        description="key for hashing national ID numbers; unset = generated in BAMRUNG_HOME",
    )
    workers: int | None = Field(
        default=None, description="processes `bamrung serve` starts; unset = the number of cores"
    )


def sqlalchemy_url(url: str) -> str:
    """The same URL with the driver this project uses (psycopg 3)."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
