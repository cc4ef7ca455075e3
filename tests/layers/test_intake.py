"""Importing surveys: the generator's key is the oracle; formats, encodings, resume, privacy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point
from sqlalchemy import Engine, text

from geo.errors import InvalidInputError
from geo.synth.survey import Synthetic
from layers.store.partitions import attached_rounds, ensure_round
from layers.store.settings import Settings
from layers.survey import imports
from layers.survey.dedupe import SeenRows
from layers.survey.importer import Importer
from tests.factories import (
    engine_for,
    fingerprint,
    households,
    importer,
    problems,
    subset,
    with_boundaries,
)

ROUNDS = (2566, 2567)


def test_planted_faults_are_repaired_and_flagged_or_quarantined(
    survey_engine: Engine, synthetic: tuple[Synthetic, Path]
) -> None:
    survey, path = synthetic
    report = importer(survey_engine).run(path, batch_rows=700)
    assert report.rows == len(survey.rows)
    assert report.rows_imported + report.rows_unchanged + report.rows_quarantined == report.rows
    key = survey.key.set_index("row_number")
    with survey_engine.connect() as conn:
        quarantined = {
            r: set(reasons)
            for r, reasons in conn.execute(text("SELECT row_number, reasons FROM quarantine"))
        }
    stored = households(survey_engine)
    # Every planted fault that must be refused is, with the right reason, and nothing else is.
    refuse = key[key["expect"].str.startswith("quarantine:")]
    assert {int(r): {e.split(":")[1]} for r, e in refuse["expect"].items()} == quarantined
    # Every fault that can be repaired is, and the household says so.
    clean = survey.clean
    for row_number, expect in key.loc[key["expect"].str.startswith("flag:"), "expect"].items():
        row = clean.iloc[survey.origin[row_number - 1]]
        record = stored.loc[(row["household_id"], int(row["round"]))]
        assert expect.split(":")[1] in record["flags"], (row_number, expect, record["flags"])
    # No clean row is lost: each one's household and problem are stored.
    planted_rows = set(key.index)
    kept = [i for i in range(len(survey.rows)) if i + 1 not in planted_rows]
    stored_problems = problems(survey_engine)
    for i in kept:
        row = clean.iloc[survey.origin[i]]
        assert (row["household_id"], int(row["round"])) in stored.index
        if row["problem_code"]:
            assert (
                row["household_id"],
                int(row["round"]),
                row["problem_code"],
            ) in stored_problems.index


def test_clean_and_repaired_values_equal_the_clean_survey(
    survey_engine: Engine, synthetic: tuple[Synthetic, Path]
) -> None:
    survey, path = synthetic
    importer(survey_engine).run(path)
    stored = households(survey_engine)
    rows = survey.rows.assign(defect=None)
    rows.loc[survey.key["row_number"] - 1, "defect"] = survey.key["defect"].to_numpy()
    rows["clean"] = survey.origin
    repairable = {
        "swapped_coordinates",
        "utm_coordinates",
        "buddhist_era_date",
        "thai_digits",
        "cp874_text",
    }
    by_household = rows.groupby(["household_id", "round"])["defect"].agg(lambda d: set(d.dropna()))
    checked = 0
    for (household_id, round_), defects in by_household.items():
        if not defects <= repairable:
            continue
        clean = survey.clean[
            (survey.clean["household_id"] == household_id) & (survey.clean["round"] == str(round_))
        ].iloc[0]
        record = stored.loc[(household_id, int(round_))]
        assert record["lon"] == pytest.approx(float(clean["lon"]), abs=2e-6)
        assert record["lat"] == pytest.approx(float(clean["lat"]), abs=2e-6)
        assert record["precision"] == (
            "gps_corrected"
            if defects & {"swapped_coordinates", "utm_coordinates"} and record["precision"] != "gps"
            else "gps"
        )
        assert (record["moo"], record["members"], record["house_no"]) == (
            int(clean["moo"]),
            int(clean["members"]),
            clean["house_no"],
        )
        assert str(record["surveyed_on"]) == clean["surveyed_on"]
        assert (
            record["declared_subdistrict"]
            == record["subdistrict_code"]
            == clean["subdistrict_code"]
        )
        assert (
            record["district_code"] == clean["subdistrict_code"][:4]
            and record["province_code"] == "34"
        )
        assert np.isnan(record["outside_m"])
        if not defects:
            assert record["flags"] == []
        checked += 1
    assert checked > 0.9 * len(by_household)
    # Problem rows carry Thai text: it comes out right whether the row was UTF-8 or cp874.
    stored_problems = problems(survey_engine)
    for _, row in rows[
        rows["defect"].isin([None, "cp874_text"]) & (rows["problem_code"] != "")
    ].iterrows():
        clean = survey.clean.iloc[row["clean"]]
        found = stored_problems.loc[
            (clean["household_id"], int(clean["round"]), clean["problem_code"])
        ]
        assert (found["detail"] if isinstance(found["detail"], str) else "") == clean[
            "problem_detail"
        ]
        assert found["status"] == clean["status"]
        assert str(found["reported_on"]) == clean["reported_on"]


def test_a_wrong_subdistrict_is_kept_flagged_and_measured(
    survey_engine: Engine, synthetic: tuple[Synthetic, Path]
) -> None:
    survey, path = synthetic
    importer(survey_engine).run(path)
    wrong = survey.key[survey.key["defect"] == "wrong_subdistrict"]["row_number"]
    stored = households(survey_engine)
    flagged = stored[stored["flags"].map(lambda f: "outside_declared_subdistrict" in f)]
    assert (
        len(flagged)
        >= len(
            {
                (survey.rows.iloc[r - 1]["household_id"], survey.rows.iloc[r - 1]["round"])
                for r in wrong
            }
        )
        > 0
    )
    with survey_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT h.outside_m, ST_Intersects(a.geom, h.geom) AS inside, "
                "ST_Distance(a.geom::geography, h.geom::geography) AS metres "
                "FROM household h JOIN admin_unit a ON a.code = h.declared_subdistrict"
            )
        ).all()
    # A distance is stored exactly when the point is outside its declared subdistrict, and it
    # agrees with PostGIS's geodesic distance.
    assert all((r.outside_m is None) == r.inside for r in rows)
    measured = [r for r in rows if r.outside_m is not None]
    assert measured and all(r.outside_m == pytest.approx(r.metres, rel=0.01) for r in measured)


def test_reimporting_the_same_file_adds_nothing(
    survey_engine: Engine, synthetic: tuple[Synthetic, Path]
) -> None:
    _, path = synthetic
    first = importer(survey_engine).run(path, batch_rows=1000)
    again = importer(survey_engine).run(path, batch_rows=1600)
    assert (
        again.rows_imported,
        again.households_inserted,
        again.households_updated,
        again.problems_inserted,
        again.problems_updated,
    ) == (0, 0, 0, 0, 0)
    assert again.rows_unchanged == first.rows_imported
    assert again.rows_quarantined == first.rows_quarantined
    with survey_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM quarantine")) == first.rows_quarantined


def test_a_status_change_in_a_new_file_updates_the_problem(
    survey_engine: Engine, synthetic: tuple[Synthetic, Path], tmp_path: Path
) -> None:
    _, path = synthetic
    importer(survey_engine).run(path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding_errors="replace")
    target = frame[(frame["status"] == "open") & (frame["problem_code"] != "")].index[0]
    frame.loc[target, ["status", "resolved_on"]] = ["solved_by_agency", "2024-02-01"]
    changed = tmp_path / "changed.csv"
    frame.iloc[[target]].to_csv(changed, index=False)
    report = importer(survey_engine).run(changed)
    assert (report.rows_imported, report.problems_updated, report.problems_inserted) == (1, 1, 0)


def attach_rounds(engine: Engine) -> None:
    """Give the synthetic rounds empty partitions, so that an import upserts into them."""
    with engine.begin() as conn:
        for number in ROUNDS:
            ensure_round(conn, number)


@pytest.mark.parametrize("into", ["new rounds", "existing rounds"])
def test_an_import_killed_midway_and_run_again_ends_like_an_uninterrupted_one(
    survey_engine: Engine,
    synthetic: tuple[Synthetic, Path],
    new_database: Callable[[], str],
    shared_boundaries: Path,
    into: str,
) -> None:
    """New rounds are copied into bare tables (a killed load is started over), existing ones
    upserted batch by batch: either way the end is the same as without the kill."""
    _, path = synthetic
    whole = engine_for(with_boundaries(new_database, shared_boundaries))
    if into == "existing rounds":
        attach_rounds(survey_engine)
        attach_rounds(whole)
    url = survey_engine.url.render_as_string(hide_password=False).replace("+psycopg", "")
    env = {**os.environ, "DATABASE_URL": url, "BAMRUNG_PII_KEY": "test-key"}
    child = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("bamrung")),
            "import",
            str(path),
            "--batch-rows",
            "100",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    done = 0
    while done < 200 and time.monotonic() < deadline and child.poll() is None:
        with survey_engine.connect() as conn:
            done = conn.scalar(text("SELECT coalesce(max(rows_done), 0) FROM import_job")) or 0
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    with survey_engine.connect() as conn:
        killed = imports.job(conn, conn.scalar(text("SELECT max(id) FROM import_job")))
    assert killed["state"] == "interrupted", "a killed import's job says so"
    # Stored so far: in the attached partitions, or in the bare tables of the new rounds.
    table = "household" if into == "existing rounds" else "household_r2566"
    with survey_engine.connect() as conn:
        partial = conn.scalar(text("SELECT rows_done FROM import_job ORDER BY id DESC LIMIT 1"))
        stored_rows = conn.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608 - a constant
        attached = attached_rounds(conn)
    assert 0 < partial < 4000 and stored_rows > 0, "the import was not stopped midway"
    assert attached == (set(ROUNDS) if into == "existing rounds" else set())
    settings = Settings(database_url=url, pii_key="test-key")
    Importer(survey_engine, settings).run(path, batch_rows=100)
    Importer(
        whole,
        Settings(database_url=whole.url.render_as_string(hide_password=False), pii_key="test-key"),
    ).run(path, batch_rows=100)
    assert fingerprint(survey_engine) == fingerprint(whole)
    whole.dispose()


@pytest.mark.parametrize("order", ["as written", "shuffled"])
def test_a_new_round_loaded_in_bulk_equals_the_same_rows_upserted(
    survey_engine: Engine,
    synthetic: tuple[Synthetic, Path],
    new_database: Callable[[], str],
    shared_boundaries: Path,
    tmp_path: Path,
    order: str,
) -> None:
    """Shuffled, a household's rows fall into several batches: the later ones are held back
    and upserted once the round is attached, as the upsert path would have written them."""
    _, path = synthetic
    if order == "shuffled":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding_errors="replace")
        path = tmp_path / "shuffled.csv"
        frame.sample(frac=1, random_state=3).to_csv(path, index=False)
    upserted = engine_for(with_boundaries(new_database, shared_boundaries))
    attach_rounds(upserted)
    bulk = importer(survey_engine).run(path, batch_rows=700)
    upsert = importer(upserted).run(path, batch_rows=700)
    assert bulk.rounds_loaded == list(ROUNDS) and upsert.rounds_loaded == []
    for key in ("rows", "rows_imported", "rows_quarantined", "rows_unchanged"):
        assert getattr(bulk, key) == getattr(upsert, key), key
    assert bulk.households_inserted == upsert.households_inserted
    assert bulk.problems_inserted == upsert.problems_inserted
    assert bulk.quarantine_reasons == upsert.quarantine_reasons
    if order == "as written":
        assert fingerprint(survey_engine) == fingerprint(upserted)
    else:
        # Held back rows rewrite a household once where batch by batch it may be rewritten
        # twice, so the row credited (``source_row``) may differ; and a household placed at
        # its village's mean is placed from the village's GPS households stored so far, which
        # the rows held back are not yet among.
        shown = ("''", "CASE WHEN precision LIKE 'gps%' THEN ST_AsText(geom) END")
        assert fingerprint(survey_engine, *shown) == fingerprint(upserted, *shown)
    if order == "shuffled":
        assert 0 < bulk.households_updated <= upsert.households_updated
    with survey_engine.connect() as a, upserted.connect() as b:
        # Counted batch by batch, a count that went up and back down stays as a zero.
        query = text("SELECT round, code, key, n FROM rollup WHERE n <> 0 ORDER BY 1, 2, 3")
        assert a.execute(query).all() == b.execute(query).all()
        assert attached_rounds(a) == set(ROUNDS)
    upserted.dispose()


def test_two_imports_of_the_same_new_rounds_at_once_end_like_one_after_the_other(
    survey_engine: Engine,
    synthetic: tuple[Synthetic, Path],
    new_database: Callable[[], str],
    shared_boundaries: Path,
    tmp_path: Path,
) -> None:
    """The first to reach a new round loads it in bulk; the other waits for it to be attached,
    then upserts into it."""
    _, path = synthetic
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding_errors="replace")
    households = frame["household_id"].drop_duplicates()
    halves = []
    for i, part in enumerate((households[::2], households[1::2])):
        halves.append(tmp_path / f"half{i}.csv")
        frame[frame["household_id"].isin(part)].to_csv(halves[-1], index=False)
    reports: list[Any] = [None, None]

    def run(i: int) -> None:
        reports[i] = importer(survey_engine).run(halves[i], batch_rows=500)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert all(reports), "an import failed or hung"
    assert sorted(len(r.rounds_loaded) for r in reports) == [0, 2]
    assert sum(r.rows_quarantined for r in reports) + sum(r.rows_imported for r in reports) == len(
        frame
    )
    # The same as the two files one after the other, the bulk-loaded one first.
    whole = engine_for(with_boundaries(new_database, shared_boundaries))
    first = 0 if reports[0].rounds_loaded else 1
    for i in (first, 1 - first):
        importer(whole).run(halves[i], batch_rows=500)
    assert fingerprint(survey_engine) == fingerprint(whole)
    with survey_engine.connect() as a, whole.connect() as b:
        query = text("SELECT round, code, key, n FROM rollup WHERE n <> 0 ORDER BY 1, 2, 3")
        assert a.execute(query).all() == b.execute(query).all()
    whole.dispose()


def test_national_ids_and_names_never_stored_in_the_clear(
    survey_engine: Engine, synthetic: tuple[Synthetic, Path]
) -> None:
    survey, path = synthetic
    report = importer(survey_engine).run(path)
    assert report.personal_columns == {"head_national_id": "hashed", "head_name": "dropped"}
    with survey_engine.connect() as conn:
        dump = "\n".join(
            conn.scalar(text(query))
            for query in (
                "SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM household t",
                "SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM problem t",
                "SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM quarantine t",
                "SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM import_job t",
            )
        )
    ids = survey.clean["head_national_id"].unique()
    names = survey.clean["head_name"].unique()
    assert not [i for i in ids[:300] if i in dump]
    assert not [n for n in names if n.split(" ")[-1] in dump and n in dump]
    stored = households(survey_engine)
    assert stored["head_id_hash"].str.fullmatch(r"[0-9a-f]{64}").all()


@pytest.mark.parametrize("kind", ["xlsx", "geojson", "gpkg", "shp", "shp-cp874", "csv-cp874"])
def test_every_format_gives_the_same_households(
    survey_engine: Engine, synthetic: tuple[Synthetic, Path], tmp_path: Path, kind: str
) -> None:
    survey, _ = synthetic
    frame = subset(survey)
    reference = tmp_path / "reference.csv"
    frame.to_csv(reference, index=False)
    importer(survey_engine).run(reference)
    expected = households(survey_engine).drop(columns=["head_id_hash"])
    problems_expected = problems(survey_engine)
    with survey_engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE household, problem, quarantine, import_job CASCADE")
    points = gpd.GeoDataFrame(
        frame.drop(columns=["lat", "lon"]),
        geometry=[
            Point(float(x), float(y)) for x, y in zip(frame["lon"], frame["lat"], strict=True)
        ],
        crs=4326,
    )
    if kind == "xlsx":
        path = tmp_path / "survey.xlsx"
        frame.to_excel(path, index=False)
    elif kind == "csv-cp874":
        path = tmp_path / "survey.csv"
        path.write_bytes(frame.to_csv(index=False).encode("cp874"))
    elif kind == "shp-cp874":
        path = tmp_path / "survey.shp"
        pyogrio.write_dataframe(points.rename(columns=lambda c: c[:10]), path, encoding="cp874")
        path.with_suffix(".cpg").unlink(missing_ok=True)
    else:
        path = tmp_path / f"survey.{'shp' if kind == 'shp' else kind}"
        data = points.rename(columns=lambda c: c[:10]) if kind == "shp" else points
        pyogrio.write_dataframe(data, path)
    profile = None
    if kind.startswith("shp"):
        # DBF field names are cut to 10 characters: a small profile maps them back.
        profile_path = tmp_path / "dbf.yaml"
        long = [c for c in frame.columns if len(c) > 10 and c not in ("lat", "lon")]
        profile_path.write_text(
            "name: dbf\ncolumns:\n" + "".join(f"  {c}: {c[:10]}\n" for c in long)
        )
        profile = str(profile_path)
    report = importer(survey_engine).run(path, profile=profile)
    assert report.rows == len(frame) and report.rows_quarantined == 0
    got = households(survey_engine).drop(columns=["head_id_hash"])
    pd.testing.assert_frame_equal(
        got.sort_index(), expected.sort_index(), check_dtype=False, check_exact=False, atol=1e-6
    )
    pd.testing.assert_frame_equal(
        problems(survey_engine).sort_index(), problems_expected.sort_index(), check_dtype=False
    )


def test_a_yaml_profile_maps_another_layout_onto_the_canonical_format(
    survey_engine: Engine, synthetic: tuple[Synthetic, Path], tmp_path: Path
) -> None:
    survey, _ = synthetic
    frame = subset(survey, 200)
    names = {"household_id": "hh_id", "round": "survey_round", "subdistrict_code": "tambon"}
    names |= {"problem_code": "problem", "urban": "is_urban"}
    profile = tmp_path / "district.yaml"
    profile.write_text(
        "name: district\ncolumns:\n"
        + "".join(f"  {canonical}: {theirs}\n" for canonical, theirs in names.items())
        + "geopoint: gps\nvalues:\n  urban: {ใช่: 'true', ไม่ใช่: 'false'}\n",
        encoding="utf-8",
    )
    export = frame.rename(columns=names)
    export["gps"] = frame["lat"] + " " + frame["lon"] + " 150.0 4.5"
    export["is_urban"] = frame["urban"].map({"true": "ใช่", "false": "ไม่ใช่"})
    path = tmp_path / "district.csv"
    export.drop(columns=["lat", "lon"]).to_csv(path, index=False)
    report = importer(survey_engine).run(path, profile=str(profile))
    assert report.profile == "district"
    assert report.rows == len(frame) and report.rows_quarantined == 0
    stored = households(survey_engine)
    first = frame.iloc[0]
    record = stored.loc[(first["household_id"], int(first["round"]))]
    assert (record["lat"], record["lon"]) == pytest.approx(
        (float(first["lat"]), float(first["lon"]))
    )
    assert record["urban"] == (first["urban"] == "true")
    with pytest.raises(InvalidInputError, match="no profile 'nonesuch': use odk, kobo or a YAML"):
        importer(survey_engine).run(path, profile="nonesuch")


def test_missing_columns_and_unreadable_files_are_refused_before_anything_is_written(
    survey_engine: Engine, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("household,tambon\nA,341901\n")
    with pytest.raises(
        InvalidInputError,
        match=r"required column\(s\) missing: household_id, subdistrict_code, problem_code, round",
    ):
        importer(survey_engine).run(bad)
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"household_id,subdistrict_code,problem_code\n\xff\xfe\xfd\x00\x81\n")
    with pytest.raises(InvalidInputError, match="neither UTF-8 nor Thai"):
        importer(survey_engine).run(garbage)
    with pytest.raises(InvalidInputError, match="unknown kind of file"):
        importer(survey_engine).run(
            tmp_path / "x.doc" if (tmp_path / "x.doc").write_text("x") else bad
        )
    with survey_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM import_job")) == 0
        assert conn.scalar(text("SELECT count(*) FROM household")) == 0


def test_bad_rows_are_kept_with_their_reasons(survey_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(
        "household_id,round,subdistrict_code,moo,members,lat,lon,problem_code,status,reported_on\n"
        "H1,2567,341901,1,4,15.2447,105.2294,drugs,open,2024-01-05\n"
        ",2567,341901,1,4,15.2447,105.2294,drugs,open,2024-01-05\n"
        "H2,2567,9999,1,4,15.2447,105.2294,,,\n"
        "H3,2567,341901,1,-2,15.2447,105.2294,,,\n"
        "H4,2567,341901,1,3,15.2447,105.2294,drugs,maybe,2024-01-05\n"
        "H5,2567,341901,1,3,15.2447,105.2294,drugs,open,31/31/2024\n"
        "H6,2567,999999,1,3,,,,,\n"
        "H7,1850,341901,1,3,15.2447,105.2294,,,\n"
    )
    report = importer(survey_engine).run(path)
    assert report.rows == 8 and report.rows_imported == 1 and report.rows_quarantined == 7
    assert dict(report.quarantine_reasons) == {
        "missing_household_id": 1,
        "bad_subdistrict_code": 1,
        "bad_members": 1,
        "bad_status": 1,
        "bad_date": 1,
        "unknown_subdistrict": 1,
        "bad_round": 1,
    }
    with survey_engine.connect() as conn:
        row = conn.execute(
            text('SELECT reasons, messages, "values" FROM quarantine WHERE row_number = 4')
        ).one()
    assert row.reasons == ["bad_members"] and row.messages == ["members: '-2'"]
    assert row.values["household_id"] == "H3"


@pytest.mark.parametrize("encoding", ["utf-8", "cp874"])
def test_a_csv_with_a_ragged_row_is_refused_before_anything_is_written(
    survey_engine: Engine, tmp_path: Path, encoding: str
) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(
        "household_id,round,subdistrict_code,problem_code\n"
        "H1,2567,341901,\n"
        "H2,2567,341901,drugs,1101700230708 นายสมชาย\n",
        encoding=encoding,
    )
    with pytest.raises(
        InvalidInputError,
        match=r"1 row\(s\) do not have the header's 4 fields \(line 3: 5 fields\)",
    ) as error:
        importer(survey_engine).run(path)
    assert "1101700230708" not in str(error.value) and "สมชาย" not in str(error.value)
    with survey_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM import_job")) == 0


def test_a_fallback_position_does_not_move_when_the_file_is_imported_again(
    survey_engine: Engine, tmp_path: Path
) -> None:
    # H1 has no coordinates; its village-mate H2, later in the file, has GPS. The first run places
    # H1 at its subdistrict (H2 is not known yet); the second run must not move it.
    path = tmp_path / "village.csv"
    path.write_text(
        "household_id,round,subdistrict_code,moo,lat,lon,problem_code\n"
        "H1,2567,341901,3,,,\n"
        "H2,2567,341901,3,15.2447,105.2294,\n"
    )
    first = importer(survey_engine).run(path, batch_rows=1)
    again = importer(survey_engine).run(path, batch_rows=1)
    assert (first.rows_imported, again.rows_imported, again.households_updated) == (2, 0, 0)
    assert households(survey_engine).loc[("H1", 2567), "precision"] == "subdistrict"


def test_the_latest_run_owns_the_quarantined_rows(
    survey_engine: Engine, synthetic: tuple[Synthetic, Path]
) -> None:
    _, path = synthetic
    importer(survey_engine).run(path)
    again = importer(survey_engine).run(path, batch_rows=900)
    with survey_engine.connect() as conn:
        owned = conn.scalar(
            text("SELECT count(*) FROM quarantine WHERE import_job_id = :job"),
            {"job": again.job_id},
        )
        total = conn.scalar(text("SELECT count(*) FROM quarantine"))
    assert owned == total == again.rows_quarantined


@pytest.mark.timeout(60)
def test_a_failure_while_storing_stops_the_import_without_hanging(
    survey_engine: Engine, synthetic: tuple[Synthetic, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, path = synthetic

    def broken(*_args: object) -> None:
        raise RuntimeError("disk full")

    run = importer(survey_engine)
    monkeypatch.setattr(run, "_store", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run.run(path, batch_rows=100)
    with survey_engine.connect() as conn:
        state, error = conn.execute(text("SELECT state, error FROM import_job")).one()
    assert (state, error) == ("failed", "RuntimeError")


def test_duplicates_are_still_found_after_a_batch_with_every_row_refused() -> None:
    seen = SeenRows()
    seen.add(np.array([], dtype=np.int64))
    seen.add(np.array([7, 3], dtype=np.int64))
    assert seen.seen(np.array([3, 5, 7], dtype=np.int64)).tolist() == [True, False, True]
