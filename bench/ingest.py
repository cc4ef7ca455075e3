"""Survey intake speed: `bamrung import` against `ogr2ogr` on the same synthetic CSV.

Generates N rows of a national synthetic survey, then in the same run imports them with
`bamrung import` (validation, repair, geocoding, admin assignment, upserts, quarantine) and loads
the same CSV with `ogr2ogr -f PostgreSQL` (PG_USE_COPY, a point from lon/lat) into a plain table,
which is what a GIS officer would reach for and does none of that work. Both run against a fresh
database on the same server (the private cluster, or DATABASE_URL's).

    python bench/ingest.py [--rows 1000000] [--json] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from layers.cases import setup
from layers.geography.boundaries import load_boundaries
from layers.store.cluster import drop_database, ensure_database
from layers.store.db import database_url, make_engine
from layers.store.settings import PROJECT_ROOT, Settings
from layers.survey.synth import generate, write

ROWS_PER_HOUSEHOLD = 3.15
"""Rows a synthetic household gives over its two rounds (1.574 a round)."""
BOUNDARIES = PROJECT_ROOT.parent / "shared" / "data" / "boundaries"


def prepare_database(server: str, name: str, settings: Settings) -> str:
    url = ensure_database(server, name)
    engine = make_engine(url, settings)
    setup.upgrade_and_sync(engine, settings.taxonomy_file, settings.agencies_file)
    with engine.begin() as conn:
        load_boundaries(conn, [BOUNDARIES], settings.boundaries_dir)
    engine.dispose()
    return url


def ogr_connection(url: str) -> str:
    """The database as GDAL's PostgreSQL driver names it: libpq keywords, each value quoted as
    libpq wants, and no empty ones (``password=`` with nothing after it swallows the next
    keyword)."""
    params = conninfo_to_dict(url.replace("+psycopg", "", 1))
    return "PG:" + make_conninfo("", **{k: v for k, v in params.items() if v not in (None, "")})


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time in seconds, and the process's peak resident memory in MB (its VmHWM)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as errors:
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        peak_kb = 0
        status = Path(f"/proc/{child.pid}/status")
        while child.poll() is None:
            with contextlib.suppress(OSError, StopIteration):
                lines = status.read_text().splitlines()
                peak_kb = max(
                    peak_kb, int(next(x for x in lines if x.startswith("VmHWM")).split()[1])
                )
            time.sleep(0.05)
        if child.returncode != 0:
            errors.seek(0)
            sys.exit(f"{command[0]} failed:\n{errors.read()[-3000:]}")
    return time.perf_counter() - started, peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to generate (about)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    ogr2ogr = shutil.which("ogr2ogr")
    if ogr2ogr is None:
        sys.exit("ogr2ogr is not installed: run `make bench` (it installs Debian's gdal-bin)")
    settings = Settings()
    server = database_url(settings)
    name = "bamrung_bench"
    drop_database(server, name)
    url = prepare_database(server, name, settings)
    engine = make_engine(url, settings)
    with tempfile.TemporaryDirectory() as folder:
        csv = Path(folder) / "survey.csv"
        households = max(1, round(args.rows / ROWS_PER_HOUSEHOLD))
        with engine.connect() as conn:
            survey = generate(conn, provinces=None, households=households, seed=1, defects=0.0)
        write(survey, csv)
        rows = len(survey.rows)
        del survey
        env = {**os.environ, "DATABASE_URL": url, "BAMRUNG_HOME": folder}
        bamrung = str(Path(sys.executable).with_name("bamrung"))
        ours, peak_mb = timed([bamrung, "import", str(csv)], env)
        theirs, _ = timed(
            [
                ogr2ogr,
                "-f",
                "PostgreSQL",
                ogr_connection(url),
                str(csv),
                "-nln",
                "bench_ogr2ogr",
                "-overwrite",
                "-a_srs",
                "EPSG:4326",
                "-oo",
                "X_POSSIBLE_NAMES=lon",
                "-oo",
                "Y_POSSIBLE_NAMES=lat",
                "-lco",
                "GEOMETRY_NAME=geom",
                "--config",
                "PG_USE_COPY",
                "YES",
            ],
            env,
        )
    engine.dispose()
    if not args.keep:
        drop_database(server, name)
    result = {
        "rows": rows,
        "ours_s": round(ours, 2),
        "ogr2ogr_s": round(theirs, 2),
        "ratio": round(ours / theirs, 2),
        "rows_per_s": round(rows / ours),
        "peak_rss_mb": round(peak_mb),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"rows                      {rows:>12,}")
    speed = f"{ours:>10.1f} s  {rows / ours:>10,.0f} rows/s  (peak {peak_mb:,.0f} MB)"
    print(f"bamrung import            {speed}")
    print(f"ogr2ogr (plain COPY)      {theirs:>10.1f} s  {rows / theirs:>10,.0f} rows/s")
    print(
        f"ratio (ours / ogr2ogr)    {ours / theirs:>10.2f}    target: <= 0.5, and >= 150,000 rows/s"
    )


if __name__ == "__main__":
    main()
