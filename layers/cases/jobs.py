"""The job queue (procrastinate, on the platform's PostgreSQL): escalation and delivery.

``queue(settings)`` builds the queue's app with its tasks; ``bamrung worker`` runs them. The
periodic tasks defer themselves (escalation every hour, delivery every minute); the clock of
escalation is ``BAMRUNG_CLOCK`` when set, so tests and the demonstration can move time forward.
The exports' task joins the same app (``layers.delivery.jobs``).
"""

from __future__ import annotations

import datetime as dt
import logging

import procrastinate

from layers.cases.delivery import Send, deliver
from layers.cases.escalation import escalate
from layers.cases.events import clock
from layers.store.db import database_url, make_engine
from layers.store.queue import queue_app
from layers.store.settings import Settings

log = logging.getLogger(__name__)

QUEUE = "cases"


def queue(settings: Settings, send: Send | None = None) -> procrastinate.App:
    """The job queue of the database in ``settings``, with the tasks of case hand-off.

    ``send`` posts webhook messages (``api.webhooks``); without it, delivery is not run.
    """
    engine = make_engine(database_url(settings), settings)
    app = queue_app(settings)

    @app.periodic(cron="0 * * * *", periodic_id="hourly")
    @app.task(name="escalate", queue=QUEUE, queueing_lock="escalate")
    def escalate_task(timestamp: int | None = None, now: str | None = None) -> int:
        at = dt.datetime.fromisoformat(now) if now else clock(settings)
        return escalate(engine, at)

    @app.periodic(cron="* * * * *", periodic_id="minutely")
    @app.task(name="deliver", queue=QUEUE, queueing_lock="deliver")
    def deliver_task(timestamp: int | None = None) -> int:
        if send is None:
            log.warning("delivery skipped: this worker was started without a sender")
            return 0
        return deliver(engine, settings, send).delivered

    return app
