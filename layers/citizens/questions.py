"""'Is it solved?', asked of a household some weeks after its reported case was resolved.

The worker's daily task asks; the answer, yes or no, is the report's ``confirm``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import procrastinate
from sqlalchemy import Connection, DateTime, Engine, and_, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from geo.access import Scope
from layers.access import scope as scoped
from layers.cases.events import clock, today
from layers.citizens.search import index
from layers.store.db import database_url, make_engine
from layers.store.models import Case, CitizenReport, SolvedQuestion
from layers.store.settings import Settings

log = logging.getLogger(__name__)
QUEUE = "citizens"
TASK = "ask_solved"
#: Imported details are cut into words for search every 10 minutes (what an import added).
INDEX = "index_details"


def ask(conn: Connection, now: dt.datetime, days: int) -> int:
    """Ask every household whose reported case was resolved ``days`` or more ago.

    Once per resolution: a case reopened and resolved again is asked again. Returns how many.
    """
    r, c = CitizenReport, Case
    due = (
        select(c.id, r.id, c.resolved_on, literal(now, DateTime(timezone=True)))
        .join(
            r,
            and_(
                r.household_id == c.household_id,
                r.round == c.round,
                r.category == c.category,
                r.state == "verified",
            ),
        )
        .where(c.state == "resolved", c.resolved_on <= today(now) - dt.timedelta(days=days))
        .distinct(c.id)
        .order_by(c.id, r.id)
    )
    made = conn.execute(
        pg_insert(SolvedQuestion)
        .from_select(["case_id", "report_id", "resolved_on", "asked_at"], due)
        .on_conflict_do_nothing()
        .returning(SolvedQuestion.id)
    ).all()
    return len(made)


def pending(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """The questions waiting for ``scope``'s answer (their case still resolved)."""
    q, c = SolvedQuestion, Case
    rows = conn.execute(
        select(q.report_id, q.case_id, q.resolved_on, c.category)
        .join(c, c.id == q.case_id)
        .join(CitizenReport, CitizenReport.id == q.report_id)
        .where(q.answered_at.is_(None), c.state == "resolved", scoped.reports(scope))
        .order_by(q.asked_at)
    ).mappings()
    return [dict(r) for r in rows]


def answered(conn: Connection, case_id: int, now: dt.datetime) -> None:
    """The household answered for ``case_id``: its questions are closed."""
    conn.execute(
        update(SolvedQuestion)
        .where(SolvedQuestion.case_id == case_id, SolvedQuestion.answered_at.is_(None))
        .values(answered_at=now)
    )


def register(app: procrastinate.App, settings: Settings) -> None:
    """The citizens' tasks: "is it solved?" daily, imported details' words every 10 minutes.

    The daily one runs at 09:00, by the platform's clock ``BAMRUNG_CLOCK`` if set.
    """
    engine: Engine = make_engine(database_url(settings), settings)

    @app.periodic(cron="0 9 * * *", periodic_id="daily-solved")
    @app.task(name=TASK, queue=QUEUE, queueing_lock=TASK)
    def ask_task(timestamp: int | None = None) -> int:
        with engine.begin() as conn:
            n = ask(conn, clock(settings), settings.solved_question_days)
        log.info('asked %d households "is it solved?"', n)
        return n

    @app.periodic(cron="*/10 * * * *", periodic_id="index-details")
    @app.task(name=INDEX, queue=QUEUE, queueing_lock=INDEX)
    def index_task(timestamp: int | None = None) -> int:
        with engine.begin() as conn:
            n = index(conn)
        log.info("cut the words of %d imported problem details", n)
        return n
