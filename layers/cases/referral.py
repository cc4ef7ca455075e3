"""Referral in bulk: every open problem that matches, inside the caller's scope, to its office.

Open: not solved and not closed (``geo.vocab.UNRESOLVED``), with no case yet. A problem a survey
says was referred or in progress elsewhere gets its case too, so that it is followed here.

The work is cut into batches of one district each, one transaction a batch: a referral that
stops half-way leaves whole districts referred, and running it again refers only what is left
(a problem has one case; what has a case is skipped).
Routing is done in SQL with the rules of ``route``: the rule of the longest area prefix wins,
as in ``geo.cases.routing``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Table,
    Text,
    and_,
    exists,
    func,
    insert,
    select,
    text,
)

from geo.errors import ForbiddenError, InvalidInputError, NotFoundError
from geo.vocab import UNRESOLVED
from layers.access.scope import problems as problems_in_scope
from layers.cases import events
from layers.cases.events import Actor
from layers.store.codes import within
from layers.store.models import (
    AdminUnit,
    Agency,
    Case,
    Office,
    Problem,
    ProblemCategory,
    Route,
    TargetRun,
    TargetScore,
)
from layers.store.partitions import latest_round

log = logging.getLogger(__name__)

PICK = """
CREATE TEMP TABLE refer_pick (
    household_id text COLLATE "C", round int, category text,
    subdistrict_code text COLLATE "C", escalated boolean
) ON COMMIT DROP
"""
#: The batch's problems, as the temporary table ``PICK`` creates it.
REFER_PICK = Table(
    "refer_pick",
    MetaData(),
    Column("household_id", Text),
    Column("round", Integer),
    Column("category", Text),
    Column("subdistrict_code", Text),
    Column("escalated", Boolean),
)
ROUTED = """
SELECT p.*, r.office, o.agency
FROM refer_pick p
CROSS JOIN LATERAL (
    SELECT r.office FROM route r
    WHERE r.category = p.category
      AND r.area IN ('', left(p.subdistrict_code, 2), left(p.subdistrict_code, 4),
                     p.subdistrict_code)
    ORDER BY length(r.area) DESC, r.office
    LIMIT 1
) r
JOIN office o ON o.code = r.office
"""
# Composed of this module's constants only.
COUNT = f"SELECT office, count(*) FROM ({ROUTED}) AS routed GROUP BY office"  # noqa: S608
CREATE = f"""
WITH dues AS MATERIALIZED (
    SELECT * FROM unnest(CAST(:categories AS text[]), CAST(:agencies AS text[]),
                         CAST(:acknowledge AS date[]), CAST(:resolve AS date[]))
        AS d(category, agency, acknowledge_by, resolve_by)
),
made AS (
    INSERT INTO problem_case (household_id, round, category, subdistrict_code, office, state,
        escalated, opened_on, routed_on, acknowledge_by, resolve_by, last_event_at)
    SELECT r.household_id, r.round, r.category, r.subdistrict_code, r.office, 'referred',
        r.escalated, :today, :today, d.acknowledge_by, d.resolve_by, :now
    FROM ({ROUTED}) AS r JOIN dues d USING (category, agency)
    ON CONFLICT (household_id, round, category) DO NOTHING
    RETURNING id, household_id, round, category, office
),
history AS (
    INSERT INTO case_event (case_id, at, action, actor, role, office, from_state, to_state,
        note, details, request_id)
    SELECT id, :now, 'route', :actor, :role, :actor_office, 'new', 'referred', :note,
        jsonb_build_object('office', office), :request_id
    FROM made
    RETURNING id
),
followed AS (
    UPDATE problem q SET status = 'referred', updated_on = :today
    FROM made m
    WHERE q.household_id = m.household_id AND q.round = m.round AND q.category = m.category
      AND q.status <> 'referred'  -- unchanged statuses would only wake the roll-up triggers
)
SELECT coalesce(array_agg(id), '{{}}') FROM history
"""  # noqa: S608


@dataclass
class Referral:
    """What a referral did (or, dry, would do): cases per office, and problems left unrouted."""

    round: int
    offices: Counter[str] = field(default_factory=Counter)
    unrouted: int = 0
    batches: int = 0
    dry_run: bool = False

    @property
    def cases(self) -> int:
        """Cases created (or that would be)."""
        return sum(self.offices.values())


def refer(
    engine: Engine,
    actor: Actor,
    *,
    areas: Sequence[str],
    now: dt.datetime,
    categories: Sequence[str] | None = None,
    dimension: str | None = None,
    household: str | None = None,
    round_: int | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Referral:
    """Refer the unresolved problems of ``areas`` (and the filters) that have no case yet.

    Parameters
    ----------
    engine
        The database; each batch commits on its own.
    actor
        Who refers: only problems inside its scope are referred.
    areas
        Area codes ('' the whole country), each inside the actor's scope.
    progress
        Called with (batches done, batches) after each batch.

    Raises
    ------
    ForbiddenError
        If the actor's role may not route cases.
    NotFoundError
        If an area is outside the scope, or no survey was imported.
    """
    if actor.role not in ("officer", "governor", "admin", "system"):
        raise ForbiddenError(f"role {actor.role} may not refer cases")
    for area in areas:
        # As everywhere, an area outside the scope answers as if it did not exist.
        if not actor.scope.covers_area(area):
            raise NotFoundError(f"no area with code {area!r}")
    with engine.connect() as conn:
        round_ = round_ if round_ is not None else latest_round(conn)
        known = set(conn.scalars(select(ProblemCategory.code)))
        unknown = sorted(set(categories or ()) - known)
        if unknown:
            raise InvalidInputError(
                f"category: not in the taxonomy: {', '.join(unknown)}", field="category"
            )
        batches = sorted({b for area in areas for b in _batches(conn, area)})
        dues = _dues(conn, events.today(now))
    result = Referral(round=round_, dry_run=dry_run)
    for done, prefix in enumerate(batches, start=1):
        with engine.begin() as conn:
            picked = _pick(conn, actor, prefix, round_, categories, dimension, household)
            counts = {office: n for office, n in conn.execute(text(COUNT))}
            result.unrouted += picked - sum(counts.values())
            if dry_run:
                result.offices.update(counts)
                conn.rollback()
            elif counts:
                made = conn.scalar(
                    text(CREATE),
                    {
                        **dues,
                        "today": events.today(now),
                        "now": now,
                        "actor": actor.name,
                        "role": actor.role,
                        "actor_office": actor.scope.office,
                        "note": "referred in bulk",
                        "request_id": actor.request_id,
                    },
                )
                conn.execute(text(events.OUTBOX), {"events": made})
                result.offices.update(counts)
        result.batches = done
        if progress is not None:
            progress(done, len(batches))
    log.info(
        "referral of round %s: %s cases in %s batches (%s unrouted)%s",
        round_,
        result.cases,
        result.batches,
        result.unrouted,
        " (dry run)" if dry_run else "",
    )
    return result


def top_areas(conn: Connection, run_id: int, top: int) -> list[str]:
    """The ``top`` areas of a stored targeting run, best first: to refer them in one call.

    Raises
    ------
    NotFoundError
        If there is no such run.
    """
    if conn.scalar(select(TargetRun.id).where(TargetRun.id == run_id)) is None:
        raise NotFoundError(f"no targeting run {run_id}")
    return list(
        conn.scalars(
            select(TargetScore.code)
            .where(TargetScore.run_id == run_id)
            .order_by(TargetScore.rank)
            .limit(top)
        )
    )


def _batches(conn: Connection, area: str) -> list[str]:
    """The districts of ``area`` (a subdistrict is its own batch), else the area itself.

    Districts, not provinces: the roll-up triggers cost more than linearly in a statement's
    rows (a national referral took 115 s by district, 211 s by province).
    """
    if len(area) == 6:
        return [area]
    districts = conn.scalars(
        select(AdminUnit.code).where(
            AdminUnit.level == "district", AdminUnit.code.startswith(area, autoescape=True)
        )
    ).all()
    return list(districts) or [area]


def _pick(
    conn: Connection,
    actor: Actor,
    prefix: str,
    round_: int,
    categories: Sequence[str] | None,
    dimension: str | None,
    household: str | None,
) -> int:
    """Put the batch's open problems without a case into ``refer_pick``; returns how many."""
    conn.execute(text(PICK))
    conditions = [
        Problem.round == round_,
        Problem.status.in_(UNRESOLVED),
        within(Problem.subdistrict_code, prefix),
        problems_in_scope(actor.scope),
        ~exists().where(
            Case.household_id == Problem.household_id,
            Case.round == Problem.round,
            Case.category == Problem.category,
        ),
    ]
    if categories:
        conditions.append(Problem.category.in_(list(categories)))
    if dimension is not None:
        conditions.append(ProblemCategory.dimension == dimension)
    if household is not None:
        conditions.append(Problem.household_id == household)
    chosen = (
        select(
            Problem.household_id,
            Problem.round,
            Problem.category,
            Problem.subdistrict_code,
            ~ProblemCategory.within_mandate,
        )
        .join(ProblemCategory, ProblemCategory.code == Problem.category)
        .where(and_(*conditions))
    )
    conn.execute(
        insert(REFER_PICK).from_select(
            ["household_id", "round", "category", "subdistrict_code", "escalated"], chosen
        )
    )
    return int(conn.scalar(text("SELECT count(*) FROM refer_pick")) or 0)


def _dues(conn: Connection, today: dt.date) -> dict[str, list[object]]:
    """The deadlines of a case routed today, for every category × agency, as SQL arrays."""
    table = events.deadlines(conn)
    pairs = [
        (category, agency)
        for category in conn.scalars(select(ProblemCategory.code))
        for agency in conn.scalars(select(Agency.code))
    ]
    rows = [(c, a, *events.due_dates(table, c, a, today)) for c, a in pairs]
    return {
        "categories": [r[0] for r in rows],
        "agencies": [r[1] for r in rows],
        "acknowledge": [r[2] for r in rows],
        "resolve": [r[3] for r in rows],
    }


def route_issue(
    conn: Connection,
    actor: Actor,
    *,
    issue_id: int,
    category: str,
    subdistrict: str,
    round_: int,
    now: dt.datetime,
) -> int | None:
    """Open and route the case of a community's issue; None when no route serves it.

    The rules are a household's problem's: the route of the longest area prefix wins. A
    community issue has no household: its case carries ``issue_id`` instead.
    """
    office = conn.execute(
        select(Route.office, Office.agency)
        .join(Office, Office.code == Route.office)
        .where(
            Route.category == category,
            Route.area.in_(["", subdistrict[:2], subdistrict[:4], subdistrict]),
        )
        .order_by(func.length(Route.area).desc(), Route.office)
        .limit(1)
    ).one_or_none()
    if office is None:
        log.warning("community issue %s: no route for %s in %s", issue_id, category, subdistrict)
        return None
    day = events.today(now)
    acknowledge_by, resolve_by = events.due_dates(
        events.deadlines(conn), category, office.agency, day
    )
    escalated = conn.scalar(
        select(ProblemCategory.within_mandate.is_(False)).where(ProblemCategory.code == category)
    )
    case_id = conn.scalar(
        insert(Case)
        .values(
            issue_id=issue_id, round=round_, category=category, subdistrict_code=subdistrict,
            office=office.office, state="referred", escalated=bool(escalated), opened_on=day,
            routed_on=day, acknowledge_by=acknowledge_by, resolve_by=resolve_by,
            last_event_at=now,
        )
        .returning(Case.id)
    )  # fmt: skip
    assert case_id is not None
    made = events.record(
        conn, actor, case_id, "route", "new", "referred", now,
        note=f"community issue {issue_id}", details={"office": office.office},
    )  # fmt: skip
    events.notify(conn, [made])
    return int(case_id)
