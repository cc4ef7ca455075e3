"""Analysis speed on a national survey: roll-ups, status changes and Gi*, against plain SQL.

Builds (once; reused while it holds the requested number of households) a synthetic national
survey in its own database: N households (default 20 million) spread over every subdistrict,
26 % of them with 1-4 problems (about 13 million), 93.5 % solved. Then times, in the same run:

- the national roll-up by province and one province (30, the most subdistricts) by subdistrict,
  read from the trigger-maintained roll-ups (p50/p95 over repeated calls), beside the same
  figures from a plain ``GROUP BY`` over the raw tables (the baseline, and the ratio);
- a status change: the UPDATE (with its trigger) and commit, until the roll-up shows it;
- spatial weights for the 7,425 subdistricts (built once and stored), and Gi* + Local Moran with
  999 permutations over all of them.

    python bench/analysis.py [--households 20000000] [--rebuild] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from rich.progress import Progress
from sqlalchemy import Engine, text

from layers.analysis import stats
from layers.analysis.runs import run_hotspots, weights
from layers.cases import setup
from layers.geography.boundaries import load_boundaries
from layers.store.cluster import ensure_database
from layers.store.db import database_url, make_engine
from layers.store.partitions import ensure_round
from layers.store.settings import PROJECT_ROOT, Settings

BOUNDARIES = PROJECT_ROOT.parent / "shared" / "data" / "boundaries"
NAME = "bamrung_bench_analysis"
ROUND = 2567
CHUNK = 1_000_000
PROVINCE = "30"
# Household g lives in subdistrict g mod n; it is affected when g mod 100 < 26, with
# 1 + (g / 100) mod 4 problems of distinct categories; 9,353 in 10,000 problems are solved.
HOUSEHOLDS = """
INSERT INTO household (household_id, round, declared_subdistrict, geom, precision,
    subdistrict_code, district_code, province_code, urban)
SELECT 'B' || g, :round, s.code, s.point, 'subdistrict', s.code, left(s.code, 4),
    left(s.code, 2), g % 3 = 0
FROM generate_series(CAST(:start AS bigint), :stop - 1) AS g
JOIN bench_subdistrict s ON s.i = g % :n
"""
PROBLEMS = """
INSERT INTO problem (household_id, round, category, status, subdistrict_code)
SELECT 'B' || g, :round, c.codes[1 + (g + j) % 14],
    CASE WHEN (g * 31 + j * 7) % 10000 < 9353 THEN
            CASE WHEN (g + j) % 10 < 7 THEN 'solved_by_agency' ELSE 'solved_by_household' END
        WHEN (g + j) % 3 = 0 THEN 'referred' WHEN (g + j) % 3 = 1 THEN 'in_progress'
        ELSE 'closed_unsolved' END,
    s.code
FROM generate_series(CAST(:start AS bigint), :stop - 1) AS g
JOIN bench_subdistrict s ON s.i = g % :n
CROSS JOIN (SELECT array_agg(code ORDER BY code) AS codes FROM problem_category) AS c
CROSS JOIN LATERAL generate_series(0, (g / 100) % 4) AS j
WHERE g % 100 < 26
"""
BASELINE = """
SELECT left(h.subdistrict_code, :length) AS code, count(DISTINCT h.household_id) AS households,
    count(DISTINCT p.household_id) AS affected, count(p.id) AS problems,
    count(p.id) FILTER (WHERE p.status IN ('solved_by_agency', 'solved_by_household')) AS solved
FROM household h LEFT JOIN problem p ON p.household_id = h.household_id AND p.round = h.round
WHERE h.round = :round AND h.subdistrict_code LIKE :prefix
GROUP BY 1
"""


def build(engine: Engine, households: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE household, problem CASCADE"))
        ensure_round(conn, ROUND)
        conn.execute(text("DROP TABLE IF EXISTS bench_subdistrict"))
        conn.execute(
            text(
                "CREATE TABLE bench_subdistrict AS SELECT row_number() OVER (ORDER BY code) - 1 "
                "AS i, code, ST_PointOnSurface(geom) AS point FROM admin_unit "
                "WHERE level = 'subdistrict' AND geom IS NOT NULL"
            )
        )
        n = conn.scalar(text("SELECT count(*) FROM bench_subdistrict"))
        # One recount at the end (`recount`) instead of one per chunk: the same roll-ups, sooner.
        conn.execute(text("ALTER TABLE household DISABLE TRIGGER USER"))
        conn.execute(text("ALTER TABLE problem DISABLE TRIGGER USER"))
    with Progress() as bar:
        task = bar.add_task("generating the national survey", total=households)
        for start in range(0, households, CHUNK):
            stop = min(start + CHUNK, households)
            params = {"round": ROUND, "start": start, "stop": stop, "n": n}
            with engine.begin() as conn:
                # A chunk of a million households may outlast the API's statement timeout.
                conn.execute(text("SET LOCAL statement_timeout = 0"))
                conn.execute(text(HOUSEHOLDS), params)
                conn.execute(text(PROBLEMS), params)
            bar.update(task, completed=stop)


def recount(engine: Engine) -> None:
    """Switch the roll-up triggers back on and count every subdistrict once."""
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL statement_timeout = 0"))
        conn.execute(text("ALTER TABLE household ENABLE TRIGGER USER"))
        conn.execute(text("ALTER TABLE problem ENABLE TRIGGER USER"))
        conn.execute(text("DELETE FROM rollup"))
        for part, table in (("households", "household"), ("problems", "problem")):
            conn.execute(
                text(
                    "SELECT rollup_recount(array_agg(round), array_agg(subdistrict_code), "  # noqa: S608
                    f"'{part}') FROM (SELECT DISTINCT round, subdistrict_code FROM {table}) AS s"
                )
            )
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("VACUUM ANALYZE household, problem, rollup")
        )


def timings(call: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        out.append(1000 * (time.perf_counter() - started))
    return out


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=20_000_000)
    parser.add_argument("--rebuild", action="store_true", help="regenerate the survey")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    settings = Settings()
    url = ensure_database(database_url(settings), NAME)
    engine = make_engine(url, settings)
    setup.upgrade_and_sync(engine, settings.taxonomy_file, settings.agencies_file)
    with engine.begin() as conn:
        load_boundaries(conn, [BOUNDARIES], settings.boundaries_dir)
        stored = conn.scalar(text("SELECT count(*) FROM household"))
        counted = conn.scalar(
            text("SELECT coalesce(sum(n), 0) FROM rollup WHERE code = '' AND key = 'households'")
        )
    if args.rebuild or stored != args.households:
        build(engine, args.households)
        counted = None
    if counted != args.households:
        recount(engine)
    result: dict[str, Any] = {"households": args.households}
    gc.freeze()  # as the API server does once it has started
    with engine.connect() as conn:
        conn.execute(text("SET statement_timeout = 0"))  # the baseline scans the whole survey
        result["problems"] = conn.scalar(
            text("SELECT sum(n) FROM rollup WHERE code = '' AND key LIKE 'status:%'")
        )
        stats.rollup(conn, area=PROVINCE, level="subdistrict")  # warm the cache
        for name, area, level, length in (
            ("national_by_province", "", "province", 2),
            ("province_by_subdistrict", PROVINCE, "subdistrict", 6),
        ):
            ours = timings(lambda a=area, lv=level: stats.rollup(conn, area=a, level=lv), 30)
            params = {"length": length, "round": ROUND, "prefix": area + "%"}
            plain = timings(lambda p=params: conn.execute(text(BASELINE), p).all(), 3)
            result[name] = {
                "ours_p50_ms": round(statistics.median(ours), 1),
                "ours_p95_ms": round(p95(ours), 1),
                "group_by_ms": round(statistics.median(plain), 1),
                "ratio": round(statistics.median(plain) / statistics.median(ours), 1),
            }
    # A status change, from the UPDATE to the roll-up showing it.
    changes = []
    for i in range(20):
        started = time.perf_counter()
        status = "open" if i % 2 == 0 else "solved_by_agency"
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE problem SET status = :s WHERE household_id = 'B0' AND round = :r"),
                {"s": status, "r": ROUND},
            )
        with engine.connect() as conn:
            shown = conn.scalar(
                text("SELECT n FROM rollup WHERE round = :r AND code = '' AND key = :k"),
                {"r": ROUND, "k": f"status:{status}"},
            )
        changes.append(1000 * (time.perf_counter() - started))
        assert shown
    result["status_change_p95_ms"] = round(p95(changes), 1)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE spatial_weights CASCADE"))
        started = time.perf_counter()
        weights(conn)
        result["weights_build_s"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        weights(conn)
        result["weights_load_s"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        run_id, found = run_hotspots(conn, area="", level="subdistrict", permutations=999)
        result["hotspots_total_s"] = round(time.perf_counter() - started, 2)
        seconds = conn.scalar(
            text("SELECT parameters -> 'seconds' FROM hotspot_run WHERE id = :i"), {"i": run_id}
        )
        result["gi_s"] = round(seconds["gi"], 2)
        result["moran_s"] = round(seconds["moran"], 2)
        result["hotspot_units"] = len(found)
    engine.dispose()
    if args.json:
        print(json.dumps(result))
        return
    print(f"survey: {result['households']:,} households, {result['problems']:,} problems")
    print(f"{'roll-up':<28}{'ours p50':>10}{'ours p95':>10}{'GROUP BY':>12}{'ratio':>8}")
    for name in ("national_by_province", "province_by_subdistrict"):
        r = result[name]
        print(
            f"{name:<28}{r['ours_p50_ms']:>8.1f}ms{r['ours_p95_ms']:>8.1f}ms"
            f"{r['group_by_ms']:>10.0f}ms{r['ratio']:>7.0f}x   target p95 <= 50 ms"
        )
    print(
        f"status change visible        p95 {result['status_change_p95_ms']:.1f} ms   target <= 1 s"
    )
    print(
        f"weights ({result['hotspot_units']:,} units)     build {result['weights_build_s']:.1f} s, "
        f"load {result['weights_load_s']:.2f} s   target build <= 30 s"
    )
    print(
        f"Gi*, 999 permutations         {result['gi_s']:.2f} s   target <= 1 s "
        f"(Local Moran {result['moran_s']:.2f} s; whole run with data and storing "
        f"{result['hotspots_total_s']:.2f} s)"
    )


if __name__ == "__main__":
    main()
