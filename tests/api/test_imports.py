"""Uploading surveys over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from geo.synth import Synthetic
from layers.settings import Settings
from tests.conftest import engine_for, serve, token_for


def wait_for(api: httpx.Client, job_id: int) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = api.get(f"/imports/{job_id}").json()
        if job["state"] in ("done", "failed"):
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


def test_a_bad_upload_ends_in_a_failed_job_that_says_why(api: httpx.Client, tmp_path: Path) -> None:
    response = api.post(
        "/imports", files={"file": ("bad.csv", b"household,tambon\nA,341901\n", "text/csv")}
    )
    job = wait_for(api, response.json()["id"])
    assert job["state"] == "failed"
    assert (
        "required column(s) missing: household_id, subdistrict_code, problem_code, round"
        in job["error"]
    )


def test_unknown_kinds_jobs_and_bad_fields_are_refused(api: httpx.Client) -> None:
    response = api.post(
        "/imports", files={"file": ("notes.docx", b"x", "application/octet-stream")}
    )
    assert (
        response.status_code == 422 and "upload a CSV, XLSX, GeoJSON or GeoPackage" in response.text
    )
    assert api.get("/imports/999999").status_code == 404
    assert api.get("/imports/999999/quarantine").status_code == 404
    response = api.post(
        "/imports", files={"file": ("a.csv", b"x", "text/csv")}, data={"round": "12"}
    )
    assert response.status_code == 422


@pytest.fixture
def small_api(loaded_url: str) -> Iterator[httpx.Client]:
    settings = Settings(database_url=loaded_url, upload_max_bytes=1000)
    with serve(settings, token_for(loaded_url)) as client:
        yield client


def test_an_upload_over_the_limit_is_refused_with_413(small_api: httpx.Client) -> None:
    response = small_api.post("/imports", files={"file": ("big.csv", b"x" * 5000, "text/csv")})
    assert response.status_code == 413
    assert "limit of 1,000 bytes" in response.json()["detail"]
