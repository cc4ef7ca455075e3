"""ODK Central and KoboToolbox exports of the household form import as the canonical CSV does.

The exports are written by ``tests.collect_exports`` from the tools' published formats; each
import is checked row by row against the canonical import of the same synthetic households.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from geo.errors import InvalidInputError, TooLargeError
from geo.synth.survey import Synthetic
from layers.store.settings import PROJECT_ROOT
from layers.survey import collected
from layers.survey.report import ImportReport
from tests import collect_exports as written
from tests.conftest import SURVEY_TABLES, drop_rounds
from tests.factories import households, importer

FORM = PROJECT_ROOT / "data" / "forms" / "household.xlsx"
PROBLEM_QUERY = (
    "SELECT household_id, round, category, detail, status, reported_on, updated_on, resolved_on "
    "FROM problem"
)


def stored_problems(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        frame = pd.read_sql(text(PROBLEM_QUERY), conn)
    return frame.set_index(["household_id", "round", "category"]).sort_index()


def empty(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {SURVEY_TABLES} CASCADE")
        drop_rounds(conn)


def snapshot(engine: Engine) -> tuple[pd.DataFrame, pd.DataFrame]:
    return households(engine).sort_index(), stored_problems(engine)


@pytest.fixture(scope="module")
def canonical(synthetic: tuple[Synthetic, Path]) -> pd.DataFrame:
    """Whole households of the clean synthetic Ubon survey; every 9th without a position."""
    survey, _ = synthetic
    clean = survey.clean.iloc[:900].astype(str)
    keep = clean["household_id"].isin(clean["household_id"].iloc[:860])
    frame = clean[keep].reset_index(drop=True)
    lost = frame["household_id"].isin(frame["household_id"].drop_duplicates().iloc[::9])
    frame.loc[lost, ["lat", "lon"]] = ""
    return frame


@pytest.fixture
def expected(
    survey_engine: Engine, canonical: pd.DataFrame, tmp_path: Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the canonical CSV of the same households stores (the database is emptied after)."""
    path = tmp_path / "canonical.csv"
    canonical.to_csv(path, index=False)
    report = importer(survey_engine).run(path)
    assert report.rows_quarantined == 0
    stored = snapshot(survey_engine)
    empty(survey_engine)
    return stored


def assert_same(engine: Engine, expected: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    got_households, got_problems = snapshot(engine)
    pd.testing.assert_frame_equal(got_households, expected[0], check_exact=False, atol=1e-7)
    pd.testing.assert_frame_equal(got_problems, expected[1])


def categories() -> list[str]:
    import yaml

    taxonomy = yaml.safe_load((PROJECT_ROOT / "data" / "taxonomy.yaml").read_text("utf-8"))
    return [c["code"] for c in taxonomy["categories"]]


@pytest.mark.parametrize("dates", ["central", "briefcase"])
def test_a_central_zip_with_repeats_imports_exactly_as_the_canonical_csv(
    survey_engine: Engine,
    canonical: pd.DataFrame,
    expected: tuple[pd.DataFrame, pd.DataFrame],
    tmp_path: Path,
    dates: str,
) -> None:
    subs = written.submissions(canonical)
    options = (
        {"date": written.briefcase_date, "submitted": lambda iso: written.briefcase_date(iso, True)}
        if dates == "briefcase"
        else {}
    )
    path = written.central_zip(subs, tmp_path / "bamrung_household.zip", **options)
    report = importer(survey_engine).run(path, profile="odk")
    assert report.rows == len(canonical) and report.rows_quarantined == 0
    assert report.profile == "odk" and report.file == "bamrung_household.zip"
    assert_same(survey_engine, expected)
    # The media file is said to be passed over, not silently read or dropped.
    assert any("media/house.jpg" in w for w in report.warnings)


def test_a_central_csv_without_repeats_gives_the_households_and_their_listed_problems(
    survey_engine: Engine,
    canonical: pd.DataFrame,
    expected: tuple[pd.DataFrame, pd.DataFrame],
    tmp_path: Path,
) -> None:
    import zipfile

    subs = written.submissions(canonical)
    archive = written.central_zip(subs, tmp_path / "bamrung_household.zip")
    path = tmp_path / "bamrung_household.csv"
    path.write_bytes(zipfile.ZipFile(archive).read("bamrung_household.csv"))
    report = importer(survey_engine).run(path, profile="odk")
    assert report.rows_quarantined == 0
    got_households, got_problems = snapshot(survey_engine)
    pd.testing.assert_frame_equal(got_households, expected[0], check_exact=False, atol=1e-7)
    assert list(got_problems.index) == list(expected[1].index)
    assert any("problems come from the list" in w for w in report.warnings)


def test_a_kobo_workbook_with_its_repeat_sheet_imports_exactly_as_the_canonical_csv(
    survey_engine: Engine,
    canonical: pd.DataFrame,
    expected: tuple[pd.DataFrame, pd.DataFrame],
    tmp_path: Path,
) -> None:
    subs = written.submissions(canonical)
    path = written.kobo_workbook(subs, categories(), tmp_path / "household.xlsx")
    report = importer(survey_engine).run(path, profile="kobo")
    assert report.rows == len(canonical) and report.rows_quarantined == 0
    assert_same(survey_engine, expected)


@pytest.mark.parametrize("details", [True, False], ids=["both", "summary"])
def test_a_kobo_csv_with_thai_labels_and_semicolons_gives_the_households_and_listed_problems(
    survey_engine: Engine,
    canonical: pd.DataFrame,
    expected: tuple[pd.DataFrame, pd.DataFrame],
    tmp_path: Path,
    details: bool,
) -> None:
    import yaml

    # Kobo's CSV has no repeats: the problems come from the select-multiple list, without
    # details; headers and answers are the Thai labels (metadata without a label keeps its name).
    th = {
        "household/household_id": "รหัสครัวเรือน",
        "household/round": "รอบการสำรวจ (ปี พ.ศ.)",
        "household/house_no": "บ้านเลขที่",
        "household/moo": "หมู่ที่",
        "household/subdistrict_code": "รหัสตำบล (6 หลัก)",
        "household/community": "ชุมชน",
        "household/members": "จำนวนสมาชิกในครัวเรือน",
        "household/urban": "อยู่ในเขตเทศบาล",
        "household/location": "ตำแหน่งบ้าน",
        "household/head_name": "ชื่อหัวหน้าครัวเรือน",
        "household/head_national_id": "เลขประจำตัวประชาชนของหัวหน้าครัวเรือน",
        "household/problems": "ปัญหาที่พบ",
    }
    taxonomy = yaml.safe_load((PROJECT_ROOT / "data" / "taxonomy.yaml").read_text("utf-8"))
    choice_labels = {("category", c["code"]): c["name_th"] for c in taxonomy["categories"]}
    choice_labels |= {("yes_no", "yes"): "ใช่", ("yes_no", "no"): "ไม่ใช่"}
    subs = written.submissions(canonical)
    # The answer alone ("summary") lists Thai labels that hold spaces and slashes.
    path = written.kobo_csv(
        subs, categories(), tmp_path / "household.csv", labels=th, choice_labels=choice_labels,
        details=details,
    )  # fmt: skip
    report = importer(survey_engine).run(path, profile="kobo")
    assert report.rows_quarantined == 0
    got_households, got_problems = snapshot(survey_engine)
    pd.testing.assert_frame_equal(got_households, expected[0], check_exact=False, atol=1e-7)
    assert list(got_problems.index) == list(expected[1].index)
    assert set(got_problems["status"]) == {"open"} and got_problems["detail"].isna().all()


def test_what_an_export_cannot_take_is_kept_with_its_reason_and_the_latest_version_wins(
    survey_engine: Engine, canonical: pd.DataFrame, tmp_path: Path
) -> None:
    subs = written.submissions(canonical.iloc[:60])
    rejected, resurveyed = subs[0], subs[1]
    rejected["review"] = "rejected"
    # The same household surveyed again (another submission, days later): the later one wins.
    later = (dt.date.fromisoformat(resurveyed["today"]) + dt.timedelta(days=3)).isoformat()
    again = {
        **resurveyed,
        "uuid": "00000000-0000-4000-8000-000000000001",
        "today": later,
        "household": {**resurveyed["household"], "members": "9"},
    }
    subs.append(again)
    orphan = [["drugs", "", "open", "", "", "", "uuid:gone", "uuid:gone/problem[1]"]]
    path = written.central_zip(subs, tmp_path / "edges.zip", extra_repeat=orphan)
    report: ImportReport = importer(survey_engine).run(path, profile="odk")

    reasons = report.quarantine_reasons
    assert reasons["rejected_in_review"] == max(1, len(rejected["problems"]))
    assert reasons["superseded"] == max(1, len(resurveyed["problems"]))
    assert reasons["orphan_problem"] == 1
    stored = households(survey_engine)
    ids = {(s["household"]["household_id"], int(s["household"]["round"])) for s in subs}
    rejected_id = (rejected["household"]["household_id"], int(rejected["household"]["round"]))
    assert set(stored.index) == ids - {rejected_id}
    key = (resurveyed["household"]["household_id"], int(resurveyed["household"]["round"]))
    assert stored.loc[key, "members"] == 9
    assert str(stored.loc[key, "surveyed_on"])[:10] == later
    with survey_engine.connect() as conn:
        kept = conn.execute(
            text('SELECT reasons, messages, "values" FROM quarantine ORDER BY row_number')
        ).all()
    orphan_row = next(r for r in kept if "orphan_problem" in r.reasons)
    assert "bamrung_household-problem.csv row" in orphan_row.messages[-1]
    assert "uuid:gone" in " ".join(orphan_row.messages)
    refused = next(r for r in kept if "rejected_in_review" in r.reasons)
    assert refused.messages == [
        f"bamrung_household.csv row 2 (KEY uuid:{rejected['uuid']}): rejected in review"
    ]
    # The form says which answer is the head's ID number: quarantine keeps only its hash.
    national_id = rejected["person"]["head_national_id"]
    assert national_id and refused.values["head_national_id"] not in ("", national_id)


def test_a_second_download_of_the_same_form_changes_only_what_was_edited(
    survey_engine: Engine, canonical: pd.DataFrame, tmp_path: Path
) -> None:
    subs = written.submissions(canonical)
    first = written.central_zip(subs[:40], tmp_path / "first.zip")
    importer(survey_engine).run(first, profile="odk")
    subs[5]["edits"] = 2
    subs[5]["household"] = {**subs[5]["household"], "house_no": "99/9"}
    second = written.central_zip(subs[:60], tmp_path / "second.zip")
    report = importer(survey_engine).run(second, profile="odk")
    rows_of = {id(s): max(1, len(s["problems"])) for s in subs}
    assert report.rows_unchanged == sum(rows_of[id(s)] for s in subs[:40]) - rows_of[id(subs[5])]
    assert report.households_updated == 1 and report.households_inserted == 20
    stored = households(survey_engine)
    key = (subs[5]["household"]["household_id"], int(subs[5]["household"]["round"]))
    assert stored.loc[key, "house_no"] == "99/9"


def test_exports_that_are_not_of_the_household_form_are_refused_before_anything_is_written(
    survey_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zipfile

    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.csv", "SubmissionDate,x,KEY\n")
        archive.writestr("b.csv", "SubmissionDate,y,KEY\n")
    with pytest.raises(InvalidInputError, match=r"two.zip: an ODK Central export holds one CSV"):
        importer(survey_engine).run(two, profile="odk")
    other = tmp_path / "other.csv"
    other.write_text('"name";"age";"_id";"_index"\n"x";"4";"1";"1"\n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"other.csv: no column for household_id"):
        importer(survey_engine).run(other, profile="kobo")
    with pytest.raises(InvalidInputError, match=r"a kobo export is a .csv or .xlsx file"):
        importer(survey_engine).run(two, profile="kobo")
    with pytest.raises(InvalidInputError, match=r"the odk export is read whole"):
        importer(survey_engine).run(two, profile="odk", layers=["problem"])
    # A row with more fields than the header is refused, never shifted into other columns.
    ragged = tmp_path / "ragged.csv"
    ragged.write_text(
        '"household/household_id";"household/subdistrict_code";"_index"\n"H1";"341901";"1";\n',
        encoding="utf-8",
    )
    with pytest.raises(InvalidInputError, match=r"ragged.csv: a row does not have the header"):
        importer(survey_engine).run(ragged, profile="kobo")
    monkeypatch.setattr(collected, "MAX_UNZIPPED", 10)
    with pytest.raises(TooLargeError, match=r"two.zip: its CSV files hold more than 10 bytes"):
        importer(survey_engine).run(two, profile="odk")
    with survey_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM import_job")) == 0


def test_the_shipped_form_is_a_valid_xlsform_of_the_taxonomy_and_the_command_writes_it(
    tmp_path: Path,
) -> None:
    import yaml
    from pyxform.xls2xform import convert

    result = convert(xlsform=str(FORM))
    assert result.warnings == []
    assert "<problem" in result.xform and 'jr:template=""' in result.xform
    book = pd.read_excel(FORM, sheet_name=None, dtype=str, keep_default_na=False)
    taxonomy = yaml.safe_load((PROJECT_ROOT / "data" / "taxonomy.yaml").read_text("utf-8"))
    listed = book["choices"][book["choices"]["list_name"] == "category"]
    assert list(listed["name"]) == [c["code"] for c in taxonomy["categories"]]
    assert list(listed["label::Thai (th)"]) == [c["name_th"] for c in taxonomy["categories"]]
    assert list(listed["label::English (en)"]) == [c["name_en"] for c in taxonomy["categories"]]

    from tests.factories import run

    out = tmp_path / "form.xlsx"
    run("form", "--out", str(out))
    again = pd.read_excel(out, sheet_name=None, dtype=str, keep_default_na=False)
    assert again.keys() == book.keys()
    for name in book:
        pd.testing.assert_frame_equal(again[name], book[name])
