"""Storing a prepared batch (one transaction each).

Rows of households stored outside the uploader's area refused, villages placed, rows loaded,
upserted or held back, refused rows quarantined.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from geo.access import Scope
from geo.intake.areas import AreaIndex
from layers.survey.batches import Prepared
from layers.survey.dedupe import row_identity
from layers.survey.households import household_records, village_means
from layers.survey.imports import Quarantined, write_quarantine
from layers.survey.report import ImportReport
from layers.survey.rounds import Rounds, hold_back, load_new
from layers.survey.sql import PROBLEM_COLUMNS, ROW_KEYS, STORED_OUTSIDE
from layers.survey.staging import upsert


def store_batch(
    conn: Connection,
    batch: Prepared,
    report: ImportReport,
    rounds: Rounds,
    scope: Scope | None,
    index: AreaIndex,
) -> None:
    """Store a prepared batch in ``conn``'s transaction, counted in the report.

    Rows of rounds being loaded copied (or held back), the others upserted, the refused quarantined.
    """
    if scope is not None and scope.area:
        refuse_stored_outside(conn, batch, scope)
    values, placement, flags, rows = batch.values, batch.placement, batch.flags, batch.rows
    keep = ~batch.refused
    moo = values["moo"].to_numpy(dtype=float)
    wanted = placement.fallback & ~np.isnan(moo) & keep
    if wanted.any():
        villages = village_means(conn, values, placement, wanted, rounds)
        placement = placement.with_villages(values["declared_subdistrict"], moo, villages)
    households = household_records(index, values, placement, flags, rows, batch.head, keep)
    problems = values.loc[keep, [*ROW_KEYS, *PROBLEM_COLUMNS]].assign(source_row=rows[keep])
    # Households of rounds being loaded go to the bare tables, unless an earlier batch put
    # them there already (a file that does not keep a household's rows together): those
    # are upserted once the round is attached, as the rows of other rounds are now.
    loading = households["round"].isin(list(rounds.loads)).to_numpy()
    identity = row_identity(households, problem=False)
    late = loading & rounds.copied.seen(identity)
    fresh = loading & ~late
    rounds.copied.add(identity[fresh])
    of_row = pd.Series(row_identity(problems, problem=False))
    row_fresh = of_row.isin(identity[fresh]).to_numpy()
    row_late = of_row.isin(identity[late]).to_numpy()
    row_upsert = ~row_fresh & ~row_late
    load_new(conn, households[fresh], problems[row_fresh], report, rounds)
    if late.any():
        hold_back(conn, households[late], problems[row_late], int(rows.min()))
    upserted = 0
    if not loading.all():
        upserted = upsert(conn, households[~loading], problems[row_upsert], report)
    quarantine_batch(conn, batch, report)
    report.rows += len(values)
    report.rows_imported += int(row_fresh.sum()) + upserted
    report.rows_unchanged += int(row_upsert.sum()) - upserted
    rounds.late_rows += int(row_late.sum())
    report.rows_quarantined += int(batch.refused.sum())
    report.geocode_precision.update(households["precision"].tolist())
    for i, labels in flags.rows.items():
        if keep[i]:
            report.repairs.update(labels)


def refuse_stored_outside(conn: Connection, batch: Prepared, scope: Scope) -> None:
    """Refuse rows of households stored outside ``scope``'s area: a file never moves them in."""
    keep = ~batch.refused
    if not keep.any():
        return
    ids = batch.values["household_id"][keep]
    rounds = batch.values["round"][keep]
    pairs = pd.DataFrame({"household_id": ids, "round": rounds}).drop_duplicates()
    found = conn.execute(
        text(STORED_OUTSIDE),
        {
            "ids": pairs["household_id"].tolist(),
            "rounds": pairs["round"].astype(int).tolist(),
            "area": scope.area,
        },
    ).all()
    if not found:
        return
    where = {(h, int(r)): code for h, r, code in found}
    keys = zip(batch.values["household_id"], batch.values["round"], strict=True)
    for i, key in enumerate(keys):
        if keep[i] and (key[0], int(key[1])) in where:
            batch.reasons.append(i, "outside_your_area")
            batch.messages.append(
                i, f"household_id: the household is recorded outside your area ({scope.area})"
            )
            batch.refused[i] = True


def quarantine_batch(conn: Connection, batch: Prepared, report: ImportReport) -> None:
    """Keep what this run refused in the batch's rows, and only that (a re-run may differ)."""
    refused = batch.refused
    entries = []
    if refused.any():
        records = batch.original[refused].to_dict("records")
        declared = batch.values["declared_subdistrict"].to_numpy(dtype=object)
        entries = [
            Quarantined(
                int(batch.rows[i]),
                batch.reasons[i],
                batch.messages[i],
                {k: storable(v) for k, v in record.items() if v not in ("", None)},
                declared_code(declared[i]),
            )
            for i, record in zip(np.flatnonzero(refused).tolist(), records, strict=True)
        ]
    replacing = (int(batch.rows.min()), int(batch.rows.max()))
    write_quarantine(conn, report.job_id, report.sha256, report.file, entries, replacing=replacing)
    for i in np.flatnonzero(refused).tolist():
        report.quarantine_reasons.update(set(batch.reasons[i]))


QUARANTINE_TEXT_MAX = 10_000
"""The longest text quarantine keeps of a value (the file keeps the rest)."""


def storable(value: object) -> object:
    """A value as quarantine keeps it.

    Without NUL characters (shown as U+FFFD), and cut at ``QUARANTINE_TEXT_MAX`` characters.
    """
    if not isinstance(value, str):
        return value
    value = value.replace("\x00", "\ufffd")
    if len(value) > QUARANTINE_TEXT_MAX:
        value = f"{value[:QUARANTINE_TEXT_MAX]}… [cut: {len(value):,} characters in the file]"
    return value


def declared_code(value: object) -> str | None:
    """A declared subdistrict code, if it is one."""
    return value if isinstance(value, str) and len(value) == 6 and value.isdigit() else None
