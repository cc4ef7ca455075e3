"""The worker's jobs on the real queue: escalation (twice at once) and webhook delivery to a real
local receiver that fails, with retries, dead letters and replay."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, text

from api.webhooks import Poster
from geo.access import scope_of
from geo.cases.deadlines import add_working_days, escalation_level
from geo.cases.webhook import verify
from layers.cases.actions import act
from layers.cases.delivery import dead_letters, deliver, replay
from layers.cases.escalation import escalate
from layers.cases.events import Actor
from layers.cases.jobs import QUEUE, queue
from layers.cases.referral import refer
from layers.store.settings import Settings

NOW = dt.datetime(2027, 1, 11, 9, 0, tzinfo=dt.UTC)
ADMIN = Actor("admin", "admin", scope_of("admin", None))
SECRET = "a shared secret of the land office"
POST = Poster(5).send


class Receiver:
    """An office's webhook: answers 503 to the first ``failures`` posts, then 200."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                failing = len(receiver.received) <= receiver.failures
                self.send_response(503 if failing else 200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/bamrung"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver(cases_engine: Engine) -> Iterator[Receiver]:
    found = Receiver(failures=2)
    with cases_engine.begin() as conn:
        conn.execute(
            text("UPDATE office SET channel = 'webhook', webhook_url = :u WHERE code = 'dol-34'"),
            {"u": found.url},
        )
    yield found
    found.server.shutdown()
    with cases_engine.begin() as conn:
        conn.execute(
            text("UPDATE office SET channel = 'none', webhook_url = NULL WHERE code = 'dol-34'")
        )


def settings_of(engine: Engine, **given: Any) -> Settings:
    return Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        webhook_secrets={"dol-34": SecretStr(SECRET)},
        webhook_backoff_s=0.01,
        **given,
    )


def test_webhooks_are_signed_retried_parked_and_replayed(
    cases_engine: Engine, receiver: Receiver
) -> None:
    refer(cases_engine, ADMIN, areas=["3401"], categories=["no_land_title"], now=NOW)
    with cases_engine.connect() as conn:
        cases = conn.execute(
            text("SELECT id, household_id FROM problem_case WHERE office = 'dol-34'")
        ).all()
        messages = conn.scalar(text("SELECT count(*) FROM case_outbox"))
    assert cases and messages == len(cases)
    settings = settings_of(cases_engine, webhook_attempts=2)
    # The first message fails twice: with two attempts allowed it is parked.
    first = deliver(cases_engine, settings, POST, limit=1)
    import time

    time.sleep(0.05)
    second = deliver(cases_engine, settings, POST, limit=1)
    assert (first.failed, second.dead) == (1, 1)
    with cases_engine.connect() as conn:
        parked = dead_letters(conn)
    assert [p["attempts"] for p in parked] == [2] and parked[0]["last_error"] == "HTTP 503"
    rest = deliver(cases_engine, settings, POST, limit=100)
    assert rest.delivered == len(cases) - 1
    with cases_engine.begin() as conn:
        assert replay(conn) == 1
    assert deliver(cases_engine, settings, POST).delivered == 1
    ok = [(h, b) for h, b in receiver.received[2:]]
    assert len(ok) == len(cases)
    keys = set()
    for headers, body in ok:
        signed = headers["X-Bamrung-Signature"]
        assert verify(SECRET.encode(), body, signed, time.time())
        assert not verify(b"another secret", body, signed, time.time())
        assert not verify(SECRET.encode(), body, signed, time.time() + 3600)  # replayed later
        sent = json.loads(body)
        assert sent["key"] == headers["Idempotency-Key"]
        keys.add(sent["key"])
        assert sent["office"] == "dol-34" and sent["state"] == "referred"
        assert {"household_ref", "acknowledge_by", "category", "subdistrict_code"} <= set(sent)
        # Pseudonymous: no household id, name, ID number or house number.
        assert not {"household_id", "house_no", "head_name", "head_national_id"} & set(sent)
        assert all(c[1] not in body.decode() for c in cases)
    assert len(keys) == len(cases)
    # The replayed message went with the same key as its failed attempts.
    assert receiver.received[0][0]["Idempotency-Key"] in keys
    with cases_engine.connect() as conn:
        delivered = conn.scalar(
            text(
                "SELECT count(*) FROM case_event WHERE action = 'deliver' AND case_id = ANY(:ids)"
            ),
            {"ids": [c[0] for c in cases]},
        )
    assert delivered == len(cases)


def test_an_overdue_case_climbs_one_step_per_missed_period_and_never_twice(
    cases_engine: Engine,
) -> None:
    refer(cases_engine, ADMIN, areas=["3401"], now=NOW)
    with cases_engine.connect() as conn:
        cases = conn.execute(
            text(
                "SELECT k.id, k.acknowledge_by, d.acknowledge_days FROM problem_case k "
                "JOIN case_deadline d ON d.category IN (k.category, '') AND d.agency = '' "
                "ORDER BY k.id, d.category DESC"
            )
        ).all()
    periods = {}
    for case_id, due, days in cases:
        periods.setdefault(case_id, (due, days))
    later = NOW + dt.timedelta(days=40)
    # Two escalations at once, as two workers would run them.
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(escalate(cases_engine, later)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = {c: escalation_level(due, later.date(), days) for c, (due, days) in periods.items()}
    assert sum(results) == sum(expected.values()) > 0
    with cases_engine.connect() as conn:
        levels = dict(conn.execute(text("SELECT id, level FROM problem_case")).all())
        steps = conn.execute(
            text(
                "SELECT case_id, array_agg((details->>'level')::int ORDER BY id) FROM case_event "
                "WHERE action = 'escalate' AND case_id = ANY(:ids) GROUP BY case_id"
            ),
            {"ids": list(periods)},
        ).all()
    assert levels == expected
    assert {c: s for c, s in steps} == {c: list(range(1, n + 1)) for c, n in expected.items() if n}
    # Again, later the same day: nothing new.
    assert escalate(cases_engine, later) == 0


def test_an_acknowledged_case_is_not_late_until_its_resolution_deadline(
    cases_engine: Engine,
) -> None:
    refer(cases_engine, ADMIN, areas=["3401"], categories=["no_land_title"], now=NOW)
    with cases_engine.begin() as conn:
        case_id, resolve_by = conn.execute(
            text("SELECT id, resolve_by FROM problem_case ORDER BY id LIMIT 1")
        ).one()
        act(conn, ADMIN, case_id, "acknowledge", version=1, now=NOW, expected_on=NOW.date())

    def level() -> int:
        with cases_engine.connect() as conn:
            return int(
                conn.scalar(text("SELECT level FROM problem_case WHERE id = :i"), {"i": case_id})
            )

    escalate(cases_engine, NOW + dt.timedelta(days=60))
    assert level() == 0
    escalate(cases_engine, dt.datetime.combine(resolve_by, dt.time(9), dt.UTC))
    assert level() == 0
    escalate(cases_engine, dt.datetime.combine(add_working_days(resolve_by, 1), dt.time(9), dt.UTC))
    assert level() == 1


def test_the_worker_runs_escalation_from_the_real_queue_with_two_workers(
    cases_engine: Engine,
) -> None:
    refer(cases_engine, ADMIN, areas=["3401"], now=NOW)
    later = (NOW + dt.timedelta(days=30)).isoformat()
    settings = settings_of(cases_engine)
    apps = [queue(settings) for _ in range(2)]
    with apps[0].open():
        for n in range(3):  # three jobs at once: each with a lock of its own
            apps[0].tasks["escalate"].configure(queueing_lock=f"test-{n}").defer(now=later)
    workers = [
        threading.Thread(
            target=lambda a=a: a.run_worker(
                queues=[QUEUE], wait=False, install_signal_handlers=False
            )
        )
        for a in apps
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    with cases_engine.connect() as conn:
        done = conn.execute(
            text(
                "SELECT status, count(*) FROM procrastinate.procrastinate_jobs "
                "WHERE task_name = 'escalate' AND args->>'now' = :now GROUP BY 1"
            ),
            {"now": later},
        ).all()
        twice = conn.scalar(
            text(
                "SELECT count(*) FROM (SELECT case_id, details->>'level' FROM case_event "
                "WHERE action = 'escalate' AND at = :at GROUP BY 1, 2 HAVING count(*) > 1) s"
            ),
            {"at": dt.datetime.fromisoformat(later)},
        )
        escalated = conn.scalar(text("SELECT count(*) FROM problem_case WHERE level > 0"))
    assert dict(done) == {"succeeded": 3}
    assert twice == 0 and escalated > 0


def test_a_case_handed_on_is_announced_to_its_new_office_and_a_bad_url_is_a_failure(
    cases_engine: Engine, receiver: Receiver
) -> None:
    refer(cases_engine, ADMIN, areas=["3401"], categories=["no_land_title"], now=NOW)
    with cases_engine.begin() as conn:
        conn.execute(text("DELETE FROM case_outbox"))
        conn.execute(
            text("UPDATE office SET channel = 'webhook', webhook_url = :u WHERE code = 'alro-34'"),
            {"u": receiver.url},
        )
        case_id = conn.scalar(text("SELECT min(id) FROM problem_case"))
        agency = Actor("lands", "agency_officer",
                       scope_of("agency_officer", "34", categories=["no_land_title"],
                                office="dol-34"))  # fmt: skip
        act(conn, agency, case_id, "reject", version=1, now=NOW, reason="not_our_mandate",
            note="reform land", office="alro-34")  # fmt: skip
        sent = conn.execute(
            text("SELECT office, payload FROM case_outbox WHERE case_id = :i ORDER BY id"),
            {"i": case_id},
        ).all()
    try:
        # Both steps go to the office the case is with now (ALRO: why, and that it is
        # theirs), as the case stands after the change.
        assert [(o, p["event"], p["state"], p["office"]) for o, p in sent] == [
            ("alro-34", "reject", "referred", "alro-34"),
            ("alro-34", "route", "referred", "alro-34"),
        ]
        with cases_engine.begin() as conn:
            conn.execute(
                text("UPDATE office SET webhook_url = 'https://[::1/x' WHERE code = 'alro-34'")
            )
        settings = settings_of(cases_engine, webhook_attempts=1)
        settings.webhook_secrets["alro-34"] = SecretStr("x")
        done = deliver(cases_engine, settings, POST)
        assert done.dead == 2  # both messages, each a failed attempt: no crash, no block
        with cases_engine.connect() as conn:
            assert "InvalidURL" in dead_letters(conn)[0]["last_error"]
    finally:
        with cases_engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE office SET channel = 'none', webhook_url = NULL WHERE code = 'alro-34'"
                )
            )
