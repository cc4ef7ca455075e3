"""The SQL functions and triggers in force are the ones ``layers/store/sql/`` shows."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import text

from layers.store import definitions
from layers.store.cluster import drop_database, ensure_database
from tests.factories import engine_for, run


def test_the_sql_files_are_what_a_migrated_database_holds(server_url: str) -> None:
    name = f"bamrung_test_{uuid.uuid4().hex[:10]}"
    url = ensure_database(server_url, name)
    try:
        migrated = run("db", "migrate", url=url)
        assert migrated.returncode == 0, migrated.stderr
        checked = run("db", "definitions", url=url)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        files = definitions.stored()
        # Every function a trigger calls has its file, and every file names its own function.
        called = set(re.findall(r"EXECUTE FUNCTION (\w+)\(", files[definitions.TRIGGERS]))
        assert called and called <= files.keys()
        for name, body in files.items():
            if name != definitions.TRIGGERS:
                assert body.startswith(f"CREATE OR REPLACE FUNCTION public.{name}("), name
        # A function changed in the database, and the files no longer describe it.
        engine = engine_for(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE OR REPLACE FUNCTION rollup_truncated() RETURNS trigger "
                    "LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$"
                )
            )
        engine.dispose()
        apart = run("db", "definitions", url=url)
        assert apart.returncode == 1 and "rollup_truncated" in apart.stdout, apart.stdout
    finally:
        drop_database(server_url, name)
