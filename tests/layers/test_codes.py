"""Area-code prefixes as index ranges: the same codes as ``LIKE 'prefix%'``, for every prefix."""

from __future__ import annotations

import itertools

from sqlalchemy import Engine, column, select, values
from sqlalchemy.types import String

from layers.store.codes import within


def test_a_prefix_range_holds_exactly_the_codes_that_start_with_it(
    loaded_engine: Engine,
) -> None:
    # Codes of every length around the edges of a range: 09/10/11, 99, 1099/1100, 341099/3411…
    stems = ["09", "10", "11", "19", "34", "35", "99"]
    codes = sorted(
        {s for s in stems}
        | {s + t for s, t in itertools.product(stems, ["00", "01", "09", "10", "19", "99"])}
        | {
            s + t + u
            for s, t, u in itertools.product(["10", "34", "99"], ["09", "10", "99"], ["01", "99"])
        }
    )
    rows = values(column("code", String), name="codes").data([(c,) for c in codes])
    with loaded_engine.connect() as conn:
        for prefix in ["", *codes]:
            got = set(conn.scalars(select(rows.c.code).where(within(rows.c.code, prefix))))
            assert got == {c for c in codes if c.startswith(prefix)}, prefix
