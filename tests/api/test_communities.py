"""Municipal communities: loaded from a file (refused rows said, a missing column leaving
stored values alone), the SYNTHETIC Phibun Mangsahan set of the demo (17 communities, 205
issues of 2565) on its public pages in Chromium, and a leader's meeting whose issue the
council adopts into the plan; checked against SQL written here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import httpx
import pyogrio
import pytest
import shapely
from playwright.sync_api import Browser, expect
from sqlalchemy import text

from layers.store.settings import Settings
from tests.api.browser import app_only, watch
from tests.factories import engine_for, run, serve
from tests.recorder import HOUSEHOLD_ID

PHIBUN = "341901"


def scalar(url: str | None, sql: str, **params: Any) -> Any:
    assert url is not None
    engine = engine_for(url)
    with engine.connect() as conn:
        found = conn.execute(text(sql), params).scalar()
    engine.dispose()
    return found


@pytest.fixture(scope="module")
def phibun(analysis_settings: Settings) -> dict[str, Any]:
    made = run("communities", "synth", url=analysis_settings.database_url)
    assert made.returncode == 0, made.stderr
    assert "SYNTHETIC: 17 communities" in made.stdout
    return {"url": analysis_settings.database_url}


@pytest.fixture(scope="module")
def public(analysis_settings: Settings) -> Iterator[httpx.Client]:
    with serve(analysis_settings) as http:
        yield http


def test_a_community_file_loads_its_good_rows_and_says_why_the_others_are_refused(
    analysis_settings: Settings, tmp_path: Path
) -> None:
    url = analysis_settings.database_url
    area = gpd.read_postgis(
        text("SELECT geom FROM admin_unit WHERE code = :c"),
        engine_for(str(url)),
        params={"c": "341902"},
        geom_col="geom",
    ).to_crs(32648)
    inner = area.geometry.iloc[0].centroid
    rows = gpd.GeoDataFrame(
        {
            "code": ["t-01", "t-02", "t-01", "t-04", "", "t-06"],
            "name_th": ["ชุมชนทดสอบหนึ่ง", "ชุมชนทดสอบสอง", "ซ้ำ", "", "ไม่มีรหัส", "นอกประเทศ"],
            "name_en": ["Test one", "Test two", "Again", "Nameless", "No code", "Abroad"],
        },
        geometry=[
            inner.buffer(300),
            inner,  # a point: only the centre is known
            inner.buffer(100),
            inner.buffer(50),
            inner.buffer(50),
            shapely.Point(166_021, 0),  # the Gulf of Guinea in UTM 48N
        ],
        crs=32648,
    )
    path = tmp_path / "communities.gpkg"
    pyogrio.write_dataframe(rows, path, layer="communities")
    loaded = run("communities", "load", str(path), url=url)
    assert loaded.returncode == 1, loaded.stdout  # some were refused
    assert "2 communities kept, 4 refused" in loaded.stdout, loaded.stdout
    refused = dict(re.findall(r"row (\d+): (\w+):", loaded.stdout))
    assert refused == {"4": "code", "5": "name_th", "6": "code", "7": "geometry"}, loaded.stdout
    kinds = scalar(
        url,
        "SELECT string_agg(code || ':' || GeometryType(geom) || ':' || subdistrict_code || ':' "
        "|| name_en, ',' ORDER BY code) FROM community WHERE code LIKE 't-%'",
    )
    assert kinds == "t-01:POLYGON:341902:Test one,t-02:POINT:341902:Test two"
    # A file without English names leaves the stored ones alone.
    pyogrio.write_dataframe(
        rows.iloc[:1].drop(columns="name_en").assign(name_th="ชุมชนทดสอบ (แก้ชื่อ)"), path
    )
    assert run("communities", "load", str(path), url=url).returncode == 0
    names = scalar(url, "SELECT name_th || '|' || name_en FROM community WHERE code = 't-01'")
    assert names == "ชุมชนทดสอบ (แก้ชื่อ)|Test one"


def test_the_synthetic_phibun_communities_show_205_issues_on_their_public_pages(
    phibun: dict[str, Any], public: httpx.Client, browser: Browser
) -> None:
    url = phibun["url"]
    listed = public.get("/communities", params={"area": PHIBUN}).json()["items"]
    assert len(listed) == 17 and all(c["synthetic"] for c in listed)
    assert sum(c["issues"] for c in listed) == 205
    states = scalar(
        url,
        "SELECT json_object_agg(state, n) FROM (SELECT state, count(*) AS n FROM "
        "community_issue i JOIN community c ON c.code = i.community WHERE c.subdistrict_code = :s "
        "GROUP BY state) t",
        s=PHIBUN,
    )
    assert len(states) == 5 and all(n > 0 for n in states.values()), states
    # Every adopted issue, and every one beyond, has its plan item; the others none.
    unplanned = scalar(
        url,
        "SELECT count(*) FROM community_issue WHERE (plan_item_id IS NULL) <> "
        "(state IN ('raised', 'not_adopted'))",
    )
    assert unplanned == 0
    # Every issue lies inside its community's subdistrict.
    outside = scalar(
        url,
        "SELECT count(*) FROM community_issue i JOIN community c ON c.code = i.community "
        "JOIN admin_unit a ON a.code = c.subdistrict_code WHERE NOT ST_Intersects(a.geom, i.geom)",
    )
    assert outside == 0
    # Every issue is a case, and the office has answered it as far as its state says.
    answered = scalar(
        url,
        "SELECT json_object_agg(i.state || '>' || coalesce(k.state, '-'), 1) FROM community_issue i "
        "JOIN community c ON c.code = i.community LEFT JOIN problem_case k ON k.issue_id = i.id "
        "WHERE c.subdistrict_code = :s",
        s=PHIBUN,
    )
    assert set(answered) == {
        "raised>referred", "adopted>acknowledged", "in_progress>in_progress", "done>resolved",
        "not_adopted>closed_unsolved",
    }, answered  # fmt: skip

    origin = str(public.base_url).rstrip("/")
    context, outside_urls = app_only(browser, origin, viewport={"width": 390, "height": 844})
    page = context.new_page()
    errors = watch(page)
    page.goto(f"{origin}/app/communities?area={PHIBUN}")
    total = page.locator("tfoot td").first.inner_text()
    assert int(total.replace(",", "")) == 205
    first = listed[0]
    page.get_by_role("link", name=first["name_th"]).click()
    page.wait_for_load_state("networkidle")
    rows = page.locator("table.wide tbody tr")
    expect(rows).to_have_count(first["issues"])
    assert "ข้อมูลสังเคราะห์" in page.content()
    assert HOUSEHOLD_ID.search(page.content().encode()) is None
    assert page.evaluate("document.documentElement.scrollWidth") <= 391
    assert errors == [] and outside_urls == []
    context.close()


def test_a_leader_logs_a_meeting_and_the_council_adopts_its_issue_into_the_plan(
    analysis_settings: Settings, world: dict[str, Any], public: httpx.Client
) -> None:
    url = analysis_settings.database_url
    community = world["assignments"]["community_leader"]["community"]
    own = world["areas"]["own"]
    engine = engine_for(str(url))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO community (code, name_th, subdistrict_code, geom, source) "
                "SELECT CAST(:c AS text), CAST(:c AS text), code, geom, 'test' FROM admin_unit WHERE code = :a "
                "ON CONFLICT DO NOTHING"
            ),
            {"c": community, "a": own},
        )
        category = conn.scalar(text("SELECT min(code) FROM problem_category"))
    engine.dispose()
    meeting = {
        "held_on": "2022-11-05",
        "attendance": 63,
        "issues": [
            {"category": category, "detail": "ถนนในซอยเป็นหลุมเป็นบ่อ", "votes": 41, "priority": 1},
            {"category": category, "detail": "<script>alert(1)</script>ไฟทางดับ", "votes": 12},
        ],
    }
    with serve(analysis_settings, world["tokens"]["community_leader"]) as leader:
        bad = leader.post(
            f"/communities/{community}/meetings",
            json={**meeting, "issues": [*meeting["issues"], {"category": "nope", "detail": "x"}]},
        )
        assert bad.status_code == 422 and "issues[3].category" in bad.text
        made = leader.post(f"/communities/{community}/meetings", json=meeting)
        assert made.status_code == 201, made.text
        first, second = made.json()["issues"]
        case_id = made.json()["cases"][0]
        # Routed as a household's problem is: the route of the longest area prefix wins.
        office = scalar(
            url,
            "SELECT office FROM route WHERE category = :c AND :s LIKE area || '%' "
            "ORDER BY length(area) DESC, office LIMIT 1",
            c=category,
            s=own,
        )
        kept = scalar(
            url,
            "SELECT json_build_array(office, state, household_id, subdistrict_code) "
            "FROM problem_case WHERE issue_id = :i AND id = :k",
            i=first,
            k=case_id,
        )
        assert kept == [office, "referred", None, own]
        # The leader follows its community's case, as the district team does.
        assert leader.get(f"/cases/{case_id}").status_code == 200
        refused = leader.post(f"/communities/issues/{first}/state", json={"state": "adopted"})
        assert refused.status_code == 422 and "plan" in refused.text
        plan = {"plan_year": 2566, "code": "ถ.66-014", "name_th": "ซ่อมถนนซอย 3",
                "budget_line": "แผนงานเคหะและชุมชน", "amount": "250000.00"}  # fmt: skip
        adopted = leader.post(
            f"/communities/issues/{first}/state", json={"state": "adopted", "plan": plan}
        )
        assert adopted.status_code == 200, adopted.text
        assert adopted.json()["plan_code"] == "ถ.66-014"
        for state in ("in_progress", "done"):
            moved = leader.post(f"/communities/issues/{first}/state", json={"state": state})
            assert moved.status_code == 200, moved.text
        again = leader.post(f"/communities/issues/{first}/state", json={"state": "done"})
        assert again.status_code == 422
    with serve(analysis_settings, world["tokens"]["officer"]) as officer:
        # The officer's area holds the community: it may move the second issue on.
        moved = officer.post(f"/communities/issues/{second}/state", json={"state": "not_adopted"})
        assert moved.status_code == 200, moved.text
        page = officer.get(f"/app/cases/{case_id}")
        assert page.status_code == 200 and "ประเด็นของชุมชน" in page.text
    shown = public.get(f"/communities/{community}").json()
    by_id = {i["id"]: i for i in shown["issues"]}
    assert by_id[first]["state"] == "done" and by_id[second]["state"] == "not_adopted"
    assert "recorded_by" not in by_id[first]
    assert by_id[first]["case_id"] == case_id and by_id[first]["case_state"] == "referred"
    # Thai search finds the issue by a word inside its unspaced description.
    with serve(analysis_settings, world["tokens"]["officer"]) as officer:
        found = officer.get("/search", params={"q": "หลุม"}).json()["community_issues"]
    assert first in [i["id"] for i in found]
    page = public.get(f"/app/communities/{community}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>alert" not in page.text
