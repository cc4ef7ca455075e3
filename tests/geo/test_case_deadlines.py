"""Deadlines in working days skip weekends and Thai public holidays."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from geo.cases.deadlines import add_working_days, working_days_between


def test_songkran_and_the_weekend_are_skipped() -> None:
    # Friday 10 April 2026; Songkran is Monday 13 to Wednesday 15 April.
    friday = dt.date(2026, 4, 10)
    assert add_working_days(friday, 1) == dt.date(2026, 4, 16)
    assert add_working_days(friday, 3) == dt.date(2026, 4, 20)
    assert add_working_days(friday, 0) == friday
    # Chakri Day (Monday 6 April) and Labour Day (Friday 1 May) are holidays too.
    assert add_working_days(dt.date(2026, 4, 3), 1) == dt.date(2026, 4, 7)
    assert add_working_days(dt.date(2026, 4, 30), 1) == dt.date(2026, 5, 5)


# The holiday calendar is built per call: no per-example deadline on a busy machine.
@settings(deadline=None)
@given(
    st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2030, 12, 31)),
    st.integers(min_value=0, max_value=60),
)
def test_counting_the_days_back_gives_the_days_added(start: dt.date, days: int) -> None:
    deadline = add_working_days(start, days)
    assert working_days_between(start, deadline) == days
    assert deadline.weekday() < 5 or days == 0
