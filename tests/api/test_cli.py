"""The `bamrung` command line, run as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from api.cli import app
from layers import migrate
from layers.cluster import drop_database, ensure_database

BAMRUNG = shutil.which("bamrung", path=str(Path(sys.executable).parent)) or "bamrung"


def run(*args: str, url: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "COLUMNS": "200", **env}
    environment.pop("DATABASE_URL", None)
    if url:
        environment["DATABASE_URL"] = url
    return subprocess.run(
        [BAMRUNG, *args], capture_output=True, text=True, env=environment, timeout=300, check=False
    )


def command_paths(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            paths += command_paths(command, (*prefix, name))
        else:
            paths.append((*prefix, name))
    return paths


def test_every_command_has_help() -> None:
    paths = command_paths(typer.main.get_command(app))
    assert {
        ("db", "up"),
        ("db", "down"),
        ("db", "status"),
        ("db", "migrate"),
        ("boundaries", "load"),
        ("boundaries", "check"),
        ("boundaries", "fetch"),
        ("serve",),
    } <= set(paths)
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], prog_name="bamrung")
        assert result.exit_code == 0, (path, result.output)
        assert "Usage: bamrung" in result.output
    assert run("--help").returncode == 0  # the installed entry point


def test_migrate_load_check_and_status_on_a_fresh_database(
    new_database: Callable[[], str], shared_boundaries: Path
) -> None:
    url = new_database()
    migrated = run("db", "migrate", url=url)
    assert migrated.returncode == 0, migrated.stderr
    assert "taxonomy: 14 categories" in migrated.stdout
    load = run("boundaries", "load", str(shared_boundaries / "tha_admbnda_adm1.geojson"), url=url)
    assert load.returncode == 0, load.stderr
    assert "tha_admbnda_adm1.geojson" in load.stdout and "77" in load.stdout
    again = run("boundaries", "load", str(shared_boundaries / "tha_admbnda_adm1.geojson"), url=url)
    assert "skipped: already loaded" in again.stdout
    status = json.loads(run("db", "status", "--json", url=url).stdout)
    assert status["revision"] == status["head"] == migrate.head()
    assert status["units"] == {"province": {"boundary": 77}}
    assert "***" in status["url"]


def test_check_reports_the_registry_gaps(loaded_url: str) -> None:
    result = run("boundaries", "check", "--json", url=loaded_url)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert len(body["missing"]) == 14
    assert [r["code"] for r in body["retired"]] == ["104701", "105001", "530306"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("boundaries", "load", "/nonexistent/adm9.shp"), "no such file or folder"),
        (("boundaries", "load", "pyproject.toml"), "not a readable vector file"),
    ],
)
def test_errors_are_clear_and_exit_with_2(
    loaded_url: str, args: tuple[str, ...], message: str
) -> None:
    result = run(*args, url=loaded_url)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    result = run("db", "up", url="postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 2
    assert "cannot reach the database" in result.stderr


def test_a_database_without_the_schema_says_to_migrate(server_url: str) -> None:
    name = f"bamrung_test_{uuid.uuid4().hex[:10]}"
    url = ensure_database(server_url, name)
    try:
        result = run("boundaries", "check", url=url)
    finally:
        drop_database(server_url, name)
    assert result.returncode == 2
    assert "run `bamrung db migrate`" in result.stderr
    assert "Traceback" not in result.stderr


def test_synth_then_import_json(survey_url: str, tmp_path: Path) -> None:
    out = tmp_path / "ubon.csv"
    made = run(
        "synth",
        "--province",
        "34",
        "--households",
        "300",
        "--defects",
        "0.05",
        "--out",
        str(out),
        url=survey_url,
    )
    assert made.returncode == 0, made.stderr
    assert out.exists() and (tmp_path / "ubon.key.csv").exists()
    done = run("import", str(out), "--json", url=survey_url, BAMRUNG_PII_KEY="k")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    keys = {
        "rows",
        "rows_imported",
        "rows_unchanged",
        "rows_quarantined",
        "households_inserted",
        "households_updated",
        "problems_inserted",
        "problems_updated",
        "quarantine_reasons",
        "geocode_precision",
        "seconds",
    }
    assert keys <= set(report)
    assert (
        report["rows_imported"] + report["rows_unchanged"] + report["rows_quarantined"]
        == report["rows"]
        > 0
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("household,tambon\nA,341901\n")
    refused = run("import", str(bad), url=survey_url)
    assert refused.returncode == 2 and "required column(s) missing" in refused.stderr
