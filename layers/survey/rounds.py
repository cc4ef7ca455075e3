"""Rounds new to the database, loaded in bulk.

Which they are, COPY into their bare tables (attached as partitions at the end), and the rows held
back until then.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray
from sqlalchemy import Connection, Engine, text

from layers.store.partitions import RoundLoad, finish, partition
from layers.survey.dedupe import SeenRows
from layers.survey.report import ImportReport
from layers.survey.sql import COUNT_ROWS, LATE_BATCH, LATE_BATCHES, LATE_PROBLEMS, ROW_KEYS
from layers.survey.staging import copy_frame, problem_rows, upsert_households, upsert_problems


class Rounds:
    """Which rounds of a file are loaded in bulk (new to the database), and their loads.

    A context around the storing connection: the loads of a failed import are dropped, and
    every round lock is released whatever happens.
    """

    def __init__(self, engine: Engine, conn: Connection) -> None:
        self.engine, self.conn = engine, conn
        self.decided: set[int] = set()
        self.loads: dict[int, RoundLoad] = {}
        self.copied = SeenRows()
        """The (household, round) hashes copied into the bare tables."""
        self.late_rows = 0
        self.side: Connection | None = None
        self.pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> Rounds:
        return self

    def alongside(self, work: Callable[[Connection], None]) -> Future[None]:
        """Run ``work`` in a second session, in a thread of its own."""
        if self.side is None:
            self.side = self.engine.connect()
            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bamrung-copy")
        assert self.pool is not None
        return self.pool.submit(work, self.side)

    def decide(self, numbers: list[int]) -> None:
        """Start a bulk load for each round of ``numbers`` not decided yet nor attached already."""
        for number in sorted(set(numbers) - self.decided):
            load = RoundLoad.start(self.conn, int(number))
            if load is not None:
                self.loads[int(number)] = load
            self.decided.add(number)

    def finish(self) -> None:
        """Index, count and attach the rounds loaded (:func:`layers.store.partitions.finish`)."""
        finish(self.engine, list(self.loads.values()), self.conn)

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if self.pool is not None:
            self.pool.shutdown()
        if self.side is not None:
            self.side.close()
        if self.conn.in_transaction():
            self.conn.rollback()
        for load in self.loads.values():
            if error is not None:
                load.drop(self.conn)
            load.release(self.conn)


EWKB_POINT = bytes.fromhex("0101000020") + (4326).to_bytes(4, "little")
"""Little-endian EWKB header of a point with SRID 4326; x and y (float64) follow."""


def ewkb_points(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> pd.arrays.ArrowStringArray:
    """Points as hex EWKB, the text form COPY reads into a geometry column.

    Written with numpy into one Arrow buffer: building Shapely points, setting their SRID and
    writing them costs some fifty times as much.
    """
    n = len(lon)
    records = np.empty((n, 25), dtype=np.uint8)
    records[:, :9] = np.frombuffer(EWKB_POINT, dtype=np.uint8)
    records[:, 9:] = np.column_stack([lon, lat]).astype("<f8").view(np.uint8)
    offsets = np.arange(0, 50 * (n + 1), 50, dtype=np.int64)
    text = pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(binascii.hexlify(records.tobytes()))
    )
    return pd.arrays.ArrowStringArray(text)


def load_new(
    conn: Connection,
    households: pd.DataFrame,
    problems: pd.DataFrame,
    report: ImportReport,
    rounds: Rounds,
) -> None:
    """COPY rows of households new to a round being loaded into its bare tables."""
    if households.empty:
        return
    areas = households[["household_id", "round", "subdistrict_code"]]
    problems = problem_rows(problems).merge(areas, on=["household_id", "round"], how="left")
    problems["status"] = problems["status"].fillna("open")  # no status given: open
    geom = ewkb_points(households["lon"].to_numpy(), households["lat"].to_numpy())
    bare = households.drop(columns=["lon", "lat"]).assign(geom=geom, import_job_id=report.job_id)
    problems = problems.assign(import_job_id=report.job_id)
    numbers = bare["round"].unique().tolist()

    def copy_problems(side: Connection) -> None:
        with side.begin():
            for number in numbers:
                part = problems[problems["round"] == number]
                copy_frame(side, partition("problem", number), part)

    # Problems go through a second session at the same time: the server parses both COPYs
    # at once. Its own commit is safe, as bare tables are all or nothing: a load that stops
    # before it is attached is dropped and done again.
    copied = rounds.alongside(copy_problems)
    for number in numbers:
        copy_frame(conn, partition("household", number), bare[bare["round"] == number])
    copied.result()
    report.households_inserted += len(bare)
    report.problems_inserted += len(problems)


def hold_back(
    conn: Connection, households: pd.DataFrame, problems: pd.DataFrame, batch: int
) -> None:
    """Keep rows of households already copied into a round being loaded.

    Such rows come from a file that does not keep a household's rows together; :func:`store_late`
    upserts them once the round is attached.
    """
    copy_frame(conn, "late_household", households.assign(batch=batch))
    copy_frame(conn, "late_problem", problem_rows(problems))
    copy_frame(conn, "late_row", problems[ROW_KEYS])


def store_late(conn: Connection, report: ImportReport, rounds: Rounds) -> None:
    """Upsert the rows held back while their rounds were loaded (now attached)."""
    if not rounds.late_rows:
        return
    with conn.begin():
        conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
        batches = conn.scalars(text(LATE_BATCHES))
        for batch in batches.all():
            conn.execute(text(LATE_BATCH), {"batch": batch})
            upsert_households(conn, report)
            conn.exec_driver_sql("TRUNCATE stage_household")
        conn.exec_driver_sql(LATE_PROBLEMS)
        upsert_problems(conn, report)
        imported = int(conn.scalar(text(COUNT_ROWS)) or 0)
    report.rows_imported += imported
    report.rows_unchanged += rounds.late_rows - imported
