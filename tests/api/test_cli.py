"""The `bamrung` command line, run as a user runs it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from api.cli import app
from layers.store import migrate
from layers.store.cluster import drop_database, ensure_database
from tests.factories import (
    run,
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
        # Errors from below name a field or what is missing; the command line words them.
        (("users", "add", "x", "--role", "officer", "--password", ""), "code (--area)"),
        (("stats", "--level", "district"), "no survey has been imported yet: run `bamrung import`"),
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


def test_refused_rows_are_listed_fixed_and_imported_again(survey_url: str, tmp_path: Path) -> None:
    path = tmp_path / "visits.csv"
    path.write_text(
        "household_id,round,subdistrict_code,house_no,problem_code,status\n"
        "V1,2567,341901,1,drugs,open\n"
        "V2,2567,341901,2,drugs,done\n"
        "V3,2567,341901,=1+2,no_such_code,open\n",
        encoding="utf-8",
    )
    done = run("import", str(path), "--json", url=survey_url)
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)["job_id"]
    listed = run("imports", "list", "--json", url=survey_url)
    assert listed.returncode == 0, listed.stderr
    mine = next(j for j in json.loads(listed.stdout) if j["id"] == job)
    assert mine["state"] == "done" and mine["report"]["rows_quarantined"] == 2
    refused = tmp_path / "refused.csv"
    wrote = run("imports", "quarantine", str(job), "--out", str(refused), url=survey_url)
    assert wrote.returncode == 0, wrote.stderr
    rows = refused.read_text(encoding="utf-8-sig").splitlines()
    assert rows[0] == (
        "household_id,round,subdistrict_code,house_no,problem_code,status,"
        "refused_row,refused_reasons,refused_messages"
    )
    assert rows[1].startswith("V2,2567,341901,2,drugs,done,2,bad_status,")
    # What a spreadsheet would run as a formula is quoted.
    assert rows[2].startswith("V3,2567,341901,'=1+2,no_such_code,open,3,unknown_problem_code,")
    # The officer fixes the two rows and imports the file back: the extra columns are ignored.
    fixed = refused.read_text(encoding="utf-8-sig").replace(",done,", ",open,")
    fixed = fixed.replace("no_such_code", "informal_debt")
    refused.write_text(fixed, encoding="utf-8")
    again = run("import", str(refused), "--json", url=survey_url)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["rows_imported"], report["rows_quarantined"]) == (2, 0)
    assert report["ignored_columns"] == ["refused_messages", "refused_reasons", "refused_row"]
    shown = run("imports", "quarantine", str(job), url=survey_url)
    assert shown.returncode == 0 and "unknown_problem_code" in shown.stdout
    wrong = run(
        "imports", "quarantine", str(job), "--out", str(tmp_path / "x.gpkg"), url=survey_url
    )
    assert wrong.returncode == 2 and "write a .csv file" in wrong.stderr
    assert run("imports", "quarantine", "999999", url=survey_url).returncode == 2
