"""Is the platform working: database, PostGIS, boundaries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import text

from api.auth import requires
from api.deps import SessionDep
from geo.access import PUBLIC
from layers.geography.areas import boundary_versions
from layers.store import migrate

router = APIRouter(tags=["health"], dependencies=[Depends(requires(PUBLIC))])


class Health(BaseModel):
    status: str
    database: bool
    postgis: str
    schema_revision: str | None
    boundaries: list[dict[str, Any]]


@router.get("/health", response_model=Health, summary="Database, PostGIS and boundary version")
def health(session: SessionDep) -> Health:
    postgis = session.scalar(text("SELECT postgis_full_version()")) or ""
    revision = migrate.current(session.get_bind())  # type: ignore[arg-type]
    versions = boundary_versions(session) if revision else []
    return Health(
        status="ok" if revision and versions else "degraded",
        database=True,
        postgis=postgis,
        schema_revision=revision,
        boundaries=versions,
    )
