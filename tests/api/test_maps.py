"""Maps in a real browser (Debian's Chromium driven by Playwright), served by the API and as
one self-contained file, with the network cut off; and household points kept inside the scope.

Screenshots of each kind go to ``test-artifacts/maps/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright
from sqlalchemy import text

from api.cli.maps import GALLERY
from layers.settings import PROJECT_ROOT, Settings
from tests.api.oracle import ROUND
from tests.api.test_cli import run
from tests.conftest import engine_for, serve, token_for

CHROMIUM = Path("/usr/bin/chromium")
# As root Chromium needs --no-sandbox; the rest keeps it off the network it would call home to.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "maps"
# Each kind, its query, and layer names the layer control must list (Thai, the default).
KINDS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "choropleth": ({"level": "district"}, ["ขอบเขตพื้นที่", "ปัญหาต่อ 1,000 ครัวเรือน"]),
    "hexbin": ({}, ["รูปหกเหลี่ยม H3"]),
    "heatmap": ({}, ["ความหนาแน่นของปัญหา"]),
    "hotspots": ({}, ["จุดร้อน/จุดเย็น (Gi*)"]),
    "water": ({}, ["พื้นที่น้ำท่วม", "พื้นที่ภัยแล้ง", "ทางน้ำ", "แหล่งน้ำ"]),
    "targeting": ({"level": "subdistrict"}, ["คะแนนความสำคัญ"]),
    "households": ({"area": "3419"}, ["ครัวเรือน"]),
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make browser` installs it")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def offline_settings(analysis_settings: Settings) -> Settings:
    """The analysis database, a hotspot run for Ubon, and maps with the plain basemap."""
    assert analysis_settings.database_url is not None
    done = run("hotspots", "--area", "34", url=analysis_settings.database_url)
    assert done.returncode == 0, done.stderr
    return analysis_settings.model_copy(update={"map_tiles": "none"})


def watch(page: Page) -> list[str]:
    """Console errors and uncaught exceptions of the page, as they come."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def check(page: Page, errors: list[str], layers: list[str], name: str) -> None:
    page.wait_for_selector(".leaflet-container .leaflet-map-pane", state="attached")
    page.wait_for_selector(".bmr-legend")
    listed = [t.strip() for t in page.locator(".leaflet-control-layers label").all_inner_texts()]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    assert not errors, f"{name}: {errors}"
    assert set(layers) <= set(listed), f"{name}: {listed}"
    assert page.locator(".leaflet-control-scale").count() == 1
    assert page.locator(".leaflet-control-search").count() == 1
    assert page.locator(".leaflet-control-zoom-fullscreen, .fullscreen-icon").count() >= 1
    assert "CC BY-IGO" in page.locator(".bmr-footer").inner_text()


def test_every_kind_served_by_the_api_works_in_chromium_without_the_internet(
    browser: Browser, offline_settings: Settings
) -> None:
    assert offline_settings.database_url is not None
    token = token_for(offline_settings.database_url)
    with serve(offline_settings) as client:
        origin = str(client.base_url).rstrip("/")
        context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {token}"})
        outside: list[str] = []

        def only_the_app(route: Route) -> None:
            if route.request.url.startswith(origin):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_the_app)
        for kind, (params, layers) in KINDS.items():
            page = context.new_page()
            errors = watch(page)
            query = "&".join(f"{k}={v}" for k, v in {"area": "34", **params}.items())
            response = page.goto(f"{origin}/maps/{kind}?{query}")
            assert response is not None and response.status == 200, (kind, response)
            check(page, errors, layers, kind)
            page.close()
        context.close()
    assert not outside, f"the maps asked for {outside}"


def test_the_self_contained_file_opens_with_no_network_at_all(
    browser: Browser, offline_settings: Settings, tmp_path: Path
) -> None:
    assert offline_settings.database_url is not None
    path = tmp_path / "choropleth.html"
    made = run(
        "map", "choropleth", "--area", "34", "--lang", "en", "--self-contained",
        "--out", str(path), url=offline_settings.database_url,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert not re.search(r"<script src=|<link rel=\"stylesheet\"", path.read_text())
    context = browser.new_context(offline=True)
    page = context.new_page()
    errors = watch(page)
    page.goto(path.as_uri())
    check(page, errors, ["Area boundary", "Problems per 1,000 households"], "self-contained")
    context.close()


def test_household_points_are_those_of_the_scope_and_are_logged(
    offline_settings: Settings, world: dict[str, Any]
) -> None:
    url = world["url"]
    own = world["areas"]["own"]
    engine = engine_for(url)
    with engine.connect() as conn:
        expected = set(
            conn.scalars(
                text(
                    "SELECT DISTINCT h.household_id FROM household h JOIN problem p "
                    "ON p.household_id = h.household_id AND p.round = h.round "
                    "WHERE h.round = :r AND h.subdistrict_code = :s"
                ),
                {"r": ROUND, "s": own},
            )
        )
    with serve(offline_settings, world["tokens"]["officer"]) as officer:
        page = officer.get("/maps/households", params={"area": own, "round": ROUND})
    assert page.status_code == 200
    shown = set(re.findall(r"\d{8}-\d{5}", page.text))
    assert shown == expected and expected
    with engine.connect() as conn:
        logged = conn.scalar(
            text("SELECT households FROM access_log WHERE request_id = :r"),
            {"r": page.headers["x-request-id"]},
        )
    engine.dispose()
    assert set(logged) == expected


def test_the_gallery_is_public_and_linked_from_the_home_page(offline_settings: Settings) -> None:
    assert offline_settings.database_url is not None
    made = run(
        "gallery", "--area", "34", url=offline_settings.database_url,
        BAMRUNG_HOME=str(offline_settings.home),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    with serve(offline_settings) as anonymous:
        home = anonymous.get("/")
        links = re.findall(r"href='(/gallery/[^']+)'", home.text)
        assert len(links) == len(GALLERY)
        for link in links:
            page = anonymous.get(link)
            assert page.status_code == 200 and "leaflet" in page.text.lower()
        # Only the gallery's own files: no other name, no way out of its folder.
        (offline_settings.home / "maps" / "private.html").write_text("household 34190101-00001")
        assert anonymous.get("/gallery/private.html").status_code == 404
        assert anonymous.get("/gallery/..%2Fjwt.key").status_code in (404, 422)
        assert anonymous.get("/maps/hotspots").status_code == 401


def test_map_files_stay_within_the_size_targets(offline_settings: Settings, tmp_path: Path) -> None:
    """A province choropleth and hexagon map of the synthetic survey are well under 3 MB."""
    assert offline_settings.database_url is not None
    for kind in ("choropleth", "hexbin", "water"):
        path = tmp_path / f"{kind}.html"
        done = run(
            "map", kind, "--area", "34", "--out", str(path), url=offline_settings.database_url,
            BAMRUNG_HOME=str(offline_settings.home),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert path.stat().st_size < 3_000_000, (kind, path.stat().st_size)
