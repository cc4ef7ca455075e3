"""Delivery to GIS tools (GeoPackage, OGC API items, vector tiles) beside peer tools, in one run.

Works on ``bench/cases.py``'s database (``bamrung_bench_cases``, copied once from
``bench/analysis.py``'s: 20 million households of one round, 13 million problems) as that bench
left it: it is not migrated here. Reads it, and writes only a user, its API token and the
access log of the pages served (as bench/web.py).
Note: that survey places every household on its subdistrict's centre (``precision``
'subdistrict'), so Ubon's 589,986 households stand on 219 points, 2,694 on each; a 0.05° box
or a z14 tile holds none or a few such stacks. The boxes and tiles below are chosen where the
households are, so each answer carries as many features as a dense real area would.

1. **GeoPackage of 1,000,000 households** (the first million by id, nationwide, with their
   problem counts, as the households layer has them). Timed once each (best of ``--repeat``):

   - Bamrung's writer, ``layers.delivery.writers.write([layer], path, "gpkg", 4326)`` (styles,
     field names, metadata and a QGIS project besides the features), beside
     ``pyogrio.write_dataframe`` of the same GeoDataFrame (target: ≤ 1.2 × pyogrio);
   - Bamrung's whole path, database to file: the rows read as ``layers.analysis.runs``
     reads households (``COPY`` through ``read_frame``, points from lon/lat), then the writer,
     beside Debian's ``ogr2ogr -f GPKG out.gpkg PG:… -sql "SELECT … LIMIT 1000000"`` of the same
     rows (target: ≤ 0.5 × ogr2ogr);
   - ``bamrung export households --area 34 --out x.gpkg`` (the CLI, a process of its own, at the
     size the province gives), stopped after ``--export-timeout`` seconds; and, for comparison,
     the same layer read in this process and written without the style's classes.

2. **OGC API items**: ``GET /ogc/collections/households/items?limit=1000&bbox=…`` of Bamrung
   (``bamrung serve --workers 1``, an admin's API token) beside tipg
   (``/collections/public.household/items?limit=1000&bbox=…``, ``uvicorn tipg.main:app``, one
   worker) on the same table: random boxes of 0.05° inside Ubon (lon 104.3–105.6, lat
   14.2–16.1), each holding ≥ 1,000 households, the same list for both, each box asked once;
   ``--clients`` concurrent clients (4), p50/p95 latency and req/s. Targets: Bamrung's p95
   ≤ 100 ms, and ≥ 2 × tipg's req/s.

3. **Vector tiles** (only if ``/tiles/households.json`` answers 200; "tiles: not served yet"
   otherwise): ``/tiles/households/{z}/{x}/{y}.mvt`` beside tipg's
   ``/collections/public.household/tiles/WebMercatorQuad/{z}/{x}/{y}?properties=household_id``
   on the same tiles, each asked once: the densest z14 tiles of Ubon (points; p95 ≤ 20 ms) and
   every z5–z11 tile over Ubon (Bamrung: areas with their figures, tipg: up to 10,000 points;
   p95 ≤ 25 ms, largest tile ≤ 200 KB), both ≥ 2 × tipg's req/s.

tipg (its own FastAPI/pydantic pins) runs from a virtualenv of its own, ``--tipg-venv``:
``python3 -m venv /tmp/tipg-venv && /tmp/tipg-venv/bin/pip install tipg uvicorn``. It serves
the partitioned ``household`` table itself (tipg lists partitioned tables), configured by
environment: that one table, its key ``household_id`` (tipg would otherwise take the only
one-column index, the GiST of ``geom``, as the id), the properties Bamrung's collection has
(not ``cases``), and no extents computed at start-up (they would scan the 20 million rows).
Both servers are asked with ``Accept-Encoding: identity``: tipg compresses otherwise and
Bamrung does not, and on loopback compressing only spends the two cores. Before the timed
requests the database reads every box and tile once, so neither server finds it cold.

Run it from the repository root (a run from bench/ would start a stray cluster):

    .venv/bin/python bench/delivery.py [--parts 1,2,3] [--repeat 1] [--requests 400]
        [--clients 4] [--tiles 200] [--seed 1] [--export-timeout 300] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import geopandas as gpd
import httpx
import numpy as np
import pyogrio
from cases import NAME, Results, copy_database, free_port, p, served, token
from sqlalchemy import Engine, and_, func, select, text

from geo.access import Scope
from geo.maps.qgis import LayerStyle
from geo.vocab import SOLVED
from layers.analysis import runs
from layers.delivery.catalog import Layer
from layers.delivery.writers import write
from layers.store.db import make_engine, read_frame
from layers.store.models import Household, Problem
from layers.store.partitions import latest_round
from layers.store.settings import PROJECT_ROOT, Settings

UBON = (104.3, 14.2, 105.6, 16.1)  # west, south, east, north
BOX = 0.05  # degrees, the side of an items request's box
WARM = 4  # requests of each kind sent before timing (not timed, not in the timed list)
TARGETS = {
    "writer_vs_pyogrio": 1.2,
    "db_to_file_vs_ogr2ogr": 0.5,
    "items_p95_ms": 100,
    "tiles_z14_p95_ms": 20,
    "tiles_aggregated_p95_ms": 25,
    "tiles_max_kb": 200,
    "req_per_s_vs_peer": 2.0,
}
OGR2OGR_SQL = """
SELECT h.household_id, h.subdistrict_code, count(p.id) AS problems,
       count(p.id) FILTER (WHERE p.status IN ({solved})) AS solved, h.geom
FROM household h LEFT JOIN problem p ON p.household_id = h.household_id AND p.round = h.round
WHERE h.round = {round}
GROUP BY h.household_id, h.round ORDER BY h.household_id LIMIT {n}
"""
TIPG_PROPERTIES = ["household_id", "round", "subdistrict_code", "members", "urban", "surveyed_on"]


# -- 1. GeoPackage ----------------------------------------------------------------------------


def read_households(engine: Engine, round_: int, n: int) -> gpd.GeoDataFrame:
    """The first ``n`` households by id, read as ``layers.analysis.runs.households`` reads an
    area's (same columns, ``COPY`` through ``read_frame``, points made from lon/lat)."""
    h, pr = Household, Problem
    query = (
        select(
            h.household_id,
            h.subdistrict_code,
            func.ST_X(h.geom).label("lon"),
            func.ST_Y(h.geom).label("lat"),
            func.count(pr.id).label("problems"),
            func.count(pr.id).filter(pr.status.in_(SOLVED)).label("solved"),
        )
        .where(h.round == round_)
        .outerjoin(pr, and_(pr.household_id == h.household_id, pr.round == h.round))
        .group_by(h.household_id, h.round)
        .order_by(h.household_id)
        .limit(n)
    )
    with engine.connect() as conn:
        frame = read_frame(conn, query, runs.HOUSEHOLD_TYPES)
    lon, lat = frame.pop("lon"), frame.pop("lat")
    points = gpd.points_from_xy(lon, lat)
    return gpd.GeoDataFrame(frame, geometry=points, crs=4326).rename_geometry("geom")


def as_layer(frame: gpd.GeoDataFrame) -> Layer:
    style = LayerStyle(geometry="point", title="households")
    return Layer("households", frame, style, {"title": "households", "area_name": "bench"})


def features_in(path: Path) -> int:
    return int(pyogrio.read_info(path, layer="households")["features"])


def clocked(call: Any, *args: Any) -> tuple[float, Any]:
    """Seconds of ``call(*args)``, and what it gave."""
    start = time.perf_counter()
    value = call(*args)
    return time.perf_counter() - start, value


def ogr2ogr(url: str, sql: str, path: Path) -> float:
    """Seconds of Debian's ogr2ogr copying the rows of ``sql`` to a GeoPackage."""
    parts = urlsplit(url)
    source = (
        f"PG:host={parts.hostname} port={parts.port} dbname={parts.path.lstrip('/')} "
        f"user={parts.username}"
    )
    env = {**os.environ, "PGPASSWORD": parts.password or ""}
    command = ["ogr2ogr", "-f", "GPKG", str(path), source, "-sql", sql,
               "-nln", "households", "-nlt", "POINT"]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    assert done.returncode == 0, done.stderr[-2000:]
    return took


def export_cli(url: str, area: str, path: Path, timeout: float) -> dict[str, Any]:
    """``bamrung export households --area AREA --out PATH`` in a process of its own."""
    env = {**os.environ, "DATABASE_URL": url}
    command = [str(PROJECT_ROOT / ".venv" / "bin" / "bamrung"), "export", "households",
               "--area", area, "--out", str(path)]  # fmt: skip
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"finished": False, "timeout_s": timeout}
    took = time.perf_counter() - start
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    counted = re.search(r"households: ([\d,]+) features", done.stdout)
    return {
        "finished": True,
        "s": round(took, 2),
        "features": int(counted.group(1).replace(",", "")) if counted else None,
        "bytes": path.stat().st_size,
    }


def gpkg_part(engine: Engine, url: str, args: argparse.Namespace, result: Results) -> None:
    round_ = latest_round_of(engine)
    sql = OGR2OGR_SQL.format(
        solved=", ".join(f"'{s}'" for s in SOLVED), round=round_, n=args.households
    )
    with engine.connect() as conn:  # the rows read once, so neither reader finds them cold
        conn.execute(text(f"SELECT count(*) FROM ({sql}) AS q"))  # noqa: S608 - constants
    times: dict[str, list[float]] = {k: [] for k in ("read", "write", "pyogrio", "ogr2ogr")}
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as folder:
        out = Path(folder)
        files = {name: out / f"{name}.gpkg" for name in ("bamrung", "pyogrio", "ogr2ogr")}
        for _ in range(args.repeat):
            for path in files.values():
                path.unlink(missing_ok=True)
            took, frame = clocked(read_households, engine, round_, args.households)
            times["read"].append(took)
            assert len(frame) == args.households, len(frame)
            took, _ = clocked(write, [as_layer(frame)], files["bamrung"], "gpkg", 4326)
            times["write"].append(took)
            took, _ = clocked(
                pyogrio.write_dataframe, frame, files["pyogrio"], "households", "GPKG"
            )
            times["pyogrio"].append(took)
            times["ogr2ogr"].append(ogr2ogr(url, sql, files["ogr2ogr"]))
            for name, path in files.items():
                assert features_in(path) == args.households, name
            del frame
        best = {k: min(v) for k, v in times.items()}
        whole = min(r + w for r, w in zip(times["read"], times["write"], strict=True))
        result["gpkg"] = {
            "features": args.households,
            "repeat": args.repeat,
            "bamrung_write_s": round(best["write"], 2),
            "pyogrio_write_s": round(best["pyogrio"], 2),
            "writer_ratio": round(best["write"] / best["pyogrio"], 2),
            "bamrung_read_s": round(best["read"], 2),
            "bamrung_db_to_file_s": round(whole, 2),
            "ogr2ogr_s": round(best["ogr2ogr"], 2),
            "db_to_file_ratio": round(whole / best["ogr2ogr"], 2),
            "bytes": {name: path.stat().st_size for name, path in files.items()},
        }
        cli = export_cli(url, args.export_area, out / "export.gpkg", args.export_timeout)
        # The same layer read and written in this process, without the style's classes.
        took, frame = clocked(read_area, engine, args.export_area)
        written, _ = clocked(write, [as_layer(frame)], out / "unstyled.gpkg", "gpkg", 4326)
        result["export_cli"] = {
            "area": args.export_area,
            "households": len(frame),
            **cli,
            "read_and_write_unstyled_s": round(took + written, 2),
        }


def read_area(engine: Engine, area: str) -> gpd.GeoDataFrame:
    with engine.connect() as conn:
        return runs.households(conn, area, scope=Scope(role="admin"))


def latest_round_of(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(latest_round(conn))


# -- 2. and 3. over HTTP ----------------------------------------------------------------------


@contextmanager
def tipg_served(url: str, venv: Path) -> Iterator[str]:
    """tipg on a free port, serving the ``household`` table of ``url``."""
    port = free_port()
    config = "TIPG_TABLE_CONFIG__public_household__"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TIPG_DB_TABLES": json.dumps(["public.household"]),
        "TIPG_DB_EXCLUDE_FUNCTION_SCHEMAS": json.dumps(["public"]),
        "TIPG_DB_SPATIAL_EXTENT": "false",
        "TIPG_DB_DATETIME_EXTENT": "false",
        f"{config}PK": "household_id",
        f"{config}PROPERTIES": json.dumps(TIPG_PROPERTIES),
    }
    server = subprocess.Popen(
        [str(venv / "bin" / "uvicorn"), "tipg.main:app", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/healthz")
        yield base
    finally:
        server.terminate()
        server.wait(20)


def wait_for(address: str) -> None:
    for _ in range(600):
        try:
            if httpx.get(address, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    sys.exit(f"{address} did not answer in 60 s")


def client(base: str, headers: dict[str, str]) -> httpx.Client:
    """A client that sends each request at once (TCP_NODELAY) and asks for no compression."""
    transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    return httpx.Client(
        base_url=base,
        headers={"Accept-Encoding": "identity", **headers},
        timeout=300,
        transport=transport,
    )


def load(base: str, paths: list[str], clients: int, headers: dict[str, str]) -> dict[str, Any]:
    """Every path asked once, by ``clients`` clients at once: latency, throughput, sizes."""
    spent: list[float] = []
    sizes: list[int] = []
    codes: Counter[int] = Counter()
    lock = threading.Lock()
    todo = iter(paths)

    def run() -> None:
        with client(base, headers) as c:
            while True:
                with lock:
                    path = next(todo, None)
                if path is None:
                    return
                start = time.perf_counter()
                answer = c.get(path)
                took = time.perf_counter() - start
                with lock:
                    spent.append(took)
                    sizes.append(len(answer.content))
                    codes[answer.status_code] += 1

    threads = [threading.Thread(target=run) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {
        "requests": len(spent),
        "p50_ms": round(p(spent, 50) * 1000, 1),
        "p95_ms": round(p(spent, 95) * 1000, 1),
        "max_ms": round(max(spent) * 1000, 1),
        "req_per_s": round(len(spent) / wall, 1),
        "errors": sum(n for code, n in codes.items() if code != 200),
        "mean_kb": round(sum(sizes) / len(sizes) / 1024, 1),
        "max_kb": round(max(sizes) / 1024, 1),
    }


def warm(base: str, paths: list[str], headers: dict[str, str]) -> list[httpx.Response]:
    with client(base, headers) as c:
        answers = [c.get(path) for path in paths]
    for path, answer in zip(paths, answers, strict=True):
        assert answer.status_code == 200, (base, path, answer.status_code, answer.text[:300])
    return answers


def positions(engine: Engine) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ubon's household positions (lon, lat) of the latest round and how many stand on each."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT ST_X(geom), ST_Y(geom), count(*) FROM household "
                "WHERE round = :round AND geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326) "
                "GROUP BY geom"
            ),
            {"round": latest_round(conn), "w": UBON[0], "s": UBON[1], "e": UBON[2], "n": UBON[3]},
        ).all()
    table = np.array(rows, dtype=float)
    return table[:, 0], table[:, 1], table[:, 2]


Positions = tuple[np.ndarray, np.ndarray, np.ndarray]


def boxes(where: Positions, n: int, rng: random.Random) -> list[tuple[float, ...]]:
    """``n`` random boxes of BOX degrees inside Ubon, each with at least 1,000 households."""
    lon, lat, count = where
    found: list[tuple[float, ...]] = []
    for _ in range(n * 500):
        w = round(rng.uniform(UBON[0], UBON[2] - BOX), 4)
        s = round(rng.uniform(UBON[1], UBON[3] - BOX), 4)
        inside = (lon >= w) & (lon <= w + BOX) & (lat >= s) & (lat <= s + BOX)
        if count[inside].sum() >= 1000:
            found.append((w, s, round(w + BOX, 4), round(s + BOX, 4)))
            if len(found) == n:
                return found
    sys.exit(f"only {len(found)} boxes of {BOX}° in Ubon hold 1,000 households")


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The Web Mercator tile (x, y) of zoom ``z`` holding the point."""
    n = 2**z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


def dense_tiles(where: Positions, n: int) -> list[tuple[int, int, int]]:
    """The ``n`` z14 tiles of Ubon that hold the most households (at least 1,000 each)."""
    lon, lat, count = where
    held: Counter[tuple[int, int]] = Counter()
    for x, y, k in zip(lon, lat, count, strict=True):
        held[tile_of(x, y, 14)] += int(k)
    return [(14, x, y) for (x, y), k in held.most_common(n) if k >= 1000]


def covering(z: int, bounds: tuple[float, ...]) -> list[tuple[int, int, int]]:
    west, south, east, north = bounds
    (x0, y0), (x1, y1) = tile_of(west, north, z), tile_of(east, south, z)
    return [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def warm_database(engine: Engine, envelopes: list[str]) -> None:
    """Every box or tile read once by the database (heap and index), before any server asks."""
    with engine.connect() as conn:
        for envelope in envelopes:
            conn.execute(
                text(f"SELECT count(*), sum(members) FROM household WHERE geom && {envelope}")  # noqa: S608 - numbers
            )


def box_envelope(box: tuple[float, ...]) -> str:
    return "ST_MakeEnvelope({}, {}, {}, {}, 4326)".format(*box)


def tile_envelope(tile: tuple[int, int, int]) -> str:
    return "ST_Transform(ST_TileEnvelope({}, {}, {}), 4326)".format(*tile)


def compare(ours: dict[str, Any], peer: dict[str, Any], p95_target: float) -> dict[str, Any]:
    ratio = ours["req_per_s"] / peer["req_per_s"] if peer["req_per_s"] else math.inf
    return {
        "bamrung": ours,
        "tipg": peer,
        "req_per_s_ratio": round(ratio, 2),
        "p95_target_ms": p95_target,
        "p95_within": ours["p95_ms"] <= p95_target and ours["errors"] == 0,
        "req_per_s_within": ratio >= TARGETS["req_per_s_vs_peer"],
    }


def http_parts(engine: Engine, url: str, args: argparse.Namespace, result: Results) -> None:
    rng = random.Random(args.seed)
    parts = args.parts
    admin = {"Authorization": f"Bearer {token(engine, 'admin')}"}
    where = positions(engine)
    box_list = boxes(where, args.requests + WARM, rng) if "2" in parts else []
    z14 = dense_tiles(where, args.tiles + WARM) if "3" in parts else []
    rng.shuffle(z14)
    aggregated = [t for z in range(5, 12) for t in covering(z, UBON)]
    # Warm-up tiles: the same zooms over Bangkok, none of them in the timed list.
    bangkok = [covering(z, (100.4, 13.6, 100.6, 13.8))[0] for z in (5, 7, 9, 11)]
    warm_database(
        engine,
        [box_envelope(b) for b in box_list] + [tile_envelope(t) for t in z14 + aggregated],
    )
    items = [f"/items?limit=1000&bbox={','.join(map(str, b))}" for b in box_list]
    ours_items = [f"/ogc/collections/households{path}" for path in items]
    tipg_items = [f"/collections/public.household{path}" for path in items]
    ours_tile = "/tiles/households/{}/{}/{}.mvt"
    tipg_tile = (
        "/collections/public.household/tiles/WebMercatorQuad/{}/{}/{}?properties=household_id"
    )
    figures: dict[str, dict[str, Any]] = {}
    with served(url) as base:
        wait_for(base + "/health")
        if "2" in parts:
            first = warm(base, ours_items[:WARM], admin)[0].json()
            assert first["numberReturned"] == 1000, first.get("numberReturned")
            figures["items"] = load(base, ours_items[WARM:], args.clients, admin)
        if "3" in parts:
            with client(base, admin) as c:
                served_tiles = c.get("/tiles/households.json").status_code == 200
            if served_tiles:
                warm(base, [ours_tile.format(*t) for t in z14[:WARM] + bangkok], admin)
                figures["z14"] = load(
                    base, [ours_tile.format(*t) for t in z14[WARM:]], args.clients, admin
                )
                figures["aggregated"] = load(
                    base, [ours_tile.format(*t) for t in aggregated], args.clients, admin
                )
            else:
                result["tiles"] = "not served yet"
    peer: dict[str, dict[str, Any]] = {}
    if not figures:
        return
    with tipg_served(url, args.tipg_venv) as base:
        if "2" in parts:
            first = warm(base, tipg_items[:WARM], {})[0].json()
            assert first["numberReturned"] == 1000, first.get("numberReturned")
            peer["items"] = load(base, tipg_items[WARM:], args.clients, {})
        if "z14" in figures:
            warm(base, [tipg_tile.format(*t) for t in z14[:WARM] + bangkok], {})
            peer["z14"] = load(base, [tipg_tile.format(*t) for t in z14[WARM:]], args.clients, {})
            peer["aggregated"] = load(
                base, [tipg_tile.format(*t) for t in aggregated], args.clients, {}
            )
    if "items" in figures:
        result["ogc_items"] = {
            "boxes": len(box_list) - WARM,
            "clients": args.clients,
            **compare(figures["items"], peer["items"], TARGETS["items_p95_ms"]),
        }
    if "z14" in figures:
        z14_row = compare(figures["z14"], peer["z14"], TARGETS["tiles_z14_p95_ms"])
        aggregated_row = compare(
            figures["aggregated"], peer["aggregated"], TARGETS["tiles_aggregated_p95_ms"]
        )
        aggregated_row["max_kb_within"] = figures["aggregated"]["max_kb"] <= TARGETS["tiles_max_kb"]
        result["tiles"] = {
            "clients": args.clients,
            "z14": {"tiles": len(z14) - WARM, **z14_row},
            "z5_z11": {"tiles": len(aggregated), **aggregated_row},
        }


# -- report -----------------------------------------------------------------------------------


def mark(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(result: dict[str, Any]) -> None:
    print(
        f"database {result['database']}: {result['households']:,} households of round "
        f"{result['round']}"
    )
    if "gpkg" in result:
        g = result["gpkg"]
        print(f"\n1. GeoPackage of {g['features']:,} households (best of {g['repeat']})")
        print(f"   {'':<38}{'Bamrung':>10}{'peer':>10}{'ratio':>8}   target")
        rows = (
            ("writer, a frame to a file  vs pyogrio", "write", "pyogrio_write_s", "writer"),
            ("database to a file         vs ogr2ogr", "db_to_file", "ogr2ogr_s", "db_to_file"),
        )
        for label, ours, peer, ratio in rows:
            target = TARGETS["writer_vs_pyogrio" if ratio == "writer" else "db_to_file_vs_ogr2ogr"]
            value = g[f"{ratio}_ratio"]
            print(
                f"   {label:<38}{g[f'bamrung_{ours}_s']:>8.2f} s{g[peer]:>8.2f} s{value:>8.2f}"
                f"   ≤ {target} × {mark(value <= target)}"
            )
        sizes = ", ".join(f"{k} {v / 1e6:.0f} MB" for k, v in g["bytes"].items())
        print(
            f"   (Bamrung: read {g['bamrung_read_s']:.2f} s + write {g['bamrung_write_s']:.2f} s;"
            f" files: {sizes})"
        )
    if "export_cli" in result:
        e = result["export_cli"]
        done = (
            f"{e['s']:.2f} s, {e['features']:,} features, {e['bytes'] / 1e6:.0f} MB"
            if e["finished"]
            else f"not finished in {e['timeout_s']:.0f} s (stopped)"
        )
        print(f"   bamrung export households --area {e['area']}: {done}")
        print(
            f"   its {e['households']:,} households read and written in-process without the "
            f"style's classes: {e['read_and_write_unstyled_s']:.2f} s"
        )
    if "ogc_items" in result:
        o = result["ogc_items"]
        print(f"\n2. OGC API items: limit=1000, {o['boxes']} boxes of {BOX}° in Ubon, ", end="")
        print(f"{o['clients']} clients")
        table(o)
    if "tiles" in result:
        t = result["tiles"]
        if isinstance(t, str):
            print(f"\n3. tiles: {t}")
            return
        print(f"\n3. Vector tiles, {t['clients']} clients")
        print(f"   z14, the {t['z14']['tiles']} densest tiles of Ubon (points)")
        table(t["z14"])
        print(
            f"   z5–z11, the {t['z5_z11']['tiles']} tiles over Ubon (Bamrung: areas; tipg: points)"
        )
        table(t["z5_z11"])
        largest = t["z5_z11"]["bamrung"]["max_kb"]
        within = mark(t["z5_z11"]["max_kb_within"])
        print(f"   largest Bamrung tile {largest} KB ≤ {TARGETS['tiles_max_kb']} KB: {within}")


def table(row: dict[str, Any]) -> None:
    keys = ("p50_ms", "p95_ms", "max_ms", "req_per_s", "errors", "mean_kb", "max_kb")
    print("   " + f"{'':<10}" + "".join(f"{k:>11}" for k in keys))
    for name in ("bamrung", "tipg"):
        print("   " + f"{name:<10}" + "".join(f"{row[name][k]:>11}" for k in keys))
    print(
        f"   Bamrung p95 {row['bamrung']['p95_ms']} ms ≤ {row['p95_target_ms']} ms: "
        f"{mark(row['p95_within'])};  req/s {row['req_per_s_ratio']} × tipg's "
        f"≥ {TARGETS['req_per_s_vs_peer']} ×: {mark(row['req_per_s_within'])}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="1,2,3", help="which parts to run: 1, 2, 3")
    parser.add_argument("--households", type=int, default=1_000_000, help="GeoPackage features")
    parser.add_argument("--repeat", type=int, default=1, help="GeoPackage runs (best is kept)")
    parser.add_argument("--export-area", default="34", help="area of the timed bamrung export")
    parser.add_argument("--export-timeout", type=float, default=300, help="seconds")
    parser.add_argument("--requests", type=int, default=400, help="timed item pages per server")
    parser.add_argument("--tiles", type=int, default=200, help="z14 tiles per server, at most")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tipg-venv", type=Path, default=Path("/tmp/tipg-venv"))
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    args.parts = set(args.parts.split(","))
    if args.parts & {"2", "3"} and not (args.tipg_venv / "bin" / "uvicorn").exists():
        sys.exit(
            f"no tipg in {args.tipg_venv}: python3 -m venv {args.tipg_venv} && "
            f"{args.tipg_venv}/bin/pip install tipg uvicorn"
        )
    settings = Settings()
    url = copy_database(settings)
    engine = make_engine(url, Settings(database_url=url, statement_timeout_ms=0))
    result = Results()
    round_ = latest_round_of(engine)
    with engine.connect() as conn:
        households = conn.scalar(
            text("SELECT count(*) FROM household WHERE round = :r"), {"r": round_}
        )
    result["database"], result["round"], result["households"] = NAME, round_, households
    if households < args.households:
        sys.exit(f"{NAME} has {households:,} households of round {round_}: fewer than asked")
    if "1" in args.parts:
        gpkg_part(engine, url, args, result)
    if args.parts & {"2", "3"}:
        http_parts(engine, url, args, result)
    engine.dispose()
    if args.json:
        print(json.dumps(result))
    else:
        report(result)


if __name__ == "__main__":
    main()
