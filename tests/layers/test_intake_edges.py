"""Importing what outside testers sent: partial files, files from outside the uploader's area,
NUL bytes, repeated columns, several layers or sheets, drawn shapes, empty files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import MultiPoint, Point, Polygon
from sqlalchemy import Engine, text

from geo.access import scope_of
from geo.errors import InvalidInputError, MissingColumnsError, UnsupportedFileError
from geo.synth.survey import Synthetic
from layers.store.partitions import latest_round
from layers.survey import imports
from tests.factories import fingerprint, households, importer, problems, subset

HEADER = "household_id,round,subdistrict_code,moo,members,house_no,lat,lon,problem_code,status\n"


def test_a_file_that_leaves_columns_out_changes_only_what_it_gives(
    survey_engine: Engine, synthetic: tuple[Synthetic, Path], tmp_path: Path
) -> None:
    survey, _ = synthetic
    full = subset(survey, 300)
    path = tmp_path / "full.csv"
    full.to_csv(path, index=False)
    importer(survey_engine).run(path)
    before_households = households(survey_engine).sort_index()
    before_problems = problems(survey_engine).sort_index()
    # Only the status of some problems, as an officer sends after a visit: no coordinates,
    # members, house number, dates or details.
    rows = full[full["problem_code"] != ""].head(20)
    changed = rows[["household_id", "round", "subdistrict_code", "problem_code"]].assign(
        status="solved_by_agency"
    )
    partial = tmp_path / "status.csv"
    changed.to_csv(partial, index=False)
    report = importer(survey_engine).run(partial)
    assert report.rows_quarantined == 0
    after_households = households(survey_engine).sort_index()
    after_problems = problems(survey_engine).sort_index()
    pd.testing.assert_frame_equal(after_households, before_households)
    keys = list(
        zip(
            changed["household_id"],
            changed["round"].astype(int),
            changed["problem_code"],
            strict=True,
        )
    )
    expected = before_problems.copy()
    expected.loc[keys, "status"] = "solved_by_agency"
    pd.testing.assert_frame_equal(after_problems, expected)
    assert report.problems_updated == sum(before_problems.loc[keys, "status"] != "solved_by_agency")
    assert report.households_updated == 0


def test_empty_cells_leave_stored_values_alone_and_new_values_are_merged(
    survey_engine: Engine, tmp_path: Path
) -> None:
    first = tmp_path / "first.csv"
    first.write_text(
        HEADER
        + "E1,2567,341901,3,4,12/1,15.2447,105.2294,drugs,in_progress\n"
        + "E2,2567,341901,3,2,14,15.2449,105.2296,,\n"
    )
    importer(survey_engine).run(first)
    before = households(survey_engine)
    # E1: every optional cell empty, a new problem; E2: only its members changed.
    second = tmp_path / "second.csv"
    second.write_text(
        HEADER + "E1,2567,341901,,,,,,drugs,\nE1,2567,341901,,,,,,informal_debt,\n"
        "E2,2567,341901,,5,,,,,\n"
    )
    report = importer(survey_engine).run(second)
    after = households(survey_engine)
    assert after.loc[("E1", 2567)].equals(before.loc[("E1", 2567)])
    assert after.loc[("E2", 2567), "members"] == 5
    assert after.loc[("E2", 2567)].drop("members").equals(before.loc[("E2", 2567)].drop("members"))
    stored = problems(survey_engine)
    assert stored.loc[("E1", 2567, "drugs"), "status"] == "in_progress"  # empty: kept
    assert stored.loc[("E1", 2567, "informal_debt"), "status"] == "open"  # new: the default
    assert (report.households_updated, report.problems_inserted, report.problems_updated) == (
        1,
        1,
        0,
    )


def test_a_new_position_replaces_the_stored_one_and_a_move_takes_the_new_place(
    survey_engine: Engine, tmp_path: Path
) -> None:
    first = tmp_path / "first.csv"
    first.write_text(HEADER + "M1,2567,341901,3,4,1,15.2447,105.2294,,\n")
    importer(survey_engine).run(first)
    moved = tmp_path / "moved.csv"
    # Declared in another subdistrict without coordinates: the old point does not stay.
    moved.write_text(HEADER + "M1,2567,341902,,,,,,,\n")
    importer(survey_engine).run(moved)
    record = households(survey_engine).loc[("M1", 2567)]
    assert record["subdistrict_code"] == "341902" and record["precision"] == "subdistrict"
    assert "missing_coordinates" in record["flags"]


def outsiders_file(tmp_path: Path) -> Path:
    """Rows of an officer of district 3419: one inside, one in Bangkok, one in district 3401,
    one declared inside with a point in district 3401's subdistrict 340101."""
    path = tmp_path / "outsiders.csv"
    path.write_text(
        HEADER + "IN-1,2567,341901,1,4,1,15.2447,105.2294,drugs,open\n"
        "BKK-1,2567,100101,1,2,9,13.7563,100.5018,drugs,solved_by_agency\n"
        "UBN-1,2567,340101,1,3,7,,,drugs,solved_by_agency\n"
    )
    return path


def test_an_upload_writes_nothing_outside_the_uploaders_area(
    survey_engine: Engine, tmp_path: Path
) -> None:
    # The records outside district 3419 exist first (loaded by an administrator).
    seed = tmp_path / "seed.csv"
    seed.write_text(
        HEADER + "BKK-1,2567,100101,1,5,3,13.7563,100.5018,drugs,open\n"
        "UBN-1,2567,340101,1,6,5,15.2283,104.8572,drugs,open\n"
        "UBN-2,2567,340101,1,6,5,15.2283,104.8572,drugs,open\n"
    )
    importer(survey_engine).run(seed)
    before = fingerprint(survey_engine)[:2]
    path = outsiders_file(tmp_path)
    # UBN-2 is stored in 3401 and now declared in 3419: the file may not move it in.
    with path.open("a") as handle:
        handle.write("UBN-2,2567,341901,1,1,1,15.2447,105.2294,drugs,closed_unsolved\n")
    officer = scope_of("officer", "3419")
    report = importer(survey_engine).run(path, scope=officer, started_by="officer-3419")
    assert report.rows_imported == 1 and report.rows_quarantined == 3
    assert report.quarantine_reasons == {"outside_your_area": 3}
    with survey_engine.begin() as conn:
        refused = conn.execute(
            text("SELECT row_number, messages FROM quarantine ORDER BY row_number")
        ).all()
        conn.execute(text("DELETE FROM household WHERE household_id = 'IN-1'"))
    # Without the one household inside the area, the database is as it was.
    assert fingerprint(survey_engine)[:2] == before
    assert [r.row_number for r in refused] == [2, 3, 4]
    assert refused[0].messages == [
        "subdistrict_code: subdistrict 100101 is outside your area (3419)",
        "the position: subdistrict 100101 is outside your area (3419)",
    ]
    assert refused[2].messages == [
        "household_id: the household is recorded outside your area (3419)"
    ]


def test_a_nul_byte_quarantines_its_row_and_the_rest_imports(
    survey_engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes(
        (HEADER + "N1,2567,341901,1,4,1,15.2447,105.2294,drugs,open\n").encode()
        + b"N2,2567,341901,1,4,1\x00b,15.2447,105.2294,drugs,open\n"
        + b"N3,2567,341901,1,4,2,15.2447,105.2294,,\n"
    )
    report = importer(survey_engine).run(path)
    assert (report.rows_imported, report.rows_quarantined) == (2, 1)
    with survey_engine.connect() as conn:
        row = conn.execute(text('SELECT reasons, messages, "values" FROM quarantine')).one()
    assert row.reasons == ["nul_character"]
    assert row.messages == ["house_no: holds a NUL character (U+0000)"]
    assert row.values["house_no"] == "1\ufffdb"


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ("household_id,round,subdistrict_code,problem_code,status,status", "'status' and 'status'"),
        ("household_id,round,subdistrict_code,problem_code,lat,LAT", "'lat' and 'LAT'"),
    ],
)
def test_repeated_column_names_are_refused_by_name(
    survey_engine: Engine, tmp_path: Path, header: str, named: str
) -> None:
    path = tmp_path / "repeated.csv"
    path.write_text(header + "\nR1,2567,341901,,open,open\n")
    with pytest.raises(InvalidInputError, match=f"column names repeat \\({named}\\)"):
        importer(survey_engine).run(path)
    with survey_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM import_job")) == 0


def points_frame(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        frame.drop(columns=["lat", "lon"]),
        geometry=gpd.points_from_xy(frame["lon"].astype(float), frame["lat"].astype(float)),
        crs=4326,
    )


def test_every_layer_of_a_geopackage_that_holds_a_survey_is_read(
    survey_engine: Engine, synthetic: tuple[Synthetic, Path], tmp_path: Path
) -> None:
    survey, _ = synthetic
    frame = subset(survey, 300)
    ids = frame["household_id"].unique()
    north, south = (
        frame[frame["household_id"].isin(ids[::2])],
        frame[frame["household_id"].isin(ids[1::2])],
    )
    path = tmp_path / "two.gpkg"
    pyogrio.write_dataframe(points_frame(north), path, layer="north")
    pyogrio.write_dataframe(points_frame(south), path, layer="south", append=True)
    notes = gpd.GeoDataFrame({"note": ["a"]}, geometry=[Point(105, 15)], crs=4326)
    pyogrio.write_dataframe(notes, path, layer="notes", append=True)
    report = importer(survey_engine).run(path)
    assert report.rows == len(frame) and report.layers == ["north", "south"]
    assert len(households(survey_engine)) == frame.groupby(["household_id", "round"]).ngroups
    assert report.warnings == [
        f"{path}: layer 'notes' was not read: required column(s) missing: household_id, "
        "subdistrict_code, problem_code, round"
    ]
    chosen = importer(survey_engine).run(path, layers=["south"])
    assert chosen.rows == len(south) and chosen.layers == ["south"]
    with pytest.raises(
        InvalidInputError, match=r"no layer or sheet 'east' \(it has: 'north', 'south', 'notes'\)"
    ):
        importer(survey_engine).run(path, layers=["east"])
    with pytest.raises(MissingColumnsError, match="layer 'notes': required column"):
        importer(survey_engine).run(path, layers=["notes"])


def test_every_sheet_of_a_workbook_that_holds_a_survey_is_read(
    survey_engine: Engine, synthetic: tuple[Synthetic, Path], tmp_path: Path
) -> None:
    survey, _ = synthetic
    frame = subset(survey, 200)
    half = len(frame) // 2
    while frame["household_id"].iloc[half] == frame["household_id"].iloc[half - 1]:
        half += 1
    path = tmp_path / "two.xlsx"
    with pd.ExcelWriter(path) as writer:
        frame.iloc[:half].to_excel(writer, sheet_name="moo 1", index=False)
        pd.DataFrame({"readme": ["how to fill"]}).to_excel(writer, sheet_name="help", index=False)
        frame.iloc[half:].to_excel(writer, sheet_name="moo 2", index=False)
    report = importer(survey_engine).run(path)
    assert report.rows == len(frame) and report.layers == ["moo 1", "moo 2"]
    assert report.rows_quarantined == 0 and len(report.warnings) == 1


def test_polygons_and_multipoints_are_placed_at_a_point_on_them_and_flagged(
    survey_engine: Engine, tmp_path: Path
) -> None:
    square = Polygon(
        [(105.2290, 15.2440), (105.2300, 15.2440), (105.2300, 15.2450), (105.2290, 15.2450)]
    )
    spread = MultiPoint([(105.2291, 15.2441), (105.2299, 15.2449)])
    single = MultiPoint([(105.2294, 15.2447)])
    frame = gpd.GeoDataFrame(
        {
            "household_id": ["P1", "P2", "P3", "P4"],
            "round": ["2567"] * 4,
            "subdistrict_code": ["341901"] * 4,
            "problem_code": [""] * 4,
        },
        geometry=[square, spread, single, Point(105.2294, 15.2447)],
        crs=4326,
    )
    path = tmp_path / "shapes.gpkg"
    pyogrio.write_dataframe(frame, path, geometry_type="Unknown")
    report = importer(survey_engine).run(path)
    assert report.rows_imported == 4 and report.repairs == {"representative_point": 2}
    stored = households(survey_engine)
    assert stored.loc[("P1", 2567), "flags"] == ["representative_point"]
    assert square.contains(Point(stored.loc[("P1", 2567), ["lon", "lat"]].to_list()))
    assert Point(stored.loc[("P2", 2567), ["lon", "lat"]].to_list()) in list(spread.geoms)
    assert stored.loc[("P3", 2567), "flags"] == stored.loc[("P4", 2567), "flags"] == []
    assert shapely.equals(
        Point(stored.loc[("P3", 2567), ["lon", "lat"]].to_list()), single.geoms[0]
    )


def test_a_header_without_rows_is_said_and_a_bad_round_is_not_replaced_by_the_given_one(
    survey_engine: Engine, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text(HEADER)
    report = importer(survey_engine).run(empty)
    assert report.rows == 0 and report.warnings == [
        f"{empty}: the file holds no rows, only a header"
    ]
    rounds = tmp_path / "rounds.csv"
    rounds.write_text(
        "household_id,round,subdistrict_code,problem_code\n"
        "G1,,341901,\nG2,25x7,341901,\nG3,2566,341901,\n"
    )
    report = importer(survey_engine).run(rounds, round=2567)
    assert report.quarantine_reasons == {"bad_round": 1}
    assert sorted(households(survey_engine).index) == [("G1", 2567), ("G3", 2566)]


def test_wrong_kinds_are_refused_before_anything_is_read(
    survey_engine: Engine, tmp_path: Path
) -> None:
    pdf = tmp_path / "survey.csv"
    pdf.write_bytes(b"%PDF-1.7\n...")
    with pytest.raises(UnsupportedFileError, match=r"survey\.csv: the file's content is not CSV"):
        importer(survey_engine).run(pdf)
    fake = tmp_path / "survey.gpkg"
    fake.write_text("household_id,round\n")
    with pytest.raises(UnsupportedFileError, match="is not a GeoPackage"):
        importer(survey_engine).run(fake, label="upload.gpkg")


def test_a_job_whose_owner_is_gone_is_interrupted(survey_engine: Engine) -> None:
    lease = imports.start_job(survey_engine, "queued", file_name="x.csv", sha256="")
    with survey_engine.connect() as conn:
        assert imports.job(conn, lease.job_id)["state"] == "queued"
    # The owner's session ends without finishing the job (as when its process is killed).
    lease.conn.invalidate()
    lease.conn.close()
    with survey_engine.begin() as conn:
        shown = imports.job(conn, lease.job_id)
        assert (shown["state"], shown["error"]) == (
            "interrupted",
            "interrupted: the process running it stopped",
        )
        assert (
            conn.scalar(text("SELECT state FROM import_job")) == "queued"
        )  # reading wrote nothing
        assert imports.mark_interrupted(conn) == 1
        assert conn.scalar(text("SELECT state FROM import_job")) == "interrupted"


def test_uploads_cannot_move_everyones_default_round(survey_engine: Engine, tmp_path: Path) -> None:
    """A round after next year's is a typing error; a round the database does not have yet is
    opened only by a country-wide account (it becomes everyone's default round)."""
    seed = tmp_path / "seed.csv"
    seed.write_text(HEADER + "D1,2567,341901,1,4,1,15.2447,105.2294,drugs,open\n")
    importer(survey_engine).run(seed)
    later = dt.date.today().year + 543 + 2
    path = tmp_path / "rounds.csv"
    path.write_text(
        HEADER + f"D2,{later},341901,1,4,1,15.2447,105.2294,drugs,open\n"
        "D3,2568,341901,1,4,1,15.2447,105.2294,drugs,open\n"
        "D4,2567,341901,1,4,1,15.2447,105.2294,drugs,open\n"
    )
    report = importer(survey_engine).run(path, scope=scope_of("officer", "3419"))
    assert report.quarantine_reasons == {"bad_round": 1, "round_not_open": 1}
    assert report.rows_imported == 1
    with survey_engine.connect() as conn:
        assert latest_round(conn) == 2567
        assert sorted(conn.scalars(text("SELECT DISTINCT round FROM household"))) == [2567]
    # An administrator (the whole country) opens round 2568.
    admin = importer(survey_engine).run(path, scope=scope_of("admin", None))
    assert admin.quarantine_reasons == {"bad_round": 1} and admin.rounds_loaded == [2568]


def test_overlong_fields_are_refused_row_by_row_and_overlong_rows_before_anything(
    survey_engine: Engine, tmp_path: Path
) -> None:
    detail = "ข้อมูล" * 2_000  # 12,000 characters
    path = tmp_path / "long.csv"
    path.write_text(
        "household_id,round,subdistrict_code,problem_code,problem_detail\n"
        f"L1,2567,341901,drugs,{detail}\n"
        f"{'L' * 70},2567,341901,drugs,short\n"
        "L3,2567,341901,drugs,short\n"
    )
    report = importer(survey_engine).run(path)
    assert (report.rows_imported, report.quarantine_reasons) == (1, {"field_too_long": 2})
    with survey_engine.connect() as conn:
        kept = conn.execute(
            text('SELECT messages, "values" FROM quarantine ORDER BY row_number')
        ).all()
    assert kept[0].messages == ["problem_detail: 12,000 characters, at most 10,000"]
    assert kept[0].values["problem_detail"].endswith("… [cut: 12,000 characters in the file]")
    assert kept[1].messages == ["household_id: 70 characters, at most 64"]
    huge = tmp_path / "huge.csv"
    huge.write_text(
        "household_id,round,subdistrict_code,problem_code,problem_detail\n"
        f"H1,2567,341901,drugs,{'x' * (40 << 20)}\nH2,2567,341901,drugs,short\n"
    )
    with pytest.raises(InvalidInputError, match="a row is too long to read"):
        importer(survey_engine).run(huge)
    with survey_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM household WHERE household_id = 'H2'")) == 0
