"""Problems citizens report: checked, placed, queued for the district team, then made problems.

A report is not a problem: it counts in no figure until the district team verifies it. Then it
becomes its household's problem of that category (or joins the one recorded already) and is
routed to the office that holds the authority, as every problem is. The citizen follows it to
the case's end and says whether it is solved: "no" reopens the case, "yes" verifies it.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from geo import search
from geo.access import Scope
from geo.citizens import NEARBY_M, REPORTS_PER_DAY, check_detail
from geo.crs import utm_epsg
from geo.errors import (
    BamrungError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    TooManyAttemptsError,
)
from geo.vocab import UNRESOLVED
from layers.access import scope as scoped
from layers.access.users import User
from layers.cases import referral
from layers.cases.actions import act
from layers.cases.events import SYSTEM, Actor, today
from layers.citizens import photos, questions
from layers.store.codes import within
from layers.store.models import (
    AdminUnit,
    Case,
    CitizenReport,
    Household,
    Problem,
    ProblemCategory,
)

log = logging.getLogger(__name__)
R = CitizenReport
#: The fields of a report its reporter and the district team see.
FIELDS = (
    R.id,
    R.household_id,
    R.round,
    R.category,
    R.detail,
    R.place,
    R.place_code,
    R.subdistrict_code,
    R.state,
    R.source,
    R.reporter,
    R.reported_at,
    R.decided_by,
    R.decided_at,
    R.reason,
    R.duplicate_of,
    func.ST_X(R.geom).label("lon"),
    func.ST_Y(R.geom).label("lat"),
)


@dataclass(frozen=True)
class NewReport:
    """What a citizen sends: the category, what is wrong, and where (None: their household)."""

    category: str
    detail: str
    lon: float | None = None
    lat: float | None = None


def submit(
    conn: Connection,
    user: User,
    new: NewReport,
    now: dt.datetime,
    *,
    address: str,
    per_address: int,
) -> dict[str, Any]:
    """Keep a citizen's report in the district team's queue.

    Returns it with the reports and problems near it that may be the same (:func:`nearby`).

    Raises
    ------
    ForbiddenError
        If the user is not a citizen linked to a household.
    InvalidInputError
        A category not in the taxonomy, an empty or too long description, a point outside
        Thailand, or no point for a household that has no position.
    TooManyAttemptsError
        After ``REPORTS_PER_DAY`` reports of the account, or ``per_address`` from the network
        ``address``, in 24 hours.
    """
    household_id = user.scope.household
    if user.role != "citizen" or household_id is None:
        raise ForbiddenError("only a citizen's account reports its household's problems")
    if (
        conn.scalar(select(ProblemCategory.code).where(ProblemCategory.code == new.category))
        is None
    ):
        raise InvalidInputError(
            f"category: {new.category!r} is not in the taxonomy", field="category"
        )
    detail = check_detail(new.detail)
    home = conn.execute(
        select(Household.round, Household.geom, Household.subdistrict_code)
        .where(Household.household_id == household_id)
        .order_by(Household.round.desc())
        .limit(1)
    ).one_or_none()
    if home is None:
        raise NotFoundError("your household is not in the survey")
    if new.lon is None and new.lat is None:
        if home.geom is None:
            raise InvalidInputError(
                "lon, lat: your household has no position: pick the place on the map",
                field="lon",
            )
        point: Any = home.geom
        place, where = "household", home.subdistrict_code
    else:
        point, where = _placed(conn, new.lon, new.lat)
        place = "map"
    since = now - dt.timedelta(days=1)
    sent = conn.scalar(select(func.count()).where(R.reporter == user.name, R.reported_at > since))
    if (sent or 0) >= REPORTS_PER_DAY:
        raise TooManyAttemptsError(
            f"at most {REPORTS_PER_DAY} reports a day: the district team has your earlier ones",
            retry_after=3600,
        )
    from_there = conn.scalar(
        select(func.count()).where(R.address == address, R.reported_at > since)
    )
    if (from_there or 0) >= per_address:
        raise TooManyAttemptsError(
            "too many reports from this network today: try again tomorrow", retry_after=3600
        )
    near = nearby(conn, user.scope, new.category, point)
    report_id = conn.scalar(
        insert(R)
        .values(
            household_id=household_id,
            round=home.round,
            category=new.category,
            detail=detail,
            geom=point,
            place=place,
            place_code=where,
            # The household's own team decides, wherever the place is: a report shows a
            # household's record, which no other team may see.
            subdistrict_code=home.subdistrict_code,
            reporter=user.name,
            address=address,
            reported_at=now,
            search=func.to_tsvector(search.CONFIG, search.words(detail)),
        )
        .returning(R.id)
    )
    return {**get(conn, user.scope, int(report_id or 0)), "nearby": near}


def _placed(conn: Connection, lon: float | None, lat: float | None) -> tuple[Any, str]:
    """A point picked on the map, and the subdistrict it lies in."""
    if lon is None or lat is None:
        raise InvalidInputError("lon, lat: give both, or neither for your household", field="lon")
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInputError("lon, lat: not a position on Earth", field="lon")
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    code = conn.scalar(
        select(AdminUnit.code)
        .where(AdminUnit.level == "subdistrict", func.ST_Intersects(AdminUnit.geom, point))
        .order_by(AdminUnit.code)
        .limit(1)
    )
    if code is None:
        raise InvalidInputError("lon, lat: the point is not inside Thailand", field="lon")
    return point, code


def nearby(conn: Connection, scope: Scope, category: str, point: Any) -> list[dict[str, Any]]:
    """Reports and unresolved problems of ``category`` within ``NEARBY_M`` of ``point``.

    Household problems are personal: a citizen is shown only their own household's (an
    earlier report, a problem already recorded), never a neighbour's; the district team sees
    every report and problem of its area. Nearest first; distances in metres in UTM.
    """
    lon = conn.scalar(select(func.ST_X(point)))
    epsg = utm_epsg(float(lon or 100.0))
    # A box a little wider than the radius (one degree is at least 96 km here) for the index.
    box = func.ST_Expand(point, NEARBY_M / 90_000)

    def metres(geom: Any) -> Any:
        return func.ST_Distance(func.ST_Transform(geom, epsg), func.ST_Transform(point, epsg))

    reports = select(
        literal("report").label("kind"),
        R.id.label("id"),
        R.state.label("state"),
        func.date(func.timezone("Asia/Bangkok", R.reported_at)).label("since"),
        metres(R.geom).label("metres"),
    ).where(
        R.category == category,
        R.state != "rejected",
        R.geom.op("&&")(box),
        scoped.reports(scope),
    )
    h, p = Household, Problem
    problems = (
        select(
            literal("problem").label("kind"),
            p.id.label("id"),
            p.status.label("state"),
            p.reported_on.label("since"),
            metres(h.geom).label("metres"),
        )
        .join(h, and_(h.household_id == p.household_id, h.round == p.round))
        .where(
            p.category == category,
            p.status.in_(UNRESOLVED),
            h.geom.op("&&")(box),
            scoped.problems(scope),
        )
    )
    found = reports.union_all(problems).subquery()
    rows = conn.execute(
        select(found).where(found.c.metres <= NEARBY_M).order_by(found.c.metres).limit(10)
    ).mappings()
    return [{**r, "metres": round(float(r["metres"]))} for r in rows]


def alike(conn: Connection, scope: Scope, report: dict[str, Any]) -> list[dict[str, Any]]:
    """What :func:`nearby` finds around a report (as :func:`get` gave it), the report left out.

    The duplicates its reporter was shown, and the district team is to weigh.
    """
    point = select(R.geom).where(R.id == report["id"]).scalar_subquery()
    return [
        r
        for r in nearby(conn, scope, report["category"], point)
        if (r["kind"], r["id"]) != ("report", report["id"])
    ]


def home(conn: Connection, household_id: str) -> tuple[float, float] | None:
    """Where a household's latest round places it (lon, lat), if it has a position."""
    row = conn.execute(
        select(func.ST_X(Household.geom), func.ST_Y(Household.geom))
        .where(Household.household_id == household_id, Household.geom.is_not(None))
        .order_by(Household.round.desc())
        .limit(1)
    ).one_or_none()
    return None if row is None else (float(row[0]), float(row[1]))


def get(conn: Connection, scope: Scope, report_id: int) -> dict[str, Any]:
    """One report ``scope`` may see, with its problem's case when it has one.

    Raises
    ------
    NotFoundError
        If there is no such report, or the scope does not hold it.
    """
    visible = select(*FIELDS).where(R.id == report_id, scoped.reports(scope))
    row = conn.execute(visible).mappings().first()
    if row is None:
        raise NotFoundError(f"no report {report_id}")
    found = dict(row)
    found["case"] = _case_of(conn, scope, found) if found["state"] == "verified" else None
    found["photos"] = photos.listed(conn, report_id)
    return found


def _case_of(conn: Connection, scope: Scope, report: dict[str, Any]) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(
                Case.id, Case.state, Case.version, Case.office, Case.resolve_by, Case.resolved_on
            ).where(
                Case.household_id == report["household_id"],
                Case.round == report["round"],
                Case.category == report["category"],
                scoped.cases(scope),
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def listed(
    conn: Connection,
    scope: Scope,
    *,
    state: str | None = None,
    area: str = "",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """The reports ``scope`` may see, oldest first, and how many there are.

    A district team's queue is ``state='to_verify'``.
    """
    if not (area.startswith(scope.area) or scope.area.startswith(area)):
        raise NotFoundError(f"no area with code {area!r}")  # no overlap with the scope's
    conditions = [scoped.reports(scope), within(R.subdistrict_code, area)]
    if state is not None:
        conditions.append(R.state == state)
    total = conn.scalar(select(func.count()).select_from(R).where(*conditions)) or 0
    rows = conn.execute(
        select(*FIELDS).where(*conditions).order_by(R.reported_at, R.id).limit(limit).offset(offset)
    ).mappings()
    return [dict(r) for r in rows], int(total)


def _pending(conn: Connection, actor: User, report_id: int) -> Any:
    """The report, locked, if the actor's team may decide it and it waits for a decision."""
    row = conn.execute(
        select(R.id, R.state, R.household_id, R.round, R.category, R.detail, R.reported_at)
        .where(R.id == report_id, scoped.reports(actor.scope))
        .with_for_update()
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no report {report_id}")
    if row.state != "to_verify":
        raise InvalidInputError(f"report {report_id} was decided already ({row.state})")
    return row


def verify(engine: Engine, actor: User, report_id: int, now: dt.datetime) -> dict[str, Any]:
    """The district team confirms a report: it becomes its household's problem.

    It joins the problem of that category when one is open already, and is routed like
    every problem. A problem solved before comes back open; one whose case was closed is not
    silently joined: that case is to be reopened.

    Routing is done by the platform on the team's behalf (a community leader may verify but
    not refer), after the decision commits; a problem it could not route then is taken by the
    next referral.

    Raises
    ------
    NotFoundError, InvalidInputError
        If the report is not the team's, was decided already, or its problem's case is closed.
    """
    with engine.begin() as conn:
        row = _pending(conn, actor, report_id)
        p = Problem
        closed = conn.scalar(
            select(Case.id).where(
                Case.household_id == row.household_id,
                Case.round == row.round,
                Case.category == row.category,
                Case.state.in_(("verified", "closed_unsolved")),
            )
        )
        if closed is not None:
            raise InvalidInputError(
                f"this household's problem of {row.category} has a closed case ({closed}): "
                "reopen that case instead"
            )
        home = select(Household.subdistrict_code).where(
            Household.household_id == row.household_id, Household.round == row.round
        )
        # A second report of the same problem verified at the same moment joins the first.
        conn.execute(
            pg_insert(p)
            .values(
                household_id=row.household_id,
                round=row.round,
                category=row.category,
                subdistrict_code=home.scalar_subquery(),
                detail=row.detail,
                status="open",
                reported_on=today(row.reported_at),
                updated_on=today(now),
            )
            .on_conflict_do_nothing()
        )
        conn.execute(
            update(p)
            .where(
                p.household_id == row.household_id,
                p.round == row.round,
                p.category == row.category,
                p.status.not_in(UNRESOLVED),
            )
            .values(status="open", updated_on=today(now))
        )
        conn.execute(
            update(R)
            .where(R.id == report_id)
            .values(state="verified", decided_by=actor.name, decided_at=now)
        )
        area = conn.scalar(home)
    on_behalf = Actor(SYSTEM.name, SYSTEM.role, SYSTEM.scope, f"report {report_id} ({actor.name})")
    try:
        referral.refer(
            engine,
            on_behalf,
            areas=[str(area)],
            now=now,
            categories=[row.category],
            household=row.household_id,
            round_=row.round,
        )
    except BamrungError:
        log.warning("verified report %s could not be routed now", report_id, exc_info=True)
    with engine.connect() as conn:
        return get(conn, actor.scope, report_id)


def reject(
    conn: Connection,
    actor: User,
    report_id: int,
    now: dt.datetime,
    *,
    reason: str,
    duplicate_of: int | None = None,
) -> dict[str, Any]:
    """The district team turns a report down, saying why (or naming the report it repeats)."""
    row = _pending(conn, actor, report_id)
    why = reason.strip()
    if not why:
        raise InvalidInputError("reason: say why the report is not a problem", field="reason")
    if duplicate_of is not None:
        if duplicate_of == report_id:
            raise InvalidInputError("duplicate_of: a report does not repeat itself")
        get(conn, actor.scope, duplicate_of)  # one the team may see, else not found
    conn.execute(
        update(R)
        .where(R.id == row.id)
        .values(
            state="rejected",
            decided_by=actor.name,
            decided_at=now,
            reason=check_detail(why),
            duplicate_of=duplicate_of,
        )
    )
    return get(conn, actor.scope, report_id)


def confirm(
    conn: Connection,
    actor: Actor,
    report_id: int,
    now: dt.datetime,
    *,
    solved: bool,
    version: int | None,
    reason: str | None = None,
) -> dict[str, Any]:
    """The citizen answers "is it solved?" for a resolved case: yes verifies it, no reopens it.

    Raises
    ------
    ForbiddenError
        If the actor is not a citizen.
    InvalidInputError
        If the report has no resolved case, or "no" comes without a reason.
    """
    if actor.role != "citizen":
        raise ForbiddenError("only the household's own account says whether it is solved")
    report = get(conn, actor.scope, report_id)
    case = report["case"]
    if case is None or case["state"] != "resolved":
        raise InvalidInputError(f"report {report_id} has no resolved case to confirm")
    if solved:
        act(
            conn,
            actor,
            case["id"],
            "verify",
            version=version,
            now=now,
            note="the household says it is solved",
        )
    else:
        if not reason or not reason.strip():
            raise InvalidInputError("reason: say what is still wrong", field="reason")
        act(conn, actor, case["id"], "reopen", version=version, now=now, note=check_detail(reason))
    questions.answered(conn, case["id"], now)
    return get(conn, actor.scope, report_id)
