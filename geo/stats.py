"""Roll-up figures per area from counts: rates, resolution breakdown, % solved.

Counts come in long form, one row per area and key (the shape of the ``rollup`` table):
``households``, ``affected`` and ``affected:<dimension>`` (households with at least one problem),
and ``problems:<category>:<status>``. "% solved" is computed from the resolution breakdown —
problems solved by an agency or by the household over all problems — never from one lumped status.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.errors import InvalidInputError

DIMENSIONS = ("health", "living_conditions", "education", "income", "public_services")
#: The resolution breakdown, in the order reports show it.
RESOLUTION = (
    "solved_by_agency",
    "solved_by_household",
    "referred",
    "in_progress",
    "closed_unsolved",
    "open",
)
SOLVED = ("solved_by_agency", "solved_by_household")
PER = 1_000


def summarise(
    counts: pd.DataFrame, categories: pd.DataFrame, dimension: str | None = None
) -> pd.DataFrame:
    """One row of figures per area.

    Parameters
    ----------
    counts : DataFrame
        Columns ``code``, ``key``, ``n`` (see the module docstring).
    categories : DataFrame
        Columns ``code`` and ``dimension`` of the problem taxonomy.
    dimension : str, optional
        Count only problems of this TPMAP dimension (households with problems too).

    Returns
    -------
    DataFrame
        Indexed by area code, with ``households``, ``households_with_problems``, ``problems``,
        ``solved``, ``solved_pct`` (None without problems), ``problems_per_1000``,
        ``affected_per_1000`` (None without households), and the dicts ``resolution``
        (problems by status), ``by_dimension`` and ``by_category``.
    """
    if dimension is not None and dimension not in DIMENSIONS:
        raise InvalidInputError(f"dimension: {dimension!r} is not one of {', '.join(DIMENSIONS)}")
    dimension_of = dict(zip(categories["code"], categories["dimension"], strict=True))
    codes = pd.Index(counts["code"].unique(), name="code")
    keys = counts["key"].astype(str)
    plain = counts[~keys.str.startswith("problems:")].pivot_table(
        index="code", columns="key", values="n", aggfunc="sum"
    )
    plain = plain.reindex(codes)
    problems = counts[keys.str.startswith("problems:")]
    parts = problems["key"].astype(str).str.split(":", expand=True)
    problems = pd.DataFrame(
        {
            "code": problems["code"].to_numpy(),
            "category": parts[1].to_numpy() if len(parts) else [],
            "status": parts[2].to_numpy() if len(parts) else [],
            "n": problems["n"].to_numpy(dtype=np.int64),
        }
    )
    problems["dimension"] = problems["category"].map(dimension_of)
    if dimension is not None:
        problems = problems[problems["dimension"] == dimension]
    affected_key = "affected" if dimension is None else f"affected:{dimension}"

    def column(name: str) -> pd.Series:
        if name not in plain:
            return pd.Series(0, index=codes, dtype=np.int64)
        return plain[name].fillna(0).astype(np.int64)

    def breakdown(by: str, labels: tuple[str, ...] | None = None) -> pd.Series:
        table = problems.pivot_table(index="code", columns=by, values="n", aggfunc="sum")
        table = table.reindex(index=codes, columns=labels or sorted(table.columns)).fillna(0)
        return pd.Series(
            [
                {k: int(v) for k, v in row.items() if labels or v}
                for row in table.to_dict("records")
            ],
            index=codes,
        )

    out = pd.DataFrame(
        {
            "households": column("households"),
            "households_with_problems": column(affected_key),
            "problems": problems.groupby("code")["n"].sum().reindex(codes).fillna(0).astype(int),
        },
        index=codes,
    )
    out["resolution"] = breakdown("status", RESOLUTION)
    out["by_dimension"] = breakdown("dimension", DIMENSIONS)
    out["by_category"] = breakdown("category")
    out["solved"] = [sum(r[s] for s in SOLVED) for r in out["resolution"]]
    out["solved_pct"] = _share(out["solved"], out["problems"], 100)
    out["problems_per_1000"] = _share(out["problems"], out["households"], PER)
    out["affected_per_1000"] = _share(out["households_with_problems"], out["households"], PER)
    return out.sort_index()


def _share(part: pd.Series, whole: pd.Series, scale: float) -> pd.Series:
    """``part / whole * scale`` rounded to 2 decimals, None where ``whole`` is 0."""
    ratio = (part / whole.where(whole > 0) * scale).round(2)
    return ratio.astype(object).where(ratio.notna(), None)
