"""Bring a database up to date: the schema, then the taxonomy and agencies from their files."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from layers.cases.agencies import expand, read_agencies, sync_agencies
from layers.geography.registry import registry_units
from layers.store import migrate
from layers.survey.taxonomy import read_taxonomy, sync_taxonomy


def upgrade_and_sync(engine: Engine, taxonomy_file: Path, agencies_file: Path) -> dict[str, int]:
    """Migrate, then make the taxonomy, agency, office, route and deadline tables match the files.

    Both files are read and checked before anything is written; one transaction syncs them.
    """
    categories = read_taxonomy(taxonomy_file)
    plan = expand(
        read_agencies(agencies_file),
        [u for u in registry_units() if u.level != "subdistrict"],
        {c.code: c.within_mandate for c in categories},
        agencies_file,
    )
    migrate.upgrade(engine)
    with Session(engine) as session, session.begin():
        counts = sync_taxonomy(session, categories)
        counts.update(sync_agencies(session, plan))
    return counts
