"""Conditions on area codes that an index can use.

``LIKE '3419%'`` is not an index range unless the column's collation is ``C`` (``C.UTF-8`` is
not, to PostgreSQL 15's planner): on 20 million households it reads them all. Area codes are
digits, so "starts with 3419" is the range ``['3419', '3420')``, which a btree index reads.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, true


def within(column: Any, prefix: str) -> ColumnElement[bool]:
    """``column`` starts with the area code ``prefix`` ('' matches everything)."""
    if not prefix:
        return true()
    if not prefix.isdigit():
        return column.startswith(prefix, autoescape=True)  # type: ignore[no-any-return]
    # A shorter code may lie inside the range ('11' in ['1099', '1100')): not below the prefix.
    conditions = [column >= prefix, func.length(column) >= len(prefix)]
    upper = str(int(prefix) + 1).zfill(len(prefix))
    if len(upper) == len(prefix):  # "99": no code comes after
        conditions.append(column < upper)
    return and_(*conditions)
