"""Thai full-text search: reports, case updates and problems inside the scope; community issues.

Community issues are public. Imported problems' details are cut into words by the worker
(``index``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Integer, Text, and_, func, literal, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert

from geo import search
from geo.access import Scope
from geo.errors import InvalidInputError
from layers.access import scope as scoped
from layers.store.models import (
    Case,
    CaseEvent,
    CitizenReport,
    CommunityIssue,
    Problem,
    ProblemSearch,
)


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
    w, p = ProblemSearch, Problem
    problems = conn.execute(
        select(
            p.household_id, p.round, p.category, p.status, p.detail,
            func.ts_rank(w.search, query).label("rank"),
        )
        .join(p, and_(p.household_id == w.household_id, p.round == w.round,
                      p.category == w.category))
        .where(w.search.op("@@")(query), scoped.problems(scope))
        .order_by(func.ts_rank(w.search, query).desc(), p.household_id)
        .limit(limit)
    ).mappings()  # fmt: skip
    return {"words": wanted.split(), "reports": [dict(x) for x in reports],
            "updates": [dict(x) for x in updates], "problems": [dict(x) for x in problems],
            "community_issues": [dict(x) for x in issues]}  # fmt: skip


def index(conn: Connection, batch: int = 5000) -> int:
    """Cut into words the imported details not cut yet, or changed since; returns how many.

    A detail is cut once per distinct text in a batch (survey answers repeat themselves).
    """
    w, p = ProblemSearch, Problem
    digest = func.md5(p.detail)
    done = 0
    while True:
        rows = conn.execute(
            select(p.household_id, p.round, p.category, p.detail, digest.label("digest"))
            .outerjoin(w, and_(w.household_id == p.household_id, w.round == p.round,
                               w.category == p.category))
            .where(p.detail.is_not(None), p.detail != "",
                   or_(w.digest.is_(None), w.digest != digest))
            .limit(batch)
        ).all()  # fmt: skip
        if not rows:
            return done
        cut: dict[str, str] = {}
        for r in rows:
            if r.detail not in cut:
                cut[r.detail] = search.words(r.detail)
        given = select(
            func.unnest(literal([r.household_id for r in rows], ARRAY(Text))).label("h"),
            func.unnest(literal([r.round for r in rows], ARRAY(Integer))).label("r"),
            func.unnest(literal([r.category for r in rows], ARRAY(Text))).label("c"),
            func.unnest(literal([r.digest for r in rows], ARRAY(Text))).label("d"),
            func.unnest(literal([cut[r.detail] for r in rows], ARRAY(Text))).label("t"),
        ).subquery()
        stmt = pg_insert(w).from_select(
            ["household_id", "round", "category", "digest", "search"],
            select(given.c.h, given.c.r, given.c.c, given.c.d,
                   func.to_tsvector(search.CONFIG, given.c.t)),
        )  # fmt: skip
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[w.household_id, w.round, w.category],
                set_={"digest": stmt.excluded.digest, "search": stmt.excluded.search},
            )
        )
        done += len(rows)
