"""Changing one case: an action by a user, checked against the transition table and the scope.

Every change locks the case, checks the version the caller read (no lost updates), takes the
transition of ``geo.cases.workflow``, appends its events, gives the problem its status and
writes the outbox, all in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, any_, literal, select, update

from geo.cases.deadlines import working_days_between
from geo.cases.workflow import REJECTION_REASONS, Action, State, next_state
from geo.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    StaleVersionError,
    VersionRequiredError,
)
from geo.vocab import SOLVED
from layers.access.scope import cases as in_scope
from layers.cases import events
from layers.cases.events import Actor
from layers.cases.routing import routes
from layers.store.models import Agency, Case, Office, Problem, ProblemCategory


def act(
    conn: Connection,
    actor: Actor,
    case_id: int,
    action: Action | str,
    *,
    version: int | None,
    now: dt.datetime,
    note: str | None = None,
    resolution: str | None = None,
    expected_on: dt.date | None = None,
    reason: str | None = None,
    office: str | None = None,
    category: str | None = None,
) -> int:
    """Take ``action`` on a case the actor's scope holds; returns the case's new version.

    ``recategorise`` (with ``category``) corrects the problem's category and re-routes an open
    case; ``reject`` (with ``reason`` and optionally a suggested ``office``) hands the case on at
    once: to that office, else to the district team. ``reopen`` hands it back to its office.

    Raises
    ------
    NotFoundError
        If the case does not exist or lies outside the actor's scope.
    VersionRequiredError, StaleVersionError
        If ``version`` is missing, or the case changed since the caller read it.
    ForbiddenError, InvalidInputError
        If the role may not take the action, or the case's state or the input does not allow it.
    """
    case = conn.execute(
        select(Case).where(Case.id == case_id, in_scope(actor.scope)).with_for_update()
    ).one_or_none()
    if case is None:
        raise NotFoundError(f"no case {case_id}")
    if version is None:
        raise VersionRequiredError(
            f"version: the version of case {case_id} the change is made against is needed",
            field="version",
        )
    if case.version != version:
        raise StaleVersionError(
            f"case {case_id} is at version {case.version}, not {version}: it changed since it "
            "was read; read it again",
            current={"id": case.id, "state": case.state, "version": case.version},
        )
    day = events.today(now)
    if action == "recategorise":
        _recategorise(conn, actor, case, category, now, note)
        return int(case.version) + 1
    state = next_state(case.state, action, actor.role)  # type: ignore[arg-type]
    if (
        actor.role == "officer"
        and action in ("acknowledge", "progress", "resolve", "reject")
        and not _district_team(conn, case.office)
    ):
        raise ForbiddenError(
            f"the district team answers for its own cases; case {case_id} is with {case.office}"
        )
    values: dict[str, Any] = {}
    details: dict[str, Any] = {}
    if action in ("reject", "close", "reopen", "comment") and not note:
        raise InvalidInputError(f"note: a reason in words is needed to {action}", field="note")
    if action == "acknowledge":
        if expected_on is None or expected_on < day:
            raise InvalidInputError(
                "expected_on: the date the office expects to resolve it (today or later) is "
                "needed to acknowledge",
                field="expected_on",
            )
        values |= {
            "acknowledged_on": day,
            "expected_on": expected_on,
            "acknowledge_days": working_days_between(case.routed_on, day),
        }
        details["expected_on"] = expected_on.isoformat()
    elif action == "resolve":
        if resolution not in SOLVED:
            raise InvalidInputError(
                f"resolution: one of {', '.join(SOLVED)} is needed", field="resolution"
            )
        values |= {
            "resolution": resolution,
            "resolved_on": day,
            "resolve_days": working_days_between(case.routed_on, day),
        }
        details["resolution"] = resolution
    elif action == "reject":
        if reason not in REJECTION_REASONS:
            raise InvalidInputError(
                f"reason: one of {', '.join(REJECTION_REASONS)} is needed", field="reason"
            )
        details |= {"reason": reason, "suggested_office": office, "office": case.office}
        values["rejections"] = Case.rejections + 1
    elif action in ("reopen", "close"):
        values |= {"resolution": None, "resolved_on": None, "resolve_days": None}
    elif action == "route" and office is None:
        raise InvalidInputError("office: the office to route the case to is needed", field="office")
    made: list[int] = []
    if action != "route":  # a route is recorded below, with where the case went
        made.append(
            events.record(
                conn, actor, case.id, action, case.state, state, now, note=note, details=details
            )
        )
    resolved = values.get("resolution", case.resolution)
    if action in ("reject", "reopen", "route"):
        target: str | None
        if action == "reject":
            target = office or district_team(conn, case.subdistrict_code)
        elif action == "reopen":
            target = case.office
        else:
            target = office
        assert target is not None
        values |= _routing(conn, case.category, target, day, moved=target != case.office)
        words = f"to {target}" + (" (suggested by the office)" if action == "reject" else "")
        made.append(
            events.record(
                conn,
                actor,
                case.id,
                "route",
                state if action != "route" else case.state,
                "referred",
                now,
                note=note if action == "route" and note else words,
                details={"office": target, "from_office": case.office},
            )
        )
        state = "referred"
    conn.execute(
        update(Case)
        .where(Case.id == case.id)
        .values(state=state, version=Case.version + 1, last_event_at=now, **values)
    )
    events.notify(conn, made)
    problem = (case.household_id, case.round, case.category)
    events.follow(
        conn, problem, state, resolved if state in ("resolved", "verified") else None, now
    )
    return int(case.version) + 1


def _routing(
    conn: Connection, category: str, office: str, day: dt.date, *, moved: bool
) -> dict[str, Any]:
    """The values of a case handed to ``office`` today: its new deadlines, back at the bottom."""
    agency = conn.scalar(select(Office.agency).where(Office.code == office))
    if agency is None:
        raise InvalidInputError(f"office: {office!r} is not an office", field="office")
    acknowledge_by, resolve_by = events.due_dates(events.deadlines(conn), category, agency, day)
    return {
        "office": office,
        "acknowledge_by": acknowledge_by,
        "resolve_by": resolve_by,
        "level": 0,
        "routed_on": day,
        "expected_on": None,
        "acknowledged_on": None,
        "acknowledge_days": None,
        "reroutes": Case.reroutes + int(moved),
    }


def _district_team(conn: Connection, office: str) -> bool:
    found = conn.scalar(
        select(Agency.district_team)
        .join(Office, Office.agency == Agency.code)
        .where(Office.code == office)
    )
    return bool(found)


def district_team(conn: Connection, subdistrict: str) -> str:
    """The office of the district team of the district ``subdistrict`` lies in."""
    found = conn.scalar(
        select(Office.code)
        .join(Agency, Agency.code == Office.agency)
        .where(Agency.district_team, Office.level == "district")
        .where(literal(subdistrict[:4]) == any_(Office.areas))
    )
    if found is None:
        raise NotFoundError(f"no district team office covers {subdistrict[:4]}")
    return found


def _recategorise(
    conn: Connection,
    actor: Actor,
    case: Any,
    category: str | None,
    now: dt.datetime,
    note: str | None,
) -> None:
    """Correct the problem's category; an open case goes to the new category's office."""
    if actor.role not in ("officer", "admin"):
        raise ForbiddenError(f"role {actor.role} may not correct a problem's category")
    known = conn.execute(
        select(ProblemCategory.within_mandate).where(ProblemCategory.code == category)
    ).one_or_none()
    if category is None or known is None:
        raise InvalidInputError(f"category: {category!r} is not a category", field="category")
    if category == case.category:
        raise InvalidInputError(f"category: the problem is {category} already", field="category")
    taken = conn.scalar(
        select(Problem.id).where(
            Problem.household_id == case.household_id,
            Problem.round == case.round,
            Problem.category == category,
        )
    )
    if taken is not None:
        raise InvalidInputError(
            f"category: the household has a {category} problem in this round already",
            field="category",
        )
    state: State = case.state
    values: dict[str, Any] = {"escalated": not known[0]}
    closed = state in ("resolved", "verified", "closed_unsolved")
    target = case.office
    if not closed:
        target = routes(conn, category).route(category, case.subdistrict_code)
        values |= _routing(conn, category, target, events.today(now), moved=True)
        state = "referred"
    # The case follows the problem's key (ON UPDATE CASCADE).
    conn.execute(
        update(Problem)
        .where(
            Problem.household_id == case.household_id,
            Problem.round == case.round,
            Problem.category == case.category,
        )
        .values(category=category)
    )
    made = events.record(
        conn,
        actor,
        case.id,
        "recategorise" if closed else "route",
        case.state,
        state,
        now,
        note=note or f"category changed from {case.category} to {category}",
        details={"from_category": case.category, "category": category, "office": target},
    )
    conn.execute(
        update(Case)
        .where(Case.id == case.id)
        .values(state=state, version=Case.version + 1, last_event_at=now, **values)
    )
    events.notify(conn, [made])
    if not closed:
        events.follow(conn, (case.household_id, case.round, category), state, None, now)
