"""Helpers that several test modules use: the command line as a user runs it, databases,
users and tokens, a served API, and readings of what an import stored."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd
import pytest
import uvicorn
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.app import create_app
from geo.synth.survey import Synthetic
from layers.access.users import add_user, issue_token
from layers.geography.boundaries import load_boundaries
from layers.geography.registry import check_registry
from layers.store.cluster import free_port
from layers.store.db import make_engine
from layers.store.settings import Settings
from layers.survey.importer import Importer
from tests.recorder import Recorder

BAMRUNG = shutil.which("bamrung", path=str(Path(sys.executable).parent)) or "bamrung"


def run(*args: str, url: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "COLUMNS": "200", **env}
    environment.pop("DATABASE_URL", None)
    if url:
        environment["DATABASE_URL"] = url
    return subprocess.run(
        [BAMRUNG, *args], capture_output=True, text=True, env=environment, timeout=300, check=False
    )


def engine_for(url: str) -> Engine:
    return make_engine(url, Settings(database_url=url))


def with_boundaries(new_database: Callable[[], str], shared_boundaries: Path) -> str:
    url = new_database()
    engine = engine_for(url)
    with engine.begin() as conn:
        load_boundaries(conn, [shared_boundaries], Settings().boundaries_dir)
    with Session(engine) as session, session.begin():
        check_registry(session)
    engine.dispose()
    return url


def token_for(url: str, role: str = "admin", **assignment: object) -> str:
    """An API token of a new user with ``role`` (and its area, categories, ...)."""
    engine = engine_for(url)
    name = f"{role}-{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        add_user(conn, name, role, **assignment)  # type: ignore[arg-type]
        token = issue_token(conn, name)
    engine.dispose()
    return token


@contextmanager
def serve(settings: Settings, token: str | None = None) -> Iterator[httpx.Client]:
    """The API served by uvicorn on a free local port; requests carry ``token`` if given."""
    port = free_port()
    assert settings.database_url is not None
    app = Recorder(create_app(settings), settings.database_url)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the API server did not start")
        time.sleep(0.05)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, headers=headers) as client:
        yield client
    server.should_exit = True
    thread.join(10)


HOUSEHOLD_QUERY = "SELECT household_id, round, house_no, moo, declared_subdistrict, members, urban, ST_X(geom) AS lon, ST_Y(geom) AS lat, precision, flags, outside_m, surveyed_on, subdistrict_code, district_code, province_code, head_id_hash FROM household"


def importer(engine: Engine) -> Importer:
    return Importer(engine, Settings(database_url=engine.url.render_as_string(hide_password=False)))


def households(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(text(HOUSEHOLD_QUERY), conn).set_index(["household_id", "round"])


def problems(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(
            text(
                "SELECT household_id, round, category, detail, status, reported_on, resolved_on FROM problem"
            ),
            conn,
        ).set_index(["household_id", "round", "category"])


def fingerprint(
    engine: Engine, source_row: str = "source_row", geom: str = "ST_AsText(geom)"
) -> tuple[str, str, str]:
    with engine.connect() as conn:
        h = conn.scalar(
            text(
                f"SELECT md5(string_agg(concat_ws('|', household_id, round, house_no, moo, declared_subdistrict, members, urban, {geom}, precision, flags::text, outside_m, subdistrict_code, surveyed_on, head_id_hash, {source_row}), ',' ORDER BY household_id, round)) FROM household"  # noqa: S608 - test's own expressions
            )
        )
        p = conn.scalar(
            text(
                f"SELECT md5(string_agg(concat_ws('|', household_id, round, category, subdistrict_code, detail, status, reported_on, updated_on, resolved_on, {source_row}), ',' ORDER BY household_id, round, category)) FROM problem"  # noqa: S608 - test's own expressions
            )
        )
        q = conn.scalar(
            text(
                "SELECT md5(string_agg(concat_ws('|', row_number, reasons::text, \"values\"::text), ',' ORDER BY row_number)) FROM quarantine"
            )
        )
    return h, p, q


def subset(survey: Synthetic, rows: int = 400) -> pd.DataFrame:
    clean = survey.clean.drop(columns=["head_name"]).iloc[:rows]
    return clean[clean["household_id"].isin(clean["household_id"].iloc[: rows - 20])]
