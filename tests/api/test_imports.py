"""Uploading surveys over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from geo.synth.survey import Synthetic
from layers.store.settings import Settings
from tests import collect_exports as written
from tests.factories import engine_for, serve, token_for


def wait_for(api: httpx.Client, job_id: int) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = api.get(f"/imports/{job_id}").json()
        if job["state"] in ("done", "failed", "interrupted"):
            return job
        time.sleep(0.2)
    pytest.fail(f"import job {job_id} did not finish")


def test_an_upload_is_imported_and_its_refused_rows_listed(
    api: httpx.Client, synthetic: tuple[Synthetic, Path], loaded_url: str
) -> None:
    survey, path = synthetic
    with path.open("rb") as handle:
        response = api.post("/imports", files={"file": ("ubon.csv", handle, "text/csv")})
    assert response.status_code == 202
    started = response.json()
    assert started["state"] == "queued" and started["file_name"] == "ubon.csv"
    job = wait_for(api, started["id"])
    assert job["state"] == "done", job["error"]
    report = job["report"]
    assert report["rows"] == len(survey.rows)
    assert (
        report["rows_imported"] + report["rows_unchanged"] + report["rows_quarantined"]
        == report["rows"]
    )
    listed = api.get(f"/imports/{started['id']}/quarantine", params={"limit": 1000})
    refused = listed.json()
    # The refused rows are personal data: the response was logged.
    engine = engine_for(loaded_url)
    with engine.connect() as conn:
        logged = conn.scalar(
            text("SELECT cardinality(households) FROM access_log WHERE request_id = :r"),
            {"r": listed.headers["x-request-id"]},
        )
    engine.dispose()
    assert logged == len({i["values"].get("household_id") for i in refused["items"]})
    assert (
        refused["total"]
        == report["rows_quarantined"]
        == len(survey.key[survey.key["expect"].str.startswith("quarantine:")])
    )
    reasons = {r for item in refused["items"] for r in item["reasons"]}
    assert reasons == {"duplicate_row", "unknown_problem_code"}
    assert all("head_name" not in item["values"] for item in refused["items"])


def test_an_odk_central_zip_is_uploaded_and_imported_through_its_profile(
    api: httpx.Client, synthetic: tuple[Synthetic, Path], tmp_path: Path
) -> None:
    survey, _ = synthetic
    canonical = survey.clean.iloc[:200].astype(str)
    canonical = canonical[canonical["household_id"].isin(canonical["household_id"].iloc[:180])]
    path = written.central_zip(written.submissions(canonical), tmp_path / "bamrung_household.zip")
    with path.open("rb") as handle:
        files = {"file": ("bamrung_household.zip", handle, "application/zip")}
        refused = api.post("/imports", files=files)
        handle.seek(0)
        response = api.post("/imports", files=files, data={"profile": "odk"})
    assert refused.status_code == 415 and "import it with the profile odk" in refused.text
    assert response.status_code == 202, response.text
    job = wait_for(api, response.json()["id"])
    assert job["state"] == "done", job["error"]
    report = job["report"]
    assert report["profile"] == "odk" and report["rows"] == len(canonical)
    assert report["rows_quarantined"] == 0
    # A file that only says it is a zip is refused as what it is, before any job runs.
    bad = api.post(
        "/imports",
        files={"file": ("x.zip", b"household_id,round\n", "application/zip")},
        data={"profile": "odk"},
    )
    assert bad.status_code == 415 and "not a zip" in bad.text


def test_refused_rows_are_shown_inside_the_callers_area_and_to_the_uploader(
    loaded_url: str, api: httpx.Client
) -> None:
    """An officer uploads rows for their district and for Bangkok, all refused (unknown code)."""
    csv = (
        b"household_id,round,subdistrict_code,lat,lon,problem_code\n"
        b"Q-1,2567,341901,15.24,105.23,no_such_code\n"
        b"Q-2,2567,341902,15.25,105.24,no_such_code\n"
        b"Q-3,2567,100101,13.75,100.50,no_such_code\n"
    )
    settings = Settings(database_url=loaded_url)
    officer = token_for(loaded_url, "officer", area="3419")
    with serve(settings, officer) as uploader:
        started = uploader.post("/imports", files={"file": ("mixed.csv", csv, "text/csv")})
        assert started.status_code == 202, started.text
        job = wait_for(uploader, started.json()["id"])
        assert job["state"] == "done" and job["report"]["rows_quarantined"] == 3
        mine = uploader.get(f"/imports/{job['id']}/quarantine").json()
        assert mine["total"] == 3
    seen = {}
    for name, area in (("ubon", "34"), ("bangkok", "10"), ("other", "50")):
        with serve(settings, token_for(loaded_url, "governor", area=area)) as governor:
            listed = governor.get(f"/imports/{job['id']}/quarantine").json()
        seen[name] = sorted(i["values"]["household_id"] for i in listed["items"])
        assert listed["total"] == len(seen[name])
    assert seen == {"ubon": ["Q-1", "Q-2"], "bangkok": ["Q-3"], "other": []}
    assert api.get(f"/imports/{job['id']}/quarantine").json()["total"] == 3  # the admin


def test_a_file_that_cannot_be_imported_is_refused_at_once_in_http_words(
    api: httpx.Client, loaded_url: str
) -> None:
    engine = engine_for(loaded_url)
    with engine.connect() as conn:
        jobs = conn.scalar(text("SELECT count(*) FROM import_job"))
    response = api.post(
        "/imports", files={"file": ("bad.csv", b"household,tambon\nA,341901\n", "text/csv")}
    )
    assert response.status_code == 422
    message = response.json()["detail"][0]["msg"]
    assert message.startswith(
        "bad.csv: required column(s) missing: household_id, subdistrict_code, problem_code, round"
    )
    assert "form field `round`" in message
    assert (
        "--round" not in message and "uploads" not in message and "/" not in message.split(":")[0]
    )
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM import_job")) == jobs
    engine.dispose()


@pytest.mark.parametrize(
    ("name", "content", "status", "says"),
    [
        ("notes.docx", b"x", 415, "upload a CSV, XLSX, GeoJSON or GeoPackage"),
        ("notes.txt", b"shopping list\n", 415, "upload a CSV, XLSX, GeoJSON or GeoPackage"),
        ("survey.csv", b"%PDF-1.7 ...", 415, "survey.csv: the file's content is not CSV text"),
        ("survey.gpkg", b"household_id,round\n", 415, "is not a GeoPackage"),
        ("x" * 296 + ".csv", b"household_id\n", 422, "at most 255 characters"),
        (
            "twice.csv",
            b"household_id,round,subdistrict_code,problem_code,status,STATUS\n",
            422,
            "column names repeat ('status' and 'STATUS')",
        ),
    ],
)
def test_uploads_that_are_not_surveys_are_refused_at_once(
    api: httpx.Client, name: str, content: bytes, status: int, says: str
) -> None:
    response = api.post("/imports", files={"file": (name, content, "application/octet-stream")})
    assert response.status_code == status, response.text
    assert says in response.text


def test_unknown_jobs_and_bad_fields_are_refused(api: httpx.Client) -> None:
    assert api.get("/imports/999999").status_code == 404
    assert api.get("/imports/999999/quarantine").status_code == 404
    response = api.post(
        "/imports", files={"file": ("a.csv", b"x", "text/csv")}, data={"round": "12"}
    )
    assert response.status_code == 422


def test_an_officers_upload_touches_nothing_outside_the_district(
    loaded_url: str, tmp_path: Path
) -> None:
    """An officer of district 3419 uploads rows of a household of province 10 and one of
    district 3401: both are refused (kept for the officer to see) and stay as they were."""
    header = "household_id,round,subdistrict_code,members,lat,lon,problem_code,status\n"
    seed = tmp_path / "seed.csv"
    seed.write_text(
        header + "OUT-BKK,2567,100101,5,13.7563,100.5018,drugs,open\n"
        "OUT-UBN,2567,340101,6,15.2283,104.8572,drugs,open\n"
    )
    engine = engine_for(loaded_url)
    settings = Settings(database_url=loaded_url)
    from layers.survey.importer import Importer

    Importer(engine, settings).run(seed)
    query = text(
        "SELECT household_id, members, ST_AsText(geom), precision, p.status FROM household "
        "JOIN problem p USING (household_id, round) WHERE household_id LIKE 'OUT-%' ORDER BY 1"
    )
    with engine.connect() as conn:
        before = conn.execute(query).all()
    upload = (header + "OUT-BKK,2567,100101,,,,drugs,solved_by_agency\n"
              "OUT-UBN,2567,340101,1,15.2447,105.2294,drugs,closed_unsolved\n").encode()  # fmt: skip
    with serve(settings, token_for(loaded_url, "officer", area="3419")) as officer:
        started = officer.post("/imports", files={"file": ("two.csv", upload, "text/csv")})
        assert started.status_code == 202, started.text
        job = wait_for(officer, started.json()["id"])
        refused = officer.get(f"/imports/{job['id']}/quarantine").json()
    with engine.connect() as conn:
        after = conn.execute(query).all()
    engine.dispose()
    assert job["state"] == "done" and job["report"]["rows_quarantined"] == 2
    assert job["report"]["scope"] == "3419"
    assert after == before
    assert [i["reasons"] for i in refused["items"]] == [["outside_your_area"]] * 2


@pytest.fixture
def small_api(loaded_url: str) -> Iterator[httpx.Client]:
    settings = Settings(database_url=loaded_url, upload_max_bytes=1000)
    with serve(settings, token_for(loaded_url)) as client:
        yield client


def test_an_upload_over_the_limit_is_refused_with_413(small_api: httpx.Client) -> None:
    response = small_api.post("/imports", files={"file": ("big.csv", b"x" * 5000, "text/csv")})
    assert response.status_code == 413
    assert "limit of 1,000 bytes" in response.json()["detail"]
