"""De-duplication of the rows of a file.

Row identities (64-bit hashes), the identities a file has shown so far, and the refusal of a row
that repeats an earlier one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geo.intake.labels import Labels


class SeenRows:
    """The row identities (64-bit hashes) a file has shown so far, in 8 bytes a row.

    Sorted runs merged like a binary counter: adding is amortised O(n log n), a lookup is a
    binary search in each of at most log2(batches) runs. Every run of an import reads the file
    from its first row, so duplicates are found the same way in a resumed run.
    """

    def __init__(self) -> None:
        self.runs: list[NDArray[np.int64]] = []

    def seen(self, values: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Whether each identity of ``values`` was added before."""
        found = np.zeros(len(values), dtype=bool)
        for run in self.runs:
            at = np.minimum(np.searchsorted(run, values), len(run) - 1)
            found |= run[at] == values
        return found

    def add(self, values: NDArray[np.int64]) -> None:
        """Add identities, merging the runs as a binary counter carries."""
        if not len(values):  # a batch with every row refused; an empty run breaks ``seen``
            return
        run = sorted_distinct(values)
        while self.runs and len(self.runs[-1]) <= 2 * len(run):
            run = sorted_distinct(np.concatenate([self.runs.pop(), run]))
        self.runs.append(run)


def sorted_distinct(values: NDArray[np.int64]) -> NDArray[np.int64]:
    """``np.unique`` by sorting: numpy 2's hash-based unique is some 40 times slower here."""
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def row_identity(values: pd.DataFrame, *, problem: bool = True) -> NDArray[np.int64]:
    """64-bit hash of each row's (household, round, problem code), or of its (household, round)."""
    keys = {"h": values["household_id"], "r": values["round"]}
    if problem:
        keys["c"] = values["category"].fillna("")
    hashed: NDArray[np.int64] = (
        pd.util.hash_pandas_object(pd.DataFrame(keys), index=False).to_numpy().view(np.int64)
    )
    return hashed


def refuse_duplicates(
    values: pd.DataFrame,
    refused: NDArray[np.bool_],
    seen: SeenRows,
    reasons: Labels,
    messages: Labels,
) -> NDArray[np.bool_]:
    """Refuse (``duplicate_row``) the rows that repeat an earlier row of the file.

    Those not ``refused`` already whose (household, round, problem) is on an earlier row; the others
    are added to ``seen``.

    Returns the rows refused here.
    """
    identity = row_identity(values)
    candidates = np.flatnonzero(~refused)
    repeated = np.zeros(len(identity), dtype=bool)
    repeated[candidates] = pd.Series(identity[candidates]).duplicated(keep="first").to_numpy()
    repeated = (repeated | seen.seen(identity)) & ~refused
    seen.add(identity[~refused & ~repeated])
    reasons.add(repeated, "duplicate_row")
    for i in np.flatnonzero(repeated).tolist():
        messages.append(i, "the same household, round and problem_code are on an earlier row")
    return repeated
