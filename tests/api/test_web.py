"""The web application in Debian's Chromium, for every role: log in, land on the dashboard of
its own scope and nothing else, drill down, open a map, open a record (purpose asked, access
logged), act on a case; and the session rules (CSRF, expiry, logout, throttled logins, one
permission model), checked over HTTP. Every page is run through axe-core and measured at a
phone's width; screenshots go to ``test-artifacts/web/``."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import text

from api.assets import VENDOR_DIR
from layers.access.users import add_user
from layers.analysis import targeting
from layers.cases import referral
from layers.cases.events import SYSTEM
from layers.store.settings import Settings
from layers.survey.importer import Importer
from tests.api.browser import app_only, watch
from tests.factories import engine_for, serve, with_boundaries
from tests.geo.test_photos import phone_photo
from tests.recorder import HOUSEHOLD_ID

PASSWORD = "a long enough secret"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
AXE = VENDOR_DIR / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
ROUND = 2567


@pytest.fixture(scope="module")
def web(
    new_database: Callable[[], str],
    shared_boundaries: Path,
    synthetic: tuple[Any, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """A database with the Ubon survey, a stored targeting run of the province, the open
    problems of its busiest district referred, and a user with a password for each role."""
    url = with_boundaries(new_database, shared_boundaries)
    engine = engine_for(url)
    # A government LAN without the internet: no basemap tiles.
    settings = Settings(
        database_url=url, home=tmp_path_factory.mktemp("web-home"), map_tiles="none"
    )
    Importer(engine, settings).run(synthetic[1])
    with engine.connect() as conn:
        district = conn.scalar(
            text(
                "SELECT district_code FROM household WHERE round = :r "
                "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            ),
            {"r": ROUND},
        )
    with engine.begin() as conn:
        config = targeting.load_config(settings.targeting_file)
        targeting.target_areas(conn, config, area="34", level="district", store=True)
    referral.refer(engine, SYSTEM, areas=[district], now=dt.datetime.now(dt.UTC))
    with engine.connect() as conn:
        office = conn.scalar(
            text(
                "SELECT office FROM problem_case WHERE office NOT LIKE 'dopa-%' "
                "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            )
        )
    assignments: dict[str, dict[str, Any]] = {
        "governor": {"area": "34"},
        "officer": {"area": district},
        "agency_officer": {"office": office},
        "reviewer": {},
        "analyst": {},
        "admin": {},
    }
    with engine.begin() as conn:
        for role, given in assignments.items():
            add_user(conn, f"web-{role}", role, password=PASSWORD, **given)
    engine.dispose()
    return {"url": url, "settings": settings, "district": district, "office": office}


@pytest.fixture(scope="module")
def site(web: dict[str, Any]) -> Iterator[httpx.Client]:
    with serve(web["settings"]) as client:
        yield client


def log_in(page: Page, origin: str, role: str) -> None:
    page.goto(f"{origin}/login")
    page.get_by_label(re.compile("ชื่อผู้ใช้|User name")).fill(f"web-{role}")
    page.get_by_label(re.compile("รหัสผ่าน|Password")).fill(PASSWORD)
    page.locator("form.login button").click()
    page.wait_for_load_state("networkidle")


def checked(page: Page, errors: list[str], name: str) -> list[str]:
    """The page's problems: console errors, axe-core's serious and critical violations, a
    width wider than a phone's; and its screenshots (desktop, phone) in the artifacts."""
    found = [f"{name}: console: {e}" for e in errors]
    errors.clear()
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))"
    )
    found += [f"{name}: axe: {v}" for v in violations]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"] + 1:
        found.append(f"{name}: {width} px wide at {PHONE['width']} px")
    page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)
    assert size is not None
    page.set_viewport_size(size)
    return found


def households_in(url: str, area: str) -> int:
    engine = engine_for(url)
    with engine.connect() as conn:
        n = conn.scalar(
            text("SELECT count(*) FROM household WHERE round = :r AND subdistrict_code LIKE :a"),
            {"r": ROUND, "a": area + "%"},
        )
    engine.dispose()
    return int(n or 0)


ROLES = ("governor", "officer", "agency_officer", "reviewer", "analyst", "admin")


@pytest.mark.parametrize("role", ROLES)
def test_each_role_works_from_a_browser_in_its_own_scope(
    role: str, web: dict[str, Any], site: httpx.Client, browser: Browser
) -> None:
    origin = str(site.base_url).rstrip("/")
    # CSP bypassed only so that axe-core can be added to each page.
    context, outside = app_only(browser, origin, bypass_csp=True)
    page = context.new_page()
    errors = watch(page)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    problems: list[str] = []
    log_in(page, origin, role)
    landing = "/app/review" if role == "reviewer" else "/app"
    assert page.url == origin + landing, page.url
    problems += checked(page, errors, f"{role}-landing")

    # The dashboard of its own scope.
    page.goto(f"{origin}/app")
    own = {"governor": "34", "officer": web["district"]}.get(role, "")
    if role in ("governor", "officer", "analyst", "admin"):
        card = page.locator(".card").first.locator(".n").inner_text()
        assert int(card.replace(",", "")) == households_in(web["url"], own), card
    if role == "governor":  # the province's stored targeting run, ranked
        ranked = page.locator("section.panel", has_text="คะแนนความเร่งด่วน").locator("tbody tr")
        expect(ranked).to_have_count(10)
    problems += checked(page, errors, f"{role}-dashboard")

    # Nothing of another area: Bangkok's page answers 404 and does not name it.
    if own:
        other = "10" if own == "34" else "3401" if not own.startswith("3401") else "3402"
        answer = page.goto(f"{origin}/app/areas/{other}")
        assert answer is not None and answer.status == 404
        assert "กรุงเทพ" not in page.content() and "Bangkok" not in page.content()
        errors.clear()

    # Drill down: the own area, then one of the areas within it.
    page.goto(f"{origin}/app/areas")
    problems += checked(page, errors, f"{role}-areas")
    if role != "agency_officer":  # its scope is some categories: no area figures
        child = page.locator("table.wide tbody a").first
        child_code = (child.get_attribute("href") or "").rsplit("/", 1)[-1]
        child.click()
        page.wait_for_load_state("networkidle")
        assert page.url.endswith(f"/app/areas/{child_code}")
        expect(page.locator(".crumbs")).to_be_visible()
        problems += checked(page, errors, f"{role}-area")

    # A map, in the viewer.
    page.goto(f"{origin}/app/map?area={own or '34'}")
    frame = page.frame_locator("iframe.frame")
    expect(frame.locator(".leaflet-container")).to_be_visible(timeout=30_000)
    problems += checked(page, errors, f"{role}-map")

    # A record: the purpose is asked first, and the view is logged with it.
    if role not in ("agency_officer",):
        page.goto(f"{origin}/app/households?area={own}")
        expect(page.locator("form fieldset")).to_be_visible()
        problems += checked(page, errors, f"{role}-purpose")
        page.get_by_label(re.compile("เตรียมลงพื้นที่|home visit")).check()
        page.locator("main form button").click()
        page.wait_for_load_state("networkidle")
        expect(page.locator("table.wide tbody tr").first).to_be_visible()
        problems += checked(page, errors, f"{role}-households")
        engine = engine_for(web["url"])
        with engine.connect() as conn:
            logged = conn.execute(
                text(
                    "SELECT purpose, path FROM access_log WHERE user_name = :u "
                    "ORDER BY id DESC LIMIT 1"
                ),
                {"u": f"web-{role}"},
            ).one()
        engine.dispose()
        assert logged.purpose == "home visit" and logged.path == "/app/households"
        page.goto(f"{origin}/app/problems?area={own}&purpose=data+check")
        expect(page.locator("table.wide tbody tr").first).to_be_visible()
        problems += checked(page, errors, f"{role}-problems")

    # Cases: the queue, and for the roles that answer cases, an action seen in the history.
    page.goto(f"{origin}/app/cases")
    problems += checked(page, errors, f"{role}-cases")
    case_id = _referred_case(web, role)
    if case_id is not None:
        page.goto(f"{origin}/app/cases/{case_id}")
        problems += checked(page, errors, f"{role}-case")
        page.locator("details.act summary", has_text=re.compile("รับเรื่อง|Acknowledge")).click()
        page.locator("details[open] button[type=submit]").click()
        expect(page.locator(".alert.ok")).to_be_visible()
        expect(page.locator("ol.history li").last).to_contain_text(re.compile("รับเรื่อง"))
        assert _state(web, case_id) == "acknowledged"
    page.goto(f"{origin}/app/review")
    problems += checked(page, errors, f"{role}-review")
    if role == "admin":
        page.goto(f"{origin}/app/admin")
        problems += checked(page, errors, f"{role}-admin")
        page.goto(f"{origin}/app/imports")
        problems += checked(page, errors, f"{role}-imports")
    context.close()
    assert outside == [], f"asked for other sites: {outside[:3]}"
    assert not problems, "\n".join(problems)


def _referred_case(web: dict[str, Any], role: str) -> int | None:
    """A referred case this role answers: the agency officer's office's, the district team's
    for the district officer."""
    office = {"agency_officer": web["office"], "officer": f"dopa-{web['district']}"}.get(role)
    if office is None:
        return None
    engine = engine_for(web["url"])
    with engine.connect() as conn:
        found = conn.scalar(
            text(
                "SELECT id FROM problem_case WHERE office = :o AND state = 'referred' "
                "ORDER BY id LIMIT 1"
            ),
            {"o": office},
        )
    engine.dispose()
    assert found is not None, office
    return int(found)


def _state(web: dict[str, Any], case_id: int) -> str:
    engine = engine_for(web["url"])
    with engine.connect() as conn:
        state = conn.scalar(text("SELECT state FROM problem_case WHERE id = :i"), {"i": case_id})
    engine.dispose()
    return str(state)


def test_the_public_pages_work_offline_in_thai_with_the_vendored_font(
    site: httpx.Client, browser: Browser
) -> None:
    origin = str(site.base_url).rstrip("/")
    context, outside = app_only(browser, origin)
    page = context.new_page()
    errors = watch(page)
    for path in ("/", "/app/map", "/login", "/docs", "/redoc"):
        page.goto(origin + path)
        page.wait_for_load_state("networkidle")
        # ReDoc always asks for its maker's logo from a CDN: the policy refuses it, as it should.
        errors[:] = [e for e in errors if "cdn.redoc.ly" not in e]
        assert errors == [], f"{path}: {errors}"
    page.goto(origin + "/")
    assert page.locator("html").get_attribute("lang") == "th"
    page.evaluate("document.fonts.ready")
    assert page.evaluate("document.fonts.check('16px Sarabun', 'ครัวเรือน')")
    faces = page.evaluate(
        "[...document.fonts].filter(f => f.family.includes('Sarabun') && f.status == 'loaded')"
        ".length"
    )
    assert faces >= 1
    page.goto(origin + "/docs")
    expect(page.locator(".swagger-ui .info")).to_be_visible(timeout=30_000)
    page.goto(origin + "/redoc")
    expect(page.locator("redoc h1, [role=search], .api-info").first).to_be_visible(timeout=30_000)
    context.close()
    assert outside == [], outside[:3]


def test_the_language_switch_is_kept_for_the_user(site: httpx.Client, browser: Browser) -> None:
    origin = str(site.base_url).rstrip("/")
    context, _ = app_only(browser, origin)
    page = context.new_page()
    log_in(page, origin, "governor")
    page.locator("header form[action='/lang'] button").click()
    expect(page.locator("h1")).to_have_text("Dashboard")
    assert page.locator("html").get_attribute("lang") == "en"
    context.close()
    fresh = browser.new_context().new_page()
    log_in(fresh, origin, "governor")  # another browser, the same user: still English
    assert fresh.locator("html").get_attribute("lang") == "en"
    fresh.locator("header form[action='/lang'] button").click()
    expect(fresh.locator("h1")).to_have_text("ภาพรวม")
    # Dates in the Buddhist Era in Thai.
    year = dt.date.today().year
    assert str(year + 543) in fresh.content()
    fresh.context.close()


def session_for(site: httpx.Client, role: str) -> tuple[httpx.Client, str]:
    """A client holding a session of ``role`` and the CSRF token its pages carry."""
    client = httpx.Client(base_url=site.base_url, timeout=30)
    signed = client.post("/login", data={"username": f"web-{role}", "password": PASSWORD})
    assert signed.status_code == 303, signed.text
    page = client.get("/app")
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', page.text)
    assert found, page.text[:300]
    return client, found.group(1)


def test_the_session_cookie_is_http_only_lax_and_server_side(
    web: dict[str, Any], site: httpx.Client
) -> None:
    client = httpx.Client(base_url=site.base_url, timeout=30)
    signed = client.post("/login", data={"username": "web-governor", "password": PASSWORD})
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # served over plain HTTP here (see the HTTPS test)
    token = client.cookies["bamrung_session"]
    assert signed.headers["cache-control"] == "private, no-store"
    page = client.get("/app")
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    # The database keeps only the token's hash.
    engine = engine_for(web["url"])
    with engine.connect() as conn:
        hashes = set(conn.scalars(text("SELECT token_hash FROM web_session")))
    engine.dispose()
    assert token not in hashes and len(hashes) >= 1
    client.close()


def test_the_cookie_is_secure_over_https(web: dict[str, Any]) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(web["settings"]), base_url="https://testserver") as client:
        signed = client.post(
            "/login",
            data={"username": "web-analyst", "password": PASSWORD},
            follow_redirects=False,
        )
    assert signed.status_code == 303 and "Secure" in signed.headers["set-cookie"]


def test_a_change_without_the_csrf_token_or_from_another_site_is_refused(
    web: dict[str, Any], site: httpx.Client
) -> None:
    client, csrf = session_for(site, "agency_officer")
    case_id = _referred_case(web, "agency_officer")
    version = _version(web, case_id)
    form = {"action": "acknowledge", "version": str(version), "expected_on": "2099-01-31"}
    refused = client.post(f"/app/cases/{case_id}", data=form)
    assert refused.status_code == 403 and "CSRF" in refused.text
    wrong = client.post(f"/app/cases/{case_id}", data=form, headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    elsewhere = client.post(
        f"/app/cases/{case_id}",
        data=form,
        headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
    )
    assert elsewhere.status_code == 403
    # The JSON API under the cookie keeps the same rule.
    api = client.post(
        f"/cases/{case_id}/acknowledge", json={}, headers={"If-Match": f'"{version}"'}
    )
    assert api.status_code == 403
    assert _version(web, case_id) == version and _state(web, case_id) == "referred"
    done = client.post(f"/app/cases/{case_id}", data=form, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 200 and _state(web, case_id) == "acknowledged"
    client.close()


def _version(web: dict[str, Any], case_id: int | None) -> int:
    engine = engine_for(web["url"])
    with engine.connect() as conn:
        version = conn.scalar(
            text("SELECT version FROM problem_case WHERE id = :i"), {"i": case_id}
        )
    engine.dispose()
    return int(version)


def test_a_stale_case_form_says_someone_changed_it_and_loses_nothing(
    web: dict[str, Any], site: httpx.Client, browser: Browser
) -> None:
    origin = str(site.base_url).rstrip("/")
    case_id = _referred_case(web, "agency_officer")
    context, _ = app_only(browser, origin)
    first = context.new_page()
    log_in(first, origin, "agency_officer")
    second = context.new_page()
    for page in (first, second):
        page.goto(f"{origin}/app/cases/{case_id}")
    first.locator("details.act summary", has_text=re.compile("รับเรื่อง")).click()
    first.locator("details[open] textarea").fill("รับเรื่องแล้ว จะลงพื้นที่สัปดาห์หน้า")
    first.locator("details[open] button[type=submit]").click()
    expect(first.locator(".alert.ok")).to_be_visible()
    after = _version(web, case_id)
    # The second page still holds the old version: its "reject" is refused, and says why.
    second.locator("details.act summary", has_text=re.compile("ส่งคืน")).click()
    second.locator("details[open] textarea").fill("ไม่ใช่อำนาจของเรา")
    second.locator("details[open] button[type=submit]").click()
    expect(second.locator(".alert.bad")).to_contain_text("มีผู้อื่นแก้ไข")
    expect(second.locator(".cards")).to_contain_text("รับเรื่องแล้ว")  # the state as it is now
    assert _version(web, case_id) == after and _state(web, case_id) == "acknowledged"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    second.screenshot(path=str(ARTIFACTS / "agency_officer-stale-case.png"), full_page=True)
    context.close()


def test_logout_and_expiry_end_the_session_at_once(web: dict[str, Any], site: httpx.Client) -> None:
    client, csrf = session_for(site, "officer")
    cookie = client.cookies["bamrung_session"]
    out = client.post("/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 303
    again = httpx.get(f"{site.base_url}/app", cookies={"bamrung_session": cookie})
    assert again.status_code == 401 and '<form class="login' in again.text
    client.close()

    client, _ = session_for(site, "officer")
    engine = engine_for(web["url"])
    with engine.begin() as conn:
        conn.execute(text("UPDATE web_session SET expires_at = now() - interval '1 second'"))
    engine.dispose()
    expired = client.get("/app/cases")
    assert expired.status_code == 401
    assert "หมดเวลา" in client.get("/login").text or expired.status_code == 401
    # The public pages still answer the visitor.
    assert client.get("/").status_code == 200
    client.close()


def test_failed_logins_are_throttled_per_user_and_per_address_and_audited(
    web: dict[str, Any], site: httpx.Client
) -> None:
    settings = web["settings"]
    per_user, per_address = settings.login_failures_per_user, settings.login_failures_per_address
    client = httpx.Client(base_url=site.base_url, timeout=30)
    for _ in range(per_user):
        wrong = client.post("/login", data={"username": "web-reviewer", "password": "nope"})
        assert wrong.status_code == 401
    throttled = client.post("/login", data={"username": "web-reviewer", "password": PASSWORD})
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    assert "bamrung_session" not in client.cookies
    # Other names from the same address: refused once the address's count is reached.
    for n in range(per_address - per_user):
        client.post("/login", data={"username": f"nobody-{n}", "password": "nope"})
    blocked = client.post("/login", data={"username": "web-admin", "password": PASSWORD})
    assert blocked.status_code == 429
    engine = engine_for(web["url"])
    with engine.connect() as conn:
        events = dict(
            conn.execute(
                text(
                    "SELECT event, count(*) FROM auth_event WHERE user_name = 'web-reviewer' "
                    "AND through = 'web' GROUP BY 1"
                )
            ).all()
        )
        conn.execute(text("DELETE FROM login_failure"))
        conn.commit()
    engine.dispose()
    assert events.get("login_failed") == per_user and events.get("login_throttled") == 1
    client.close()


#: JSON routes read with a session and with a bearer token of the same user.
SAME = (
    "/auth/me",
    "/stats?level=district&area=34",
    "/cases/kpis?by=agency",
    "/households?limit=3",
    "/maps/choropleth?area=34",
    "/imports/1",
    "/cases?limit=3",
)


@pytest.mark.parametrize("role", ROLES)
def test_a_session_grants_exactly_what_a_token_of_the_same_user_grants(
    role: str, web: dict[str, Any], site: httpx.Client
) -> None:
    client, _ = session_for(site, role)
    token = _token(web, role)
    for path in SAME:
        by_cookie = client.get(path)
        by_token = httpx.get(
            f"{site.base_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert by_cookie.status_code == by_token.status_code, (path, by_cookie.text[:200])
        if path.startswith("/maps"):
            continue  # the page's element ids differ from one rendering to the next
        assert by_cookie.json() == by_token.json(), path
    client.close()


def _token(web: dict[str, Any], role: str) -> str:
    from layers.access.users import issue_token

    engine = engine_for(web["url"])
    with engine.begin() as conn:
        token = issue_token(conn, f"web-{role}")
    engine.dispose()
    return token


def test_an_officer_uploads_a_survey_and_downloads_the_refused_rows(
    web: dict[str, Any], site: httpx.Client, browser: Browser, tmp_path: Path
) -> None:
    district = web["district"]
    engine = engine_for(web["url"])
    with engine.connect() as conn:
        sub = conn.scalar(
            text("SELECT min(subdistrict_code) FROM household WHERE district_code = :d"),
            {"d": district},
        )
    engine.dispose()
    survey = tmp_path / "round.csv"
    survey.write_text(
        "household_id,round,subdistrict_code,problem_code\n"
        f"{sub}01-90001,{ROUND},{sub},no_income\n"
        f"{sub}01-90002,{ROUND},{sub},no_such_problem\n",
        encoding="utf-8",
    )
    origin = str(site.base_url).rstrip("/")
    context, _ = app_only(browser, origin)
    page = context.new_page()
    log_in(page, origin, "officer")
    page.goto(f"{origin}/app/imports")
    page.locator("input[type=file]").set_input_files(str(survey))
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/app/imports/\d+$"))
    expect(page.locator("main")).to_contain_text("problem_code", timeout=30_000)
    expect(page.locator("table.wide tbody tr")).to_have_count(1)
    with page.expect_download() as download:
        page.locator("a[download]").click()
    refused = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert f"{sub}01-90002" in refused and "unknown_problem_code" in refused
    assert f"{sub}01-90001" not in refused
    assert HOUSEHOLD_ID.search(refused.encode())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "officer-import.png"), full_page=True)
    context.close()


#: Filter forms as a browser sends them with "any" chosen: every field, the empty ones too.
BLANK_FORMS = (
    "/app/cases?state=&overdue=&dimension=&category=&area=",
    "/app/review?state=&overdue=&dimension=&category=&area=&age=",
    "/app/map?kind=choropleth&area=34&level=&indicator=problems_per_1000&dimension="
    "&category=&status=&round=&lang=th",
    "/app/problems?area=&category=&status=&round=&purpose=data+check",
    "/app/households?area=&round=&purpose=data+check",
    "/app/areas?q=",
)


@pytest.mark.parametrize("path", BLANK_FORMS)
def test_a_filter_form_with_empty_fields_answers_as_if_they_were_not_sent(
    path: str, site: httpx.Client
) -> None:
    client, _ = session_for(site, "governor")
    blank = client.get(path)
    assert blank.status_code == 200, blank.text[:300]
    given = "&".join(p for p in path.split("?", 1)[1].split("&") if not p.endswith("="))
    plain = client.get(path.split("?", 1)[0] + ("?" + given if given else ""))
    assert plain.status_code == 200
    shown = re.compile(r"(?:\d[\d,]*–\d[\d,]* จาก \d[\d,]*)|<iframe[^>]*>")
    assert shown.findall(blank.text) == shown.findall(plain.text)
    client.close()


def test_the_reviewer_starts_on_escalated_cases_of_the_chosen_categories(
    web: dict[str, Any], site: httpx.Client
) -> None:
    client, _ = session_for(site, "reviewer")
    page = client.get("/app/review", params={"category": "no_land_title"})
    assert page.status_code == 200
    engine = engine_for(web["url"])
    with engine.connect() as conn:
        expected = conn.scalar(
            text(
                "SELECT count(*) FROM problem_case c JOIN problem_category k "
                "ON k.code = c.category WHERE c.category = 'no_land_title' "
                "AND (c.escalated OR c.level > 0) AND NOT k.within_mandate"
            )
        )
    engine.dispose()
    shown = re.search(r"(\d[\d,]*) (?:จาก|of) (\d[\d,]*)", page.text)
    total = int(shown.group(2).replace(",", "")) if shown else 0
    assert total == expected, page.text[:500]
    assert re.search(r"/maps/cases\?area=&amp;escalated=true", page.text)
    client.close()


def test_a_citizen_enrols_reports_follows_and_confirms_it_solved_on_a_phone(
    web: dict[str, Any], site: httpx.Client, browser: Browser
) -> None:
    """The citizens' door end to end: the officer prints a household's slip, a member enrols
    with its code on a phone, reports a problem at a place picked on the map, adds an update;
    the officer verifies it, it is routed, the office acknowledges and resolves it, and the
    citizen answers "is it solved?" with yes."""
    origin = str(site.base_url).rstrip("/")
    engine = engine_for(web["url"])
    with engine.connect() as conn:
        home = conn.execute(
            text(
                "SELECT h.household_id, c.code AS category, c.name_th FROM household h "
                "CROSS JOIN problem_category c WHERE h.round = :r AND h.district_code = :d "
                "AND h.geom IS NOT NULL AND c.within_mandate AND NOT EXISTS (SELECT 1 FROM "
                "problem p WHERE p.household_id = h.household_id AND p.category = c.code) "
                "ORDER BY h.household_id, c.code LIMIT 1"
            ),
            {"r": ROUND, "d": web["district"]},
        ).one()
    problems: list[str] = []

    officer_context, outside = app_only(browser, origin, bypass_csp=True)
    officer = officer_context.new_page()
    officer_errors = watch(officer)
    log_in(officer, origin, "officer")
    officer.goto(f"{origin}/app/households/{home.household_id}?purpose=home+visit")
    officer.get_by_role("button", name=re.compile("ออกรหัสลงทะเบียน")).click()
    slip = officer.locator(".slip .code")
    expect(slip).to_be_visible()
    code = slip.inner_text().strip()
    assert re.fullmatch(r"[A-Z2-9]{5}-[A-Z2-9]{5}", code), code
    expect(officer.locator(".slip .qr svg")).to_be_visible()
    problems += checked(officer, officer_errors, "citizen-slip")

    # The citizen, on a phone, from the slip's QR code (the code in the fragment).
    phone = {"viewport": PHONE, "is_mobile": True, "has_touch": True, "bypass_csp": True}
    citizen_context, citizen_outside = app_only(browser, origin, **phone)
    citizen = citizen_context.new_page()
    citizen_errors = watch(citizen)
    citizen.goto(f"{origin}/enrol#code={code}")
    expect(citizen.locator("#code")).to_have_value(code)
    assert "#" not in citizen.url  # the code is taken off the address bar
    problems += checked(citizen, citizen_errors, "citizen-enrol")
    name = "citizen.web"
    citizen.get_by_label(re.compile("ชื่อผู้ใช้")).fill(name)
    citizen.locator("input[name=password]").fill(PASSWORD)
    citizen.locator("input[name=again]").fill(PASSWORD)
    citizen.get_by_role("button", name="ลงทะเบียน").click()
    citizen.wait_for_url(f"{origin}/app/reports")
    problems += checked(citizen, citizen_errors, "citizen-reports")

    citizen.get_by_role("link", name="แจ้งปัญหาใหม่").click()
    citizen.get_by_label(home.name_th, exact=True).check()
    citizen.get_by_label(re.compile("เล่าปัญหา")).fill("น้ำประปาไม่ไหลมาสามวันแล้วที่หน้าบ้าน")
    picker = citizen.locator("#picker canvas")
    expect(picker).to_be_visible(timeout=30_000)
    citizen.wait_for_function("document.querySelector('#picker canvas').width > 0")
    picker.click()  # the middle of the map: the household's own place
    expect(citizen.locator("#lon")).not_to_have_value("")
    expect(citizen.locator("#place-map")).to_be_checked()
    citizen.locator("input[name=photo]").set_input_files(
        {"name": "tap.jpg", "mimeType": "image/jpeg", "buffer": phone_photo()}
    )
    problems += checked(citizen, citizen_errors, "citizen-report-form")
    citizen.get_by_role("button", name="ส่งเรื่อง").click()
    citizen.wait_for_url(re.compile(r"/app/reports/\d+\?sent=1$"))
    report_id = int(re.search(r"/app/reports/(\d+)", citizen.url).group(1))  # type: ignore[union-attr]
    expect(citizen.locator(".alert.ok")).to_be_visible()
    photo = citizen.locator("img.photo")
    expect(photo).to_be_visible()
    assert photo.evaluate("img => img.complete && img.naturalWidth") == 300  # upright
    problems += checked(citizen, citizen_errors, "citizen-report")
    with engine.connect() as conn:
        sent = conn.execute(
            text("SELECT state, place, category FROM citizen_report WHERE id = :i"),
            {"i": report_id},
        ).one()
    assert (sent.state, sent.place, sent.category) == ("to_verify", "map", home.category)

    # The district team's queue: verify it, and it is routed.
    officer.goto(f"{origin}/app/reports")
    problems += checked(officer, officer_errors, "citizen-queue")
    officer.locator(f"a[href='/app/reports/{report_id}']").click()
    officer.locator("summary", has_text="ยืนยัน").click()
    officer.get_by_role("button", name=re.compile("ยืนยัน: เป็นปัญหาจริง")).click()
    expect(officer.locator("h2", has_text="การแก้ไขปัญหา")).to_be_visible()
    with engine.connect() as conn:
        case = conn.execute(
            text(
                "SELECT id, office, state FROM problem_case WHERE household_id = :h "
                "AND round = :r AND category = :c"
            ),
            {"h": home.household_id, "r": ROUND, "c": home.category},
        ).one()
    assert case.state == "referred", case

    # The citizen adds an update, which the case's history keeps.
    citizen.goto(f"{origin}/app/reports/{report_id}")
    citizen.locator("summary", has_text="เพิ่มความคืบหน้า").click()
    citizen.locator("textarea[name=note]").fill("วันนี้ยังไม่มีน้ำ")
    citizen.get_by_role("button", name="เพิ่มความคืบหน้า").click()
    expect(citizen.locator("ol.history")).to_contain_text("วันนี้ยังไม่มีน้ำ")

    # The office answers: acknowledges with a date, then resolves.
    answering = "officer"
    if not case.office.startswith("dopa-"):
        answering = f"agency_{case.id}"
        with engine.begin() as conn:
            add_user(
                conn, f"web-{answering}", "agency_officer", password=PASSWORD, office=case.office
            )
    office_context, _ = app_only(browser, origin)
    office = office_context.new_page()
    log_in(office, origin, answering)
    office.goto(f"{origin}/app/cases/{case.id}")
    office.locator("summary", has_text="รับเรื่อง").click()
    office.locator("input[name=expected_on]").fill(
        (dt.date.today() + dt.timedelta(days=30)).isoformat()
    )
    office.locator("details[open] button[type=submit]").click()
    expect(office.locator(".card").first).to_contain_text("รับเรื่อง")
    office.locator("summary", has_text="แก้ไขแล้ว").click()
    office.locator("details[open] button[type=submit]").click()
    expect(office.locator(".card").first).to_contain_text("แก้ไขแล้ว")
    office_context.close()

    # "Is it solved?" — yes: the case is verified by the household itself.
    citizen.goto(f"{origin}/app/reports/{report_id}")
    citizen.get_by_label("แก้ได้แล้ว").check()
    citizen.get_by_role("button", name="ปัญหานี้แก้ได้แล้วหรือยัง").click()
    citizen.wait_for_load_state("networkidle")
    with engine.connect() as conn:
        ended = conn.execute(
            text(
                "SELECT c.state, e.actor, e.role FROM problem_case c JOIN case_event e "
                "ON e.case_id = c.id WHERE c.id = :i ORDER BY e.id DESC LIMIT 1"
            ),
            {"i": case.id},
        ).one()
        comment = conn.scalar(
            text("SELECT role FROM case_event WHERE case_id = :i AND action = 'comment'"),
            {"i": case.id},
        )
    engine.dispose()
    assert (ended.state, ended.actor, ended.role) == ("verified", name, "citizen")
    assert comment == "citizen"
    problems += checked(citizen, citizen_errors, "citizen-solved")
    officer_context.close()
    citizen_context.close()
    assert not outside and not citizen_outside, (outside, citizen_outside)
    assert problems == [], problems
