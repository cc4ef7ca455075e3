"""Thai full-text search: reports and case updates inside the scope, community issues (public)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from geo import search
from geo.access import Scope
from geo.errors import InvalidInputError
from layers.access import scope as scoped
from layers.store.models import Case, CaseEvent, CitizenReport, CommunityIssue


def find(conn: Connection, scope: Scope, text: str, limit: int = 20) -> dict[str, Any]:
    """The reports, case updates and community issues holding every word of ``text``, best first.

    Raises
    ------
    InvalidInputError
        If ``text`` has no word to search for.
    """
    wanted = search.words(text)
    if not wanted:
        raise InvalidInputError("q: no words to search for", field="q")
    query = func.plainto_tsquery(search.CONFIG, wanted)
    r = CitizenReport
    reports = conn.execute(
        select(
            r.id, r.household_id, r.category, r.state, r.detail, r.reported_at,
            func.ts_rank(r.search, query).label("rank"),
        )
        .where(r.search.op("@@")(query), scoped.reports(scope))
        .order_by(func.ts_rank(r.search, query).desc(), r.id.desc())
        .limit(limit)
    ).mappings()  # fmt: skip
    e = CaseEvent
    updates = conn.execute(
        select(
            e.case_id, Case.household_id, e.at, e.action, e.actor, e.note,
            func.ts_rank(e.search, query).label("rank"),
        )
        .join(Case, Case.id == e.case_id)
        .where(e.search.op("@@")(query), scoped.cases(scope))
        .order_by(func.ts_rank(e.search, query).desc(), e.id.desc())
        .limit(limit)
    ).mappings()  # fmt: skip
    i = CommunityIssue
    issues = conn.execute(
        select(
            i.id, i.community, i.category, i.state, i.detail,
            func.ts_rank(i.search, query).label("rank"),
        )
        .where(i.search.op("@@")(query))  # a community's issues are public
        .order_by(func.ts_rank(i.search, query).desc(), i.id.desc())
        .limit(limit)
    ).mappings()  # fmt: skip
    return {"words": wanted.split(), "reports": [dict(x) for x in reports],
            "updates": [dict(x) for x in updates],
            "community_issues": [dict(x) for x in issues]}  # fmt: skip
