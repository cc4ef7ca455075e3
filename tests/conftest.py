"""Fixtures: a real PostGIS (a throwaway cluster, or the server of DATABASE_URL) and real data.

With ``DATABASE_URL`` set, test databases are created on that server (the role needs CREATEDB)
and dropped afterwards; otherwise a private cluster is initialised in a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Connection, Engine, text

from geo.synth.survey import Synthetic
from layers.cases import setup
from layers.geography.geosocial import import_layer, import_raster
from layers.geography.synth import generate_water, write_water
from layers.store.cluster import (
    LocalCluster,
    drop_database,
    ensure_database,
    find_bindir,
)
from layers.store.db import make_engine
from layers.store.settings import PROJECT_ROOT, Settings
from layers.survey.importer import Importer
from layers.survey.synth import generate, write
from tests.factories import (
    engine_for,
    serve,
    token_for,
    with_boundaries,
)
from tests.recorder import SEEN, Seen

SHARED_BOUNDARIES = Path(
    os.environ.get(
        "BAMRUNG_SHARED_BOUNDARIES", PROJECT_ROOT.parent / "shared" / "data" / "boundaries"
    )
)


@pytest.fixture(scope="session")
def shared_boundaries() -> Path:
    """The real COD-AB files; their absence is an error, never a skip."""
    files = sorted(SHARED_BOUNDARIES.glob("tha_admbnda_adm[123].geojson"))
    if len(files) != 3:
        pytest.fail(f"the shared boundaries are missing from {SHARED_BOUNDARIES}")
    return SHARED_BOUNDARIES


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of a maintenance database on a PostGIS server that tests may create databases on."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    root = Path(tempfile.mkdtemp(prefix="bamrung-test-"))
    cluster = LocalCluster(root=root, bindir=find_bindir())
    cluster.up("postgres")
    try:
        yield cluster.url("postgres")
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def new_database(server_url: str) -> Iterator[Callable[[], str]]:
    """Make fresh, migrated databases (with the taxonomy); all are dropped at the end."""
    made: list[str] = []

    def make() -> str:
        name = f"bamrung_test_{uuid.uuid4().hex[:10]}"
        url = ensure_database(server_url, name)
        made.append(name)
        engine = make_engine(url, Settings(database_url=url))
        setup.upgrade_and_sync(engine, Settings().taxonomy_file, Settings().agencies_file)
        engine.dispose()
        return url

    yield make
    for name in made:
        drop_database(server_url, name)


@pytest.fixture(scope="session", autouse=True)
def access_log_is_complete(new_database: Callable[[], str]) -> Iterator[None]:
    """After the whole run, before its databases go: every response the test servers sent with
    personal data left exactly one access-log row, and no other response left one."""
    yield
    wrong = []
    by_database: dict[str, list[Seen]] = {}
    for seen in SEEN:
        by_database.setdefault(seen.database_url, []).append(seen)
    for url, responses in by_database.items():
        engine = engine_for(url)
        with engine.connect() as conn:
            rows = Counter(conn.scalars(text("SELECT request_id FROM access_log")))
        engine.dispose()
        for seen in responses:
            if rows[seen.request_id] != int(seen.personal):
                wrong.append(
                    f"{seen.method} {seen.path} -> {seen.status}: {rows[seen.request_id]} log "
                    f"rows, personal data {'sent' if seen.personal else 'not sent'}"
                )
    personal = sum(s.personal for s in SEEN)
    assert not wrong, (
        f"{len(wrong)} of {len(SEEN)} responses ({personal} personal) are logged wrongly:\n"
        + "\n".join(wrong[:50])
    )


@pytest.fixture
def scratch_engine(new_database: Callable[[], str]) -> Iterator[Engine]:
    """A fresh, empty (migrated) database for a test that changes data."""
    engine = engine_for(new_database())
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def loaded_url(new_database: Callable[[], str], shared_boundaries: Path) -> str:
    """A database with the real boundaries loaded and reconciled with the registry."""
    return with_boundaries(new_database, shared_boundaries)


@pytest.fixture(scope="session")
def survey_url(new_database: Callable[[], str], shared_boundaries: Path) -> str:
    """Another database with the boundaries, for tests that import surveys into it."""
    return with_boundaries(new_database, shared_boundaries)


SURVEY_TABLES = "household, problem, quarantine, import_job"


@pytest.fixture
def survey_engine(survey_url: str) -> Iterator[Engine]:
    """The survey database, emptied of survey data before the test."""
    engine = engine_for(survey_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {SURVEY_TABLES} CASCADE")
        drop_rounds(conn)
    yield engine
    engine.dispose()


def drop_rounds(conn: Connection) -> None:
    """Drop every round's partitions (and bare tables of a load): the next import loads anew."""
    attached = set(
        conn.scalars(text("SELECT quote_ident(inhrelid::regclass::text) FROM pg_inherits"))
    )
    for table in ("problem", "household", "rollup"):
        names = conn.scalars(
            text(
                "SELECT quote_ident(relname) FROM pg_class "
                "WHERE relname ~ ('^' || :table || '_r[0-9]+$') AND relkind = 'r'"
            ),
            {"table": table},
        ).all()
        for name in names:  # the problems' foreign key holds on to attached households
            if name in attached:
                conn.exec_driver_sql(f"ALTER TABLE {table} DETACH PARTITION {name}")
            conn.exec_driver_sql(f"DROP TABLE {name}")


@pytest.fixture(scope="session")
def synthetic(survey_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Synthetic, Path]:
    """A synthetic survey of Ubon Ratchathani with 6 % planted faults, and its CSV file."""
    engine = engine_for(survey_url)
    with engine.connect() as conn:
        survey = generate(conn, provinces=["34"], households=1500, seed=7, defects=0.06)
    engine.dispose()
    path = tmp_path_factory.mktemp("synthetic") / "ubon.csv"
    write(survey, path)
    return survey, path


@pytest.fixture(scope="session")
def loaded_engine(loaded_url: str) -> Iterator[Engine]:
    engine = engine_for(loaded_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def api(loaded_url: str) -> Iterator[httpx.Client]:
    """The API over the database with the real boundaries, called by an admin."""
    with serve(Settings(database_url=loaded_url), token_for(loaded_url)) as client:
        yield client


@pytest.fixture(scope="session")
def analysis_settings(
    new_database: Callable[[], str],
    shared_boundaries: Path,
    synthetic: tuple[Synthetic, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    """Settings of a database with the boundaries, the synthetic Ubon survey and a synthetic
    water set for province 34 (rasters in the settings' home)."""
    url = with_boundaries(new_database, shared_boundaries)
    engine = engine_for(url)
    settings = Settings(database_url=url, home=tmp_path_factory.mktemp("home"))
    Importer(engine, settings).run(synthetic[1])
    with engine.connect() as conn:
        water = generate_water(conn, "34", seed=3)
    files = write_water(water, tmp_path_factory.mktemp("water"))
    with engine.begin() as conn:
        for kind, path in files.items():
            if path.suffix == ".tif":
                import_raster(conn, settings, path, kind, raster_id=f"syn-{kind}", synthetic=True)
            else:
                import_layer(conn, path, kind, synthetic=True)
    engine.dispose()
    return settings


@pytest.fixture(scope="session")
def analysis_engine(analysis_settings: Settings) -> Iterator[Engine]:
    assert analysis_settings.database_url is not None
    engine = engine_for(analysis_settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def cases_url(
    new_database: Callable[[], str], shared_boundaries: Path, synthetic: tuple[Synthetic, Path]
) -> str:
    """A database with the boundaries and the synthetic Ubon survey, for case hand-off."""
    url = with_boundaries(new_database, shared_boundaries)
    engine = engine_for(url)
    Importer(engine, Settings(database_url=url)).run(synthetic[1])
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE problem_before AS SELECT id, category, status, updated_on, resolved_on "
            "FROM problem"
        )
    engine.dispose()
    return url


@pytest.fixture
def cases_engine(cases_url: str) -> Iterator[Engine]:
    """The cases database with no case: problems as imported (history stays: it is append-only)."""
    engine = engine_for(cases_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM case_outbox")
        conn.exec_driver_sql("DELETE FROM problem_case")
        conn.exec_driver_sql(
            "UPDATE problem p SET category = b.category, status = b.status, "
            "updated_on = b.updated_on, resolved_on = b.resolved_on FROM problem_before b "
            "WHERE p.id = b.id AND (p.category, p.status, p.updated_on, p.resolved_on) "
            "IS DISTINCT FROM (b.category, b.status, b.updated_on, b.resolved_on)"
        )
    yield engine
    engine.dispose()
