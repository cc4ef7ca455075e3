"""Deadlines in working days: weekends and Thai public holidays (PyPI ``holidays``) skipped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Container
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def thai_holidays(*years: int) -> holidays.HolidayBase:
    """Thailand's public holidays of ``years``, as the ``holidays`` package knows them."""
    return holidays.country_holidays("TH", years=years)


def is_working_day(day: dt.date, closed: Container[dt.date]) -> bool:
    """Whether offices are open on ``day``: a weekday that is not in ``closed``."""
    return day.weekday() < 5 and day not in closed


def add_working_days(
    start: dt.date, days: int, closed: Container[dt.date] | None = None
) -> dt.date:
    """The date ``days`` working days after ``start`` (which itself does not count).

    Parameters
    ----------
    start
        The day the clock starts (a case referred on a Friday evening starts on that Friday).
    days
        Working days allowed, 0 or more.
    closed
        Days offices are closed besides weekends; default Thailand's public holidays.

    Returns
    -------
    datetime.date
        The last day of the period: the deadline.
    """
    if days < 0:
        raise ValueError("days must be 0 or more")
    if closed is None:
        closed = thai_holidays(*range(start.year, start.year + 1 + days // 200 + 1))
    day = start
    while days:
        day += dt.timedelta(days=1)
        if is_working_day(day, closed):
            days -= 1
    return day


def working_days_between(
    start: dt.date, end: dt.date, closed: Container[dt.date] | None = None
) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when ``end`` is not later)."""
    if end <= start:
        return 0
    if closed is None:
        closed = thai_holidays(*range(start.year, end.year + 1))
    return sum(
        is_working_day(start + dt.timedelta(days=n), closed)
        for n in range(1, (end - start).days + 1)
    )


#: The ladder an overdue case climbs, one step per missed period: where it is shown, by level.
LADDER = ("office", "district_centre", "province_centre", "national")


def escalation_level(
    due: dt.date, today: dt.date, period: int, closed: Container[dt.date] | None = None
) -> int:
    """How far up ``LADDER`` a case whose deadline was ``due`` has climbed by ``today``.

    Missing the deadline is the first step (the district centre); each further ``period``
    working days missed is one more, up to the national reviewers.
    """
    late = working_days_between(due, today, closed)
    if late == 0:
        return 0
    return min(len(LADDER) - 1, 1 + (late - 1) // max(period, 1))
