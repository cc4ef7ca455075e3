"""Reading cases through the scope filter: queues, one case with its history, and figures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Connection,
    Numeric,
    Select,
    and_,
    case,
    cast,
    func,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from geo.cases.deadlines import LADDER
from geo.errors import InvalidInputError, NotFoundError
from geo.intake.personal import keyed_hash
from layers.access.scope import cases as in_scope
from layers.store.codes import within
from layers.store.models import (
    AdminUnit,
    Agency,
    Attachment,
    Case,
    CaseEvent,
    Household,
    Office,
    ProblemCategory,
)

#: The states in which a case waits on its office.
WAITING = ("referred", "acknowledged", "in_progress")


@dataclass(frozen=True)
class CaseFilter:
    """What a queue asks for (None: anything)."""

    office: str | None = None
    state: str | None = None
    overdue: bool | None = None
    area: str | None = None
    category: str | None = None
    dimension: str | None = None
    escalated: bool | None = None
    level: int | None = None
    opened_before: dt.date | None = None
    """Opened on or before this day (a case at least so old)."""


def overdue(today: dt.date) -> ColumnElement[bool]:
    """Cases past the deadline of the step they wait on (to acknowledge, or to resolve)."""
    return or_(
        and_(Case.state == "referred", Case.acknowledge_by < today),
        and_(Case.state.in_(WAITING), Case.resolve_by < today),
    )


def _columns(today: dt.date) -> Select[*tuple[Any, ...]]:
    return select(
        Case.id,
        Case.household_id,
        Case.issue_id,
        Case.round,
        Case.category,
        ProblemCategory.dimension,
        Case.subdistrict_code,
        func.left(Case.subdistrict_code, 4).label("district_code"),
        func.left(Case.subdistrict_code, 2).label("province_code"),
        Case.office,
        Office.name_th.label("office_th"),
        Office.name_en.label("office_en"),
        Office.agency,
        Case.state,
        Case.resolution,
        Case.escalated,
        Case.level,
        Case.version,
        Case.opened_on,
        Case.acknowledge_by,
        Case.resolve_by,
        Case.expected_on,
        Case.acknowledged_on,
        Case.resolved_on,
        Case.last_event_at,
        overdue(today).label("overdue"),
    ).select_from(
        Case.__table__.join(ProblemCategory, ProblemCategory.code == Case.category).join(
            Office, Office.code == Case.office
        )
    )


def _filtered(
    query: Select[*tuple[Any, ...]], given: CaseFilter, today: dt.date
) -> Select[*tuple[Any, ...]]:
    if given.office is not None:
        query = query.where(Case.office == given.office)
    if given.state is not None:
        query = query.where(Case.state == given.state)
    if given.overdue is not None:
        query = query.where(overdue(today) if given.overdue else ~overdue(today))
    if given.area:
        query = query.where(within(Case.subdistrict_code, given.area))
    if given.category is not None:
        query = query.where(Case.category == given.category)
    if given.dimension is not None:
        query = query.where(ProblemCategory.dimension == given.dimension)
    if given.escalated is not None:
        escalated = or_(Case.escalated, Case.level > 0)
        query = query.where(escalated if given.escalated else ~escalated)
    if given.level is not None:
        query = query.where(Case.level >= given.level)
    if given.opened_before is not None:
        query = query.where(Case.opened_on <= given.opened_before)
    return query


def view(rows: list[dict[str, Any]], pseudonymised: bool, key: bytes) -> list[dict[str, Any]]:
    """Rows as answered: the ladder's step by name; the household as a pseudonym if asked."""
    for row in rows:
        row["ladder"] = LADDER[row["level"]]
    if pseudonymised and rows:
        refs = keyed_hash(pd.Series([r["household_id"] for r in rows]), key)
        for row, ref in zip(rows, refs, strict=True):
            del row["household_id"]
            row["household_ref"] = ref
    return rows


def list_cases(
    conn: Connection,
    scope: Any,
    given: CaseFilter,
    *,
    today: dt.date,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """A page of the cases the scope may see, overdue first, then the oldest deadline first."""
    if given.area and scope.overlap(given.area) is None:
        raise NotFoundError(f"no area with code {given.area!r}")
    # The page's cases are picked, and counted, from the cases alone (a covering index serves the
    # reviewers' escalated ones); only the page's rows are then joined for their columns.
    seen = select(Case.id).select_from(_joined(False, given)).where(in_scope(scope))
    total = conn.scalar(_filtered(seen.with_only_columns(func.count()), given, today))
    picked = conn.scalars(
        _filtered(seen, given, today)
        .order_by(
            overdue(today).desc(),
            case((Case.state == "referred", Case.acknowledge_by), else_=Case.resolve_by).asc(),
            Case.id,
        )
        .limit(limit)
        .offset(offset)
    ).all()
    rows = {r["id"]: dict(r) for r in conn.execute(_columns(today).where(Case.id.in_(picked)))
            .mappings()}  # fmt: skip
    return [rows[i] for i in picked], int(total or 0)


def get_case(conn: Connection, scope: Any, case_id: int, *, today: dt.date) -> dict[str, Any]:
    """One case the scope may see, with its history in order.

    Raises
    ------
    NotFoundError
        If there is no such case in the scope.
    """
    found = (
        conn.execute(_columns(today).where(Case.id == case_id, in_scope(scope))).mappings().first()
    )
    if found is None:
        raise NotFoundError(f"no case {case_id}")
    history = conn.execute(
        select(
            CaseEvent.id,
            CaseEvent.at,
            CaseEvent.action,
            CaseEvent.actor,
            CaseEvent.role,
            CaseEvent.office,
            CaseEvent.from_state,
            CaseEvent.to_state,
            CaseEvent.note,
            CaseEvent.details,
            CaseEvent.request_id,
        )
        .where(CaseEvent.case_id == case_id)
        .order_by(CaseEvent.id)
    ).mappings()
    files = conn.execute(
        select(
            Attachment.id, Attachment.event_id, Attachment.name, Attachment.media_type,
            Attachment.bytes,
        )
        .where(Attachment.case_id == case_id)
        .order_by(Attachment.id)
    ).mappings()  # fmt: skip
    return {
        **found,
        "history": [dict(e) for e in history],
        "attachments": [dict(f) for f in files],
    }


def case_points(
    conn: Connection,
    scope: Any,
    given: CaseFilter,
    *,
    today: dt.date,
    limit: int | None = None,
    offset: int = 0,
) -> gpd.GeoDataFrame:
    """Cases with their household's point (EPSG:4326) and step of the ladder, by id."""
    query = _filtered(
        _columns(today)
        .add_columns(Household.geom)
        .join(
            Household,
            and_(Household.household_id == Case.household_id, Household.round == Case.round),
        )
        .where(in_scope(scope)),
        given,
        today,
    )
    query = query.order_by(Case.id).limit(limit).offset(offset)
    frame = gpd.read_postgis(query, conn, geom_col="geom", crs=4326)
    frame["ladder"] = [LADDER[n] for n in frame["level"]]
    return frame


KPI_GROUPS = ("office", "agency", "area")


def kpis(
    conn: Connection,
    scope: Any,
    *,
    by: str,
    level: str = "province",
    today: dt.date,
    given: CaseFilter | None = None,
) -> list[dict[str, Any]]:
    """Figures of the cases the scope may see, by office, agency or area.

    Received; acknowledged, and on time (%); median working days to acknowledge and to resolve
    (kept on each case when it happens); overdue now; rejected and re-routed; solved by the
    agency and by the household — never one lumped "% solved". One grouped query.
    """
    if by not in KPI_GROUPS:
        raise InvalidInputError(f"by: one of {', '.join(KPI_GROUPS)}", field="by")
    lengths = {"province": 2, "district": 4, "subdistrict": 6}
    if by == "area" and level not in lengths:
        raise InvalidInputError(f"level: one of {', '.join(lengths)}", field="level")
    group = {
        "office": Case.office,
        "agency": Office.agency,
        "area": func.left(Case.subdistrict_code, lengths.get(level, 2)),
    }[by]
    acknowledged = func.count(Case.acknowledged_on)
    on_time = func.count().filter(Case.acknowledged_on <= Case.acknowledge_by)
    query = _filtered(
        select(
            group.label("key"),
            func.count().label("received"),
            acknowledged.label("acknowledged"),
            func.round(cast(100 * on_time, Numeric) / func.nullif(acknowledged, 0), 1).label(
                "on_time_pct"
            ),
            func.percentile_cont(0.5)
            .within_group(Case.acknowledge_days)
            .label("median_days_to_acknowledge"),
            func.percentile_cont(0.5)
            .within_group(Case.resolve_days)
            .label("median_days_to_resolve"),
            func.count().filter(overdue(today)).label("overdue"),
            func.count().filter(Case.reroutes > 0).label("rerouted"),
            func.count().filter(Case.resolution == "solved_by_agency").label("solved_by_agency"),
            func.count()
            .filter(Case.resolution == "solved_by_household")
            .label("solved_by_household"),
        )
        .select_from(_joined(by == "agency", given))
        .where(in_scope(scope)),
        given or CaseFilter(),
        today,
    )
    rows = conn.execute(query.group_by(group).order_by(group)).mappings().all()
    # A refusal counts for the office that refused, not for the one the case went on to.
    refused = aliased(Office)
    rejecting = {
        "office": refused.code,
        "agency": refused.agency,
        "area": func.left(Case.subdistrict_code, lengths.get(level, 2)),
    }[by]
    rejections: dict[str, int] = {
        key: n
        for key, n in conn.execute(
            _filtered(
                select(rejecting, func.count())
                .select_from(
                    CaseEvent.__table__.join(Case, Case.id == CaseEvent.case_id)
                    .join(ProblemCategory, ProblemCategory.code == Case.category)
                    .join(refused, refused.code == CaseEvent.details["office"].astext)
                )
                .where(
                    CaseEvent.action == "reject",
                    # An office's refusals sit with the offices its cases went on to.
                    CaseEvent.details["office"].astext == scope.office
                    if scope.role == "agency_officer"
                    else in_scope(scope),
                ),
                given or CaseFilter(),
                today,
            ).group_by(rejecting)
        )
    }
    zero = {"received": 0, "acknowledged": 0, "on_time_pct": None, "overdue": 0, "rerouted": 0}
    seen = {row["key"] for row in rows}
    every: list[Mapping[str, Any]] = sorted(
        [
            *(dict(row) for row in rows),
            *(
                {"key": key, **zero, "solved_by_agency": 0, "solved_by_household": 0,
                 "median_days_to_acknowledge": None, "median_days_to_resolve": None}
                for key in rejections.keys() - seen
            ),
        ],
        key=lambda row: str(row["key"]),
    )  # fmt: skip
    return [
        {
            **{k: v for k, v in row.items() if k != "on_time_pct"},
            "rejected": rejections.get(row["key"], 0),
            "acknowledged_on_time_pct": _number(row["on_time_pct"]),
            "median_days_to_acknowledge": _number(row["median_days_to_acknowledge"]),
            "median_days_to_resolve": _number(row["median_days_to_resolve"]),
        }
        for row in every
    ]


def _joined(offices: bool, given: CaseFilter | None) -> Any:
    """Cases with only the tables a query of figures needs.

    Their offices to group by agency, their categories to filter by dimension: each join costs
    on a national table.
    """
    joined: Any = Case.__table__
    if offices:
        joined = joined.join(Office, Office.code == Case.office)
    if given is not None and given.dimension is not None:
        joined = joined.join(ProblemCategory, ProblemCategory.code == Case.category)
    return joined


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def case_counts(
    conn: Connection, scope: Any, given: CaseFilter, *, level: str, today: dt.date
) -> pd.DataFrame:
    """Cases and overdue ones per area of ``level`` (``code``, ``cases``, ``overdue``)."""
    lengths = {"province": 2, "district": 4, "subdistrict": 6}
    code = func.left(Case.subdistrict_code, lengths[level]).label("code")
    query = _filtered(
        select(
            code,
            func.count().label("cases"),
            func.count().filter(overdue(today)).label("overdue"),
        )
        .select_from(_joined(False, given))
        .where(in_scope(scope)),
        given,
        today,
    ).group_by(code)
    return pd.DataFrame(conn.execute(query).mappings().all(), columns=["code", "cases", "overdue"])


def case_offices(
    conn: Connection, scope: Any, given: CaseFilter, *, lang: str, today: dt.date
) -> gpd.GeoDataFrame:
    """The offices holding the cases, with how many, and where each is.

    Its own point, else a point inside its first area; offices without a place are left out.
    """
    held = (
        _filtered(
            select(Case.office, func.count().label("cases"))
            .select_from(_joined(False, given))
            .where(in_scope(scope)),
            given,
            today,
        )
        .group_by(Case.office)
        .subquery()
    )
    name = Office.name_th if lang == "th" else Office.name_en
    place = func.coalesce(Office.geom, func.ST_PointOnSurface(AdminUnit.geom))
    query = (
        select(Office.code, name.label("name"), held.c.cases, place.label("geom"))
        .join(held, held.c.office == Office.code)
        .outerjoin(AdminUnit, AdminUnit.code == Office.areas[1])
        .where(place.is_not(None))
    )
    return gpd.read_postgis(query, conn, geom_col="geom", crs=4326)


def state_counts(
    conn: Connection, scope: Any, given: CaseFilter, *, today: dt.date
) -> dict[str, dict[str, int]]:
    """The cases the scope may see by state: ``{state: {"cases": n, "overdue": m}}``."""
    query = _filtered(
        select(
            Case.state,
            func.count().label("cases"),
            func.count().filter(overdue(today)).label("overdue"),
        )
        .select_from(_joined(False, given))
        .where(in_scope(scope)),
        given,
        today,
    ).group_by(Case.state)
    return {r.state: {"cases": r.cases, "overdue": r.overdue} for r in conn.execute(query)}


def names(conn: Connection, kind: str, codes: list[str]) -> dict[str, dict[str, str]]:
    """The Thai and English names of agencies or offices (``kind``) by code."""
    model: type[Agency] | type[Office] = Agency if kind == "agency" else Office
    rows = conn.execute(
        select(model.code, model.name_th, model.name_en).where(model.code.in_(codes))
    )
    return {r.code: {"name_th": r.name_th, "name_en": r.name_en} for r in rows}
