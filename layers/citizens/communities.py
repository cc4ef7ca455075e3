"""Municipal communities, their planning meetings, issues, plan items and public progress.

Communities are loaded from a file; the council adopts issues into its plan's items.

Writes go through ``scope.communities`` (a community leader its own community, a district team
those of its area); a community's progress is public, as it holds no household's data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from geoalchemy2.shape import from_shape
from sqlalchemy import Connection, delete, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from geo import search
from geo.access import Scope
from geo.communities import SOURCE, check_communities, check_issue, check_move
from geo.errors import InvalidInputError, NotFoundError
from geo.synth.communities import synth_communities, synth_issues
from layers.access import scope as scoped
from layers.access.users import User
from layers.cases.actions import act
from layers.cases.events import SYSTEM, Actor
from layers.cases.referral import route_issue
from layers.store.codes import within
from layers.store.models import (
    AdminUnit,
    Case,
    Community,
    CommunityIssue,
    CommunityMeeting,
    Office,
    PlanItem,
    ProblemCategory,
)

C, M, Issue, P = Community, CommunityMeeting, CommunityIssue, PlanItem


def load(
    conn: Connection, frame: gpd.GeoDataFrame, *, source: str, synthetic: bool = False
) -> tuple[int, pd.DataFrame]:
    """Add or update the communities of a file; returns how many were kept and the refused rows.

    Each community belongs to the subdistrict its inner point lies in. A file without
    ``name_en`` leaves the English names stored before as they are.
    """
    kept, refused = check_communities(frame)
    rows = []
    for row in kept.itertuples():
        inner = from_shape(row.geometry.representative_point(), srid=4326)
        code = conn.scalar(
            select(AdminUnit.code)
            .where(AdminUnit.level == "subdistrict", func.ST_Intersects(AdminUnit.geom, inner))
            .order_by(AdminUnit.code)
            .limit(1)
        )
        if code is None:
            line = int(row.Index) + 2
            refused.loc[len(refused)] = [line, "geometry", "not inside a Thai subdistrict"]
            continue
        rows.append(
            {
                "code": row.code,
                "name_th": str(row.name_th).strip(),
                "name_en": None if pd.isna(row.name_en) else str(row.name_en).strip(),
                "subdistrict_code": code,
                "geom": from_shape(row.geometry, srid=4326),
                "synthetic": synthetic,
                "source": source,
            }
        )
    if rows:
        stmt = pg_insert(C).values(rows)
        changed = ["name_th", "subdistrict_code", "geom", "synthetic", "source"]
        if "name_en" in frame.columns:
            changed.append("name_en")
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[C.code], set_={k: stmt.excluded[k] for k in changed}
            )
        )
    return len(rows), refused.sort_values("row").reset_index(drop=True)


@dataclass(frozen=True)
class NewIssue:
    """An issue raised in a meeting: what, how pressing, and where (None: the community)."""

    category: str
    detail: str
    votes: int | None = None
    priority: int | None = None
    lon: float | None = None
    lat: float | None = None


def _community(conn: Connection, actor: Actor | User, code: str) -> Any:
    row = conn.execute(
        select(C.code, C.subdistrict_code).where(C.code == code, scoped.communities(actor.scope))
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no community {code!r}")
    return row


def record_meeting(
    conn: Connection,
    actor: Actor | User,
    community: str,
    held_on: dt.date,
    attendance: int,
    issues: list[NewIssue],
    now: dt.datetime,
) -> dict[str, Any]:
    """Keep a meeting of ``community`` and the issues raised in it (each ``raised``).

    Raises
    ------
    NotFoundError
        If the community is not one the actor's scope may record for.
    InvalidInputError
        A date in the future, a negative attendance, a category not in the taxonomy, a bad
        description, votes or priority, or a place outside the community's subdistrict; the
        message names the issue (counted from 1). Nothing is kept then.
    """
    found = _community(conn, actor, community)
    if held_on > now.date():
        raise InvalidInputError("held_on: a meeting that has not been held yet", field="held_on")
    if attendance < 0:
        raise InvalidInputError("attendance: 0 or more", field="attendance")
    known = set(conn.scalars(select(ProblemCategory.code)))
    rows = []
    for n, issue in enumerate(issues, 1):
        if issue.category not in known:
            raise InvalidInputError(
                f"issues[{n}].category: {issue.category!r} is not in the taxonomy",
                field="category",
            )
        try:
            detail = check_issue(issue.category, issue.detail, issue.votes, issue.priority)
        except InvalidInputError as exc:
            raise InvalidInputError(f"issues[{n}].{exc}", field=exc.field) from None
        rows.append((issue, detail, _place(conn, found, issue, n)))
    meeting = conn.scalar(
        insert(M)
        .values(
            community=community,
            held_on=held_on,
            attendance=attendance,
            recorded_by=actor.name,
            recorded_at=now,
        )
        .returning(M.id)
    )
    ids = (
        conn.scalars(
            insert(Issue)
            .values(
                [
                    {
                        "meeting_id": meeting,
                        "community": community,
                        "category": issue.category,
                        "detail": detail,
                        "geom": place,
                        "votes": issue.votes,
                        "priority": issue.priority,
                        "source": SOURCE,
                        "state": "raised",
                        "updated_on": now.date(),
                        "search": func.to_tsvector(search.CONFIG, search.words(detail)),
                    }
                    for issue, detail, place in rows
                ]
            )
            .returning(Issue.id)
        ).all()
        if rows
        else []
    )
    # Each issue is the community's problem, routed like a household's: the platform refers it
    # on the recorder's behalf (a community leader may raise issues, not route cases).
    on_behalf = Actor(SYSTEM.name, SYSTEM.role, SYSTEM.scope, f"meeting {meeting} ({actor.name})")
    fiscal = held_on.year + 543 + (held_on.month >= 10)
    cases = [
        route_issue(
            conn,
            on_behalf,
            issue_id=issue_id,
            category=issue.category,
            subdistrict=found.subdistrict_code,
            round_=fiscal,
            now=now,
        )
        for issue_id, (issue, _, _) in zip(ids, rows, strict=True)
    ]
    return {"meeting_id": meeting, "community": community, "issues": list(ids), "cases": cases}


def _place(conn: Connection, community: Any, issue: NewIssue, n: int) -> Any:
    inner = select(func.ST_PointOnSurface(C.geom)).where(C.code == community.code)
    if issue.lon is None and issue.lat is None:
        return inner.scalar_subquery()
    if issue.lon is None or issue.lat is None:
        raise InvalidInputError(f"issues[{n}].lon, lat: give both, or neither", field="lon")
    point = func.ST_SetSRID(func.ST_MakePoint(issue.lon, issue.lat), 4326)
    inside = conn.scalar(
        select(func.ST_Intersects(AdminUnit.geom, point)).where(
            AdminUnit.code == community.subdistrict_code
        )
    )
    if not inside:
        raise InvalidInputError(
            f"issues[{n}].lon, lat: the place is outside the community's subdistrict "
            f"({community.subdistrict_code})",
            field="lon",
        )
    return point


@dataclass(frozen=True)
class NewPlanItem:
    """The local development plan's item an issue is adopted into."""

    plan_year: int
    code: str
    name_th: str
    budget_line: str | None = None
    amount: Decimal | None = None


def move(
    conn: Connection,
    actor: Actor | User,
    issue_id: int,
    to: str,
    now: dt.datetime,
    plan: NewPlanItem | None = None,
) -> dict[str, Any]:
    """Move an issue on its way (``geo.communities.MOVES``).

    Adopting links its plan item, added to the municipality's plan when it is not there yet.

    Raises
    ------
    NotFoundError, InvalidInputError
        If the issue is not the actor's to move, or the move is not allowed.
    """
    row = conn.execute(
        select(Issue.id, Issue.state, Issue.community, C.subdistrict_code)
        .join(C, C.code == Issue.community)
        .where(Issue.id == issue_id, scoped.communities(actor.scope))
        .with_for_update(of=Issue)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no community issue {issue_id}")
    check_move(row.state, to, plan is not None)
    values: dict[str, Any] = {"state": to, "updated_on": now.date()}
    if to == "adopted" and plan is not None:
        values["plan_item_id"] = _plan_item(conn, row.subdistrict_code, plan)
    conn.execute(update(Issue).where(Issue.id == issue_id).values(**values))
    return issue(conn, issue_id)


def _plan_item(conn: Connection, area: str, plan: NewPlanItem) -> int:
    if not plan.code.strip() or not plan.name_th.strip():
        raise InvalidInputError("plan: its code and Thai name are needed", field="plan")
    stmt = pg_insert(P).values(
        subdistrict_code=area,
        plan_year=plan.plan_year,
        code=plan.code.strip(),
        name_th=plan.name_th.strip(),
        budget_line=plan.budget_line,
        amount=plan.amount,
    )
    return int(
        conn.scalar(
            stmt.on_conflict_do_update(
                index_elements=[P.subdistrict_code, P.plan_year, P.code],
                set_={"name_th": stmt.excluded.name_th},
            ).returning(P.id)
        )
        or 0
    )


#: What the public sees of an issue: nothing of who recorded it.
ISSUE_FIELDS = (
    Issue.id,
    Issue.community,
    Issue.category,
    Issue.detail,
    Issue.votes,
    Issue.priority,
    Issue.state,
    Issue.updated_on,
    M.held_on,
    P.plan_year,
    P.code.label("plan_code"),
    P.name_th.label("plan_name"),
    P.budget_line,
    P.amount,
    func.ST_X(Issue.geom).label("lon"),
    func.ST_Y(Issue.geom).label("lat"),
    # Its case: public too, as a community's issue is no household's.
    Case.id.label("case_id"),
    Case.state.label("case_state"),
    Case.resolve_by,
    Office.name_th.label("office_th"),
    Office.name_en.label("office_en"),
)


def _issues() -> Any:
    return (
        select(*ISSUE_FIELDS)
        .join(M, M.id == Issue.meeting_id)
        .outerjoin(P, P.id == Issue.plan_item_id)
        .outerjoin(Case, Case.issue_id == Issue.id)
        .outerjoin(Office, Office.code == Case.office)
    )


def issue(conn: Connection, issue_id: int) -> dict[str, Any]:
    row = conn.execute(_issues().where(Issue.id == issue_id)).mappings().one()
    return dict(row)


def listed(conn: Connection, area: str = "") -> list[dict[str, Any]]:
    """The communities of ``area`` with their issues counted by state (public)."""
    counts = (
        select(
            Issue.community,
            func.count().label("issues"),
            *(func.count().filter(Issue.state == s).label(s) for s in ("done", "in_progress")),
        )
        .group_by(Issue.community)
        .subquery()
    )
    rows = conn.execute(
        select(
            C.code,
            C.name_th,
            C.name_en,
            C.subdistrict_code,
            C.synthetic,
            func.coalesce(counts.c.issues, 0).label("issues"),
            func.coalesce(counts.c.done, 0).label("done"),
            func.coalesce(counts.c.in_progress, 0).label("in_progress"),
        )
        .outerjoin(counts, counts.c.community == C.code)
        .where(within(C.subdistrict_code, area))
        .order_by(C.code)
    ).mappings()
    return [dict(r) for r in rows]


def progress(conn: Connection, code: str, year: int | None = None) -> dict[str, Any]:
    """A community's public page: its meetings and issues (of a plan year), by state.

    Raises
    ------
    NotFoundError
        If there is no such community.
    """
    found = conn.execute(
        select(C.code, C.name_th, C.name_en, C.subdistrict_code, C.synthetic).where(C.code == code)
    ).mappings().one_or_none()  # fmt: skip
    if found is None:
        raise NotFoundError(f"no community {code!r}")
    be_year = func.extract("year", M.held_on) + 543 + (func.extract("month", M.held_on) >= 10)
    meetings = select(M.id, M.held_on, M.attendance).where(M.community == code)
    issues = _issues().where(Issue.community == code)
    if year is not None:
        meetings = meetings.where(be_year == year)
        issues = issues.where(be_year == year)
    shown = [dict(r) for r in conn.execute(issues.order_by(Issue.priority, Issue.id)).mappings()]
    by_state: dict[str, int] = {}
    for r in shown:
        by_state[r["state"]] = by_state.get(r["state"], 0) + 1
    return {
        **dict(found),
        "year": year,
        "meetings": [dict(r) for r in conn.execute(meetings.order_by(M.held_on)).mappings()],
        "issues": shown,
        "by_state": by_state,
    }


def synthesize(
    conn: Connection,
    actor: Actor | User,
    subdistrict: str,
    year: int,
    *,
    communities: int = 17,
    issues: int = 205,
    seed: int = 17,
    now: dt.datetime,
) -> dict[str, int]:
    """A SYNTHETIC municipality: its communities, meetings and issues of plan ``year``.

    One meeting each, ``issues`` issues with a spread of states, the adopted ones in plan
    items; a run replaces an earlier one's meetings and plan items of the same year.
    """
    rng = np.random.default_rng(seed)
    area = gpd.read_postgis(
        select(AdminUnit.code, AdminUnit.geom).where(AdminUnit.code == subdistrict),
        conn,
        geom_col="geom",
    )
    if area.empty:
        raise NotFoundError(f"no subdistrict {subdistrict!r}")
    made = synth_communities(area, subdistrict, communities, rng)
    load(conn, made, source="synthetic", synthetic=True)
    codes = made["code"].tolist()
    conn.execute(delete(M).where(M.community.in_(codes)))
    conn.execute(delete(P).where(P.subdistrict_code == subdistrict, P.plan_year == year))
    taxonomy = pd.DataFrame(
        conn.execute(
            select(ProblemCategory.code, ProblemCategory.name_th, ProblemCategory.dimension)
        )
        .mappings()
        .all()
    )
    meetings, raised = synth_issues(made, taxonomy, issues, year, rng)
    for meeting in meetings.itertuples():
        mine = raised[raised["community"] == meeting.community]
        kept = record_meeting(
            conn, actor, str(meeting.community), meeting.held_on, int(meeting.attendance),
            [NewIssue(r.category, r.detail, r.votes, r.priority, r.lon, r.lat)
             for r in mine.itertuples()],
            now,
        )  # fmt: skip
        for issue_id, case_id, state, category in zip(
            kept["issues"], kept["cases"], mine["state"], mine["category"], strict=True
        ):
            for step in _path(state):
                plan = None
                if step == "adopted":
                    plan = NewPlanItem(
                        year, f"{year}-{issue_id:04d}", f"โครงการแก้ไข {category} (สังเคราะห์)",
                        "แผนงานเคหะและชุมชน",
                    )  # fmt: skip
                move(conn, actor, issue_id, step, now, plan)
            if case_id is not None:
                _answer(conn, case_id, state, now)
    return {"communities": len(codes), "meetings": len(meetings), "issues": len(raised)}


#: How the office has answered an issue's case, by the issue's state (SYNTHETIC).
ANSWERS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "raised": [],
    "adopted": [("acknowledge", {})],
    "in_progress": [("acknowledge", {}), ("progress", {"note": "เริ่มดำเนินการ (สังเคราะห์)"})],
    "done": [
        ("acknowledge", {}),
        ("progress", {"note": "เริ่มดำเนินการ (สังเคราะห์)"}),
        ("resolve", {"resolution": "solved_by_agency"}),
    ],
    "not_adopted": [("close", {"note": "สภาไม่ได้บรรจุในแผน (สังเคราะห์)"})],
}
SYNTH = Actor("bamrung-synth", "admin", Scope(role="admin"))


def _answer(conn: Connection, case_id: int, state: str, now: dt.datetime) -> None:
    version = 1
    for action, given in ANSWERS[state]:
        if action == "acknowledge":
            given = {"expected_on": now.date() + dt.timedelta(days=90)}
        version = act(conn, SYNTH, case_id, action, version=version, now=now, **given)


def _path(state: str) -> list[str]:
    """The moves that take a raised issue to ``state``."""
    return {
        "raised": [],
        "not_adopted": ["not_adopted"],
        "adopted": ["adopted"],
        "in_progress": ["adopted", "in_progress"],
        "done": ["adopted", "in_progress", "done"],
    }[state]


__all__ = ["literal"]
