"""Personal data in survey files: national ID numbers checked and hashed, names found.

Everything here works on whole batches (pandas/NumPy arrays) and is pure.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geo.intake.normalise import THAI_DIGITS

NAME_PREFIXES = re.compile(
    # Thai titles are written joined to the name (นายสมชาย); English ones are followed by a space.
    r"^\s*(นางสาว|นาง|นาย|น\.ส\.|ด\.ช\.|ด\.ญ\.|เด็กชาย|เด็กหญิง|(mr|mrs|miss|ms)\.?\s)",
    re.IGNORECASE,
)
NAME_HEADERS = re.compile(r"(^|_)(name|first_?name|last_?name|surname|fullname)$|ชื่อ|นามสกุล", re.I)


def national_id_valid(values: pd.Series) -> NDArray[np.bool_]:
    """Which values are 13-digit Thai national ID numbers with a valid check digit."""
    digits = values.fillna("").astype(str).str.translate(THAI_DIGITS)
    digits = digits.str.replace(r"[\s-]", "", regex=True)
    shaped = digits.str.fullmatch(r"[0-9]{13}").to_numpy(dtype=bool)
    valid = np.zeros(len(values), dtype=bool)
    if shaped.any():
        joined = "".join(digits[shaped].tolist()).encode("ascii")
        matrix = (np.frombuffer(joined, dtype=np.uint8) - ord("0")).reshape(-1, 13).astype(np.int64)
        total = matrix[:, :12] @ np.arange(13, 1, -1)
        valid[shaped] = (11 - total % 11) % 10 == matrix[:, 12]
    return valid


def personal_columns(frame: pd.DataFrame, known: set[str]) -> dict[str, str]:
    """Columns that hold personal data, and how to treat them.

    A column whose filled values are mostly valid national ID numbers is ``"hashed"``; one whose
    header names a person's name, or whose values mostly start with a title (นาย, นาง, Mr…), is
    ``"dropped"``. Columns in ``known`` (the canonical ones) are not examined.
    """
    treated: dict[str, str] = {}
    for column in frame.columns:
        if column in known:
            continue
        values = frame[column].fillna("").astype(str)
        filled = values[values.str.strip() != ""]
        if filled.empty:
            continue
        if national_id_valid(filled).mean() >= 0.5:
            treated[column] = "hashed"
        elif NAME_HEADERS.search(str(column)) or filled.str.match(NAME_PREFIXES).mean() >= 0.3:
            treated[column] = "dropped"
    return treated


def keyed_hash(values: pd.Series, key: bytes) -> pd.Series:
    """Keyed BLAKE2b-256 of each non-empty value (separators removed), None where empty.

    Without the key the hash cannot be recomputed from a guessed ID number; with it, the same
    person gets the same hash in every file and round.
    """
    # A household's ID is on each of its rows: each distinct value is cleaned and hashed once.
    codes, distinct = pd.factorize(values.fillna("").astype(str))
    cleaned = pd.Series(distinct).str.translate(THAI_DIGITS).str.replace(r"[\s-]", "", regex=True)
    digests = np.array(
        [
            hashlib.blake2b(v.encode(), key=key[:64], digest_size=32).hexdigest() if v else None
            for v in cleaned.tolist()
        ],
        dtype=object,
    )
    return pd.Series(digests[codes], index=values.index, dtype=object)
