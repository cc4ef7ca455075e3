"""The one filter that keeps every query inside a user's scope.

``households(scope)``, ``problems(scope)``, ``cases(scope)`` and ``quarantined(scope, user)``
are SQL conditions on ``household``, ``problem``, ``problem_case`` and ``quarantine``; every
repository function that reads or writes personal records uses them.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true

from geo.access import Scope
from layers.store.codes import within
from layers.store.models import (
    Case,
    CitizenReport,
    Community,
    CommunityIssue,
    Household,
    ImportJob,
    Problem,
    ProblemCategory,
    QuarantinedRow,
)


def problems(scope: Scope) -> ColumnElement[bool]:
    """The problems ``scope`` may see."""
    conditions: list[ColumnElement[bool]] = []
    if scope.area:
        conditions.append(within(Problem.subdistrict_code, scope.area))
    if scope.categories is not None:
        conditions.append(Problem.category.in_(sorted(scope.categories)))
    if scope.escalated:
        outside = select(ProblemCategory.code).where(ProblemCategory.within_mandate.is_(False))
        conditions.append(Problem.category.in_(outside.scalar_subquery()))
    if scope.household is not None:
        conditions.append(Problem.household_id == scope.household)
    if scope.community is not None:
        conditions.append(_in_community(Problem, scope.community))
    return and_(true(), *conditions)


def households(scope: Scope) -> ColumnElement[bool]:
    """The households ``scope`` may see: by area, pin, or through a problem it may see."""
    conditions: list[ColumnElement[bool]] = []
    if scope.area:
        conditions.append(within(Household.subdistrict_code, scope.area))
    if scope.household is not None:
        conditions.append(Household.household_id == scope.household)
    if scope.community is not None:
        conditions.append(Household.community == scope.community)
    if scope.categories is not None or scope.escalated:
        conditions.append(
            exists()
            .where(
                Problem.household_id == Household.household_id,
                Problem.round == Household.round,
                problems(scope),
            )
            .correlate(Household)
        )
    return and_(true(), *conditions)


def denominator(scope: Scope) -> ColumnElement[bool]:
    """The households of the scope's area (and community), whatever their problems.

    The base of its rates. Categories limit which problems are counted, not who was surveyed.
    """
    return households(replace(scope, categories=None, escalated=False))


def quarantined(scope: Scope, user: str) -> ColumnElement[bool]:
    """The refused rows ``scope`` may see.

    Those that declare a subdistrict inside its area, and every row of the files ``user`` uploaded.
    """
    if not scope.area:
        return true()
    uploaded = select(ImportJob.id).where(ImportJob.started_by == user)
    return or_(
        within(QuarantinedRow.subdistrict_code, scope.area),
        QuarantinedRow.import_job_id.in_(uploaded.scalar_subquery()),
    )


def cases(scope: Scope) -> ColumnElement[bool]:
    """The cases ``scope`` may see, and act on as far as its role allows.

    An agency officer those of its office; a reviewer the escalated ones (outside the
    ministry's mandate, or climbed to the national level); the others by area, household and
    community, as for problems.
    """
    if scope.role == "agency_officer":
        return Case.office == scope.office if scope.office else false()
    conditions: list[ColumnElement[bool]] = []
    if scope.area:
        conditions.append(within(Case.subdistrict_code, scope.area))
    if scope.escalated:
        conditions.append(or_(Case.escalated, Case.level >= 3))
    if scope.household is not None:
        conditions.append(Case.household_id == scope.household)
    if scope.community is not None:
        issues = select(CommunityIssue.id).where(CommunityIssue.community == scope.community)
        conditions.append(
            or_(_in_community(Case, scope.community), Case.issue_id.in_(issues.scalar_subquery()))
        )
    return and_(true(), *conditions)


def _in_community(record: type[Problem] | type[Case], community: str) -> ColumnElement[bool]:
    """Records (problems, cases) whose household of the same round lives in ``community``."""
    return (
        exists()
        .where(
            Household.household_id == record.household_id,
            Household.round == record.round,
            Household.community == community,
        )
        # Only the record comes from outside: a query may hold both tables.
        .correlate(record)
    )


def reports(scope: Scope) -> ColumnElement[bool]:
    """The citizens' reports ``scope`` may see.

    Its own household's when it is pinned to one, else those placed in its area (and community).
    """
    r = CitizenReport
    if scope.categories is not None or scope.escalated or scope.office is not None:
        return false()  # a report is not yet a problem of any office's mandate
    if scope.household is not None:
        return r.household_id == scope.household
    conditions: list[ColumnElement[bool]] = [within(r.subdistrict_code, scope.area)]
    if scope.community is not None:
        conditions.append(
            exists().where(
                Household.household_id == r.household_id,
                Household.round == r.round,
                Household.community == scope.community,
            )
        )
    return and_(*conditions)


def communities(scope: Scope) -> ColumnElement[bool]:
    """The communities whose meetings ``scope`` may record and whose issues it may move on.

    A community leader its own community; the district team (and the province's, the
    country's) those of its area. Reading a community's progress is public: this is for writes.
    """
    c = Community
    if scope.categories is not None or scope.escalated or scope.office is not None:
        return false()
    if scope.household is not None:
        return false()  # a household reports through its own door, not the community's
    conditions: list[ColumnElement[bool]] = [within(c.subdistrict_code, scope.area)]
    if scope.community is not None:
        conditions.append(c.code == scope.community)
    return and_(*conditions)
