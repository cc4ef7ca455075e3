"""`bamrung stats`: roll-ups per area."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from api.cli.common import engine, errors, out
from geo.vocab import STATUSES
from layers.analysis import stats as stats_queries
from layers.store.settings import Settings


def stats(
    level: Annotated[
        str, typer.Option(help="child level: province, district, subdistrict, village, community")
    ],
    area: Annotated[str, typer.Option(help="area code; empty = the whole country")] = "",
    round_: Annotated[
        int | None, typer.Option("--round", help="survey round (BE year); default the latest")
    ] = None,
    dimension: Annotated[str | None, typer.Option(help="only problems of this dimension")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """Households, problems and the resolution breakdown for each child area of AREA."""
    with errors(), engine(Settings()).connect() as conn:
        rows = stats_queries.rollup(
            conn, area=area, level=level, round_=round_, dimension=dimension
        )
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    round_shown = rows[0]["round"] if rows else "-"
    table = Table(title=f"{level} roll-up of {area or 'Thailand'}, round {round_shown}")
    table.add_column("code")
    table.add_column("name")
    for column in ("households", "with problems", "problems", "per 1,000", "% solved"):
        table.add_column(column, justify="right")
    table.add_column("breakdown (" + " / ".join(STATUSES) + ")")
    for row in rows:
        table.add_row(
            row["code"],
            row["name_th"] or "",
            f"{row['households']:,}",
            f"{row['households_with_problems']:,}",
            f"{row['problems']:,}",
            _number(row["problems_per_1000"]),
            _number(row["solved_pct"]),
            " / ".join(f"{row['resolution'][s]:,}" for s in STATUSES),
        )
    out.print(table)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"
