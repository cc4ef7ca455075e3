"""The web pages' server time on the national bench survey, beside the JSON API reading the same
data, in one run.

Works on ``bench/cases.py``'s database (``bamrung_bench_cases``: 20 million households, the
country's unresolved problems referred; run that bench first). Signs in through the login page
as a governor of Ubon Ratchathani (province 34) and as a reviewer (the nation, escalated
cases), and times each page (p50/p95 over ``--repeat`` requests on loopback, one worker), each
beside the JSON routes that answer the same question:

- dashboard ↔ ``/stats`` + ``/cases/kpis``
- an area (the province; a district) ↔ ``/stats`` of its children
- the cases queue; one case ↔ ``/cases``; ``/cases/{id}``
- the reviewers' page ↔ ``/cases?escalated=true`` + ``/cases/kpis?by=agency``
- households (with the purpose) ↔ ``/households``

The map viewer is timed as a page only: the map it frames is ``/maps`` (bench/maps.py).
A stored targeting run of the province is made once, so the dashboard reads a run and never
computes one (as in use). A reviewer's pages show the figures of its escalated cases, not the
survey's figures of out-of-mandate problems nationwide (counted live: seconds).

    python bench/web.py [--repeat 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import sys
import time
from typing import Any

import httpx
from cases import NOW, copy_database, p, served, timings, token
from sqlalchemy import text

from layers.access.users import add_user
from layers.analysis import targeting
from layers.cases import setup
from layers.store.db import make_engine
from layers.store.settings import Settings

PASSWORD = "bench web password"
TARGET = 0.300  # s, the p95 per page


def sign_in(base: str, name: str) -> httpx.Client:
    """A browser-like client holding a session of ``name``."""
    transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    client = httpx.Client(base_url=base, timeout=120, transport=transport)
    signed = client.post("/login", data={"username": name, "password": PASSWORD})
    assert signed.status_code == 303, signed.text[:300]
    return client


def measure(client: httpx.Client, paths: list[str], repeat: int) -> dict[str, float]:
    """p50 and p95 (ms) of answering every path in turn (one page = its paths together)."""
    for path in paths:  # warm: the first answer of a route loads its modules
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    spent = timings(lambda: [client.get(path) for path in paths], repeat)
    return {"p50_ms": round(p(spent, 50) * 1000, 1), "p95_ms": round(p(spent, 95) * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    settings = Settings()
    url = copy_database(settings)
    engine = make_engine(url, Settings(database_url=url, statement_timeout_ms=0))
    setup.upgrade_and_sync(engine, settings.taxonomy_file, settings.agencies_file)
    stamp = time.time_ns()
    names = {"governor": f"bench-web-governor-{stamp}", "reviewer": f"bench-web-reviewer-{stamp}"}
    with engine.begin() as conn:
        add_user(conn, names["governor"], "governor", area="34", password=PASSWORD)
        add_user(conn, names["reviewer"], "reviewer", password=PASSWORD)
        if not conn.scalar(text("SELECT count(*) FROM problem_case")):
            sys.exit("no cases: run `python bench/cases.py` first")
        config = targeting.load_config(settings.targeting_file)
        targeting.target_areas(conn, config, area="34", level="district", store=True)
        case_34 = conn.scalar(
            text("SELECT min(id) FROM problem_case WHERE subdistrict_code LIKE '34%'")
        )
        escalated = conn.scalar(text("SELECT min(id) FROM problem_case WHERE escalated"))
    tokens = {
        "governor": token(engine, "governor", area="34"),
        "reviewer": token(engine, "reviewer"),
    }
    engine.dispose()
    purpose = "purpose=data+check"
    pages: dict[str, dict[str, tuple[list[str], list[str]]]] = {
        "governor": {
            "dashboard": (
                ["/app"],
                ["/stats?area=34&level=district", "/cases/kpis?by=office"],
            ),
            "area 34": (["/app/areas/34"], ["/stats?area=34&level=district"]),
            "area 3419": (["/app/areas/3419"], ["/stats?area=3419&level=subdistrict"]),
            "map viewer": (["/app/map?area=34"], []),
            "households 3419": (
                [f"/app/households?area=3419&{purpose}"],
                ["/households?area=3419&limit=50"],
            ),
            "cases queue": (["/app/cases"], ["/cases?limit=50"]),
            "one case": ([f"/app/cases/{case_34}"], [f"/cases/{case_34}"]),
            "review": (
                ["/app/review"],
                ["/cases?escalated=true&limit=50", "/cases/kpis?by=agency&escalated=true"],
            ),
        },
        "reviewer": {
            "review (first page)": (
                ["/app/review"],
                ["/cases?escalated=true&limit=50", "/cases/kpis?by=agency&escalated=true"],
            ),
            # A reviewer's survey figures of the nation are counted live (7.6 s, the JSON API's
            # /stats?level=province): its pages show its cases' figures instead.
            "dashboard": (["/app"], ["/cases/kpis?by=office"]),
            "areas (nation)": (["/app/areas"], []),
            "one case": ([f"/app/cases/{escalated}"], [f"/cases/{escalated}"]),
            "cases queue": (["/app/cases"], ["/cases?limit=50"]),
        },
    }
    result: dict[str, Any] = {"households": 20_000_000, "clock": NOW.isoformat()}
    with served(url) as base:
        for role, named in pages.items():
            browser = sign_in(base, names[role])
            api = httpx.Client(
                base_url=base, timeout=120, headers={"Authorization": f"Bearer {tokens[role]}"}
            )
            for label, (page, same) in named.items():
                row: dict[str, Any] = {"page": measure(browser, page, args.repeat)}
                if same:
                    row["api"] = measure(api, same, args.repeat)
                row["within_target"] = row["page"]["p95_ms"] <= TARGET * 1000
                result[f"{role}: {label}"] = row
                print(f"{role}: {label}: {row}", file=sys.stderr, flush=True)
            size = len(browser.get("/app").content)
            result[f"{role}: dashboard bytes"] = size
            assert re.search(r"<h1>", browser.get("/app").text)
    if args.json:
        print(json.dumps(result))
        return
    width = max(len(k) for k in result)
    for key, value in result.items():
        if isinstance(value, dict):
            api = value.get("api", {})
            print(
                f"{key:<{width}}  page p50 {value['page']['p50_ms']:>7} p95 "
                f"{value['page']['p95_ms']:>7} ms   api p50 {api.get('p50_ms', '–'):>7} p95 "
                f"{api.get('p95_ms', '–'):>7} ms   {'ok' if value['within_target'] else 'SLOW'}"
            )
        else:
            print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
