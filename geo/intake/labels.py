"""Labels (flags or reasons) of the rows of a batch."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


class Labels:
    """Labels (flags or reasons) of the rows of a batch, kept only for rows that have any."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.rows: dict[int, list[str]] = {}

    def add(self, where: NDArray[np.bool_] | NDArray[np.int64], label: str) -> None:
        """Add ``label`` to the rows of a boolean mask or an array of positions (once each)."""
        positions = np.flatnonzero(where) if where.dtype == bool else where
        for i in positions.tolist():
            labels = self.rows.setdefault(i, [])
            if label not in labels:
                labels.append(label)

    def append(self, i: int, label: str) -> None:
        """Add a label to one row (repeats allowed: messages may repeat)."""
        self.rows.setdefault(i, []).append(label)

    def __getitem__(self, i: int) -> list[str]:
        return self.rows.get(i, [])

    def mask(self) -> NDArray[np.bool_]:
        """Rows with at least one label."""
        out = np.zeros(self.size, dtype=bool)
        out[list(self.rows)] = True
        return out

    def merged(self, other: Labels) -> Labels:
        """Both sets of labels, sorted, per row."""
        out = Labels(self.size)
        for i in self.rows.keys() | other.rows.keys():
            out.rows[i] = sorted(set(self[i]) | set(other[i]))
        return out
