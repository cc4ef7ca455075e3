"""Disclosure control: small counts hidden, and none recoverable by subtraction."""

from __future__ import annotations

import math

import pandas as pd

from geo.disclosure import suppress, suppress_cells


def test_a_small_count_takes_a_complement_in_its_column_and_its_row_group() -> None:
    table = pd.DataFrame(
        {"a": [3, 40, 50], "b": [20, 30, 60], "total": [23, 70, 110]}, index=["x", "y", "z"]
    )
    hidden = suppress(table, {}, [(["a", "b"], "total")])
    # x.a < 5: hidden. Column a then needs a second hidden cell (y.a, the smallest), and rows x
    # and y each need a second hidden cell in their group (b, the smaller of b and total) ...
    assert hidden.loc["x", "a"] and hidden.loc["y", "a"]
    assert hidden.loc["x", "b"] and hidden.loc["y", "b"]
    # ... which column b then already has twice.
    for column in table:
        assert hidden[column].sum() != 1
    for row in table.index:
        assert hidden.loc[row, ["a", "b", "total"]].sum() != 1


def test_zeros_and_counts_at_k_are_published_and_infinite_k_hides_any_count() -> None:
    table = pd.DataFrame({"a": [0, 5, 9], "s": [0, 2, 12]})
    hidden = suppress(table, {"s": math.inf})
    assert not hidden["a"].any()
    assert hidden["s"].tolist() == [False, True, True]


def test_public_hexagons_hide_small_counts_their_complements_and_their_rates() -> None:
    cells = pd.DataFrame(
        {
            "h3": ["a", "b", "c", "d"],
            "households": [2, 40, 60, 80],
            "households_with_problems": [1, 12, 20, 3],
            "problems": [3, 30, 55, 8],
            "solved": [1, 20, 40, 5],
        }
    )
    cells["problems_per_1000"] = 1000 * cells["problems"] / cells["households"]
    cells["affected_per_1000"] = 1000 * cells["households_with_problems"] / cells["households"]
    public = suppress_cells(cells)
    # a has 2 households: left out, with b (the smallest other) so that a is not a + b - b.
    assert public["h3"].tolist() == ["c", "d"]
    for column in ("households", "households_with_problems", "problems"):
        shown = public[column].dropna()
        assert not ((shown > 0) & (shown < 5)).any(), column
    # d's 3 households with problems are hidden (with a's 1: two hidden in that column); a's 3
    # problems take d's 8 with them, and d's rates go too.
    shown = public.set_index("h3")
    assert shown.loc["d", "households_with_problems"] is None
    assert shown.loc["d", "problems"] is None and shown.loc["d", "problems_per_1000"] is None
    assert shown.loc["c", "problems"] == 55 and shown.loc["c", "households"] == 60
    assert "solved" not in public
