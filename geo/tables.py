"""Frames as plain rows, for JSON answers and printed tables."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def json_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a frame as JSON-ready dicts, without geometry.

    Parameters
    ----------
    frame
        Any frame; a ``geom`` or ``geometry`` column is left out.

    Returns
    -------
    list of dict
        One dict a row; NaN and NA become None, NumPy scalars plain Python values.
    """
    plain = frame.drop(columns=[c for c in frame.columns if c in ("geom", "geometry")])
    plain = plain.astype(object).where(plain.notna(), None)
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()}
        for r in plain.to_dict("records")
    ]


def short_names(columns: list[str], width: int = 10) -> dict[str, str]:
    """Field names cut to ``width`` characters (a shapefile's limit), without collisions.

    The rule, in column order: a name that fits and is not taken (ignoring case) is kept; a
    longer one is cut to ``width``; a name already taken ends instead in ``_2``, ``_3``… in
    place of its last characters. So ``households_with_problems`` becomes ``households``
    unless ``households`` came first, then ``househol_2``.

    Parameters
    ----------
    columns : list of str
        The field names, in order.
    width : int
        The longest name allowed.

    Returns
    -------
    dict
        Each column's short name.
    """
    taken: set[str] = set()
    short: dict[str, str] = {}
    for column in columns:
        name = column[:width]
        n = 1
        while name.lower() in taken:
            n += 1
            suffix = f"_{n}"
            name = column[: width - len(suffix)] + suffix
        taken.add(name.lower())
        short[column] = name
    return short
