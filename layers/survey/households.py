"""A batch's households: one record each from its rows.

Also the positions of villages, for the rows placed without usable coordinates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sqlalchemy import Connection, text

from geo.intake.areas import AreaIndex
from geo.intake.labels import Labels
from geo.intake.normalise import lookup
from geo.intake.place import Placement
from geo.vocab import PRECISIONS
from layers.store.partitions import partition
from layers.survey.rounds import Rounds
from layers.survey.sql import STORED, VILLAGES
from layers.survey.staging import copy_frame

PRECISION_RANK = {p: rank for rank, p in enumerate(PRECISIONS)}


def household_records(
    index: AreaIndex,
    values: pd.DataFrame,
    placement: Placement,
    flags: Labels,
    rows: NDArray[np.int64],
    head: pd.Series,
    keep: NDArray[np.bool_],
) -> pd.DataFrame:
    """One record per household: its best-placed row, with the flags of all its rows."""
    district, province = index.chain(pd.Series(placement.subdistrict, index=values.index))
    households = pd.DataFrame(
        {
            "household_id": values["household_id"],
            "round": values["round"],
            "house_no": values["house_no"],
            "moo": pd.array(values["moo"].to_numpy(dtype=float), dtype="Int64"),
            "declared_subdistrict": values["declared_subdistrict"],
            "community": values["community"],
            "members": pd.array(values["members"].to_numpy(dtype=float), dtype="Int64"),
            "urban": values["urban"],
            "head_id_hash": head,
            "lon": placement.lon,
            "lat": placement.lat,
            "precision": placement.precision,
            "outside_m": placement.outside_m,
            "flags": "{}",
            "subdistrict_code": placement.subdistrict,
            "district_code": district,
            "province_code": province,
            "surveyed_on": values["surveyed_on"],
            "source_row": rows,
        }
    )[keep]
    households["_rank"] = lookup(households["precision"], PRECISION_RANK).astype(int)
    households = households.sort_values("_rank", kind="stable").drop_duplicates(
        ["household_id", "round"], keep="first"
    )
    merged: dict[tuple[str, int], set[str]] = {}
    ids, rounds = values["household_id"].to_numpy(), values["round"].to_numpy()
    for i, labels in flags.rows.items():
        if keep[i]:
            merged.setdefault((ids[i], int(rounds[i])), set()).update(labels)
    if merged:
        keys = zip(households["household_id"], households["round"], strict=True)
        households["flags"] = [
            "{" + ",".join(sorted(merged[k])) + "}" if k in merged else "{}" for k in keys
        ]
    return households.drop(columns="_rank").sort_values("source_row")


def village_means(
    conn: Connection,
    values: pd.DataFrame,
    placement: Placement,
    wanted: np.ndarray,
    rounds: Rounds,
) -> dict[tuple[str, int], tuple[float, float]]:
    """Mean position of the GPS households of each wanted village.

    Stored households count once each, except those in this batch, which count as the batch
    has them: the same rows give the same village wherever they stand in the file.
    """
    moo = values["moo"].to_numpy()
    keys = pd.DataFrame({"code": values["declared_subdistrict"], "moo": moo})[wanted]
    keys = keys.drop_duplicates()
    copy_frame(conn, "stage_batch_household", values[["household_id", "round"]].drop_duplicates())
    # Without statistics the planner takes the temp table for tiny and loops over it.
    conn.exec_driver_sql("ANALYZE stage_batch_household")
    sums: dict[tuple[str, int], list[float]] = {}
    params = {"codes": keys["code"].tolist(), "moos": keys["moo"].astype(int).tolist()}
    quote = conn.dialect.identifier_preparer.quote
    tables = ["household", *(partition("household", r) for r in rounds.loads)]
    stored = " UNION ALL ".join(STORED.format(table=quote(t)) for t in tables)
    for code, number, sx, sy, count in conn.execute(text(VILLAGES.format(stored=stored)), params):
        sums[(code, int(number))] = [sx, sy, count]
    gps = np.isin(placement.precision, ["gps", "gps_corrected"]) & ~np.isnan(moo)
    here = pd.DataFrame(
        {
            "household_id": values["household_id"][gps],
            "round": values["round"][gps],
            "code": values["declared_subdistrict"][gps],
            "moo": moo[gps].astype(int),
            "x": placement.lon[gps],
            "y": placement.lat[gps],
        }
    ).drop_duplicates(["household_id", "round"])
    grouped = here.groupby(["code", "moo"]).agg(x=("x", "sum"), y=("y", "sum"), n=("x", "size"))
    for (code, number), row in grouped.iterrows():
        total = sums.setdefault((code, int(number)), [0.0, 0.0, 0])
        total[0] += row["x"]
        total[1] += row["y"]
        total[2] += row["n"]
    return {key: (sx / n, sy / n) for key, (sx, sy, n) in sums.items() if n}
