"""Charts of case figures, as PNG images (matplotlib, no display needed)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from geo.maps.style import CASE_COLOURS, OVERDUE

#: The bars of the figures chart: (figure, colour) — never one lumped "% solved".
BARS = (
    ("received", CASE_COLOURS["referred"]),
    ("solved_by_agency", CASE_COLOURS["verified"]),
    ("solved_by_household", CASE_COLOURS["resolved"]),
    ("overdue", OVERDUE),
    ("rejected", CASE_COLOURS["rejected"]),
)


def kpi_chart(rows: Sequence[dict[str, Any]], labels: dict[str, str], title: str) -> bytes:
    """Grouped horizontal bars of each group's figures (rows of ``kpis``), as a PNG.

    Parameters
    ----------
    rows
        One mapping per group with ``key`` (its name as shown) and the figures of ``BARS``.
    labels
        What each figure is called, in the chart's language.
    """
    names = [str(r["key"]) for r in rows]
    height = 0.8 / len(BARS)
    figure, axes = plt.subplots(figsize=(8, 1.2 + 0.6 * max(1, len(rows))), dpi=110)
    for n, (figure_name, colour) in enumerate(BARS):
        axes.barh(
            [i + n * height for i in range(len(rows))],
            [r[figure_name] or 0 for r in rows],  # a hidden figure draws no bar
            height=height,
            color=colour,
            label=labels[figure_name],
        )
    axes.set_yticks([i + 0.4 - height / 2 for i in range(len(rows))], names)
    axes.invert_yaxis()
    axes.set_xscale("symlog")
    axes.set_title(title)
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    plt.close(figure)
    return out.getvalue()
