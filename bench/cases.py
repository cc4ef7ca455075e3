"""Case hand-off speed on the national bench survey, beside plain SQL, in one run.

Works on a copy (``bamrung_bench_cases``, made once from ``bench/analysis.py``'s database of
20 million households) so that the analysis bench keeps its statuses. Times:

- referral of every unresolved problem of the country (Bamrung's batched referral with its
  history, problem statuses and outbox) beside a plain ``INSERT … SELECT`` of the same cases,
  routed the same way (rows/s, and the ratio);
- one state change over HTTP (with its history, outbox and roll-up update): p50/p95 one client
  at a time, then 50 concurrent clients (req/s, errors);
- an agency officer's queue (the first 100, overdue first) of a provincial office, and a
  reviewer's national figures of escalated cases by province, over HTTP (p50/p95);
- the escalation job with 1 % of the cases overdue, and run again (nothing left to do).

    python bench/cases.py [--json] [--changes 200] [--clients 50]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import Engine, text

from geo.access import scope_of
from layers.access.users import add_user, issue_token
from layers.cases import setup
from layers.cases.actions import act
from layers.cases.escalation import escalate
from layers.cases.events import Actor
from layers.cases.referral import ROUTED, refer
from layers.store.cluster import ensure_database
from layers.store.db import database_url, make_engine
from layers.store.settings import PROJECT_ROOT, Settings

SOURCE = "bamrung_bench_analysis"
NAME = "bamrung_bench_cases"
NOW = dt.datetime(2027, 1, 11, 2, 0, tzinfo=dt.UTC)
ADMIN = Actor("bench", "admin", scope_of("admin", None))
PLAIN = f"""
INSERT INTO bench_plain_case (household_id, round, category, subdistrict_code, office, state,
    escalated, opened_on, routed_on, last_event_at)
SELECT household_id, round, category, subdistrict_code, office, 'referred', escalated,
    CAST(:today AS date), CAST(:today AS date), now()
FROM ({ROUTED}) AS routed
"""  # noqa: S608 - constants of this file and of layers.cases.referral
PICK_ALL = """
CREATE TEMP TABLE refer_pick ON COMMIT DROP AS
SELECT p.household_id, p.round, p.category, p.subdistrict_code, NOT c.within_mandate AS escalated
FROM problem p JOIN problem_category c ON c.code = p.category
WHERE p.status IN ('open', 'referred', 'in_progress')
"""


class Results(dict[str, Any]):
    """The figures, each printed (to stderr) as soon as it is measured."""

    def __setitem__(self, key: str, value: Any) -> None:
        print(f"{key}: {value}", file=sys.stderr, flush=True)
        super().__setitem__(key, value)


def copy_database(settings: Settings) -> str:
    """The bench's own database, copied from the analysis bench's (made by bench/analysis.py)."""
    url = database_url(settings)
    admin = make_engine(url, settings).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        names = set(conn.scalars(text("SELECT datname FROM pg_database")))
        if SOURCE not in names:
            sys.exit(f"no {SOURCE}: run `python bench/analysis.py` first")
        if NAME not in names:
            print(f"copying {SOURCE} to {NAME} (once)…", file=sys.stderr)
            conn.execute(text(f'CREATE DATABASE "{NAME}" TEMPLATE "{SOURCE}"'))
    admin.dispose()
    return ensure_database(url, NAME)


def timings(call: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def p(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(url: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "BAMRUNG_CLOCK": NOW.isoformat()}
    server = subprocess.Popen(
        # One worker: with two on these two cores every write answered 40 ms later (see
        # docs/benchmarks.md); the latency of one request is what is measured here.
        [str(PROJECT_ROOT / ".venv" / "bin" / "bamrung"), "serve", "--port", str(port),
         "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(20)


def http(base: str, token: str, timeout: float = 60) -> httpx.Client:
    """A client that sends each request at once: without TCP_NODELAY a POST's body waits for
    the ACK of its headers (Nagle against delayed ACK, 40 ms), which is the client's delay,
    not the server's."""
    transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    return httpx.Client(
        base_url=base,
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
        transport=transport,
    )


def token(engine: Engine, role: str, **given: Any) -> str:
    name = f"bench-{role}-{time.time_ns()}"
    with engine.begin() as conn:
        add_user(conn, name, role, **given)
        return issue_token(conn, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200, help="state changes timed one by one")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the cases of the last run: skip the referral"
    )
    args = parser.parse_args()
    settings = Settings()
    url = copy_database(settings)
    engine = make_engine(url, Settings(database_url=url, statement_timeout_ms=0))
    setup.upgrade_and_sync(engine, settings.taxonomy_file, settings.agencies_file)
    result = Results()
    with engine.connect() as conn:
        kept = args.reuse and bool(conn.scalar(text("SELECT count(*) FROM problem_case")))
    if not kept:
        referral_figures(engine, result)
    run_http(engine, url, args, result)
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key}: {value}")


def referral_figures(engine: Engine, result: Results) -> None:
    """Every unresolved problem of the country referred, beside a plain INSERT … SELECT."""
    with engine.begin() as conn:
        # A fresh start each run: no case, the statuses as the survey built them.
        conn.execute(text("SET LOCAL statement_timeout = 0"))
        conn.execute(text("DELETE FROM case_outbox"))
        conn.execute(text("DELETE FROM problem_case"))
        conn.execute(
            text("CREATE TABLE IF NOT EXISTS bench_status AS SELECT id, status FROM problem")
        )
        conn.execute(
            text(
                "UPDATE problem p SET status = b.status FROM bench_status b "
                "WHERE p.id = b.id AND p.status <> b.status"
            )
        )
        conn.execute(text("DROP TABLE IF EXISTS bench_plain_case"))
        conn.execute(
            text(
                "CREATE TABLE bench_plain_case (LIKE problem_case INCLUDING DEFAULTS "
                "INCLUDING IDENTITY INCLUDING INDEXES)"
            )
        )
    # Plain SQL: the same cases, routed the same way, one statement, nothing else.
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL statement_timeout = 0"))
        start = time.perf_counter()
        conn.execute(text(PICK_ALL))
        plain = conn.execute(text(PLAIN), {"today": NOW.date()}).rowcount
        plain_s = time.perf_counter() - start
    start = time.perf_counter()
    done = refer(engine, ADMIN, areas=[""], now=NOW)
    ours_s = time.perf_counter() - start
    assert done.cases == plain, (done.cases, plain)
    result["referral"] = {
        "cases": done.cases,
        "batches": done.batches,
        "bamrung_s": round(ours_s, 2),
        "bamrung_rows_per_s": round(done.cases / ours_s),
        "plain_insert_select_s": round(plain_s, 2),
        "plain_rows_per_s": round(plain / plain_s),
        "ratio": round(ours_s / plain_s, 2),
    }


def run_http(engine: Engine, url: str, args: argparse.Namespace, result: Results) -> None:
    """State changes, a queue and figures over HTTP, then the escalation job."""
    with engine.connect() as conn:
        ids = conn.scalars(
            text("SELECT id FROM problem_case WHERE state = 'referred' ORDER BY id LIMIT :n"),
            {"n": args.changes + args.clients * 20},
        ).all()
        office, province = conn.execute(
            text(
                "SELECT office, left(min(subdistrict_code), 2) FROM problem_case "
                "WHERE office LIKE 'dol-%' GROUP BY office ORDER BY count(*) DESC LIMIT 1"
            )
        ).one()
    with engine.begin() as conn:
        for case_id in ids:
            version = conn.scalar(text("SELECT version FROM problem_case WHERE id = :i"),
                                  {"i": case_id})  # fmt: skip
            act(conn, ADMIN, case_id, "acknowledge", version=version, now=NOW,
                expected_on=NOW.date() + dt.timedelta(days=60))  # fmt: skip
    admin = token(engine, "admin")
    officer = token(engine, "agency_officer", office=office, area=province)
    reviewer = token(engine, "reviewer")
    with served(url) as base:
        with http(base, admin) as client:
            one: list[float] = []
            for case_id in ids[: args.changes]:
                read = client.get(f"/cases/{case_id}")
                assert read.status_code == 200, read.text
                etag = read.headers["etag"]
                start = time.perf_counter()
                answer = client.post(
                    f"/cases/{case_id}/progress", json={"note": "bench"}, headers={"If-Match": etag}
                )
                one.append(time.perf_counter() - start)
                assert answer.status_code == 200, answer.text
        result["state_change_http_ms"] = {
            "p50": round(1000 * statistics.median(one), 1), "p95": round(1000 * p(one, 95), 1),
        }  # fmt: skip
        answers: list[int] = []
        lock = threading.Lock()
        rest = ids[args.changes :]

        def client_loop(n: int) -> None:
            mine = rest[n :: args.clients]
            with http(base, admin) as c:
                for case_id in mine:
                    etag = c.get(f"/cases/{case_id}").headers["etag"]
                    code = c.post(
                        f"/cases/{case_id}/progress", json={"note": "bench"},
                        headers={"If-Match": etag},
                    ).status_code  # fmt: skip
                    with lock:
                        answers.append(code)

        threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(args.clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.perf_counter() - start
        result["concurrent_changes"] = {
            "clients": args.clients,
            "changes": len(answers),
            "changes_per_s": round(len(answers) / took, 1),
            "requests_per_s": round(2 * len(answers) / took, 1),
            "errors": sum(code != 200 for code in answers),
        }
        for name, who, path, params in (
            ("agency_queue_ms", officer, "/cases", {"limit": 100}),
            ("reviewer_escalated_by_province_ms", reviewer, "/cases/kpis",
             {"by": "area", "level": "province", "escalated": "true"}),
        ):  # fmt: skip
            with http(base, who, 120) as c:
                first = c.get(path, params=params)
                assert first.status_code == 200, (path, first.status_code, first.text[:300])
                times = timings(
                    lambda c=c, path=path, params=params: c.get(path, params=params), 30
                )
            result[name] = {
                "p50": round(1000 * statistics.median(times), 1),
                "p95": round(1000 * p(times, 95), 1),
            }
    result["agency_queue_ms"]["office"] = office
    with engine.begin() as conn:
        conn.execute(text("UPDATE problem_case SET level = 0 WHERE level > 0"))
        late = conn.execute(
            text(
                "UPDATE problem_case SET acknowledge_by = :due WHERE state = 'referred' "
                "AND id % 100 = 0"
            ),
            {"due": NOW.date() - dt.timedelta(days=20)},
        ).rowcount
        total = conn.scalar(text("SELECT count(*) FROM problem_case"))
    start = time.perf_counter()
    steps = escalate(engine, NOW)
    first = time.perf_counter() - start
    start = time.perf_counter()
    again = escalate(engine, NOW)
    second = time.perf_counter() - start
    result["escalation"] = {
        "cases": total,
        "overdue": late,
        "steps": steps,
        "first_run_s": round(first, 2),
        "second_run_s": round(second, 2),
        "second_run_steps": again,
    }


if __name__ == "__main__":
    main()
