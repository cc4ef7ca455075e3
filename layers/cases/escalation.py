"""Escalation: overdue cases climb the ladder of the administration, one step per missed period.

A case that waits on its office past a deadline (to acknowledge, then to resolve) is shown one
level higher for each acknowledgement period it stays late: the district centre (ศจพ.อ.), the
province centre (ศจพ.จ.), then the national reviewers. The office stays responsible. Each step
is one event (and one message to the office). The job is idempotent: the level a case should be
at follows from its deadline and the clock, and a case already there is left alone; two workers
at once lock the same rows in turn, and the second finds nothing left to do.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import Engine, insert, select, text, update

from geo.cases.deadlines import LADDER, escalation_level
from layers.cases import events
from layers.cases.events import SYSTEM
from layers.cases.queries import overdue
from layers.store.models import Case, CaseEvent, Office

log = logging.getLogger(__name__)


def escalate(engine: Engine, now: dt.datetime) -> int:
    """Raise every overdue case to the level the clock says; returns the steps taken."""
    today = events.today(now)
    with engine.begin() as conn:
        rows = conn.execute(
            select(
                Case.id,
                Case.state,
                Case.level,
                Case.category,
                Case.acknowledge_by,
                Case.resolve_by,
                Office.agency,
            )
            .join(Office, Office.code == Case.office)
            .where(overdue(today), Case.level < len(LADDER) - 1)
            .order_by(Case.id)
            .with_for_update(of=Case)
        ).all()
        table = events.deadlines(conn)
        steps: list[dict[str, object]] = []
        raised: dict[int, int] = {}
        for row in rows:
            waiting_ack = row.state == "referred" and row.acknowledge_by < today
            due = row.acknowledge_by if waiting_ack else row.resolve_by
            period = events.days_for(table, row.category, row.agency)[0]
            level = escalation_level(due, today, period)
            for step in range(row.level + 1, level + 1):
                steps.append(
                    {
                        "case_id": row.id,
                        "at": now,
                        "action": "escalate",
                        "actor": SYSTEM.name,
                        "role": SYSTEM.role,
                        "from_state": row.state,
                        "to_state": row.state,
                        "note": f"overdue since {due.isoformat()}: shown to {LADDER[step]}",
                        "details": {"level": step, "ladder": LADDER[step], "due": due.isoformat()},
                    }
                )
            if level > row.level:
                raised[row.id] = level
        if not steps:
            return 0
        made = conn.scalars(insert(CaseEvent).returning(CaseEvent.id), steps).all()
        for level in set(raised.values()):
            conn.execute(
                update(Case)
                .where(Case.id.in_([c for c, v in raised.items() if v == level]))
                # Not last_event_at: a platform step is no decision a survey must yield to.
                .values(level=level, version=Case.version + 1)
            )
        conn.execute(text(events.OUTBOX), {"events": list(made)})
    log.info("escalation at %s: %s steps on %s cases", today, len(steps), len(raised))
    return len(steps)
