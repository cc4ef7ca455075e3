"""Citizens' reports as Open311 GeoReport v2 service requests, inside the caller's scope."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, not_, or_, select

from geo import open311
from geo.access import Scope
from geo.errors import InvalidInputError
from layers.access import scope as scoped
from layers.store.models import AdminUnit, Case, CaseEvent, CitizenReport, Office, ProblemCategory

#: GeoReport's longest window of ``start_date`` to ``end_date``.
WINDOW = dt.timedelta(days=90)


def services(conn: Connection, lang: str = "th") -> list[dict[str, Any]]:
    """The taxonomy as GeoReport services: one a category, grouped by TPMAP dimension."""
    c = ProblemCategory
    rows = conn.execute(select(c.code, c.name_th, c.name_en, c.dimension).order_by(c.code))
    return [
        {
            "service_code": r.code,
            "service_name": r.name_th if lang == "th" else r.name_en,
            "description": f"{r.name_th} / {r.name_en}",
            "metadata": False,
            "type": "realtime",
            "keywords": r.code.replace("_", ","),
            "group": r.dimension,
        }
        for r in rows
    ]


def service_requests(
    conn: Connection,
    scope: Scope,
    now: dt.datetime,
    *,
    ids: Sequence[int] | None = None,
    categories: Sequence[str] | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    status: Sequence[str] | None = None,
    lang: str = "th",
) -> list[dict[str, Any]]:
    """The reports ``scope`` may see as GeoReport requests, newest first.

    Ids override the other filters, as the specification says; without dates, the last 90
    days.

    Raises
    ------
    InvalidInputError
        A window longer than 90 days, or a status other than open and closed.
    """
    r, k = CitizenReport, Case
    conditions = [scoped.reports(scope)]
    if ids:
        conditions.append(r.id.in_(list(ids)))
    else:
        if start is not None and end is not None and start > end:
            raise InvalidInputError("start_date: after end_date")
        if end is None:
            end = start + WINDOW if start is not None else now
        if start is None:
            start = end - WINDOW
        if end - start > WINDOW:
            raise InvalidInputError("start_date, end_date: at most 90 days apart")
        conditions += [r.reported_at >= start, r.reported_at <= end]
        if categories:
            conditions.append(r.category.in_(list(categories)))
    wanted = set(status or ())
    if wanted - {"open", "closed"}:
        raise InvalidInputError("status: open or closed")
    # Closed as ``geo.open311.status`` says, in SQL so the page's bound counts only matches.
    closed = or_(r.state == "rejected", func.coalesce(k.state, "").in_(tuple(open311.CLOSED)))
    if wanted == {"open"}:
        conditions.append(not_(closed))
    elif wanted == {"closed"}:
        conditions.append(closed)
    updated = select(func.max(CaseEvent.at)).where(CaseEvent.case_id == k.id).scalar_subquery()
    rows = conn.execute(
        select(
            r.id,
            r.state,
            r.reason,
            r.category,
            r.detail,
            r.reported_at,
            r.decided_at,
            func.ST_X(r.geom).label("lon"),
            func.ST_Y(r.geom).label("lat"),
            r.household_id,
            ProblemCategory.name_th.label("service_th"),
            ProblemCategory.name_en.label("service_en"),
            AdminUnit.name_th.label("where_th"),
            AdminUnit.name_en.label("where_en"),
            k.state.label("case_state"),
            k.resolve_by,
            Office.name_th.label("office_th"),
            Office.name_en.label("office_en"),
            updated.label("case_updated"),
        )
        .join(ProblemCategory, ProblemCategory.code == r.category)
        .join(AdminUnit, AdminUnit.code == r.subdistrict_code)
        .outerjoin(
            k,
            and_(
                r.state == "verified",
                k.household_id == r.household_id,
                k.round == r.round,
                k.category == r.category,
                scoped.cases(scope),
            ),
        )
        .outerjoin(Office, Office.code == k.office)
        .where(*conditions)
        .order_by(r.reported_at.desc(), r.id.desc())
        .limit(1000)
    )
    th = lang == "th"
    found = []
    for row in rows:
        shown = open311.status(row.state, row.case_state)
        changes = [t for t in (row.decided_at, row.case_updated) if t is not None]
        found.append(
            {
                "service_request_id": str(row.id),
                "status": shown,
                "status_notes": open311.status_notes(row.state, row.case_state, row.reason, lang),
                "service_name": row.service_th if th else row.service_en,
                "service_code": row.category,
                "description": row.detail,
                "agency_responsible": row.office_th if th else row.office_en,
                "service_notice": None,
                "requested_datetime": row.reported_at.isoformat(),
                "updated_datetime": max(changes, default=row.reported_at).isoformat(),
                "expected_datetime": row.resolve_by.isoformat() if row.resolve_by else None,
                "address": row.where_th if th else row.where_en,
                "address_id": None,
                "zipcode": None,
                "lat": row.lat,
                "long": row.lon,
                "media_url": None,
                "household_id": row.household_id,
            }
        )
    return found
