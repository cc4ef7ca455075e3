"""API throughput and latency under a loopback load: `bamrung serve` with 1 worker and with N.

Builds (once; reused while it holds enough households) a synthetic survey of Ubon Ratchathani
(province 34, default 200,000 households) in its own database, as bench/maps.py does, and an
admin user with a new API token. Then starts `bamrung serve --workers 1`, and after it
`--workers N` (default: the number of cores), on a free 127.0.0.1 port. Once every worker has
started and a warm-up has passed, C clients (default 4, then 16) each keep one connection open
and send, one after the other for a fixed time, round robin:

- ``GET /stats?area=34&level=district``
- ``GET /maps/choropleth?area=34``
- ``GET /households?area=3419&limit=50``

It prints req/s and p50/p95/p99 latency per endpoint, 1 and N workers side by side; for N
workers twice, because uvicorn's workers share one accept queue and a worker that wakes takes
every connection waiting in it:

- burst: the clients connect at once, with their first requests, as wrk or hey do;
- even: the clients connect one by one, again while a worker already has its share: the split
  a balancing front aims for (a proxy; SO_REUSEPORT sockets per worker, spread by hash).

After each run it reads from /proc how the connections fell on the workers and the CPU used by
each worker, by the PostgreSQL server (all its processes), by itself and by everything else.

The load generator is Python (httpx on asyncio, one thread), not wrk: the figures are wanted
per endpoint from one mixed load, and wrk's Lua hooks see no per-request latency (only one
distribution for the whole run); httpx is already among the dev dependencies; and at the rates
measured here (tens of requests a second) one asyncio thread needs a few percent of a core,
which the output reports. It runs on the same machine as the server and PostgreSQL, sharing
their cores; the output says so.

Bounded and local only: the server listens on 127.0.0.1, the load goes nowhere else, and each
run (workers, connections, clients) lasts --duration seconds, after --warmup seconds a server.

    python bench/serve.py [--duration 20] [--clients 4 16] [--workers N] [--households 200000]
                          [--rebuild] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text
from ubon import ubon_database

from layers.access.users import add_user, issue_token, user_named
from layers.store.cluster import free_port

NAME = "bamrung_bench_serve"
USER = "bench-serve-admin"
HOST = "127.0.0.1"  # loopback only: the server listens here and the load goes nowhere else
ENDPOINTS = {
    "stats": "/stats?area=34&level=district",
    "choropleth": "/maps/choropleth?area=34",
    "households": "/households?area=3419&limit=50",
}
BAMRUNG = shutil.which("bamrung", path=str(Path(sys.executable).parent)) or "bamrung"
TICK = os.sysconf("SC_CLK_TCK")


def prepare(households: int, rebuild: bool) -> tuple[str, int, str]:
    """The bench database's URL, its household count and a new admin API token."""
    engine, settings = ubon_database(NAME, households, rebuild)
    assert settings.database_url is not None
    token = admin_token(engine)
    with engine.connect() as conn:
        have = conn.scalar(text("SELECT count(DISTINCT household_id) FROM household")) or 0
    engine.dispose()
    return settings.database_url, have, token


def admin_token(engine: Engine) -> str:
    """A new API token of the bench's admin user (created the first time)."""
    with engine.begin() as conn:
        if user_named(conn, USER) is None:
            add_user(conn, USER, "admin")
        return issue_token(conn, USER, label="bench/serve.py")


# --- the processes: the server's workers, their CPU time and connections, the machine's CPU ---


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def listening_inode(port: int) -> str | None:
    for entry in tcp_sockets():
        if entry[0] == port and entry[2] == "0A":
            return entry[3]
    return None


def tcp_sockets() -> Iterator[tuple[int, int, str, str]]:
    """(local port, remote port, state, inode) of every IPv4 TCP socket."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        local, remote = parts[1].split(":")[1], parts[2].split(":")[1]
        yield int(local, 16), int(remote, 16), parts[3], parts[9]


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def workers_of(server: subprocess.Popen[bytes], port: int, workers: int) -> list[int]:
    """The processes that accept on the port: the server itself, or its worker children."""
    inode = listening_inode(port)
    if inode is None:
        return []
    candidates = [server.pid] if workers == 1 else children(server.pid)
    return sorted(pid for pid in candidates if inode in socket_inodes(pid))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy() -> tuple[float, float]:
    """Busy and total CPU seconds of the machine since boot, all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / TICK, total / TICK


def connections_per_worker(port: int, workers: list[int]) -> list[int]:
    established: set[str] = set()
    for _ in range(3):  # /proc/net/tcp is read a page at a time: one reading can skip rows
        established |= {
            i for local, _, state, i in tcp_sockets() if local == port and state == "01"
        }
    return [len(socket_inodes(pid) & established) for pid in workers]


@contextmanager
def server(url: str, workers: int, log: Path) -> Iterator[tuple[int, list[int]]]:
    """`bamrung serve` with ``workers`` on a free loopback port, every worker started.

    Its log (uvicorn's, with one access line a request, as `bamrung serve` writes it) goes to
    ``log``. Yields the port and the workers' process ids; stops the server with SIGTERM.
    """
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("BAMRUNG_WORKERS", None)
    command = [BAMRUNG, "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while log.read_text(errors="replace").count("Application startup complete.") < workers:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                raise SystemExit(f"`{' '.join(command)}` did not start:\n{tail}")
            time.sleep(0.2)
        pids = workers_of(process, port, workers)
        if len(pids) != workers:
            raise SystemExit(f"expected {workers} workers accepting on {port}, found {pids}")
        yield port, pids
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the load ---


@dataclass
class Run:
    workers: int
    clients: int
    mode: str  # "burst": the clients connect at once; "even": spread evenly over the workers
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in ENDPOINTS})
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENDPOINTS, 0))
    connections: list[int] = field(default_factory=list)
    cpu: dict[str, Any] = field(default_factory=dict)


def postmaster() -> int | None:
    """The PostgreSQL server holding the bench database (the parent of its backends), if it
    runs on this machine."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            shown = cmdline.read_bytes()
            if shown.startswith(b"postgres: ") and f" {NAME} ".encode() in shown:
                stat = (cmdline.parent / "stat").read_text()
                return int(stat.rpartition(")")[2].split()[1])
        except OSError:
            continue
    return None


def postgres_cpu(server: int | None) -> float:
    """CPU seconds of the PostgreSQL server so far: the postmaster, its children alive now, and
    (counted by the kernel when they exit) those gone, such as parallel query workers."""
    if server is None:
        return math.nan
    fields = Path(f"/proc/{server}/stat").read_text().rpartition(")")[2].split()
    total = sum(int(v) for v in fields[11:15]) / TICK
    for pid in children(server):
        try:
            total += cpu_seconds(pid)
        except OSError:
            continue
    return total


async def connect(client: httpx.AsyncClient, port: int, pids: list[int]) -> int:
    """Open the client's connection (GET /docs: no database, no token); the worker it is on."""
    async with client.stream("GET", "/docs") as response:
        await response.aread()
        mine = response.extensions["network_stream"].get_extra_info("client_addr")[1]
        for _ in range(5):  # /proc/net/tcp is read a page at a time: it can skip a row
            ends = {i for local, remote, _, i in tcp_sockets() if local == port and remote == mine}
            holders = [pid for pid in pids if socket_inodes(pid) & ends]
            if len(holders) == 1:
                return holders[0]
            await asyncio.sleep(0.05)
    raise SystemExit(f"cannot tell which worker holds the connection from port {mine}")


async def even_pool(
    port: int, clients: int, pids: list[int], make: Callable[[], httpx.AsyncClient]
) -> list[httpx.AsyncClient]:
    """``clients`` connected clients, the same number on every worker (±1): each connects and,
    while its worker has its share, connects again (bounded)."""
    share = math.ceil(clients / len(pids))
    held = dict.fromkeys(pids, 0)
    pool: list[httpx.AsyncClient] = []
    for _ in range(clients * 100):
        if len(pool) == clients:
            return pool
        client = make()
        pid = await connect(client, port, pids)
        if held[pid] < share:
            held[pid] += 1
            pool.append(client)
        else:
            await client.aclose()
    raise SystemExit(f"could not spread {clients} connections over {len(pids)} workers: {held}")


async def client_loop(
    client: httpx.AsyncClient, first: int, deadline: float, run: Run | None
) -> None:
    names = list(ENDPOINTS)
    i = first
    while time.perf_counter() < deadline:
        name = names[i % len(names)]
        i += 1
        started = time.perf_counter()
        try:
            status = (await client.get(ENDPOINTS[name])).status_code
        except httpx.HTTPError:
            status = None
        elapsed = time.perf_counter() - started
        if run is None:
            continue
        if status == 200:
            run.latencies[name].append(elapsed * 1000)
        else:
            run.errors[name] += 1


async def load(
    port: int, token: str, pids: list[int], clients: int, seconds: float, run: Run | None = None
) -> None:
    """``clients`` clients, one keep-alive connection each, for ``seconds``; into ``run``.

    In "burst" mode the clients connect with their first requests, all at once, as wrk or
    hey do; otherwise (and for the warm-up, ``run`` None) the connections are spread evenly.
    """

    def make() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=f"http://{HOST}:{port}",
            headers={"Authorization": f"Bearer {token}"},
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            timeout=120,
        )

    if run is not None and run.mode == "burst":
        pool = [make() for _ in range(clients)]
    else:
        pool = await even_pool(port, clients, pids, make)
    try:
        workers_before = [cpu_seconds(pid) for pid in pids]
        database = postmaster()
        postgres_before = postgres_cpu(database)
        busy_before, total_before = machine_busy()
        self_before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(client_loop(c, i, deadline, run) for i, c in enumerate(pool)))
        if run is None:
            return
        run.seconds = elapsed = time.perf_counter() - started
        # Every connection was busy until a moment ago (uvicorn closes them after 5 idle s).
        run.connections = connections_per_worker(port, pids)
        busy_after, total_after = machine_busy()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        postgres = postgres_cpu(database) - postgres_before
        load_cpu = usage.ru_utime + usage.ru_stime - self_before.ru_utime - self_before.ru_stime
        workers = [
            (cpu_seconds(pid) - before) / elapsed
            for pid, before in zip(pids, workers_before, strict=True)
        ]
        machine = (busy_after - busy_before) / elapsed
        run.cpu = {
            "workers": [round(w, 2) for w in workers],
            "postgres": None if math.isnan(postgres) else round(postgres / elapsed, 2),
            "load_generator": round(load_cpu / elapsed, 2),
            "other": round(
                max(0.0, machine - sum(workers) - (nan_to_0(postgres) + load_cpu) / elapsed), 2
            ),
            "machine_busy": round((busy_after - busy_before) / (total_after - total_before), 2),
        }
    finally:
        for c in pool:
            await c.aclose()


def check(port: int, token: str) -> None:
    """Every endpoint answers the admin with 200 (and the households page is not empty)."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"http://{HOST}:{port}", headers=headers, timeout=120) as client:
        for name, path in ENDPOINTS.items():
            response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
            if name == "households" and not response.json()["items"]:
                raise SystemExit(f"{path}: no households; rebuild with --rebuild")


# --- figures ---


def nan_to_0(value: float) -> float:
    return 0.0 if math.isnan(value) else value


def rounded(value: float) -> float | None:
    """For JSON: None, not NaN, when there is no figure."""
    return None if math.isnan(value) else round(value, 1)


def ms(value: float | None) -> str:
    return f"{'-':>7}" if value is None else f"{value:7.0f}"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0 < q <= 1)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def figures(run: Run) -> dict[str, Any]:
    rows = {}
    for name in [*ENDPOINTS, "all"]:
        values = (
            [v for vs in run.latencies.values() for v in vs]
            if name == "all"
            else run.latencies[name]
        )
        errors = sum(run.errors.values()) if name == "all" else run.errors[name]
        rows[name] = {
            "requests": len(values),
            "errors": errors,
            "req_s": round(len(values) / run.seconds, 1),
            "p50_ms": rounded(percentile(values, 0.50)),
            "p95_ms": rounded(percentile(values, 0.95)),
            "p99_ms": rounded(percentile(values, 0.99)),
        }
    return {
        "workers": run.workers,
        "clients": run.clients,
        "connections": run.mode if run.workers > 1 else "one worker",
        "seconds": round(run.seconds, 1),
        "endpoints": rows,
        "connections_per_worker": run.connections,
        "cpu_cores": run.cpu,
    }


def show(result: dict[str, Any]) -> None:
    cores, many = result["cores"], result["workers"]
    print(
        f"{result['households']:,} households; {cores} cores shared by the server, PostgreSQL, "
        "this load generator (Python: httpx on asyncio, one thread) and anything else running"
    )
    print(
        f"{result['duration_s']:g} s a run after {result['warmup_s']:g} s of warm-up; each client "
        "keeps one connection and sends its next request when the last one has answered,\n"
        "round robin: " + ", ".join(f"{k} = GET {v}" for k, v in ENDPOINTS.items())
    )
    runs = {(r["workers"], r["clients"], r["connections"]): r for r in result["runs"]}
    columns = [(1, "one worker", "1 worker")]
    if many > 1:
        columns += [
            (many, "burst", f"{many} workers, burst"),
            (many, "even", f"{many} workers, even"),
        ]
    cell = 7 + 3 * 8
    print()
    print(f"{'':19}" + "".join(f"   {title:^{cell}}" for _, _, title in columns))
    head = f"{'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
    print(f"{'clients':>7} {'endpoint':11}" + f"   {head}" * len(columns))
    for clients in result["clients"]:
        for name in [*ENDPOINTS, "all"]:
            cells = []
            for workers, mode, _ in columns:
                r = runs[(workers, clients, mode)]["endpoints"][name]
                cells.append(
                    f"{r['req_s']:7.1f} {ms(r['p50_ms'])} {ms(r['p95_ms'])} {ms(r['p99_ms'])}"
                )
            errors = sum(runs[(w, clients, m)]["endpoints"][name]["errors"] for w, m, _ in columns)
            note = f"  ({errors} errors)" if errors else ""
            print(f"{clients:7} {name:11}" + "".join(f"   {c}" for c in cells) + note)
        print()
    print(
        "burst: the clients connect at once, as wrk or hey do; uvicorn's workers share one accept\n"
        "  queue, and a worker that wakes takes every connection waiting in it.\n"
        "even: the clients connect one by one, again while a worker has its share: the split a\n"
        "  balancing front aims for (a proxy; SO_REUSEPORT sockets per worker, spread by hash).\n"
    )
    print("connections per worker, and CPU in cores (1.00 = one core busy) during each run:")
    titles = {(workers, mode): title for workers, mode, title in columns}
    for run in result["runs"]:
        cpu = run["cpu_cores"]
        postgres = "(elsewhere)" if cpu["postgres"] is None else f"{cpu['postgres']:.2f}"
        title = titles[(run["workers"], run["connections"])]
        print(
            f"  {title:18} {run['clients']:2} clients: "
            f"{'/'.join(map(str, run['connections_per_worker'])):5}  workers "
            f"{' + '.join(f'{c:.2f}' for c in cpu['workers'])}, PostgreSQL {postgres}, "
            f"load generator {cpu['load_generator']:.2f}, other {cpu['other']:.2f} "
            f"(machine {cpu['machine_busy'] * 100:.0f} % busy)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds a run (≤ 600)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before the runs")
    parser.add_argument("--clients", type=int, nargs="+", default=[4, 16], help="≤ 64 each")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="N")
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--rebuild", action="store_true", help="regenerate the survey")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if not 0 < args.duration <= 600 or not 0 <= args.warmup <= 120:
        parser.error("--duration: 0-600 s, --warmup: 0-120 s")
    if not all(0 < c <= 64 for c in args.clients) or args.workers < 1:
        parser.error("--clients: 1-64 each; --workers: at least 1")
    url, households, token = prepare(args.households, args.rebuild)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bamrung-bench-serve-") as folder:
        for workers in sorted({1, args.workers}):
            with server(url, workers, Path(folder) / f"serve-{workers}.log") as (port, pids):
                check(port, token)
                if args.warmup:  # every worker answers each endpoint a few times first
                    asyncio.run(load(port, token, pids, max(args.clients), args.warmup))
                for mode in ["burst", "even"] if workers > 1 else ["burst"]:
                    for clients in args.clients:
                        run = Run(workers=workers, clients=clients, mode=mode)
                        asyncio.run(load(port, token, pids, clients, args.duration, run))
                        runs.append(run)
    result = {
        "households": households,
        "cores": os.cpu_count(),
        "workers": args.workers,
        "clients": args.clients,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "load_generator": "python httpx asyncio, same machine",
        "runs": [figures(r) for r in runs],
    }
    if args.json:
        print(json.dumps(result))
        return
    show(result)


if __name__ == "__main__":
    main()
