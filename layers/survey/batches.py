"""Batches as read, made ready to store.

Cut at households, personal columns treated, rows checked, placed, refused and de-duplicated.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geo.access import Scope
from geo.collect.exports import EXPORT_COLUMNS, REFUSED, WHY
from geo.intake.areas import AreaIndex
from geo.intake.labels import Labels
from geo.intake.personal import keyed_hash, personal_columns
from geo.intake.place import Placement, place
from layers.survey.collected import TOOLS
from layers.survey.dedupe import SeenRows, refuse_duplicates
from layers.survey.opening import Opened
from layers.survey.profiles import CANONICAL, Profile
from layers.survey.readers import ROW, SHAPE
from layers.survey.report import ImportReport
from layers.survey.validate import check

log = logging.getLogger(__name__)
READER_COLUMNS = (ROW, SHAPE)
"""Columns the readers add to the file's own."""
JUDGED = (REFUSED, WHY)
"""Columns of an ODK or Kobo export's rows that say why the export itself refuses a row."""


def household_id_column(profile: Profile, columns: list[str]) -> str:
    """The file's column that holds the household id."""
    if "household_id" in profile.columns:
        return profile.columns["household_id"]
    return next(c for c in columns if c.strip().lower() == "household_id")


def whole_households(batches: Iterator[pd.DataFrame], id_column: str) -> Iterator[pd.DataFrame]:
    """Re-cut batches so that a household's consecutive rows never straddle two of them.

    A household's record (its best position, the flags of all its rows) is built from the rows
    of one batch; long-format exports keep a household's rows together, so the rows of the
    household at the end of a batch are carried over to the next one.
    """
    pending: pd.DataFrame | None = None
    for batch in batches:
        frame = batch if pending is None else pd.concat([pending, batch], ignore_index=True)
        ids = frame[id_column].to_numpy()
        tail = len(frame)
        while tail > 0 and ids[tail - 1] == ids[-1]:
            tail -= 1
        if tail == 0:  # one household fills the whole batch: nothing to cut
            pending = frame
            continue
        pending = frame.iloc[tail:].reset_index(drop=True)
        yield frame.iloc[:tail].reset_index(drop=True)
    if pending is not None and len(pending):
        yield pending


def classify_columns(
    batch: pd.DataFrame,
    profile: Profile,
    treated: dict[str, str],
    report: ImportReport,
) -> dict[str, str]:
    """Personal columns so far: every batch is examined, as a column may fill in late."""
    used = set(profile.columns.values()) | ({profile.geopoint} if profile.geopoint else set())
    canonical = {c for c in batch.columns if c.strip().lower() in CANONICAL}
    own = (*READER_COLUMNS, *(EXPORT_COLUMNS if profile.name in TOOLS else ()))
    readers = [c for c in own if c in batch]
    found = personal_columns(batch.drop(columns=readers), known=used | canonical | set(treated))
    for column, how in found.items():
        log.info("personal data: column %r is %s", column, how)
    treated = {**treated, **found}
    report.personal_columns = treated
    report.ignored_columns = sorted(
        set(batch.columns) - used - canonical - set(treated) - set(readers)
    )
    return treated


@dataclass
class Prepared:
    """A batch checked, placed and de-duplicated, ready to be stored."""

    rows: NDArray[np.int64]
    original: pd.DataFrame
    """The rows as read, personal columns hashed or dropped: what quarantine keeps."""
    values: pd.DataFrame
    placement: Placement
    flags: Labels
    reasons: Labels
    messages: Labels
    refused: NDArray[np.bool_]
    head: pd.Series


def prepare(
    batch: pd.DataFrame,
    opened: Opened,
    treated: dict[str, str],
    scope: Scope | None,
    open_rounds: set[int] | None,
    seen: SeenRows,
    *,
    key: bytes,
    categories: set[str],
    index: AreaIndex,
) -> Prepared:
    """Check, place and de-duplicate a batch.

    Personal columns hashed or dropped, the rows ``scope`` may not write and those of rounds not in
    ``open_rounds`` refused.
    """
    rows = batch[ROW].to_numpy()
    shape = batch.get(SHAPE)
    export = opened.profile.name in TOOLS
    own = (*READER_COLUMNS, *(JUDGED if export else ()))
    original = batch.drop(columns=[c for c in own if c in batch])
    hashed = [c for c, how in treated.items() if how == "hashed"]
    for column in hashed:
        original[column] = keyed_hash(original[column], key)
    original = original.drop(columns=[c for c, how in treated.items() if how == "dropped"])
    checked = check(
        opened.profile.apply(original), default_round=opened.round, categories=categories
    )
    values = checked.values
    placement = place(
        index,
        values["declared_subdistrict"],
        values["lat"].to_numpy(),
        values["lon"].to_numpy(),
    )
    reasons, messages = checked.reasons, checked.messages
    unknown = pd.isna(placement.precision)
    reasons.add(unknown, "unknown_subdistrict")
    for i in np.flatnonzero(unknown).tolist():
        messages.append(
            i,
            f"subdistrict_code: {values['declared_subdistrict'].iloc[i]!r} is not a known "
            "subdistrict and the row has no usable coordinates",
        )
    if scope is not None:
        refuse_outside(scope, values, placement, reasons, messages)
    if open_rounds is not None:
        closed = ~values["round"].isin(list(open_rounds)).to_numpy() & ~reasons.mask()
        reasons.add(closed, "round_not_open")
        for i in np.flatnonzero(closed).tolist():
            messages.append(
                i,
                f"round: {values['round'].iloc[i]} is not in the database yet; a round is "
                "opened by importing its first file with a country-wide account",
            )
    if export:
        refuse_judged(batch, reasons, messages)
    refused = reasons.mask()
    # Duplicates: the same (household, round, problem) on an earlier row of the file.
    refused |= refuse_duplicates(values, refused, seen, reasons, messages)
    flags = checked.flags.merged(placement.flags)
    flags.add(np.flatnonzero(np.isin(rows, list(opened.survey.cp874_rows))), "cp874_text")
    if shape is not None:
        # The position of a polygon, line or multipoint feature is a point on it.
        drawn = (shape != "").to_numpy() & ~placement.fallback
        flags.add(drawn, "representative_point")
    head = original[hashed[0]] if hashed else pd.Series(None, index=values.index, dtype=object)
    return Prepared(rows, original, values, placement, flags, reasons, messages, refused, head)


def refuse_judged(batch: pd.DataFrame, reasons: Labels, messages: Labels) -> None:
    """Refuse the rows an export's reading refused (orphan entries, rejected or older versions).

    Their reason is the export's alone: what the row checks would add (an orphan entry has no
    household) is a consequence, not the cause.
    """
    judged = batch[REFUSED].to_numpy(dtype=object)
    for i in np.flatnonzero(judged != "").tolist():
        reasons.rows[i] = [str(judged[i])]
        messages.rows[i] = [str(batch[WHY].iloc[i])]


def refuse_outside(
    scope: Scope, values: pd.DataFrame, placement: Placement, reasons: Labels, messages: Labels
) -> None:
    """Refuse the rows ``scope`` may not write.

    Those declared or placed outside its area (``outside_your_area``), or outside the rest of it
    (``outside_your_scope``).
    """
    declared = values["declared_subdistrict"].where(
        values["declared_subdistrict"].str.fullmatch(r"\d{6}"), None
    )
    resolved = pd.Series(placement.subdistrict, index=values.index)
    for codes, what in ((declared, "subdistrict_code"), (resolved, "the position")):
        outside = scope.outside_area(codes)
        reasons.add(outside, "outside_your_area")
        for i in np.flatnonzero(outside).tolist():
            messages.append(
                i, f"{what}: subdistrict {codes.iloc[i]} is outside your area ({scope.area})"
            )
    rest = scope.outside_rest(values["category"], values["household_id"], values["community"])
    reasons.add(rest, "outside_your_scope")
    for i in np.flatnonzero(rest).tolist():
        messages.append(i, "the row is outside what your account may change")
