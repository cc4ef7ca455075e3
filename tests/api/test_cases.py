"""Cases over HTTP and the command line: versions (ETag, If-Match), concurrent writers, GeoJSON,
figures against independent SQL, the access log, and the routing check."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import holidays
import httpx
import numpy as np
import pytest
from sqlalchemy import Engine, text

from geo.access import scope_of
from layers.cases.actions import act
from layers.cases.events import Actor
from layers.store.settings import PROJECT_ROOT, Settings
from tests.factories import run, serve, token_for

TENTH = Decimal("0.1")
NOW = dt.datetime(2027, 1, 11, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def client(cases_engine: Engine) -> Iterator[httpx.Client]:
    url = cases_engine.url.render_as_string(hide_password=False)
    settings = Settings(database_url=url, clock=NOW, map_tiles="none")
    with serve(settings, token_for(url)) as found:
        yield found


def referred(client: httpx.Client, **given: Any) -> dict[str, Any]:
    made = client.post("/cases/refer", json={"areas": ["3401"], **given})
    assert made.status_code == 200, made.text
    return dict(made.json())


def test_changes_need_the_version_they_were_made_against(client: httpx.Client) -> None:
    referred(client, categories=["no_land_title"])
    first = client.get("/cases", params={"category": "no_land_title", "limit": 1}).json()
    case_id = first["items"][0]["id"]
    shown = client.get(f"/cases/{case_id}")
    assert shown.headers["etag"] == '"1"'
    assert shown.headers["cache-control"] == "private, no-store"
    body = {"expected_on": "2027-02-01"}
    missing = client.post(f"/cases/{case_id}/acknowledge", json=body)
    assert missing.status_code == 428 and "If-Match" in missing.text
    stale = client.post(f"/cases/{case_id}/acknowledge", json=body, headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    assert stale.json()["current"] == {"id": case_id, "state": "referred", "version": 1}
    assert stale.headers["etag"] == '"1"'
    done = client.post(f"/cases/{case_id}/acknowledge", json=body, headers={"If-Match": '"1"'})
    assert done.status_code == 200, done.text
    assert done.headers["etag"] == '"2"' and done.json()["state"] == "acknowledged"
    assert done.json()["history"][-1]["request_id"]
    again = client.post(f"/cases/{case_id}/acknowledge", json=body, headers={"If-Match": '"2"'})
    assert again.status_code == 422 and "cannot be acknowledged" in again.text
    wrong = client.post(
        f"/cases/{case_id}/resolve",
        json={"resolution": "solved_by_luck"},
        headers={"If-Match": '"2"'},
    )
    assert wrong.status_code == 422


def test_fifty_concurrent_writers_lose_no_update(
    client: httpx.Client, cases_engine: Engine
) -> None:
    referred(client, categories=["no_land_title"])
    ids = [i["id"] for i in client.get("/cases", params={"limit": 3}).json()["items"]]
    for case_id in ids:
        done = client.post(
            f"/cases/{case_id}/acknowledge",
            json={"expected_on": "2027-03-01"},
            headers={"If-Match": '"1"'},
        )
        assert done.status_code == 200
    answers: Counter[int] = Counter()
    lock = threading.Lock()
    base = str(client.base_url)
    token = client.headers["Authorization"]

    def writer(n: int) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": token}, timeout=60) as mine:
            for attempt in range(4):
                case_id = ids[(n + attempt) % len(ids)]
                etag = mine.get(f"/cases/{case_id}").headers["etag"]
                answer = mine.post(
                    f"/cases/{case_id}/progress",
                    json={"note": f"writer {n}, attempt {attempt}"},
                    headers={"If-Match": etag},
                )
                with lock:
                    answers[answer.status_code] += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(answers) <= {200, 412} and answers[200] > 0, answers
    with cases_engine.connect() as conn:
        events = conn.scalar(
            text("SELECT count(*) FROM case_event WHERE action = 'progress' AND case_id = ANY(:i)"),
            {"i": ids},
        )
        versions = conn.scalar(
            text("SELECT sum(version) FROM problem_case WHERE id = ANY(:i)"), {"i": ids}
        )
    assert events == answers[200]
    assert versions == 2 * len(ids) + answers[200]


def test_a_queue_as_geojson_points_and_every_answer_with_households_is_logged(
    client: httpx.Client, cases_engine: Engine
) -> None:
    referred(client)
    with cases_engine.connect() as conn:
        before = conn.scalar(text("SELECT count(*) FROM access_log WHERE path LIKE '/cases%'"))
        total = conn.scalar(text("SELECT count(*) FROM problem_case"))
        homes = conn.scalar(text("SELECT count(DISTINCT household_id) FROM problem_case"))
    found = client.get("/cases", params={"f": "geojson", "limit": 1000, "area": "3401"})
    assert found.status_code == 200
    assert found.headers["content-type"].startswith("application/geo+json")
    features = found.json()["features"]
    assert len(features) == total
    assert {f["geometry"]["type"] for f in features} == {"Point"}
    assert {"state", "office", "overdue", "ladder"} <= set(features[0]["properties"])
    page = client.get("/cases", params={"limit": 5}).json()["items"]
    with cases_engine.connect() as conn:
        logged = (
            conn.execute(
                text(
                    "SELECT cardinality(households) FROM access_log WHERE path LIKE '/cases%' "
                    "ORDER BY id"
                )
            )
            .scalars()
            .all()
        )
    assert logged[before:] == [homes, len({i["household_id"] for i in page})]


def working_days(start: dt.date, end: dt.date) -> int:
    """numpy's business days (Mon–Fri) between the dates, Thai holidays skipped: the oracle."""
    closed = [d for d in holidays.country_holidays("TH", years=range(2026, 2029))]
    return int(
        np.busday_count(start + dt.timedelta(days=1), end + dt.timedelta(days=1), holidays=closed)
    )


def test_figures_by_office_equal_independent_sql(cases_engine: Engine) -> None:
    url = cases_engine.url.render_as_string(hide_password=False)
    token = token_for(url)
    with serve(Settings(database_url=url, clock=NOW), token) as early:
        referred(early)
        ids = [i["id"] for i in early.get("/cases", params={"limit": 40}).json()["items"]]
    admin = Actor("admin", "admin", scope_of("admin", None))
    for n, case_id in enumerate(ids):
        # Offices answer over two months: on time, late, solved one way or the other, refused.
        when = NOW + dt.timedelta(days=n * 2)
        with cases_engine.begin() as conn:
            if n % 5 == 4:
                act(conn, admin, case_id, "reject", version=1, now=when, reason="other", note="no")
                continue
            expected = (when + dt.timedelta(days=30)).date()
            act(conn, admin, case_id, "acknowledge", version=1, now=when, expected_on=expected)
            if n % 3 == 0:
                solved = "solved_by_agency" if n % 2 else "solved_by_household"
                act(conn, admin, case_id, "resolve", version=2, now=when, resolution=solved)
    today = (NOW + dt.timedelta(days=90)).date()
    with serve(Settings(database_url=url, clock=NOW + dt.timedelta(days=90)), token) as client:
        figures = {
            r["key"]: r for r in client.get("/cases/kpis", params={"by": "office"}).json()["items"]
        }
    with cases_engine.connect() as conn:
        rows = (
            conn.execute(
                text(
                    "SELECT office, opened_on, acknowledged_on, acknowledge_by, resolve_by, "
                    "resolved_on, resolution, state, "
                    "EXISTS (SELECT 1 FROM case_event e WHERE e.case_id = k.id "
                    "AND e.action = 'route' AND e.details->>'office' "
                    "<> e.details->>'from_office') AS rerouted "
                    "FROM problem_case k"
                )
            )
            .mappings()
            .all()
        )
        # Refusals count for the office that refused.
        refused = {
            office: n
            for office, n in conn.execute(
                text(
                    "SELECT e.details->>'office', count(*) FROM case_event e "
                    "JOIN problem_case k ON k.id = e.case_id WHERE e.action = 'reject' "
                    "GROUP BY 1"
                )
            )
        }
    by_office: dict[str, list[Any]] = {}
    for row in rows:
        by_office.setdefault(row["office"], []).append(row)
    assert set(figures) == set(by_office) | set(refused)
    assert sum(refused.values()) == len(range(4, 40, 5))
    for office, cases in by_office.items():
        got = figures[office]
        acknowledged = [c for c in cases if c["acknowledged_on"]]
        late = [
            c
            for c in cases
            if (c["state"] == "referred" and c["acknowledge_by"] < today)
            or (
                c["state"] in ("referred", "acknowledged", "in_progress")
                and c["resolve_by"] < today
            )
        ]
        to_ack = [working_days(c["opened_on"], c["acknowledged_on"]) for c in acknowledged]
        solved = [c for c in cases if c["resolved_on"]]
        to_resolve = [working_days(c["opened_on"], c["resolved_on"]) for c in solved]
        on_time = sum(c["acknowledged_on"] <= c["acknowledge_by"] for c in acknowledged)
        assert got["received"] == len(cases)
        assert got["acknowledged"] == len(acknowledged)
        assert got["overdue"] == len(late)
        assert got["rejected"] == refused.get(office, 0)
        assert got["rerouted"] == sum(c["rerouted"] for c in cases)
        assert got["solved_by_agency"] == sum(c["resolution"] == "solved_by_agency" for c in cases)
        assert got["solved_by_household"] == sum(
            c["resolution"] == "solved_by_household" for c in cases
        )
        if acknowledged:
            assert got["median_days_to_acknowledge"] == float(np.median(to_ack))
            # Half away from zero, as PostgreSQL rounds a numeric (Python's round(6.25, 1) is 6.2).
            share = Decimal(100 * on_time) / Decimal(len(acknowledged))
            assert got["acknowledged_on_time_pct"] == float(share.quantize(TENTH, ROUND_HALF_UP))
        if to_resolve:
            assert got["median_days_to_resolve"] == float(np.median(to_resolve))
    assert sum(f["rejected"] for f in figures.values()) == len(range(4, 40, 5))


def test_routes_check_proves_coverage_and_lists_gaps(scratch_engine: Engine) -> None:
    url = scratch_engine.url.render_as_string(hide_password=False)
    good = run("cases", "routes", "check", url=url)
    assert good.returncode == 0, good.stderr
    assert "exactly one office" in good.stdout
    with scratch_engine.begin() as conn:
        conn.execute(text("DELETE FROM route WHERE category = 'illiteracy' AND area = '34'"))
        conn.execute(
            text(
                "INSERT INTO route VALUES ('drugs', '3401', 'dopa-3402'), "
                "('drugs', '3401', 'dopa-3401') ON CONFLICT DO NOTHING"
            )
        )
    bad = run("cases", "routes", "check", url=url)
    assert bad.returncode == 1
    assert "gap: illiteracy in 3401" in bad.stderr
    assert "conflict: drugs in 3401" in bad.stderr and "dopa-3401, dopa-3402" in bad.stderr


def test_the_reviewers_map_of_escalated_cases_in_chromium(
    client: httpx.Client, cases_engine: Engine, browser: Any
) -> None:
    from tests.api.browser import app_only, watch

    referred(client)
    with cases_engine.connect() as conn:
        escalated = conn.scalar(
            text(
                "SELECT count(*) FROM problem_case k JOIN problem_category c "
                "ON c.code = k.category WHERE NOT c.within_mandate AND c.dimension = 'education'"
            )
        )
    assert escalated > 0
    token = client.headers["Authorization"].removeprefix("Bearer ")
    origin = str(client.base_url).rstrip("/")
    context, outside = app_only(browser, origin, token)
    page = context.new_page()
    errors = watch(page)
    answer = page.goto(f"{origin}/maps/cases?area=3401&escalated=true&dimension=education&lang=en")
    assert answer is not None and answer.status == 200
    page.wait_for_selector(".bmr-legend")
    drawn = page.evaluate(
        """() => { let n = 0;
        for (const key in window) {
          const m = window[key];
          if (m instanceof L.Map) m.eachLayer(l => {
            if (l instanceof L.MarkerClusterGroup) n += l.getLayers().length; });
        }
        return [n, document.querySelectorAll('.bmr-office').length]; }"""
    )
    assert drawn[0] == escalated and drawn[1] >= 1, drawn
    shots = PROJECT_ROOT / "test-artifacts" / "maps"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "cases-escalated-education.png"))
    legend = page.locator(".bmr-legend").inner_text()
    assert "Overdue: 0" in legend and "Offices" in legend
    assert not errors and not outside
    context.close()
    # The others see counts per district, not points.
    url = cases_engine.url.render_as_string(hide_password=False)
    with serve(Settings(database_url=url, clock=NOW), token_for(url, "analyst")) as analyst:
        page = analyst.get("/maps/cases", params={"area": "34"})
    assert page.status_code == 200 and "MarkerCluster" not in page.text


def test_the_command_line_refers_answers_as_a_user_and_shows_the_history(
    cases_engine: Engine, tmp_path: Path
) -> None:
    import json as json_

    url = cases_engine.url.render_as_string(hide_password=False)
    now = "2027-01-11T09:00+07:00"
    dry = run("cases", "refer", "--area", "3401", "--dry-run", "--now", now, url=url)
    assert dry.returncode == 0, dry.stderr
    assert "would be created" in dry.stdout
    with cases_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM problem_case")) == 0
    done = run("cases", "refer", "--area", "3401", "--category", "no_land_title", "--now", now,
               url=url)  # fmt: skip
    assert done.returncode == 0, done.stderr
    token_for(url, "agency_officer", office="dol-34")  # a user of the land office…
    with cases_engine.connect() as conn:
        name = conn.scalar(text("SELECT name FROM app_user WHERE office = 'dol-34' LIMIT 1"))
    listed = run("cases", "list", "--json", "--as", name, "--now", now, url=url)
    assert listed.returncode == 0, listed.stderr
    items = json_.loads(listed.stdout)["items"]
    assert items and {i["office"] for i in items} == {"dol-34"}
    case_id = str(items[0]["id"])
    ack = run("cases", "ack", case_id, "--expected", "2027-03-01", "--as", name, "--now", now,
              url=url)  # fmt: skip
    assert ack.returncode == 0 and "version 2" in ack.stdout, ack.stderr
    stale = run("cases", "progress", case_id, "--version", "1", "--as", name, url=url)
    assert stale.returncode == 2 and "version 2, not 1" in stale.stderr
    verify = run("cases", "verify", case_id, "--as", name, url=url)
    assert verify.returncode == 2 and "may not verify" in verify.stderr
    scan = tmp_path / "visit.pdf"
    scan.write_bytes(b"%PDF-1.4\n" + b"x" * 100)
    attached = run("cases", "progress", case_id, "--attach", str(scan), "--as", name,
                   "--now", now, url=url, BAMRUNG_HOME=str(tmp_path))  # fmt: skip
    assert attached.returncode == 0 and "with visit.pdf" in attached.stdout, attached.stderr
    shown = json_.loads(run("cases", "show", case_id, url=url).stdout)
    assert [e["action"] for e in shown["history"]] == ["route", "acknowledge", "progress"]
    assert [a["name"] for a in shown["attachments"]] == ["visit.pdf"]
    assert shown["history"][1]["actor"] == name
    figures = json_.loads(run("cases", "kpis", "--json", "--now", now, url=url).stdout)
    assert {f["key"] for f in figures} == {"dol-34"}


def test_a_targeting_runs_top_areas_are_referred_in_one_call(client: httpx.Client) -> None:
    ranked = client.post("/targeting", json={"area": "3401", "level": "subdistrict", "top": 3})
    assert ranked.status_code == 200, ranked.text
    run_id, top = ranked.json()["run"], [a["code"] for a in ranked.json()["areas"]]
    made = client.post("/cases/refer", json={"targeting_run": run_id, "top": 3})
    assert made.status_code == 200, made.text
    cases = client.get("/cases", params={"limit": 1000}).json()["items"]
    assert made.json()["cases"] == len(cases) > 0
    assert {c["subdistrict_code"] for c in cases} <= set(top)
    assert client.post("/cases/refer", json={"targeting_run": 999_999}).status_code == 404
    assert client.post("/cases/refer", json={}).status_code == 422


def test_files_are_attached_with_a_progress_note_checked_by_kind_and_size(
    cases_engine: Engine, tmp_path: Path
) -> None:
    url = cases_engine.url.render_as_string(hide_password=False)
    settings = Settings(database_url=url, clock=NOW, home=tmp_path, attachment_max_bytes=2_000)
    with serve(settings, token_for(url)) as client:
        referred(client, categories=["no_land_title"])
        case_id = client.get("/cases", params={"limit": 1}).json()["items"][0]["id"]
        client.post(
            f"/cases/{case_id}/acknowledge", json={"expected_on": "2027-02-01"},
            headers={"If-Match": '"1"'},
        )  # fmt: skip
        pdf = b"%PDF-1.4\n" + b"x" * 500
        done = client.post(
            f"/cases/{case_id}/attachments",
            files={"file": ("../../deed scan.pdf", pdf, "application/pdf")},
            data={"note": "the deed, scanned"},
            headers={"If-Match": '"2"'},
        )
        assert done.status_code == 200, done.text
        shown = done.json()
        assert shown["state"] == "in_progress" and shown["history"][-1]["note"] == (
            "the deed, scanned"
        )
        (attached,) = shown["attachments"]
        assert attached["name"] == "deed scan.pdf" and attached["media_type"] == "application/pdf"
        back = client.get(f"/cases/{case_id}/attachments/{attached['id']}")
        assert back.status_code == 200 and back.content == pdf
        assert back.headers["content-type"] == "application/pdf"
        assert back.headers["cache-control"] == "private, no-store"
        etag = done.headers["etag"]
        html = client.post(
            f"/cases/{case_id}/attachments", files={"file": ("x.pdf", b"<html>", "application/pdf")},
            headers={"If-Match": etag},
        )  # fmt: skip
        big = client.post(
            f"/cases/{case_id}/attachments", files={"file": ("x.png", b"\x89PNG\r\n\x1a\n" * 300)},
            headers={"If-Match": etag},
        )  # fmt: skip
        assert (html.status_code, big.status_code) == (415, 413)
        assert client.get(f"/cases/{case_id}").headers["etag"] == etag  # nothing changed
    assert (tmp_path / "attachments").is_dir()


def test_the_public_figures_hide_small_counts(cases_engine: Engine) -> None:
    import re

    from geo.disclosure import K
    from layers.delivery.figures import COLUMNS, PLAIN, kpi_page

    url = cases_engine.url.render_as_string(hide_password=False)
    with serve(Settings(database_url=url, clock=NOW), token_for(url)) as admin:
        referred(admin, categories=["illiteracy", "no_land_title", "drugs"])
    with cases_engine.connect() as conn:
        page = kpi_page(conn, Settings(database_url=url, clock=NOW), area="3401", lang="en")
    rows = [re.findall(r"<td>([^<]*)</td>", row) for row in re.findall(r"<tr><td>.*?</tr>", page)]
    assert rows
    counted = [i + 1 for i, c in enumerate(COLUMNS) if c not in PLAIN]
    shown = [row[i] for row in rows for i in counted]
    assert all(v == "" or int(v.replace(",", "")) == 0 or int(v.replace(",", "")) >= K
               for v in shown), shown  # fmt: skip
    assert "" in shown  # something was small enough to hide
