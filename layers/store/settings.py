"""Settings, read from the environment (``BAMRUNG_*``, plus the usual ``DATABASE_URL``)."""

from __future__ import annotations

from datetime import datetime
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
        description=(
            "The PostGIS database to use, as `postgresql://user:password@host:port/db`; "
            "unset, Bamrung starts and uses its private local cluster under `BAMRUNG_HOME`."
        ),
    )
    home: Path = Field(
        default=Path(".bamrung"),
        description=(
            "The folder of Bamrung's own state (relative to the working directory): the private "
            "cluster (`pg/`), generated keys, uploads, the raster store (`rasters/`) and the map "
            "gallery (`maps/`)."
        ),
    )
    pg_bindir: Path | None = Field(
        default=None,
        description=(
            "PostgreSQL's `bin` folder (`initdb`, `pg_ctl`) for the private cluster; "
            "unset, it is found by itself on Debian."
        ),
    )
    boundaries_dir: Path = Field(
        default=PROJECT_ROOT / "data" / "boundaries",
        description=(
            "The folder of the boundary `manifest.toml` (sources, attributions, licences, "
            "checksums) and of the `cache/` that `bamrung boundaries fetch` downloads into."
        ),
    )
    taxonomy_file: Path = Field(
        default=PROJECT_ROOT / "data" / "taxonomy.yaml",
        description=(
            "The problem taxonomy (YAML) that `bamrung db migrate` syncs into the database."
        ),
    )
    agencies_file: Path = Field(
        default=PROJECT_ROOT / "data" / "agencies.yaml",
        description=(
            "Agencies, their offices, the routing of categories to offices and the case "
            "deadlines (YAML), synced by `bamrung db migrate`."
        ),
    )
    survey_form_file: Path = Field(
        default=PROJECT_ROOT / "data" / "forms" / "household.xlsx",
        description=(
            "The household XLSForm whose ODK Central and KoboToolbox exports `bamrung import "
            "--profile odk|kobo` reads (its questions, labels and choices)."
        ),
    )
    targeting_file: Path = Field(
        default=PROJECT_ROOT / "data" / "targeting.yaml",
        description="The targeting weights and category severities (YAML) rankings are scored by.",
    )
    statement_timeout_ms: int = Field(
        default=60_000,
        description=(
            "The longest one database statement may run before PostgreSQL cancels it, "
            "in milliseconds."
        ),
    )
    page_size_max: int = Field(
        default=1_000,
        description=(
            "The largest page (`limit`) a paginated API listing accepts, in rows; "
            "a larger one answers 422."
        ),
    )
    ogc_page_max: int = Field(
        default=1_000,
        description=(
            "The largest page (`limit`) of the OGC API's `/ogc/collections/{id}/items`, in "
            "features; a larger limit is served as this many, with a `next` link."
        ),
    )
    ogc_exact_count_max: int = Field(
        default=100_000,
        description=(
            "Up to how many features the OGC API counts `numberMatched` exactly; above it, "
            "the database planner's estimate is given (counts are cached per data version)."
        ),
    )
    bbox_max_km2: float = Field(
        default=100_000.0,
        description=(
            "The largest bbox a feature query (`GET /layers/{kind}/features?bbox=`) takes, "
            "in km²; a larger one answers 413."
        ),
    )
    export_max_features: int = Field(
        default=50_000,
        description=(
            "The most features one GeoJSON response carries (hexagons, hotspots, overlays, "
            "layer features); more answers 413."
        ),
    )
    download_timeout_s: float = Field(
        default=60.0,
        description=(
            "How long `bamrung boundaries fetch` waits for the server to connect or send more "
            "data before it gives up, in seconds."
        ),
    )
    upload_max_bytes: int = Field(
        default=200 * 1024 * 1024,
        description=(
            "The largest request body, a survey upload included, in bytes (200 MiB); "
            "past it the answer is 413 at once."
        ),
    )
    map_tiles: str = Field(
        default="OpenStreetMap",
        description=(
            "The maps' basemap: a folium tile name or a URL template (its server is allowed by "
            "the pages' Content-Security-Policy); `none` draws no tiles, for offline use."
        ),
    )
    map_attribution: str | None = Field(
        default=None,
        description=(
            "The attribution shown for `BAMRUNG_MAP_TILES` (needed with a URL template); "
            "unset, folium's own for a named basemap."
        ),
    )
    map_points_max: int = Field(
        default=5_000,
        description=(
            "The most household points the `households` map draws, in households; "
            "above it the map shows hexagons and says so."
        ),
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        description=(
            "The key signing login tokens (HS256); unset, one is generated once in "
            "`BAMRUNG_HOME/jwt.key`."
        ),
    )
    token_minutes: int = Field(
        default=30,
        description="How long a login token from `POST /auth/token` stays valid, in minutes.",
    )
    session_minutes: int = Field(
        default=480,
        ge=1,
        description=(
            "How long a web session (the login page's cookie) lasts, in minutes; it ends sooner "
            "when the user logs out or is disabled."
        ),
    )
    secure_cookies: bool = Field(
        default=False,
        description=(
            "Mark the session cookie `Secure` on every answer, not only on answers to HTTPS "
            "requests: for a TLS proxy on another host, whose forwarded scheme uvicorn does "
            "not trust."
        ),
    )
    login_failures_per_user: int = Field(
        default=5,
        ge=1,
        description=(
            "Failed logins of one user name let through per `BAMRUNG_LOGIN_WINDOW_S`, a count; "
            "past it `POST /auth/token` answers 429."
        ),
    )
    login_failures_per_address: int = Field(
        default=20,
        ge=1,
        description=(
            "Failed logins from one client address let through per `BAMRUNG_LOGIN_WINDOW_S`, "
            "a count; past it `POST /auth/token` answers 429."
        ),
    )
    reports_per_address: int = Field(
        default=50,
        ge=1,
        description=(
            "How many reports citizens may send from one network address in 24 hours (a "
            "village's shared phone or network sends for many households)."
        ),
    )
    enrolment_days: int = Field(
        default=14,
        ge=1,
        le=90,
        description="How many days an enrolment code a district team issues stays valid.",
    )
    login_window_s: int = Field(
        default=900,
        ge=1,
        description="The window over which failed logins are counted for throttling, in seconds.",
    )
    solved_question_days: int = Field(
        default=21,
        ge=1,
        le=365,
        description=(
            'Days after a case is resolved when its household is asked "is it solved?" '
            "(by the worker's daily task)"
        ),
    )
    photo_max_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="The largest photo a citizen may attach to a report, before re-encoding",
    )
    line_channel_secret: SecretStr | None = Field(
        default=None,
        description=(
            "The LINE Messaging API channel's secret, which signs the webhook's requests; "
            "unset, /line/webhook answers 404"
        ),
    )
    line_channel_token: SecretStr | None = Field(
        default=None, description="The LINE channel's access token, for the replies"
    )
    line_api_url: str = Field(
        default="https://api.line.me",
        description="Where replies to LINE go (the tests point it at a local recorder)",
    )
    pii_key: SecretStr | None = Field(
        default=None,
        description=(
            "The key of the keyed hash replacing national ID numbers and pseudonymising "
            "household ids; unset, one is generated once in `BAMRUNG_HOME/pii.key`."
        ),
    )
    clock: datetime | None = Field(
        default=None,
        description=(
            "The time cases are handled at (ISO 8601, e.g. `2027-03-01T09:00+07:00`): deadlines, "
            "escalation and history follow it instead of the real clock. For tests and "
            "demonstrations; unset in production."
        ),
    )
    webhook_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            "The shared secret of each office with a webhook, as JSON "
            '(`{"dol-34": "..."}`): deliveries are signed with it (HMAC-SHA256).'
        ),
    )
    webhook_attempts: int = Field(
        default=6,
        ge=1,
        description="Delivery attempts of one message before it is parked as a dead letter.",
    )
    webhook_backoff_s: float = Field(
        default=30.0,
        gt=0,
        description="The wait after the first failed delivery; it doubles after each failure.",
    )
    attachment_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1,
        description=(
            "The largest file attached to a case (a PDF, PNG or JPEG), in bytes (10 MiB)."
        ),
    )
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, description="How long a webhook receiver has to answer, in seconds."
    )
    workers: int | None = Field(
        default=None,
        description=(
            "The worker processes `bamrung serve` starts (`--workers` overrides it); "
            "unset, one per core."
        ),
    )


def sqlalchemy_url(url: str) -> str:
    """The same URL with the driver this project uses (psycopg 3)."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
