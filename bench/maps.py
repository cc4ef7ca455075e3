"""Map size and build time, beside a naïve ``GeoDataFrame.explore()`` of the same data.

Builds (once; reused while it holds enough households) a synthetic survey of Ubon Ratchathani
(province 34, default 200,000 households) in its own database, then for each map times building
and rendering the page and weighs the HTML:

- Ubon by subdistrict (choropleth), Ubon on H3 hexagons, the Ubon heatmap, and Thailand by
  subdistrict (7,425 polygons);
- the baseline: ``explore()`` of the same rows — the raw polygons joined with the figures, the
  hexagons, or the household points for the heatmap — as an analyst would first try.

Targets: a province map ≤ 3 MB built in ≤ 2 s; the national choropleth ≤ 5 MB.

    python bench/maps.py [--households 200000] [--rebuild] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, Engine, select, text
from ubon import PROVINCE, ubon_database

from geo.access import scope_of
from geo.maps.assets import render
from layers.analysis import runs as analysis
from layers.analysis import stats
from layers.delivery.maps import MapQuery, choropleth, heatmap, hexbin
from layers.store.models import AdminUnit
from layers.store.settings import Settings

NAME = "bamrung_bench_maps"
ADMIN = scope_of("admin", None)


def prepare(households: int, rebuild: bool) -> tuple[Engine, Settings]:
    return ubon_database(NAME, households, rebuild)


def timed(build: Callable[[], folium.Map]) -> tuple[float, int]:
    started = time.perf_counter()
    page = render(build(), "/static/vendor")
    return time.perf_counter() - started, len(page.encode())


def naive_units(conn: Connection, area: str, level: str) -> gpd.GeoDataFrame:
    raw = gpd.read_postgis(
        select(AdminUnit.code, AdminUnit.name_en, AdminUnit.geom).where(
            AdminUnit.level == level,
            AdminUnit.code.startswith(area),
            AdminUnit.geom.is_not(None),
        ),
        conn,
        geom_col="geom",
    )
    figures = pd.DataFrame(stats.rollup(conn, area=area, level=level))
    columns = ["code", "households", "problems", "problems_per_1000"]
    return raw.merge(figures[columns], on="code", how="left")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    engine, settings = prepare(args.households, args.rebuild)
    rows: list[dict[str, Any]] = []
    with engine.connect() as conn:
        households = conn.scalar(text("SELECT count(*) FROM household")) or 0

        def ours(kind: Callable[..., Any], **query: Any) -> Callable[[], folium.Map]:
            return lambda: kind(conn, settings, MapQuery(**query), ADMIN).map

        cases: list[tuple[str, Callable[[], folium.Map], Callable[[], folium.Map], float]] = [
            (
                "Ubon by subdistrict (choropleth)",
                ours(choropleth, area=PROVINCE, level="subdistrict"),
                lambda: naive_units(conn, PROVINCE, "subdistrict").explore("problems_per_1000"),
                3.0,
            ),
            (
                "Ubon on H3 hexagons",
                ours(hexbin, area=PROVINCE),
                lambda: analysis.hexagons(conn, PROVINCE).explore("problems"),
                3.0,
            ),
            (
                "Ubon heatmap",
                ours(heatmap, area=PROVINCE),
                lambda: (
                    analysis.households(conn, PROVINCE).query("problems > 0").explore("problems")
                ),
                3.0,
            ),
            (
                "Thailand by subdistrict (7,425)",
                ours(choropleth, area="", level="subdistrict"),
                lambda: naive_units(conn, "", "subdistrict").explore("problems_per_1000"),
                5.0,
            ),
        ]
        for name, our_build, naive_build, limit_mb in cases:
            our_s, our_bytes = timed(our_build)
            naive_s, naive_bytes = timed(naive_build)
            rows.append(
                {
                    "map": name,
                    "ours_s": round(our_s, 2),
                    "ours_mb": round(our_bytes / 1e6, 2),
                    "explore_s": round(naive_s, 2),
                    "explore_mb": round(naive_bytes / 1e6, 2),
                    "size_ratio": round(our_bytes / naive_bytes, 3),
                    "time_ratio": round(our_s / naive_s, 2),
                    "target_mb": limit_mb,
                }
            )
    engine.dispose()
    if args.json:
        print(json.dumps({"households": households, "maps": rows}))
        return
    print(f"{households:,} households in the survey")
    header = f"{'map':34} {'ours':>14} {'explore()':>16} {'size':>7} {'time':>6} {'target':>7}"
    print(header)
    for r in rows:
        print(
            f"{r['map']:34} {r['ours_s']:5.2f} s {r['ours_mb']:5.2f} MB "
            f"{r['explore_s']:6.2f} s {r['explore_mb']:6.2f} MB {r['size_ratio']:7.3f} "
            f"{r['time_ratio']:6.2f} {r['target_mb']:5.1f} MB"
        )


if __name__ == "__main__":
    main()
