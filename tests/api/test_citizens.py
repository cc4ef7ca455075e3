"""Citizens in their own door: a district team issues a household a one-time code, a member
enrols with it, reports a problem, the team verifies it, it is routed, the office resolves it
and the citizen says whether it is solved. Checked over HTTP against SQL written here."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import text

from layers.cases.events import clock
from layers.store.settings import Settings
from tests.factories import engine_for, run, serve
from tests.geo.test_photos import phone_photo

PASSWORD = "citizen-password-2567"


def one(url: str | None, sql: str, **params: Any) -> Any:
    assert url is not None
    engine = engine_for(url)
    with engine.connect() as conn:
        found = conn.execute(text(sql), params).first()
    engine.dispose()
    return found


@pytest.fixture(scope="module")
def home(analysis_settings: Settings, world: dict[str, Any]) -> dict[str, Any]:
    """A household of the officer's subdistrict (not the world's citizen's), with a position."""
    url = analysis_settings.database_url
    row = one(
        url,
        "SELECT household_id, subdistrict_code FROM household WHERE subdistrict_code = :s "
        "AND household_id <> :c AND geom IS NOT NULL ORDER BY household_id DESC LIMIT 1",
        s=world["areas"]["own"],
        c=world["assignments"]["citizen"]["household"],
    )
    category = one(
        url,
        "SELECT c.code FROM problem_category c WHERE NOT EXISTS (SELECT 1 FROM problem p "
        "WHERE p.household_id = :h AND p.category = c.code) ORDER BY c.code LIMIT 1",
        h=row.household_id,
    )
    return {"id": row.household_id, "subdistrict": row.subdistrict_code, "category": category[0]}


@pytest.fixture(scope="module")
def officer(analysis_settings: Settings, world: dict[str, Any]) -> Iterator[httpx.Client]:
    with serve(analysis_settings, world["tokens"]["officer"]) as http:
        yield http


@pytest.fixture(scope="module")
def anonymous(analysis_settings: Settings) -> Iterator[httpx.Client]:
    with serve(analysis_settings) as http:
        yield http
    forget_failures(analysis_settings.database_url)


def forget_failures(url: str | None) -> None:
    """The wrong codes sent here must not throttle other tests (one address: 127.0.0.1)."""
    assert url is not None
    engine = engine_for(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM login_failure WHERE user_name LIKE 'enrol:%'"))
    engine.dispose()


def enrolled(officer: httpx.Client, client: httpx.Client, household: str, name: str) -> None:
    """The officer issues ``household`` a code, and ``name`` enrols with it through ``client``."""
    code = officer.post("/enrolment/codes", json={"household_id": household}).json()["code"]
    made = client.post("/enrolment", json={"username": name, "password": PASSWORD, "code": code})
    assert made.status_code == 200, made.text


def signed_in(anonymous: httpx.Client, name: str) -> dict[str, str]:
    token = anonymous.post("/auth/token", data={"username": name, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def resolved(settings: Settings, world: dict[str, Any], case_id: int) -> None:
    """The office acknowledges and resolves the case (as the admin)."""
    with serve(settings, world["tokens"]["admin"]) as admin:
        for action, body in (("acknowledge", {"expected_on": "2027-02-01"}),
                             ("resolve", {"resolution": "solved_by_agency"})):  # fmt: skip
            done = admin.post(
                f"/cases/{case_id}/{action}",
                json=body,
                headers={"If-Match": admin.get(f"/cases/{case_id}").headers["etag"]},
            )
            assert done.status_code == 200, done.text


def test_a_code_enrols_once_and_only_inside_the_teams_area(
    analysis_settings: Settings,
    world: dict[str, Any],
    officer: httpx.Client,
    anonymous: httpx.Client,
    home: dict[str, Any],
) -> None:
    other = one(
        analysis_settings.database_url,
        "SELECT household_id FROM household WHERE subdistrict_code = :s LIMIT 1",
        s=world["areas"]["sibling"],
    )
    assert officer.post("/enrolment/codes", json={"household_id": other[0]}).status_code == 404
    first = officer.post("/enrolment/codes", json={"household_id": home["id"]})
    assert first.status_code == 200, first.text
    second = officer.post("/enrolment/codes", json={"household_id": home["id"]}).json()
    code = second["code"]
    assert len(code) == 11 and code[5] == "-" and second["subdistrict_code"] == home["subdistrict"]
    stored = one(
        analysis_settings.database_url,
        "SELECT count(*) FILTER (WHERE code_hash = :c), count(*) FILTER (WHERE revoked_at IS NULL)"
        " FROM enrolment_code WHERE household_id = :h",
        c=code,
        h=home["id"],
    )
    assert tuple(stored) == (0, 1)  # the digest only; the newer code replaced the first
    body = {"username": "somchai.c", "password": PASSWORD}
    replaced = anonymous.post("/enrolment", json={**body, "code": first.json()["code"]})
    assert replaced.status_code == 401 and "new slip" in replaced.text
    made = anonymous.post("/enrolment", json={**body, "code": code.lower().replace("-", " ")})
    assert made.status_code == 200, made.text
    assert made.json() == {"username": "somchai.c", "role": "citizen", "household_id": home["id"]}
    again = anonymous.post("/enrolment", json={**body, "username": "somchai.d", "code": code})
    assert again.status_code == 401
    me = anonymous.get("/auth/me", headers=signed_in(anonymous, "somchai.c")).json()
    assert me["role"] == "citizen" and me["area"] == home["subdistrict"]
    events = one(
        analysis_settings.database_url,
        "SELECT array_agg(event ORDER BY id) FROM auth_event WHERE event LIKE '%enrol%' "
        "OR event = 'code_issued'",
    )[0]
    assert events.count("code_issued") >= 2 and "enrolled" in events and "enrol_failed" in events


def test_wrong_codes_are_throttled_per_address_and_codes_expire(
    analysis_settings: Settings, officer: httpx.Client, home: dict[str, Any]
) -> None:
    forget_failures(analysis_settings.database_url)
    code = officer.post("/enrolment/codes", json={"household_id": home["id"]}).json()["code"]
    days = analysis_settings.enrolment_days + 1
    later = analysis_settings.model_copy(
        update={"clock": clock(analysis_settings) + dt.timedelta(days=days)}
    )
    body = {"username": "late.one", "password": PASSWORD}
    with serve(later) as http:
        expired = http.post("/enrolment", json={**body, "code": code})
        assert expired.status_code == 401
        for _ in range(analysis_settings.login_failures_per_user - 1):
            assert http.post("/enrolment", json={**body, "code": "AAAAA-AAAAA"}).status_code == 401
        throttled = http.post("/enrolment", json={**body, "code": code})
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
        malformed = http.post("/enrolment", json={**body, "code": "0O1I0-O1I0O"})
        assert malformed.status_code == 422 and "as printed on the slip" in malformed.text
    forget_failures(analysis_settings.database_url)


def test_a_report_is_verified_routed_resolved_and_confirmed_by_the_citizen(
    analysis_settings: Settings,
    world: dict[str, Any],
    officer: httpx.Client,
    anonymous: httpx.Client,
    home: dict[str, Any],
) -> None:
    url = analysis_settings.database_url
    enrolled(officer, anonymous, home["id"], "malee.k")
    citizen = signed_in(anonymous, "malee.k")
    category = home["category"]
    bad = [
        ({"category": "no-such-thing", "detail": "x"}, "taxonomy"),
        ({"category": category, "detail": "   "}, "detail"),
        ({"category": category, "detail": "a\x07b"}, "control"),
        ({"category": category, "detail": "ทะเล", "lon": 0.0, "lat": 0.0}, "inside Thailand"),
        ({"category": category, "detail": "ครึ่งเดียว", "lon": 104.8}, "both"),
    ]
    for body, why in bad:
        refused = anonymous.post("/reports", json=body, headers=citizen)
        assert refused.status_code == 422 and why in refused.text, (body, refused.text)
    detail = "หลังคารั่วเมื่อฝนตก"
    sent = anonymous.post(
        "/reports", json={"category": category, "detail": detail}, headers=citizen
    )
    assert sent.status_code == 201, sent.text
    report = sent.json()
    assert report["state"] == "to_verify" and report["place"] == "household"
    assert report["subdistrict_code"] == home["subdistrict"] and report["case"] is None
    assert sent.headers["cache-control"] == "private, no-store"
    # A place picked on the map in the next subdistrict: kept as the place; the report stays
    # with the household's own district team.
    inside = one(
        url,
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM admin_unit "
        "WHERE code = :c) q",
        c=world["areas"]["sibling"],
    )
    placed = anonymous.post(
        "/reports",
        json={"category": category, "detail": "ถนนหน้าบ้านญาติ", "lon": inside[0], "lat": inside[1]},
        headers=citizen,
    ).json()
    assert (placed["place"], placed["place_code"]) == ("map", world["areas"]["sibling"])
    assert placed["subdistrict_code"] == home["subdistrict"]
    # Not a problem, so in no figure, until the district team says so.
    problem = "SELECT status FROM problem WHERE household_id = :h AND category = :c"
    assert one(url, problem, h=home["id"], c=category) is None
    # The same category again at the same place: the first report is suggested.
    twice = anonymous.post(
        "/reports", json={"category": category, "detail": detail}, headers=citizen
    ).json()
    assert [(n["kind"], n["id"], n["metres"]) for n in twice["nearby"]] == [
        ("report", report["id"], 0)
    ]
    # Another citizen does not see it; the district team has it in its queue.
    with serve(analysis_settings, world["tokens"]["citizen"]) as neighbour:
        assert neighbour.get(f"/reports/{report['id']}").status_code == 404
        assert report["id"] not in [r["id"] for r in neighbour.get("/reports").json()["items"]]
    queue = officer.get("/reports", params={"state": "to_verify"}).json()
    assert {report["id"], twice["id"]} <= {r["id"] for r in queue["items"]}
    rejected = officer.post(
        f"/reports/{twice['id']}/reject",
        json={"reason": "ซ้ำกับเรื่องก่อนหน้า", "duplicate_of": report["id"]},
    )
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    verified = officer.post(f"/reports/{report['id']}/verify")
    assert verified.status_code == 200, verified.text
    assert verified.json()["state"] == "verified" and verified.json()["case"] is not None
    assert officer.post(f"/reports/{report['id']}/verify").status_code == 422
    assert one(url, problem, h=home["id"], c=category)[0] == "referred"
    case = verified.json()["case"]
    resolved(analysis_settings, world, case["id"])
    shown = anonymous.get(f"/reports/{report['id']}", headers=citizen).json()
    assert shown["case"]["state"] == "resolved"
    version = shown["case"]["version"]
    confirm = f"/reports/{report['id']}/confirm"
    unsaid = anonymous.post(confirm, json={"solved": False, "version": version}, headers=citizen)
    assert unsaid.status_code == 422 and "reason" in unsaid.text
    reopened = anonymous.post(
        confirm,
        json={"solved": False, "version": version, "reason": "ยังรั่วอยู่"},
        headers=citizen,
    )
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["case"]["state"] == "referred"  # reopened: back to its office
    resolved(analysis_settings, world, case["id"])
    again = anonymous.get(f"/reports/{report['id']}", headers=citizen).json()["case"]
    stale = anonymous.post(confirm, json={"solved": True, "version": version}, headers=citizen)
    assert stale.status_code == 412
    solved = anonymous.post(
        confirm, json={"solved": True, "version": again["version"]}, headers=citizen
    )
    assert solved.status_code == 200 and solved.json()["case"]["state"] == "verified"
    history = one(
        url,
        "SELECT array_agg(action ORDER BY id), array_agg(actor ORDER BY id) FROM case_event "
        "WHERE case_id = :c",
        c=case["id"],
    )
    reopen = history[0].index("reopen")
    assert history[1][reopen] == "malee.k" and history[0][reopen + 1 : reopen + 2] == ["route"]
    assert history[0][-1] == "verify" and history[1][-1] == "malee.k"
    # The same problem again, now that its case is closed: not silently joined to it.
    again_closed = officer.post(f"/reports/{placed['id']}/verify")
    assert again_closed.status_code == 422 and "reopen that case" in again_closed.text
    assert officer.get(f"/reports/{placed['id']}").json()["state"] == "to_verify"


def test_thai_words_written_without_spaces_are_found_inside_the_scope(
    analysis_settings: Settings,
    world: dict[str, Any],
    officer: httpx.Client,
    anonymous: httpx.Client,
) -> None:
    url = analysis_settings.database_url
    household = one(
        url,
        "SELECT household_id FROM household WHERE subdistrict_code = :s AND geom IS NOT NULL "
        "AND household_id <> :c ORDER BY household_id DESC OFFSET 6 LIMIT 1",
        s=world["areas"]["own"],
        c=world["assignments"]["citizen"]["household"],
    )[0]
    category = one(
        url,
        "SELECT c.code FROM problem_category c WHERE NOT EXISTS (SELECT 1 FROM problem p "
        "WHERE p.household_id = :h AND p.category = c.code) ORDER BY c.code OFFSET 1 LIMIT 1",
        h=household,
    )[0]
    enrolled(officer, anonymous, household, "search.c")
    citizen = signed_in(anonymous, "search.c")
    detail = "น้ำประปาไม่ไหลมาสามวันแล้ว"
    sent = anonymous.post("/reports", json={"category": category, "detail": detail},
                          headers=citizen)  # fmt: skip
    assert sent.status_code == 201, sent.text
    report = sent.json()["id"]
    # PostgreSQL's own parser takes the unspaced sentence for one word: it does not find it.
    naive = one(
        url,
        "SELECT to_tsvector('simple', detail) @@ plainto_tsquery('simple', 'ไม่ไหล') "
        "FROM citizen_report WHERE id = :i",
        i=report,
    )[0]
    assert naive is False
    found = officer.get("/search", params={"q": "ไม่ไหล"}).json()
    assert found["words"] == ["ไม่", "ไหล"] and report in [r["id"] for r in found["reports"]]
    with serve(analysis_settings, world["tokens"]["citizen"]) as neighbour:
        theirs = neighbour.get("/search", params={"q": "ไม่ไหล"}).json()
        assert report not in [r["id"] for r in theirs["reports"]]
    assert officer.get("/search", params={"q": "!!!"}).status_code == 422
    case = officer.post(f"/reports/{report}/verify").json()["case"]
    with serve(analysis_settings, world["tokens"]["admin"]) as admin:
        done = admin.post(
            f"/cases/{case['id']}/acknowledge",
            json={"expected_on": "2027-02-01", "note": "ช่างจะเข้าไปซ่อมท่อประปาพรุ่งนี้"},
            headers={"If-Match": admin.get(f"/cases/{case['id']}").headers["etag"]},
        )
        assert done.status_code == 200, done.text
    for client, headers in ((officer, {}), (anonymous, citizen)):
        updates = client.get("/search", params={"q": "ซ่อมท่อ"}, headers=headers).json()
        assert case["id"] in [u["case_id"] for u in updates["updates"]]


def test_reports_are_limited_per_network_address(
    analysis_settings: Settings, world: dict[str, Any], anonymous: httpx.Client
) -> None:
    """Every citizen here sends from 127.0.0.1: the limit is set just above what was sent."""
    url = analysis_settings.database_url
    sent = one(
        url,
        "SELECT count(*) FROM citizen_report WHERE address = '127.0.0.1' "
        "AND reported_at > now() - interval '1 day'",
    )[0]
    with serve(analysis_settings, world["tokens"]["officer"]) as officer:
        household = one(
            url,
            "SELECT household_id FROM household WHERE subdistrict_code = :s AND geom IS NOT NULL"
            " ORDER BY household_id DESC OFFSET 9 LIMIT 1",
            s=world["areas"]["own"],
        )[0]
        enrolled(officer, officer, household, "limit.c")
    category = one(url, "SELECT min(code) FROM problem_category")[0]
    tight = analysis_settings.model_copy(update={"reports_per_address": sent + 1})
    with serve(tight) as http:
        citizen = signed_in(http, "limit.c")
        body = {"category": category, "detail": "ไฟฟ้าดับบ่อย"}
        assert http.post("/reports", json=body, headers=citizen).status_code == 201
        refused = http.post("/reports", json=body, headers=citizen)
        assert refused.status_code == 429 and "this network" in refused.text
        assert int(refused.headers["retry-after"]) > 0


def test_a_photo_is_kept_without_its_gps_and_shown_only_inside_the_scope(
    analysis_settings: Settings,
    world: dict[str, Any],
    officer: httpx.Client,
    anonymous: httpx.Client,
) -> None:
    url = analysis_settings.database_url
    household = one(
        url,
        "SELECT household_id FROM household WHERE subdistrict_code = :s AND geom IS NOT NULL "
        "AND household_id <> :c ORDER BY household_id DESC OFFSET 9 LIMIT 1",
        s=world["areas"]["own"],
        c=world["assignments"]["citizen"]["household"],
    )[0]
    enrolled(officer, anonymous, household, "photo.c")
    citizen = signed_in(anonymous, "photo.c")
    category = one(url, "SELECT min(code) FROM problem_category")[0]
    sent = anonymous.post(
        "/reports", json={"category": category, "detail": "หลังคารั่ว"}, headers=citizen
    )
    assert sent.status_code == 201, sent.text
    report = sent.json()["id"]
    original = phone_photo()
    added = anonymous.post(
        f"/reports/{report}/photos", files={"file": ("roof.jpg", original)}, headers=citizen
    )
    assert added.status_code == 201, added.text
    photo = added.json()["id"]
    fake = anonymous.post(
        f"/reports/{report}/photos",
        files={"file": ("roof.jpg", b"<svg onload=alert(1)>")},
        headers=citizen,
    )
    assert fake.status_code == 415
    # The district team sees it, as it sees the report: a plain JPEG, no GPS, not cached.
    shown = officer.get(f"/reports/{report}/photos/{photo}")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    assert shown.headers["cache-control"] == "private, no-store"
    with Image.open(io.BytesIO(shown.content)) as image:
        assert len(image.getexif()) == 0
    assert b"SyntheticPhone" not in shown.content
    assert [p["id"] for p in officer.get(f"/reports/{report}").json()["photos"]] == [photo]
    # The world's citizen (another household) neither sees nor adds to it.
    with serve(analysis_settings, world["tokens"]["citizen"]) as other:
        assert other.get(f"/reports/{report}/photos/{photo}").status_code == 404
        refused = other.post(f"/reports/{report}/photos", files={"file": ("x.jpg", original)})
        assert refused.status_code == 404
    kept = one(url, "SELECT count(*) FROM report_photo WHERE report_id = :r", r=report)[0]
    assert kept == 1


def test_the_worker_asks_is_it_solved_weeks_after_the_case_is_resolved(
    analysis_settings: Settings,
    world: dict[str, Any],
    officer: httpx.Client,
    anonymous: httpx.Client,
) -> None:
    url = analysis_settings.database_url
    household = one(
        url,
        "SELECT household_id FROM household WHERE subdistrict_code = :s AND geom IS NOT NULL "
        "AND household_id <> :c ORDER BY household_id DESC OFFSET 12 LIMIT 1",
        s=world["areas"]["own"],
        c=world["assignments"]["citizen"]["household"],
    )[0]
    category = one(
        url,
        "SELECT c.code FROM problem_category c WHERE c.within_mandate AND NOT EXISTS (SELECT 1 "
        "FROM problem p WHERE p.household_id = :h AND p.category = c.code) ORDER BY c.code "
        "LIMIT 1",
        h=household,
    )[0]
    enrolled(officer, anonymous, household, "asked.c")
    citizen = signed_in(anonymous, "asked.c")
    sent = anonymous.post("/reports", json={"category": category, "detail": "ไม่มีน้ำใช้"},
                          headers=citizen)  # fmt: skip
    report = sent.json()["id"]
    verified = officer.post(f"/reports/{report}/verify")
    assert verified.status_code == 200, verified.text
    case_id = verified.json()["case"]["id"]
    resolved(analysis_settings, world, case_id)
    resolved_on = one(url, "SELECT resolved_on FROM problem_case WHERE id = :i", i=case_id)[0]

    def worker(days: int) -> int:
        at = dt.datetime.combine(resolved_on, dt.time(10), dt.UTC) + dt.timedelta(days=days)
        done = run("worker", "--once", "--queue", "citizens", url=url, BAMRUNG_CLOCK=at.isoformat())
        assert done.returncode == 0, done.stderr
        return int(
            one(url, "SELECT count(*) FROM solved_question WHERE case_id = :i", i=case_id)[0]
        )

    assert worker(analysis_settings.solved_question_days - 1) == 0  # not yet
    assert worker(analysis_settings.solved_question_days) == 1
    assert worker(analysis_settings.solved_question_days + 7) == 1  # asked once
    page = anonymous.get("/app/reports", headers=citizen)
    assert f'href="/app/reports/{report}"' in page.text and "แก้ไขเรื่อง" in page.text
    version = anonymous.get(f"/reports/{report}", headers=citizen).json()["case"]["version"]
    answered = anonymous.post(
        f"/reports/{report}/confirm", json={"solved": True, "version": version}, headers=citizen
    )
    assert answered.status_code == 200, answered.text
    closed = one(url, "SELECT answered_at IS NOT NULL FROM solved_question WHERE case_id = :i",
                 i=case_id)[0]  # fmt: skip
    assert closed
    assert "แก้ไขเรื่อง" not in anonymous.get("/app/reports", headers=citizen).text


def test_imported_problem_details_are_found_by_thai_words_once_the_worker_cut_them(
    analysis_settings: Settings, world: dict[str, Any], officer: httpx.Client
) -> None:
    url = analysis_settings.database_url
    done = run("worker", "--once", "--queue", "citizens", url=url)
    assert done.returncode == 0, done.stderr
    pending = one(
        url,
        "SELECT count(*) FROM problem p LEFT JOIN problem_search s USING (household_id, round, "
        "category) WHERE p.detail <> '' AND (s.digest IS NULL OR s.digest <> md5(p.detail))",
    )[0]
    assert pending == 0
    own = world["areas"]["own"]
    # "ผู้ใหญ่บ้าน" (the village head) inside "แจ้งผู้ใหญ่บ้านแล้ว", written without spaces.
    wanted = one(
        url,
        "SELECT count(*) FROM problem WHERE subdistrict_code = :s AND detail LIKE :w",
        s=own,
        w="%ผู้ใหญ่บ้าน%",
    )[0]
    assert wanted > 0
    found = officer.get("/search", params={"q": "ผู้ใหญ่บ้าน", "limit": 100}).json()["problems"]
    assert len(found) == min(100, wanted)
    homes = {
        r[0]
        for r in engine_for(str(url))
        .connect()
        .execute(text("SELECT household_id FROM household WHERE subdistrict_code = :s"), {"s": own})
    }
    assert all(p["household_id"] in homes and "ผู้ใหญ่บ้าน" in p["detail"] for p in found)
    with serve(analysis_settings, world["tokens"]["citizen"]) as citizen:
        mine = citizen.get("/search", params={"q": "ผู้ใหญ่บ้าน"}).json()["problems"]
    household = world["assignments"]["citizen"]["household"]
    assert {p["household_id"] for p in mine} <= {household}
