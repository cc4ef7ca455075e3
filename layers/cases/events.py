"""What every change to a case writes: its history event, the problem's status and the outbox."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select, text, update

from geo import search
from geo.access import Scope
from geo.cases.deadlines import add_working_days
from geo.cases.workflow import State, problem_status
from geo.vocab import Status
from layers.store.models import CaseEvent, Deadline, Problem
from layers.store.settings import Settings


@dataclass(frozen=True)
class Actor:
    """Who changes a case: a user (name, role, scope) or the platform's own jobs."""

    name: str
    role: str
    scope: Scope
    request_id: str | None = None


#: The platform's own jobs (escalation, delivery): every case, the ``system`` role.
SYSTEM = Actor("bamrung", "system", Scope(role="admin"))

# One message per event that concerns an office with a webhook, except what the office did
# itself. The payload is pseudonymous: the worker adds the household's keyed hash.
OUTBOX = """
INSERT INTO case_outbox (key, case_id, event_id, office, payload, next_at)
SELECT 'case-' || k.id || '-event-' || e.id, k.id, e.id, k.office,
    jsonb_build_object(
        'case_id', k.id, 'event', e.action, 'from_state', e.from_state, 'state', k.state,
        'at', e.at, 'office', k.office, 'category', k.category, 'dimension', c.dimension,
        'subdistrict_code', k.subdistrict_code, 'district_code', left(k.subdistrict_code, 4),
        'province_code', left(k.subdistrict_code, 2), 'round', k.round,
        'acknowledge_by', k.acknowledge_by, 'resolve_by', k.resolve_by,
        'expected_on', k.expected_on, 'level', k.level, 'version', k.version),
    now()
FROM case_event e
JOIN problem_case k ON k.id = e.case_id
JOIN office o ON o.code = k.office
JOIN problem_category c ON c.code = k.category
WHERE e.id = ANY(CAST(:events AS bigint[])) AND o.channel = 'webhook'
  AND NOT (e.role = 'agency_officer' AND e.office = k.office) AND e.action <> 'deliver'
ORDER BY e.id
ON CONFLICT (key) DO NOTHING
"""


def clock(settings: Settings) -> dt.datetime:
    """The time cases are handled at: the settable clock (``BAMRUNG_CLOCK``), else now."""
    if settings.clock is None:
        return dt.datetime.now(dt.UTC)
    return settings.clock if settings.clock.tzinfo else settings.clock.replace(tzinfo=dt.UTC)


def today(now: dt.datetime) -> dt.date:
    """The date in Thailand at ``now``: deadlines are Thai working days."""
    return now.astimezone(dt.timezone(dt.timedelta(hours=7))).date()


def deadlines(conn: Connection) -> dict[tuple[str, str], tuple[int, int]]:
    """(category, agency) → (days to acknowledge, days to resolve); '' is any."""
    rows = conn.execute(
        select(Deadline.category, Deadline.agency, Deadline.acknowledge_days, Deadline.resolve_days)
    )
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def days_for(
    table: dict[tuple[str, str], tuple[int, int]], category: str, agency: str
) -> tuple[int, int]:
    """The deadline of a category's case at an agency: the most specific entry wins."""
    for key in ((category, agency), (category, ""), ("", agency), ("", "")):
        if key in table:
            return table[key]
    raise KeyError("the deadlines table has no default entry")


def due_dates(
    table: dict[tuple[str, str], tuple[int, int]], category: str, agency: str, start: dt.date
) -> tuple[dt.date, dt.date]:
    """The dates by which a case routed on ``start`` must be acknowledged and resolved."""
    acknowledge, resolve = days_for(table, category, agency)
    return add_working_days(start, acknowledge), add_working_days(start, resolve)


def record(
    conn: Connection,
    actor: Actor,
    case_id: int,
    action: str,
    from_state: str | None,
    to_state: str,
    now: dt.datetime,
    *,
    note: str | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """Append one event to the case's history.

    Its outbox message is written by :func:`notify` once the case is updated.
    """
    event = conn.scalar(
        insert(CaseEvent)
        .values(
            case_id=case_id,
            at=now,
            action=action,
            actor=actor.name,
            role=actor.role,
            office=actor.scope.office,
            from_state=from_state,
            to_state=to_state,
            note=note,
            details=details or {},
            request_id=actor.request_id,
            search=func.to_tsvector(search.CONFIG, search.words(note)) if note else None,
        )
        .returning(CaseEvent.id)
    )
    assert event is not None
    return int(event)


def notify(conn: Connection, made: list[int]) -> None:
    """The outbox messages of events, from the case as it is now (its new state and office)."""
    conn.execute(text(OUTBOX), {"events": made})


def follow(
    conn: Connection,
    problem: tuple[str, int, str],
    state: State,
    resolution: Status | None,
    now: dt.datetime,
) -> None:
    """Give the case's problem (household, round, category) the status its state means."""
    status = problem_status(state, resolution)
    day = today(now)
    household, round_, category = problem
    conn.execute(
        update(Problem)
        .where(
            Problem.household_id == household,
            Problem.round == round_,
            Problem.category == category,
        )
        .values(
            status=status,
            updated_on=day,
            resolved_on=day if status in ("solved_by_agency", "solved_by_household") else None,
        )
    )
