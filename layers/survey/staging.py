"""Rows of attached rounds: COPY them into the session's stage tables, upsert them from there."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, text

from layers.survey.readers import frame_to_csv
from layers.survey.report import ImportReport
from layers.survey.sql import (
    CORRECTED_CATEGORIES,
    COUNT_ROWS,
    PLACEMENT_FLAGS,
    ROW_KEYS,
    UPSERT_HOUSEHOLDS,
    UPSERT_PROBLEMS,
)


def copy_frame(conn: Connection, table: str, frame: pd.DataFrame) -> None:
    """COPY a frame into the table's columns of the same names."""
    if frame.empty:
        return
    quote = conn.dialect.identifier_preparer.quote
    columns = ", ".join(quote(str(c)) for c in frame.columns)
    raw = conn.connection.dbapi_connection
    assert raw is not None
    statement = f"COPY {quote(table)} ({columns}) FROM STDIN (FORMAT csv)"
    with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[attr-defined]
        copy.write(frame_to_csv(frame))


def problem_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows that name a problem (a household with none has one row without)."""
    return rows[rows["category"].notna()]


def upsert_households(conn: Connection, report: ImportReport) -> int:
    """Upsert the staged households, counted in the report; returns how many were written."""
    new, changed = conn.execute(
        text(UPSERT_HOUSEHOLDS), {"job": report.job_id, "placement": list(PLACEMENT_FLAGS)}
    ).one()
    report.households_inserted += new
    report.households_updated += changed
    return int(new + changed)


def upsert_problems(conn: Connection, report: ImportReport) -> int:
    """Upsert the staged problems, counted in the report; returns how many were written."""
    for statement in CORRECTED_CATEGORIES.split(";"):
        conn.execute(text(statement))
    new, changed = conn.execute(text(UPSERT_PROBLEMS), {"job": report.job_id}).one()
    report.problems_inserted += new
    report.problems_updated += changed
    return int(new + changed)


def upsert(
    conn: Connection,
    households: pd.DataFrame,
    problems: pd.DataFrame,
    report: ImportReport,
) -> int:
    """Insert or update rows of attached rounds; returns how many rows were written."""
    copy_frame(conn, "stage_household", households)
    copy_frame(conn, "stage_problem", problem_rows(problems))
    households_written = upsert_households(conn, report)
    problems_written = upsert_problems(conn, report)
    # A row is imported when its household or its problem was written: the join is needed
    # only when some of the rows were written and some were not.
    if households_written == len(households):
        return len(problems)
    if households_written + problems_written == 0:
        return 0
    copy_frame(conn, "stage_row", problems[ROW_KEYS])
    return int(conn.scalar(text(COUNT_ROWS)) or 0)
