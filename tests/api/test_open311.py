"""Open311 GeoReport v2 at ``/open311/v2``, read by a client someone else wrote (PyPI
``georeport``) in JSON and XML; posting is checked with plain form posts (``georeport`` has no
post; ``open311`` on PyPI is Python 2 only). Checked against SQL here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from georeport import GeoReport

from layers.access.users import issue_token
from layers.store.settings import Settings
from tests.api.test_citizens import enrolled, forget_failures, one, resolved, signed_in
from tests.factories import engine_for, serve


@pytest.fixture(scope="module")
def citizen(analysis_settings: Settings, world: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A citizen enrolled by the officer, with an API token; a household's free category."""
    url = analysis_settings.database_url
    home = one(
        url,
        "SELECT household_id FROM household WHERE subdistrict_code = :s AND geom IS NOT NULL "
        "ORDER BY household_id DESC OFFSET 3 LIMIT 1",
        s=world["areas"]["own"],
    )[0]
    category = one(
        url,
        "SELECT c.code FROM problem_category c WHERE NOT EXISTS (SELECT 1 FROM problem p "
        "WHERE p.household_id = :h AND p.category = c.code) ORDER BY c.code DESC LIMIT 1",
        h=home,
    )[0]
    with serve(analysis_settings, world["tokens"]["officer"]) as officer:
        enrolled(officer, officer, home, "open311.c")
    assert url is not None
    engine = engine_for(url)
    with engine.begin() as conn:
        token = issue_token(conn, "open311.c", "open311")
    engine.dispose()
    yield {"household": home, "category": category, "token": token}
    forget_failures(url)


@pytest.fixture(scope="module")
def server(analysis_settings: Settings) -> Iterator[httpx.Client]:
    with serve(analysis_settings) as http:
        yield http


def test_georeport_reads_the_services_in_json_and_xml(
    analysis_settings: Settings, server: httpx.Client
) -> None:
    base = f"{server.base_url}/open311/v2"
    codes = one(analysis_settings.database_url, "SELECT array_agg(code) FROM problem_category")[0]
    listed = GeoReport(base).get_service_list()
    assert {s["service_code"] for s in listed} == set(codes)
    assert all(s["metadata"] is False and s["type"] == "realtime" for s in listed)
    in_xml = GeoReport(base, output_format="xml").get_service_list()
    assert [s["service_code"] for s in in_xml] == [s["service_code"] for s in listed]
    assert in_xml[0]["metadata"] == "false"
    found = server.get("/open311/v2/discovery.json").json()
    assert found["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"


def test_a_citizen_posts_a_request_and_georeport_follows_it_to_closed(
    analysis_settings: Settings,
    world: dict[str, Any],
    server: httpx.Client,
    citizen: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = f"{server.base_url}/open311/v2"
    form = {"service_code": citizen["category"], "description": "น้ำประปาไม่ไหลมาสามวัน"}
    unsigned = server.post("/open311/v2/requests.json", data=form)
    assert unsigned.status_code == 401 and unsigned.json()[0]["code"] == 401
    wrong = server.post(
        "/open311/v2/requests.xml",
        data={**form, "service_code": "no_such_service", "api_key": citizen["token"]},
    )
    assert wrong.status_code == 400 and wrong.text.startswith("<?xml")
    assert "<errors><error><code>400</code>" in wrong.text
    posted = server.post("/open311/v2/requests.json", data={**form, "api_key": citizen["token"]})
    assert posted.status_code == 200, posted.text
    request_id = posted.json()[0]["service_request_id"]
    stored = one(
        analysis_settings.database_url,
        "SELECT household_id, category, state, source FROM citizen_report WHERE id = :i",
        i=int(request_id),
    )
    assert tuple(stored) == (citizen["household"], citizen["category"], "to_verify", "citizen")

    # Requests are personal data: without credentials georeport is refused; with the
    # citizen's name and API token in its ~/.netrc (requests reads it) it reads them.
    with pytest.raises(requests.HTTPError) as refused:
        GeoReport(base).get_service_requests()
    assert refused.value.response is not None and refused.value.response.status_code == 401
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login open311.c password {citizen['token']}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    client = GeoReport(base)
    mine = client.get_service_requests()
    assert [r["service_request_id"] for r in mine] == [request_id]
    first = client.get_service_request(request_id)
    assert first["status"] == "open" and first["status_notes"] == "รอทีมอำเภอตรวจสอบ"
    assert first["service_code"] == citizen["category"] and first["lat"] and first["long"]
    assert first["household_id"] == citizen["household"]  # an extension: whose it is
    in_xml = GeoReport(base, output_format="xml").get_service_request(request_id)
    assert in_xml["service_request_id"] == request_id and in_xml["status"] == "open"

    with serve(analysis_settings, world["tokens"]["officer"]) as officer:
        verified = officer.post(f"/reports/{request_id}/verify")
        assert verified.status_code == 200, verified.text
        # The officer's own token reads it too (their area holds it); not another province's.
        theirs = officer.get("/open311/v2/requests.json").json()
        assert request_id in [r["service_request_id"] for r in theirs]
    case = verified.json()["case"]
    routed = client.get_service_request(request_id)
    office = one(
        analysis_settings.database_url, "SELECT name_th FROM office WHERE code = :o",
        o=case["office"],
    )[0]  # fmt: skip
    assert routed["status"] == "open" and routed["agency_responsible"] == office
    assert routed["expected_datetime"] == case["resolve_by"]
    resolved(analysis_settings, world, case["id"])
    waiting = client.get_service_request(request_id)
    assert waiting["status"] == "open" and "รอครัวเรือนยืนยัน" in waiting["status_notes"]
    # "Closed" only once the household says it is solved, and then the notes say so.
    web = signed_in(server, "open311.c")
    version = server.get(f"/reports/{request_id}", headers=web).json()["case"]["version"]
    said = server.post(
        f"/reports/{request_id}/confirm", json={"solved": True, "version": version}, headers=web
    )
    assert said.status_code == 200, said.text
    closed = client.get_service_requests(status="closed")
    assert [(r["service_request_id"], r["status_notes"]) for r in closed] == [
        (request_id, "ครัวเรือนยืนยันว่าแก้ไขแล้ว")
    ]
    assert client.get_service_requests(status="open") == []
    for wrong in ({"start_date": "0001-01-05T00:00:00Z"}, {"status": "solved"},
                  {"start_date": "2027-01-02", "end_date": "2027-01-01"}):  # fmt: skip
        refused = server.get("/open311/v2/requests.xml", params=wrong,
                             auth=("open311.c", citizen["token"]))  # fmt: skip
        assert refused.status_code == 400 and "<errors>" in refused.text, (wrong, refused.text)
    bad_format = server.get("/open311/v2/services.csv")
    assert bad_format.status_code == 400 and bad_format.json()[0]["code"] == 400
    as_key = server.get(f"/open311/v2/requests/{request_id}.json",
                        params={"api_key": citizen["token"]})  # fmt: skip
    assert as_key.status_code == 401  # a key in a query string is logged on its way: refused
    token = server.get(f"/open311/v2/tokens/{request_id}.json",
                       auth=("open311.c", citizen["token"]))  # fmt: skip
    assert token.json() == [{"service_request_id": request_id, "token": request_id}]
    assert token.headers["cache-control"] == "private, no-store"
