"""The synthetic Ubon Ratchathani survey the benches share, each in a database of its own.

Built once (province 34, seed 11, no planted faults) and reused while the database holds at
least 90 % of the households asked for; ``rebuild`` empties it first.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text

from layers.cases import setup
from layers.geography.boundaries import load_boundaries
from layers.store.cluster import ensure_database
from layers.store.db import database_url, make_engine
from layers.store.models import AdminUnit
from layers.store.settings import PROJECT_ROOT, Settings
from layers.survey.importer import Importer
from layers.survey.synth import generate, write

BOUNDARIES = PROJECT_ROOT.parent / "shared" / "data" / "boundaries"
PROVINCE = "34"


def ubon_database(
    name: str, households: int, rebuild: bool, **settings: Any
) -> tuple[Engine, Settings]:
    """An engine on the bench database ``name`` holding the survey, and its settings (the
    private cluster's, with ``settings`` on top)."""
    url = ensure_database(database_url(Settings()), name)
    chosen = Settings(database_url=url, **settings)
    engine = make_engine(url, chosen)
    setup.upgrade_and_sync(engine, chosen.taxonomy_file, chosen.agencies_file)
    with engine.begin() as conn:
        if rebuild:
            conn.exec_driver_sql("TRUNCATE household, problem, quarantine, import_job CASCADE")
        if not conn.scalar(select(AdminUnit.code).limit(1)):
            load_boundaries(conn, [BOUNDARIES], chosen.boundaries_dir)
        have = conn.scalar(text("SELECT count(DISTINCT household_id) FROM household")) or 0
    if have < households * 0.9:
        with engine.connect() as conn:
            survey = generate(
                conn, provinces=[PROVINCE], households=households, seed=11, defects=0.0
            )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "ubon.csv"
            write(survey, path)
            Importer(engine, chosen).run(path)
    return engine, chosen
