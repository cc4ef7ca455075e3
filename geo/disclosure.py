"""Statistical disclosure control for public roll-ups.

Small counts suppressed, and enough other counts suppressed with them that no hidden count can be
worked out by subtraction.

A table is the roll-up of the children of one area: its rows are the areas and its cells the
counts. Each column sums to the parent's figure, which is published too, and some groups of
cells in a row sum to another cell of the row (the statuses to the problems, a dimension's
categories to the dimension). A cell below k is hidden (primary suppression); then, while a
column or a row group has exactly one hidden cell, the smallest other non-zero cell of it is
hidden too (complementary suppression).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

K = 5
K_SENSITIVE = 10


def suppress(
    counts: pd.DataFrame,
    k: Mapping[str, float],
    row_groups: Sequence[tuple[Sequence[str], str]] = (),
) -> pd.DataFrame:
    """Which cells to hide.

    Parameters
    ----------
    counts : DataFrame
        One row per area, one column per count.
    k : mapping
        Column → threshold (default ``K``): counts above 0 and below it are hidden; ``inf``
        hides every count above 0.
    row_groups : sequence of (parts, total)
        Columns ``parts`` of a row sum to column ``total``.

    Returns
    -------
    DataFrame of bool
        True where the cell must not be published.
    """
    values = counts.to_numpy(dtype=float)
    thresholds = np.array([k.get(c, K) for c in counts.columns], dtype=float)
    hidden = (values > 0) & (values < thresholds)
    position = {c: i for i, c in enumerate(counts.columns)}
    groups = [([position[p] for p in parts], position[total]) for parts, total in row_groups]
    changed = True
    while changed:
        changed = False
        for j in range(values.shape[1]):
            if hidden[:, j].sum() == 1 and _hide_another(values[:, j], hidden[:, j]):
                changed = True
        for i in range(values.shape[0]):
            for parts, total in groups:
                cells = [*parts, total]
                if hidden[i, cells].sum() == 1:
                    row = hidden[i]
                    view = row[cells]
                    if _hide_another(values[i, cells], view):
                        row[cells] = view
                        changed = True
    return pd.DataFrame(hidden, index=counts.index, columns=counts.columns)


def suppress_cells(cells: pd.DataFrame, k: float = K) -> pd.DataFrame:
    """Hexagon counts for the public (``geo.density.hex_counts`` columns).

    Counts from 1 to k - 1 are hidden (None), with complementary suppression down each
    column, because the cells add up to the area's published total. A cell whose household
    count is hidden is left out altogether (drawn, it would show where a few households live,
    and its other counts would describe them). A rate is hidden with the counts it is made of;
    ``solved`` is dropped.
    """
    counted = ["households", "households_with_problems", "problems"]
    hidden = suppress(cells[counted], dict.fromkeys(counted, k))
    rates = {
        "problems_per_1000": hidden["problems"],
        "affected_per_1000": hidden["households_with_problems"],
    }
    out = cells.drop(columns=[c for c in ("solved",) if c in cells.columns])
    out = out.astype(dict.fromkeys([*counted, *rates], object))
    for column, mask in [*((c, hidden[c]) for c in counted), *rates.items()]:
        out.loc[mask.to_numpy(), column] = None
    return out[~hidden["households"].to_numpy()]


def _hide_another(values: np.ndarray, hidden: np.ndarray) -> bool:
    """Hide the smallest visible cell (non-zero first); False when there is none."""
    visible = np.flatnonzero(~hidden)
    if len(visible) == 0:
        return False
    nonzero = visible[values[visible] > 0]
    pool = nonzero if len(nonzero) else visible
    hidden[pool[np.argmin(values[pool])]] = True
    return True
