"""Survey values made uniform in whole batches: numbers, Thai digits, dates, lookups.

Everything here works on pandas/NumPy arrays and is pure.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_THAI_DIGIT = re.compile("[๐-๙]")
BE_OFFSET = 543


def numbers(text: pd.Series) -> pd.Series:
    """Text as float64, NaN where empty or not a number (``pd.to_numeric(errors="coerce")``).

    Clean columns are cast by Arrow, several times faster; a column with a bad value falls back
    to pandas, which marks just that value.
    """
    values = pa.array(text.to_numpy(dtype=object), type=pa.string())
    try:
        cast = pc.cast(pc.if_else(pc.equal(values, ""), None, values), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pd.to_numeric(text, errors="coerce").astype(float)
    return pd.Series(cast.to_numpy(zero_copy_only=False), index=text.index, dtype=float)


def lookup(values: pd.Series, mapping: dict[str, Any]) -> NDArray[np.object_]:
    """``values.map(mapping)`` as an object array (None where absent), each distinct value once."""
    codes, distinct = pd.factorize(values)
    mapped = np.array([mapping.get(v) for v in distinct.tolist()] + [None], dtype=object)
    found: NDArray[np.object_] = mapped[codes]  # code -1 (a missing value) takes the trailing None
    return found


def member(values: pd.Series, allowed: Collection[str]) -> NDArray[np.bool_]:
    """``values.isin(allowed)``, each distinct value tested once (Arrow strings' own is slow)."""
    codes, distinct = pd.factorize(values)
    inside = np.array([v in allowed for v in distinct.tolist()] + [False], dtype=bool)
    found: NDArray[np.bool_] = inside[codes]  # code -1 (a missing value) takes the False
    return found


def _may_hold_thai(text: pd.Series) -> bool:
    """Whether any value has a character of the Thai block's second half (digits among them).

    A bytewise search for their UTF-8 lead bytes: columns of codes, numbers and dates almost
    never have one, and then the slower search for digits is skipped.
    """
    values = pa.array(text.to_numpy(dtype=object), type=pa.string()).view(pa.binary())
    return bool(pc.any(pc.match_substring(values, b"\xe0\xb9")).as_py())


def thai_digits_to_arabic(values: pd.Series) -> tuple[pd.Series, NDArray[np.bool_]]:
    """Replace Thai digits (๐-๙) by Arabic ones; returns the values and where any were found."""
    text = values.fillna("").astype(str)
    if not _may_hold_thai(text):
        return text, np.zeros(len(text), dtype=bool)
    found = text.str.contains(_THAI_DIGIT).to_numpy(dtype=bool)
    if found.any():
        text = text.where(~found, text.str.translate(THAI_DIGITS))
    return text, found


def parse_dates(values: pd.Series) -> tuple[pd.Series, NDArray[np.bool_], NDArray[np.bool_]]:
    """Parse ``YYYY-MM-DD`` or ``D/M/YYYY`` dates, Buddhist Era years (≥ 2400) made CE.

    Returns
    -------
    dates : Series of ``datetime64[s]`` (NaT where empty or bad)
    buddhist_era : ndarray of bool
        Where the year was Buddhist Era and was converted.
    bad : ndarray of bool
        Where a value was given but is not a date.
    """
    text = values.fillna("").astype(str).str.strip()
    # Most dates are ISO and CE: parsed in C; the patterns below only see the others.
    dates = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").astype("datetime64[s]")
    given = (text != "").to_numpy(dtype=bool)
    # Buddhist Era years parse as far-future dates here (and BE leap days not at all).
    rest = given & (dates.isna() | (dates.dt.year >= 2400)).to_numpy(dtype=bool)
    buddhist = np.zeros(len(text), dtype=bool)
    if rest.any():
        other = text[rest]
        iso = other.str.extract(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?$")
        dmy = other.str.extract(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
        year = pd.to_numeric(iso[0].fillna(dmy[2]), errors="coerce")
        month = pd.to_numeric(iso[1].fillna(dmy[1]), errors="coerce")
        day = pd.to_numeric(iso[2].fillna(dmy[0]), errors="coerce")
        be = (year >= 2400).to_numpy(dtype=bool)
        year = year.where(~be, year - BE_OFFSET)
        parsed = pd.to_datetime(
            pd.DataFrame({"year": year, "month": month, "day": day}), errors="coerce"
        ).astype("datetime64[s]")
        dates[rest] = parsed.to_numpy()
        buddhist[rest] = be & parsed.notna().to_numpy(dtype=bool)
    bad = given & dates.isna().to_numpy(dtype=bool)
    return dates, buddhist, bad
