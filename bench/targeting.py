"""Targeting a province over HTTP, beside a GeoPandas spatial join of the same data.

Builds (once; reused while it holds enough households) a synthetic survey of Ubon Ratchathani
(province 34, default 200,000 households) and a synthetic water set in its own database, serves
the API in this process (uvicorn, one worker) and times, over loopback:

- ``GET /targeting?area=34&level=subdistrict`` with no stored run (the ranking is computed for
  each answer, nothing is stored), then after one ``POST /targeting`` (the stored run is
  reused), and ``GET /maps/targeting?area=34``;
- the peer: what an analyst would first write for the costly part, the share of households in
  a flood or drought zone per subdistrict: households and zones read with GeoPandas,
  ``sjoin(predicate="within")``, ``groupby``.

Target: a province's targeting answer p95 ≤ 1 s, and GETs store nothing.

    python bench/targeting.py [--households 200000] [--requests 20] [--rebuild] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import httpx
import uvicorn
from sqlalchemy import Engine, text
from ubon import PROVINCE, ubon_database

from api.app import create_app
from layers.access.users import add_user, issue_token
from layers.geography.geosocial import import_layer, import_raster
from layers.geography.synth import generate_water, write_water
from layers.store.cluster import free_port
from layers.store.settings import Settings

NAME = "bamrung_bench_targeting"
QUERY = {"area": PROVINCE, "level": "subdistrict", "top": 500}


def prepare(households: int, rebuild: bool, home: Path) -> tuple[Engine, Settings]:
    """The shared Ubon survey, and a synthetic water set for it."""
    engine, settings = ubon_database(NAME, households, rebuild, home=home, map_tiles="none")
    with engine.connect() as conn:
        zones = conn.scalar(text("SELECT count(*) FROM layer WHERE kind LIKE '%_zones'")) or 0
    if not zones:
        with engine.connect() as conn:
            water = generate_water(conn, PROVINCE, seed=3)
        with tempfile.TemporaryDirectory() as folder, engine.begin() as conn:
            for kind, path in write_water(water, Path(folder)).items():
                if path.suffix == ".tif":
                    import_raster(conn, settings, path, kind, raster_id=f"bench-{kind}")
                else:
                    import_layer(conn, path, kind, synthetic=True)
    return engine, settings


def timed(call: Callable[[], Any], times: int) -> list[float]:
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return seconds


def peer(engine: Engine) -> None:
    """Households in a zone per subdistrict, the GeoPandas way."""
    with engine.connect() as conn:
        homes = gpd.read_postgis(
            text(
                "SELECT household_id, subdistrict_code, geom FROM household "
                "WHERE round = 2567 AND subdistrict_code LIKE '34%'"
            ),
            conn,
            geom_col="geom",
        )
        zones = gpd.read_postgis(
            text("SELECT geom FROM layer_feature WHERE kind IN ('flood_zones', 'drought_zones')"),
            conn,
            geom_col="geom",
        )
    inside = gpd.sjoin(homes, zones, predicate="within")["household_id"].unique()
    homes["in_zone"] = homes["household_id"].isin(inside)
    homes.groupby("subdistrict_code")["in_zone"].mean()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        engine, settings = prepare(args.households, args.rebuild, Path(home))
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM target_run")
            households = conn.scalar(text("SELECT count(*) FROM household WHERE round = 2567"))
            name = f"bench-{time.time_ns()}"
            add_user(conn, name, "admin")
            token = issue_token(conn, name)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="error")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        headers = {"Authorization": f"Bearer {token}"}
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:

            def get(path: str, params: dict[str, Any]) -> Callable[[], Any]:
                return lambda: client.get(path, params=params).raise_for_status()

            computed = timed(get("/targeting", QUERY), args.requests)
            with engine.connect() as conn:
                stored_by_views = conn.scalar(text("SELECT count(*) FROM target_run"))
            client.post("/targeting", json=QUERY).raise_for_status()
            reused = timed(get("/targeting", QUERY), args.requests)
            mapped = timed(get("/maps/targeting", {"area": PROVINCE}), args.requests)
        server.should_exit = True
        thread.join(10)
        joined = timed(lambda: peer(engine), 3)
        engine.dispose()
    rows = [
        ("GET /targeting, computed (no stored run)", computed),
        ("GET /targeting, stored run reused", reused),
        ("GET /maps/targeting", mapped),
        ("peer: GeoPandas sjoin + groupby (zones only)", joined),
    ]
    figures = [
        {
            "case": label,
            "n": len(seconds),
            "p50_s": round(statistics.median(seconds), 3),
            "p95_s": round(percentile(seconds, 0.95), 3),
        }
        for label, seconds in rows
    ]
    if args.json:
        print(json.dumps({"households": households, "runs_stored_by_gets": stored_by_views,
                          "cases": figures}))  # fmt: skip
        return
    print(f"{households:,} households in round 2567 of Ubon; target: p95 ≤ 1 s")
    print(f"{'case':46} {'n':>3} {'p50':>8} {'p95':>8}")
    for row in figures:
        print(f"{row['case']:46} {row['n']:3} {row['p50_s']:7.3f}s {row['p95_s']:7.3f}s")
    print(f"runs stored by {args.requests} GETs: {stored_by_views}")


if __name__ == "__main__":
    main()
