"""A SYNTHETIC year of offices' answers to referred cases, for demonstrations, from a seed.

Most offices acknowledge within their deadline and resolve (the agency, or the household on its
own); some refuse with a suggestion (land without title: the land reform office; the others:
back to the district team); some acknowledge late or never and climb the ladder; the district
team verifies what was resolved. Every answer goes through :func:`layers.cases.actions.act` at
the simulated time, and escalation runs each simulated week, as the worker would.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Engine, select

from geo.access import scope_of
from geo.cases.deadlines import add_working_days, working_days_between
from layers.cases.actions import act
from layers.cases.escalation import escalate
from layers.cases.events import Actor
from layers.store.models import Case, CaseEvent

log = logging.getLogger(__name__)

UTC7 = dt.timezone(dt.timedelta(hours=7))
#: The demonstration's operator: every answer is recorded as theirs, marked simulated.
SIMULATOR = Actor("simulation (synthetic)", "admin", scope_of("admin", None))


@dataclass(order=True)
class _Step:
    at: dt.datetime
    case_id: int = field(compare=False)
    action: str = field(compare=False)
    given: dict[str, object] = field(compare=False, default_factory=dict)


def simulate(
    engine: Engine,
    *,
    start: dt.datetime,
    days: int = 365,
    seed: int = 7,
    area: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> Counter[str]:
    """Answer the referred cases of ``area`` over ``days`` from ``start``; returns action counts."""
    rng = np.random.default_rng(seed)
    with engine.connect() as conn:
        simulated = (
            select(CaseEvent.id)
            .join(Case, Case.id == CaseEvent.case_id)
            .where(CaseEvent.actor == SIMULATOR.name, Case.subdistrict_code.startswith(area))
            .limit(1)
        )
        if conn.scalar(simulated):
            log.info("the offices' answers were simulated already: nothing done")
            return Counter()
        cases = conn.execute(
            select(
                Case.id, Case.category, Case.subdistrict_code, Case.acknowledge_by, Case.resolve_by
            )
            .where(Case.state == "referred", Case.subdistrict_code.startswith(area))
            .order_by(Case.id)
        ).all()
    end = start + dt.timedelta(days=days)
    steps: list[_Step] = []
    for case in cases:
        steps += _plan(rng, case, start)
    steps = [s for s in steps if s.at < end]
    heapq.heapify(steps)
    weeks = [start + dt.timedelta(weeks=n) for n in range(1, days // 7 + 1)]
    done: Counter[str] = Counter()
    total = len(steps)
    while steps or weeks:
        if weeks and (not steps or weeks[0] <= steps[0].at):
            done["escalate"] += escalate(engine, weeks.pop(0))
            continue
        # One transaction per simulated day: what the offices did that day.
        day = steps[0].at.date()
        with engine.begin() as conn:
            while steps and steps[0].at.date() == day and (not weeks or steps[0].at < weeks[0]):
                step = heapq.heappop(steps)
                version = conn.scalar(select(Case.version).where(Case.id == step.case_id))
                act(conn, SIMULATOR, step.case_id, step.action, version=version, now=step.at,
                    **step.given)  # type: ignore[arg-type]  # fmt: skip
                done[step.action] += 1
        if progress is not None:
            progress(total - len(steps), total)
    log.info("simulated %s days of %s cases: %s", days, len(cases), dict(done))
    return done


def _plan(rng: np.random.Generator, case: Any, start: dt.datetime) -> list[_Step]:
    """One case's answers and when each comes, drawn from the seed."""
    day = start.date()

    def at(working_days: int) -> dt.datetime:
        return dt.datetime.combine(add_working_days(day, max(0, working_days)), dt.time(10), UTC7)

    allowed = max(1, working_days_between(day, case.acknowledge_by))
    draw = rng.random()
    if draw < 0.07:  # refused: land goes to the land reform office, the rest to the district team
        given: dict[str, object] = {"reason": "not_our_mandate", "note": "SYNTHETIC refusal"}
        if case.category == "no_land_title":
            given["office"] = f"alro-{case.subdistrict_code[:2]}"
        return [_Step(at(int(rng.integers(1, allowed + 1))), case.id, "reject", given)]
    if draw < 0.15:  # never answered: it climbs the ladder
        return []
    late = draw < 0.27
    acknowledged = int(
        rng.integers(allowed + 1, allowed * 3 + 2) if late else rng.integers(1, allowed + 1)
    )
    to_resolve = max(acknowledged + 1, working_days_between(day, case.resolve_by))
    steps = [
        _Step(at(acknowledged), case.id, "acknowledge", {"expected_on": at(to_resolve).date()})
    ]
    if rng.random() < 0.8:
        resolved = acknowledged + int(rng.integers(1, max(2, int(to_resolve * 1.3))))
        by = "solved_by_agency" if rng.random() < 0.7 else "solved_by_household"
        steps.append(
            _Step(at(resolved), case.id, "resolve", {"resolution": by, "note": "SYNTHETIC"})
        )
        if rng.random() < 0.6:
            steps.append(_Step(at(resolved + int(rng.integers(5, 30))), case.id, "verify"))
    else:
        steps.append(_Step(at(acknowledged + 2), case.id, "progress", {"note": "SYNTHETIC visit"}))
    return steps
