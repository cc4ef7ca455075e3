"""Household and problem records, always read through the caller's scope, and the access log.

Every function here that returns personal fields is paired by its caller with one
``log_access`` row in the same transaction, written before the response is sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Select, func, insert, literal, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import aliased

from geo.access import Scope
from geo.errors import NotFoundError
from geo.intake.personal import keyed_hash
from geo.vocab import CODE_LENGTH
from layers.access import scope as visible
from layers.store.codes import within
from layers.store.models import AccessLog, AdminUnit, Household, Problem, ProblemCategory
from layers.store.partitions import latest_round

#: What an analyst sees of a household besides its pseudonym (no address, no position).
PSEUDONYMISED_HOUSEHOLD = ("round", "subdistrict_code", "members", "urban")


def _household_query(scope: Scope) -> Select[*tuple[Any, ...]]:
    return select(
        Household.household_id,
        Household.round,
        Household.house_no,
        Household.moo,
        Household.subdistrict_code,
        Household.community,
        Household.members,
        Household.urban,
        func.ST_X(Household.geom).label("lon"),
        func.ST_Y(Household.geom).label("lat"),
        Household.precision,
        Household.surveyed_on,
    ).where(visible.households(scope))


def _in_area(scope: Scope, area: str | None) -> str:
    """The area asked for, refused (as not found) when it is outside the scope entirely."""
    area = area or ""
    if scope.overlap(area) is None:
        raise NotFoundError(f"no area with code {area!r}")
    return area


def _pseudonymised(
    rows: list[dict[str, Any]], key: bytes, keep: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    """Rows with a keyed hash ``household_ref`` for the household id.

    Only the fields ``keep`` are kept (None: every other field).
    """
    if not rows:
        return rows
    refs = keyed_hash(pd.Series([r["household_id"] for r in rows]), key)
    return [
        {
            "household_ref": ref,
            **{f: v for f, v in r.items() if f != "household_id" and (keep is None or f in keep)},
        }
        for ref, r in zip(refs, rows, strict=True)
    ]


def _page(
    conn: Connection,
    query: Select[*tuple[Any, ...]],
    order: tuple[Any, ...],
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """One page of ``query`` in ``order``, and how many rows it has in all."""
    total = conn.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = conn.execute(query.order_by(*order).limit(limit).offset(offset)).mappings()
    return [dict(r) for r in rows], total


def list_households(
    conn: Connection,
    scope: Scope,
    key: bytes,
    *,
    area: str | None,
    round_: int | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int, list[str]]:
    """A page of the households in ``area`` the scope may see (by id), and how many there are.

    With the ids of the page, for the access log (also when they are shown pseudonymised).
    """
    area = _in_area(scope, area)
    query = _household_query(scope)
    if area:
        query = query.where(within(Household.subdistrict_code, area))
    if round_ is not None:
        query = query.where(Household.round == round_)
    rows, total = _page(conn, query, (Household.household_id, Household.round), limit, offset)
    ids = [r["household_id"] for r in rows]
    if scope.pseudonymised:
        rows = _pseudonymised(rows, key, PSEUDONYMISED_HOUSEHOLD)
    return rows, total, ids


def get_household(conn: Connection, scope: Scope, key: bytes, household_id: str) -> dict[str, Any]:
    """One household in every round the scope may see, with the problems it may see."""
    rounds = [
        dict(r)
        for r in conn.execute(
            _household_query(scope)
            .where(Household.household_id == household_id)
            .order_by(Household.round)
        ).mappings()
    ]
    if not rounds:
        raise NotFoundError("no household with this id")
    found = [
        dict(r)
        for r in conn.execute(
            _problem_query(scope)
            .where(Problem.household_id == household_id)
            .order_by(Problem.round, Problem.category)
        ).mappings()
    ]
    if scope.pseudonymised:
        shown = _pseudonymised(rounds, key, PSEUDONYMISED_HOUSEHOLD)
        return {
            "household_ref": shown[0]["household_ref"],
            "rounds": shown,
            "problems": [{k: v for k, v in p.items() if k != "household_id"} for p in found],
        }
    return {"household_id": household_id, "rounds": rounds, "problems": found}


def _problem_query(scope: Scope) -> Select[*tuple[Any, ...]]:
    """Problems with where they are and the agency they go to.

    Where: codes and names of their subdistrict, district and province. The agency: the category's
    first (see ``data/taxonomy.yaml``).
    """
    subdistrict, district, province = (aliased(AdminUnit) for _ in range(3))
    agency = ProblemCategory.agencies[0]
    return (
        select(
            Problem.household_id,
            Problem.round,
            Problem.category,
            Problem.detail,
            Problem.status,
            Problem.reported_on,
            Problem.updated_on,
            Problem.resolved_on,
            Problem.subdistrict_code,
            subdistrict.name_th.label("subdistrict_th"),
            subdistrict.name_en.label("subdistrict_en"),
            district.code.label("district_code"),
            district.name_th.label("district_th"),
            district.name_en.label("district_en"),
            province.code.label("province_code"),
            province.name_th.label("province_th"),
            province.name_en.label("province_en"),
            agency["name_th"].astext.label("agency_th"),
            agency["name_en"].astext.label("agency_en"),
            (~ProblemCategory.within_mandate).label("escalated"),
        )
        .join(ProblemCategory, ProblemCategory.code == Problem.category)
        .outerjoin(subdistrict, subdistrict.code == Problem.subdistrict_code)
        .outerjoin(
            district, district.code == func.left(Problem.subdistrict_code, CODE_LENGTH["district"])
        )
        .outerjoin(
            province, province.code == func.left(Problem.subdistrict_code, CODE_LENGTH["province"])
        )
        .where(visible.problems(scope))
    )


def list_problems(
    conn: Connection,
    scope: Scope,
    key: bytes,
    *,
    area: str | None,
    category: str | None,
    status: str | None,
    round_: int | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int, list[str]]:
    """A page of the problems of one round (default: the latest) the scope may see.

    With how many there are, and their households.
    """
    area = _in_area(scope, area)
    query = _problem_query(scope).where(Problem.round == (round_ or latest_round(conn)))
    if area:
        query = query.where(within(Problem.subdistrict_code, area))
    if category is not None:
        query = query.where(Problem.category == category)
    if status is not None:
        query = query.where(Problem.status == status)
    order = (Problem.household_id, Problem.round, Problem.category)
    rows, total = _page(conn, query, order, limit, offset)
    ids = [r["household_id"] for r in rows]
    if scope.pseudonymised:
        rows = _pseudonymised(rows, key)
    return rows, total, ids


def export_household(conn: Connection, scope: Scope, household_id: str) -> dict[str, Any]:
    """Everything held about one household, for a data-subject request."""
    record = get_household(conn, scope, b"", household_id)
    record["access_log"] = who_saw(conn, household_id)
    return record


def log_access(
    conn: Connection,
    *,
    user: str,
    role: str,
    purpose: str,
    request_id: str,
    client_request_id: str | None = None,
    path: str,
    households: list[str],
    fields: list[str],
) -> None:
    """Record in the access log that ``user`` was sent ``fields`` of ``households``.

    ``purpose``, ``path`` and the request ids say why and through which request.
    """
    conn.execute(
        insert(AccessLog).values(
            user_name=user,
            role=role,
            purpose=purpose,
            request_id=request_id,
            client_request_id=client_request_id,
            path=path,
            # One JSON text, not a list psycopg dumps element by element (thousands of ids a
            # tile or a page: that took milliseconds of the server's one interpreter).
            households=func.array(
                select(
                    func.jsonb_array_elements_text(literal(sorted(set(households)), JSONB))
                ).scalar_subquery()
            ),
            fields=fields,
        )
    )


def who_saw(conn: Connection, household_id: str) -> list[dict[str, Any]]:
    """Every response that carried this household's personal fields."""
    rows = conn.execute(
        select(AccessLog.__table__)
        .where(AccessLog.households.contains([household_id]))
        .order_by(AccessLog.at, AccessLog.id)
    ).mappings()
    return [{k: v for k, v in r.items() if k != "households"} for r in rows]


def seen_by(
    conn: Connection, user: str, since: datetime | None, until: datetime | None
) -> list[dict[str, Any]]:
    """What one user was shown between two times."""
    query = select(AccessLog.__table__).where(AccessLog.user_name == user)
    if since is not None:
        query = query.where(AccessLog.at >= since)
    if until is not None:
        query = query.where(AccessLog.at < until)
    return [dict(r) for r in conn.execute(query.order_by(AccessLog.at, AccessLog.id)).mappings()]
