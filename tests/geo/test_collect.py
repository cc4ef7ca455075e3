"""The rules that read an export of the household form: headers, answers, dates, versions."""

from __future__ import annotations

import pandas as pd
import pytest
from pyxform.xls2json import parse_file_to_json

from geo.collect.exports import REFUSED, canonical_rows, export_date, find_headers, split_listed
from geo.collect.form import Form, form_from_json
from geo.errors import MissingColumnsError
from layers.store.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def form() -> Form:
    return form_from_json(parse_file_to_json(str(PROJECT_ROOT / "data/forms/household.xlsx")))


def test_a_select_multiple_answer_is_read_from_names_or_from_labels_that_hold_spaces(
    form: Form,
) -> None:
    names = form.choice_names("category")
    assert split_listed("drugs no_income", names) == ["drugs", "no_income"]
    # Thai labels hold spaces and slashes; the longest known label is taken first.
    th = form.choices["category"]["dilapidated_house"]["Thai (th)"]
    water = form.choices["category"]["no_clean_water"]["Thai (th)"]
    assert " " in th and "/" in water
    assert split_listed(f"{th} {water}", names) == ["dilapidated_house", "no_clean_water"]
    # An unknown answer is kept whole, up to the next known choice (the checks refuse it).
    assert split_listed(f"ปัญหาอื่น ๆ ที่ไม่รู้จัก {th}", names) == [
        "ปัญหาอื่น ๆ ที่ไม่รู้จัก", "dilapidated_house",
    ]  # fmt: skip
    assert split_listed("  ", names) == []


def test_dates_are_read_as_central_kobo_workbooks_and_briefcase_write_them() -> None:
    written = pd.Series(
        [
            "2024-01-05",
            "2024-01-05T23:30:00.000+07:00",
            "2024-01-05 00:00:00",
            "Apr 26, 2018",
            "Apr 26, 2018 8:56:00 AM",
            "Dec 1, 2025 11:59:59 PM",
            "Dec 1, 2025, 11:59:59 PM",
            "",
            "yesterday",
        ]
    )
    assert export_date(written).tolist() == [
        "2024-01-05", "2024-01-05", "2024-01-05", "2018-04-26", "2018-04-26", "2025-12-01",
        "2025-12-01", "",
        "yesterday",
    ]  # fmt: skip


def test_headers_are_found_with_or_without_groups_and_by_label(form: Form) -> None:
    bare = ["SubmissionDate", "today", "household_id", "round", "subdistrict_code",
            "location-Latitude", "location-Longitude", "problems", "problems/drugs", "KEY"]  # fmt: skip
    found = find_headers(form, bare, "odk", repeat=False, label="f.csv")
    assert found.columns[("household", "household_id")] == "household_id"
    assert (found.latitude, found.longitude) == ("location-Latitude", "location-Longitude")
    assert found.listed == {"drugs": "problems/drugs"}
    # Kobo's labels with the groups' labels in front (hierarchy in labels), in English.
    labelled = ["Household/Household ID", "Household/Subdistrict code (6 digits)",
                "Household/_Location of the house_latitude",
                "Household/_Location of the house_longitude", "_index"]  # fmt: skip
    found = find_headers(form, labelled, "kobo", repeat=False, label="k.csv")
    assert found.columns[("household", "subdistrict_code")] == labelled[1]
    assert found.latitude == labelled[2]
    with pytest.raises(MissingColumnsError, match=r"k.csv: no column for subdistrict_code"):
        find_headers(form, ["household/household_id"], "kobo", repeat=False, label="k.csv")


def test_entries_without_a_category_the_listed_problems_and_a_later_survey(form: Form) -> None:
    main = pd.DataFrame(
        {
            "SubmissionDate": ["2024-01-05T01:00:00.000Z", "2024-01-06T01:00:00.000Z",
                               "2024-01-07T01:00:00.000Z", "2024-01-07T02:00:00.000Z"],
            "today": ["2024-01-05", "2024-01-06", "2024-01-07", "2024-01-07"],
            "household-household_id": ["H1", "H2", "H1", "H3"],
            "household-round": "2567",
            "household-subdistrict_code": "341901",
            "household-problems": ["drugs", "", "drugs no_income", ""],
            "KEY": ["uuid:1", "uuid:2", "uuid:3", "uuid:4"],
        }
    )  # fmt: skip
    entries = pd.DataFrame(
        {
            "code": ["drugs", "", "drugs"],
            "detail": ["เก่า", "", "ใหม่"],
            "PARENT_KEY": ["uuid:1", "uuid:2", "uuid:3"],
            "KEY": ["uuid:1/problem[1]", "uuid:2/problem[1]", "uuid:3/problem[1]"],
        }
    )
    rows = canonical_rows(form, main, entries, "odk", names=("m.csv", "m-problem.csv"))
    # A household's rows together, its surveys in the export's order.
    said = rows[["household_id", "problem_code", "problem_detail", REFUSED]].values.tolist()
    assert said == [
        # H1 surveyed again two days later: the later survey wins, the earlier is kept refused.
        ["H1", "drugs", "เก่า", "superseded"],
        ["H1", "drugs", "ใหม่", ""],
        # Listed without an entry of its own: a problem row without details.
        ["H1", "no_income", "", ""],
        # An entry without a category is refused; the household itself is stored.
        ["H2", "", "", "missing_problem_code"],
        ["H2", "", "", ""],
        # No problem at all: one row for the household.
        ["H3", "", "", ""],
    ]
    assert rows["export_why"].iloc[0] == (
        "m.csv row 2 (KEY uuid:1): a later survey of this household is m.csv row 4 (KEY uuid:3)"
    )
    assert rows["export_source"].iloc[0] == "m-problem.csv row 2 (KEY uuid:1/problem[1])"


def test_a_later_survey_wins_by_its_day_then_its_submission_time_whatever_its_edits(
    form: Form,
) -> None:
    main = pd.DataFrame(
        {
            "SubmissionDate": ["Apr 26, 2018 10:30:00 AM", "Apr 26, 2018 8:56:00 AM",
                               "2024-01-20T01:00:00.000Z", "2024-01-05T01:00:00.000Z", "", ""],
            "today": ["2018-04-26", "2018-04-26", "2024-01-20", "2024-01-05", "", ""],
            "household-household_id": ["H1", "H1", "H2", "H2", "", ""],
            "household-round": "2567",
            "household-subdistrict_code": "341901",
            "KEY": ["uuid:1", "uuid:2", "uuid:3", "uuid:4", "uuid:5", "uuid:6"],
            "Edits": ["0", "0", "0", "2", "0", "0"],
        }
    )  # fmt: skip
    rows = canonical_rows(form, main, None, "odk", names=("m.csv", ""))
    judged = dict(zip(rows["export_source"], rows[REFUSED], strict=True))
    # Briefcase's times are compared as times (10:30 is after 8:56), not as text.
    assert judged["m.csv row 2 (KEY uuid:1)"] == ""
    assert judged["m.csv row 3 (KEY uuid:2)"] == "superseded"
    # The later day wins even against a submission edited twice.
    assert judged["m.csv row 4 (KEY uuid:3)"] == ""
    assert judged["m.csv row 5 (KEY uuid:4)"] == "superseded"
    # Rows without a household id are not one household: the row checks refuse each.
    assert judged["m.csv row 6 (KEY uuid:5)"] == judged["m.csv row 7 (KEY uuid:6)"] == ""


def test_kobo_rejections_and_entries_that_cannot_be_joined(form: Form) -> None:
    main = pd.DataFrame(
        {
            "household/household_id": ["H1", "H2"],
            "household/subdistrict_code": "341901",
            "household/problems": ["", None],
            "_id": ["11", "12"],
            "_index": ["1", "2"],
            "_validation_status": ["validation_status_not_approved", "validation_status_on_hold"],
        }
    )
    entries = pd.DataFrame({"problem/code": ["drugs"], "_parent_index": ["1"], "_index": ["1"]})
    rows = canonical_rows(form, main, entries, "kobo", names=("sheet s", "sheet problem"))
    assert rows[["household_id", "problem_code", REFUSED]].values.tolist() == [
        ["H1", "drugs", "rejected_in_review"],
        ["H2", "", ""],
    ]
    with pytest.raises(MissingColumnsError, match=r"sheet s: no _index column, so the problem"):
        canonical_rows(
            form, main.drop(columns="_index"), entries, "kobo", names=("sheet s", "sheet problem")
        )


def test_one_column_never_answers_two_questions(form: Form) -> None:
    import dataclasses

    moo = form.questions[("household", "moo")]
    clash = dataclasses.replace(
        form, questions={**form.questions, ("household", "moo"): dataclasses.replace(
            moo, labels={"Thai (th)": "บ้านเลขที่"})},
    )  # fmt: skip
    columns = ["บ้านเลขที่", "household/household_id", "household/subdistrict_code"]
    with pytest.raises(MissingColumnsError, match=r"'บ้านเลขที่' would answer two questions"):
        find_headers(clash, columns, "kobo", repeat=False, label="k.csv")
