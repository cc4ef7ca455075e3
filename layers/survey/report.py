"""What an import of a survey file did: counts, reasons, repairs, timing (stored on its job)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ImportReport:
    """What an import did. ``rows_imported + rows_unchanged + rows_quarantined == rows``."""

    job_id: int
    file: str
    sha256: str
    format: str
    encoding: str | None
    profile: str
    rows: int = 0
    rows_imported: int = 0
    rows_unchanged: int = 0
    rows_quarantined: int = 0
    households_inserted: int = 0
    households_updated: int = 0
    problems_inserted: int = 0
    problems_updated: int = 0
    quarantine_reasons: Counter[str] = field(default_factory=Counter)
    geocode_precision: Counter[str] = field(default_factory=Counter)
    repairs: Counter[str] = field(default_factory=Counter)
    personal_columns: dict[str, str] = field(default_factory=dict)
    rounds_loaded: list[int] = field(default_factory=list)
    """Rounds new to the database, loaded in bulk and attached as partitions."""
    ignored_columns: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    """The file's columns, in its order."""
    layers: list[str] = field(default_factory=list)
    """The layers or sheets read, in order (row numbers count on from one to the next)."""
    scope: str | None = None
    """The area the uploader may write ('' the country); None: the command line, no limit."""
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    rows_per_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data, as its job stores it (counters sorted by key)."""
        out = asdict(self)
        for key in ("quarantine_reasons", "geocode_precision", "repairs"):
            out[key] = dict(sorted(getattr(self, key).items()))
        return out
