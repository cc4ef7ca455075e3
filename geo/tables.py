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
