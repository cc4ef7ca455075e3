"""The job queue's app (procrastinate, on the platform's PostgreSQL), without its tasks.

The capabilities add their tasks (``layers.cases.jobs``, ``layers.delivery.jobs``); the queue
keeps its tables in the ``procrastinate`` schema (migration 0011).
"""

from __future__ import annotations

import procrastinate

from layers.store.db import database_url
from layers.store.settings import Settings

SCHEMA = "procrastinate"


def queue_app(settings: Settings) -> procrastinate.App:
    """A procrastinate app on the database of ``settings`` (opened by its user)."""
    url = database_url(settings).replace("+psycopg", "", 1)
    return procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=url, kwargs={"options": f"-c search_path={SCHEMA}"}
        )
    )
