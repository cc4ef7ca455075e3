"""Import survey files: validate, place, store in batches (one transaction each), quarantine."""

from __future__ import annotations

import binascii
import contextlib
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from queue import Empty, Full, Queue
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray
from sqlalchemy import Connection, Engine, delete, func, insert, select, text, update

from geo.errors import BamrungError, InvalidInputError
from geo.intake import (
    AreaIndex,
    Labels,
    Placement,
    keyed_hash,
    lookup,
    personal_columns,
    place,
)
from layers.cluster import write_private
from layers.intake.profiles import (
    CANONICAL,
    Profile,
    identity_profile,
    load_profile,
    missing_columns,
)
from layers.intake.readers import ROW, SurveyFile, frame_to_csv, open_survey, read_batches
from layers.intake.validate import check
from layers.models import PRECISIONS, ImportJob, ProblemCategory, QuarantinedRow
from layers.partitions import RoundLoad, finish, partition
from layers.settings import Settings
from layers.sources import file_checksum

log = logging.getLogger(__name__)
BATCH_ROWS = 100_000
PRECISION_RANK = {p: rank for rank, p in enumerate(PRECISIONS)}


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
    seconds: float = 0.0
    rows_per_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("quarantine_reasons", "geocode_precision", "repairs"):
            out[key] = dict(sorted(getattr(self, key).items()))
        return out


def pii_key(settings: Settings) -> bytes:
    """The key for hashing personal identifiers: from settings, else generated once and kept."""
    if settings.pii_key is not None:
        return settings.pii_key.get_secret_value().encode()
    path = settings.home / "pii.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(path, secrets.token_hex(32))
    return path.read_text().strip().encode()


def load_area_index(conn: Connection) -> AreaIndex:
    """Subdistrict and district polygons and the code tree, from the database."""

    def polygons(level: str) -> gpd.GeoDataFrame:
        frame = gpd.read_postgis(
            text(
                "SELECT code, geom FROM admin_unit "
                "WHERE level = :level AND geom IS NOT NULL ORDER BY code"
            ),
            conn,
            geom_col="geom",
            params={"level": level},
        )
        return frame.set_crs(4326, allow_override=True)

    parents: dict[str, str] = dict(
        conn.execute(
            text(
                "SELECT code, parent_code FROM admin_unit "
                "WHERE level IN ('subdistrict', 'district')"
            )
        ).all()
    )
    subdistricts = polygons("subdistrict")
    if subdistricts.empty:
        raise InvalidInputError(
            "no subdistrict boundaries are loaded: run `bamrung boundaries load` first"
        )
    return AreaIndex(subdistricts, parents, polygons("district"))


STAGING = """
CREATE TEMP TABLE IF NOT EXISTS stage_batch_household (
    household_id text, round int, PRIMARY KEY (household_id, round)) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_row (
    household_id text, round int, category text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_household (
    household_id text, round int, house_no text, moo int, declared_subdistrict text, community text,
    members int, urban boolean, head_id_hash text, lon double precision, lat double precision,
    precision text, outside_m double precision, flags text[], subdistrict_code text,
    district_code text, province_code text, surveyed_on date, source_row bigint)
    ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_problem (
    household_id text, round int, category text, detail text, status text, reported_on date,
    updated_on date, resolved_on date, source_row bigint) ON COMMIT DELETE ROWS;
-- Rows of a household already copied into a round being loaded: upserted once it is attached.
CREATE TEMP TABLE IF NOT EXISTS late_household (LIKE stage_household);
CREATE TEMP TABLE IF NOT EXISTS late_problem (LIKE stage_problem);
CREATE TEMP TABLE IF NOT EXISTS late_row (LIKE stage_row);
TRUNCATE late_household, late_problem, late_row;
"""
LATE = """
INSERT INTO stage_household
    SELECT DISTINCT ON (household_id, round) * FROM late_household
    ORDER BY household_id, round, source_row DESC;
INSERT INTO stage_problem SELECT * FROM late_problem;
INSERT INTO stage_row SELECT * FROM late_row;
TRUNCATE late_household, late_problem, late_row;
"""

HOUSEHOLD_COLUMNS = (
    "house_no",
    "moo",
    "declared_subdistrict",
    "community",
    "members",
    "urban",
    "head_id_hash",
    "geom",
    "precision",
    "outside_m",
    "flags",
    "subdistrict_code",
    "district_code",
    "province_code",
    "surveyed_on",
)
PROBLEM_COLUMNS = ("detail", "status", "reported_on", "updated_on", "resolved_on")
ROW_KEYS = ["household_id", "round", "category"]


def _upsert(
    table: str,
    keys: tuple[str, ...],
    columns: tuple[str, ...],
    source: str,
    select_list: str,
    apart: tuple[str, ...] = (),
    apart_changed: str = "false",
) -> str:
    """INSERT … ON CONFLICT that rewrites only rows whose values differ; counts what it did.

    Columns in ``apart`` are left out of the plain comparison; ``apart_changed`` says when they
    differ. A row it wrote has ``updated_at = now()`` (the transaction's start) afterwards.
    """
    assignments = ", ".join(f"{c} = excluded.{c}" for c in columns)
    compared = [c for c in columns if c not in apart]
    current = ", ".join(f"t.{c}" for c in compared)
    incoming = ", ".join(f"excluded.{c}" for c in compared)
    key_list = ", ".join(keys)
    matched = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    # Counted before the insert (one snapshot for the statement): partitioned tables cannot
    # return ``xmax`` to tell inserted rows from updated ones.
    return f"""
    WITH fresh AS (
        SELECT count(*) AS n FROM {source} s
        WHERE NOT EXISTS (SELECT FROM {table} t WHERE {matched})
    ),
    up AS (
        INSERT INTO {table} AS t ({key_list}, {", ".join(columns)}, import_job_id, source_row)
        {select_list}
        ON CONFLICT ({key_list}) DO UPDATE SET {assignments},
            import_job_id = excluded.import_job_id, source_row = excluded.source_row,
            updated_at = now()
        WHERE ({current}) IS DISTINCT FROM ({incoming}) OR {apart_changed}
        RETURNING 1
    )
    SELECT n, (SELECT count(*) FROM up) - n FROM fresh
    """  # noqa: S608 - table and column names are constants of this module


UPSERT_HOUSEHOLDS = _upsert(
    "household",
    ("household_id", "round"),
    HOUSEHOLD_COLUMNS,
    "stage_household",
    """SELECT household_id, round, house_no, moo, declared_subdistrict, community, members, urban,
        head_id_hash, ST_SetSRID(ST_MakePoint(lon, lat), 4326), precision, outside_m, flags,
        subdistrict_code, district_code, province_code, surveyed_on, :job, source_row
    FROM stage_household""",
    ("geom", "precision"),
    # A row without usable coordinates is placed from what was known when it was imported (its
    # village's GPS households, else its subdistrict): importing it again does not move it.
    "NOT ((t.geom = excluded.geom AND t.precision = excluded.precision)"
    " OR (t.precision IN ('village', 'subdistrict', 'district')"
    " AND excluded.precision IN ('village', 'subdistrict', 'district')))",
)
UPSERT_PROBLEMS = _upsert(
    "problem",
    ("household_id", "round", "category"),
    (*PROBLEM_COLUMNS, "subdistrict_code"),
    "stage_problem",
    """SELECT p.household_id, p.round, p.category, p.detail, p.status, p.reported_on,
        p.updated_on, p.resolved_on, h.subdistrict_code, :job, p.source_row
    FROM stage_problem p JOIN stage_household h USING (household_id, round)""",
)
# Rows whose household or problem this transaction wrote.
COUNT_ROWS = """
SELECT count(*) FILTER (WHERE h.updated_at = now() OR p.updated_at = now())
FROM stage_row r
JOIN household h ON h.household_id = r.household_id AND h.round = r.round
LEFT JOIN problem p
    ON p.household_id = r.household_id AND p.round = r.round AND p.category = r.category
"""
VILLAGES = """
SELECT subdistrict_code, moo, sum(ST_X(geom)), sum(ST_Y(geom)), count(*)
FROM ({stored}) h
WHERE precision IN ('gps', 'gps_corrected')
  AND subdistrict_code = ANY(CAST(:codes AS text[]))
  AND (subdistrict_code, moo) IN (
    SELECT * FROM unnest(CAST(:codes AS text[]), CAST(:moos AS int[])))
  AND NOT EXISTS (SELECT 1 FROM stage_batch_household s
                  WHERE s.household_id = h.household_id AND s.round = h.round)
GROUP BY subdistrict_code, moo
"""
STORED = "SELECT household_id, round, subdistrict_code, moo, geom, precision FROM {table}"


def _upsert_staged(conn: Connection, report: ImportReport) -> tuple[int, int]:
    """Upsert the staged households and problems, counted in the report; returns how many of
    each were written."""
    h_new, h_changed = conn.execute(text(UPSERT_HOUSEHOLDS), {"job": report.job_id}).one()
    p_new, p_changed = conn.execute(text(UPSERT_PROBLEMS), {"job": report.job_id}).one()
    report.households_inserted += h_new
    report.households_updated += h_changed
    report.problems_inserted += p_new
    report.problems_updated += p_changed
    return h_new + h_changed, p_new + p_changed


def _copy(conn: Connection, table: str, frame: pd.DataFrame) -> None:
    """COPY a frame into the table's columns of the same names."""
    if frame.empty:
        return
    quote = conn.dialect.identifier_preparer.quote
    columns = ", ".join(quote(str(c)) for c in frame.columns)
    raw = conn.connection.dbapi_connection
    assert raw is not None
    statement = f"COPY {quote(table)} ({columns}) FROM STDIN (FORMAT csv)"
    with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[attr-defined]
        copy.write(frame_to_csv(frame))


class SeenRows:
    """The row identities (64-bit hashes) a file has shown so far, in 8 bytes a row.

    Sorted runs merged like a binary counter: adding is amortised O(n log n), a lookup is a
    binary search in each of at most log2(batches) runs. Every run of an import reads the file
    from its first row, so duplicates are found the same way in a resumed run.
    """

    def __init__(self) -> None:
        self.runs: list[NDArray[np.int64]] = []

    def seen(self, values: NDArray[np.int64]) -> NDArray[np.bool_]:
        found = np.zeros(len(values), dtype=bool)
        for run in self.runs:
            at = np.minimum(np.searchsorted(run, values), len(run) - 1)
            found |= run[at] == values
        return found

    def add(self, values: NDArray[np.int64]) -> None:
        if not len(values):  # a batch with every row refused; an empty run breaks ``seen``
            return
        run = _sorted_distinct(values)
        while self.runs and len(self.runs[-1]) <= 2 * len(run):
            run = _sorted_distinct(np.concatenate([self.runs.pop(), run]))
        self.runs.append(run)


def _sorted_distinct(values: NDArray[np.int64]) -> NDArray[np.int64]:
    """``np.unique`` by sorting: numpy 2's hash-based unique is some 40 times slower here."""
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


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


def _problems(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows that name a problem (a household with none has one row without)."""
    return rows[rows["category"].notna()]


class _Rounds:
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

    def __enter__(self) -> _Rounds:
        return self

    def alongside(self, work: Callable[[Connection], None]) -> Future[None]:
        """Run ``work`` in a second session, in a thread of its own."""
        if self.side is None:
            self.side = self.engine.connect()
            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bamrung-copy")
        assert self.pool is not None
        return self.pool.submit(work, self.side)

    def decide(self, numbers: list[int]) -> None:
        for number in sorted(set(numbers) - self.decided):
            load = RoundLoad.start(self.conn, int(number))
            if load is not None:
                self.loads[int(number)] = load
            self.decided.add(number)

    def finish(self) -> None:
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


def row_identity(values: pd.DataFrame, *, problem: bool = True) -> NDArray[np.int64]:
    """64-bit hash of each row's (household, round, problem code), or of its (household, round)."""
    keys = {"h": values["household_id"], "r": values["round"]}
    if problem:
        keys["c"] = values["category"].fillna("")
    hashed: NDArray[np.int64] = (
        pd.util.hash_pandas_object(pd.DataFrame(keys), index=False).to_numpy().view(np.int64)
    )
    return hashed


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


_DONE = object()


class Importer:
    """Imports survey files into one database; reusable across files."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.key = pii_key(settings)
        with engine.connect() as conn:
            self.categories = set(conn.scalars(select(ProblemCategory.code)))
        # Read while the first file is opened and checked (a second each, mostly out of the GIL).
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bamrung-areas")
        self._areas = pool.submit(self._read_areas)
        pool.shutdown(wait=False)

    def _read_areas(self) -> AreaIndex:
        with self.engine.connect() as conn:
            return load_area_index(conn)

    @property
    def index(self) -> AreaIndex:
        """Subdistrict polygons and the code tree (raises if no boundaries are loaded)."""
        return self._areas.result()

    def run(
        self,
        path: Path,
        *,
        round: int | None = None,
        profile: str | None = None,
        batch_rows: int = BATCH_ROWS,
        on_progress: Callable[[int, int], None] | None = None,
        job_id: int | None = None,
    ) -> ImportReport:
        """Import one file. Bad files fail before anything is written (``InvalidInputError``).

        ``job_id`` names a job row made beforehand (a queued upload) to use instead of a new one.
        """
        started = time.perf_counter()
        survey = open_survey(path)
        try:
            self.index  # noqa: B018 - no boundaries: refused before a job is started
            chosen = load_profile(profile) if profile else identity_profile(survey.columns)
            missing = missing_columns(chosen, survey.columns, round_given=round is not None)
            if missing:
                raise InvalidInputError(
                    f"{path}: required column(s) missing: {', '.join(missing)} "
                    f"(found: {', '.join(survey.columns)}; profile: {chosen.name}"
                    + ("" if "round" not in missing else "; or give the round with --round")
                    + ")"
                )
            report = self._start(survey, chosen, round, job_id)
            try:
                self._import(survey, chosen, round, batch_rows, report, on_progress)
            except BaseException as exc:
                # A library's message may quote a row of the file: only ours are kept.
                error = str(exc) if isinstance(exc, BamrungError) else type(exc).__name__
                self._finish(report, "failed", error[:2000])
                raise
        finally:
            survey.close()
        report.seconds = round_(time.perf_counter() - started)
        report.rows_per_s = round_(report.rows / report.seconds if report.seconds else 0.0)
        self._finish(report, "done", None)
        return report

    def _start(
        self, survey: SurveyFile, profile: Profile, round: int | None, job_id: int | None
    ) -> ImportReport:
        digest = file_checksum(survey.path)
        values = {"sha256": digest, "round": round, "profile": profile.name, "state": "running"}
        with self.engine.begin() as conn:
            conn.execute(
                update(ImportJob)
                .where(ImportJob.sha256 == digest, ImportJob.state == "running")
                .values(state="failed", error="interrupted", finished_at=func.now())
            )
            if job_id is None:
                job_id = conn.scalar(
                    insert(ImportJob)
                    .values(file_name=survey.path.name, **values)
                    .returning(ImportJob.id)
                )
            else:
                conn.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))
        assert job_id is not None
        return ImportReport(
            job_id, survey.path.name, digest, survey.kind, survey.encoding, profile.name
        )

    def _finish(self, report: ImportReport, state: str, error: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(ImportJob)
                .where(ImportJob.id == report.job_id)
                .values(state=state, error=error, finished_at=func.now(), report=report.as_dict())
            )

    def _import(
        self,
        survey: SurveyFile,
        profile: Profile,
        round: int | None,
        batch_rows: int,
        report: ImportReport,
        on_progress: Callable[[int, int], None] | None,
    ) -> None:
        """Prepare batch k+1 in a second thread while this one stores batch k.

        Preparing is Python (one core), storing is mostly PostgreSQL (the other); batches are
        stored in file order, one transaction each.
        """
        queue: Queue[Any] = Queue(maxsize=2)
        stop = threading.Event()

        def offer(item: Any) -> bool:
            """Hand an item over unless the storing side has stopped (then drop it)."""
            while not stop.is_set():
                try:
                    queue.put(item, timeout=0.2)
                    return True
                except Full:
                    continue
            return False

        def produce() -> None:
            try:
                seen = SeenRows()
                treated: dict[str, str] = {}
                id_column = household_id_column(profile, survey.columns)
                for batch in whole_households(read_batches(survey, batch_rows), id_column):
                    treated = self._classify_columns(batch, profile, treated, report)
                    item = self._prepare(batch, profile, treated, round, survey.cp874_rows, seen)
                    if not offer(item):
                        return
                offer(_DONE)
            except BaseException as exc:  # handed to the storing thread, which raises it
                offer(exc)

        producer = threading.Thread(target=produce, name="bamrung-prepare", daemon=True)
        producer.start()
        try:
            with self.engine.connect() as conn, _Rounds(self.engine, conn) as rounds:
                conn.exec_driver_sql(STAGING)
                conn.commit()
                while (item := queue.get()) is not _DONE:
                    if isinstance(item, BaseException):
                        raise item
                    rounds.decide(item.values["round"][~item.refused].unique().tolist())
                    with conn.begin():
                        # A batch lost in a crash is redone by running the import again.
                        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                        conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
                        self._store(conn, item, report, rounds)
                        conn.execute(
                            update(ImportJob)
                            .where(ImportJob.id == report.job_id)
                            .values(rows_done=report.rows)
                        )
                    if on_progress:
                        on_progress(report.rows, max(survey.rows, report.rows))
                if rounds.loads:
                    report.rounds_loaded = sorted(rounds.loads)
                    rounds.finish()
                    self._store_late(conn, report, rounds)
        finally:
            stop.set()
            while producer.is_alive():
                with contextlib.suppress(Empty):
                    queue.get(timeout=0.1)
            producer.join()

    def _classify_columns(
        self,
        batch: pd.DataFrame,
        profile: Profile,
        treated: dict[str, str],
        report: ImportReport,
    ) -> dict[str, str]:
        """Personal columns so far: every batch is examined, as a column may fill in late."""
        used = set(profile.columns.values()) | ({profile.geopoint} if profile.geopoint else set())
        canonical = {c for c in batch.columns if c.strip().lower() in CANONICAL}
        found = personal_columns(batch.drop(columns=[ROW]), known=used | canonical | set(treated))
        for column, how in found.items():
            log.info("personal data: column %r is %s", column, how)
        treated = {**treated, **found}
        report.personal_columns = treated
        report.ignored_columns = sorted(
            set(batch.columns) - used - canonical - set(treated) - {ROW}
        )
        return treated

    def _prepare(
        self,
        batch: pd.DataFrame,
        profile: Profile,
        treated: dict[str, str],
        default_round: int | None,
        cp874_rows: frozenset[int],
        seen: SeenRows,
    ) -> Prepared:
        rows = batch[ROW].to_numpy()
        original = batch.drop(columns=[ROW])
        hashed = [c for c, how in treated.items() if how == "hashed"]
        for column in hashed:
            original[column] = keyed_hash(original[column], self.key)
        original = original.drop(columns=[c for c, how in treated.items() if how == "dropped"])
        checked = check(
            profile.apply(original), default_round=default_round, categories=self.categories
        )
        values = checked.values
        placement = place(
            self.index,
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
        refused = reasons.mask()
        # Duplicates: the same (household, round, problem) on an earlier row of the file.
        identity = row_identity(values)
        candidates = np.flatnonzero(~refused)
        repeated = np.zeros(len(identity), dtype=bool)
        repeated[candidates] = pd.Series(identity[candidates]).duplicated(keep="first").to_numpy()
        repeated = (repeated | seen.seen(identity)) & ~refused
        seen.add(identity[~refused & ~repeated])
        reasons.add(repeated, "duplicate_row")
        for i in np.flatnonzero(repeated).tolist():
            messages.append(i, "the same household, round and problem_code are on an earlier row")
        refused |= repeated
        flags = checked.flags.merged(placement.flags)
        flags.add(np.flatnonzero(np.isin(rows, list(cp874_rows))), "cp874_text")
        head = original[hashed[0]] if hashed else pd.Series(None, index=values.index, dtype=object)
        return Prepared(rows, original, values, placement, flags, reasons, messages, refused, head)

    def _store(
        self, conn: Connection, batch: Prepared, report: ImportReport, rounds: _Rounds
    ) -> None:
        values, placement, flags, rows = batch.values, batch.placement, batch.flags, batch.rows
        keep = ~batch.refused
        moo = values["moo"].to_numpy(dtype=float)
        wanted = placement.fallback & ~np.isnan(moo) & keep
        if wanted.any():
            villages = self._villages(conn, values, placement, wanted, rounds)
            placement = placement.with_villages(values["declared_subdistrict"], moo, villages)
        households = self._households(values, placement, flags, rows, batch.head, keep)
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
        self._load(conn, households[fresh], problems[row_fresh], report, rounds)
        if late.any():
            _copy(conn, "late_household", households[late])
            _copy(conn, "late_problem", _problems(problems[row_late]))
            _copy(conn, "late_row", problems.loc[row_late, ROW_KEYS])
        upserted = 0
        if not loading.all():
            upserted = self._upsert(conn, households[~loading], problems[row_upsert], report)
        self._quarantine(conn, batch, report)
        report.rows += len(values)
        report.rows_imported += int(row_fresh.sum()) + upserted
        report.rows_unchanged += int(row_upsert.sum()) - upserted
        rounds.late_rows += int(row_late.sum())
        report.rows_quarantined += int(batch.refused.sum())
        report.geocode_precision.update(households["precision"].tolist())
        for i, labels in flags.rows.items():
            if keep[i]:
                report.repairs.update(labels)

    def _upsert(
        self,
        conn: Connection,
        households: pd.DataFrame,
        problems: pd.DataFrame,
        report: ImportReport,
    ) -> int:
        """Insert or update rows of attached rounds; returns how many rows were written."""
        _copy(conn, "stage_household", households)
        _copy(conn, "stage_problem", _problems(problems))
        households_written, problems_written = _upsert_staged(conn, report)
        # A row is imported when its household or its problem was written: the join is needed
        # only when some of the rows were written and some were not.
        if households_written == len(households):
            return len(problems)
        if households_written + problems_written == 0:
            return 0
        _copy(conn, "stage_row", problems[ROW_KEYS])
        return int(conn.scalar(text(COUNT_ROWS)) or 0)

    def _load(
        self,
        conn: Connection,
        households: pd.DataFrame,
        problems: pd.DataFrame,
        report: ImportReport,
        rounds: _Rounds,
    ) -> None:
        """COPY rows of households new to a round being loaded into its bare tables."""
        if households.empty:
            return
        areas = households[["household_id", "round", "subdistrict_code"]]
        problems = _problems(problems).merge(areas, on=["household_id", "round"], how="left")
        geom = ewkb_points(households["lon"].to_numpy(), households["lat"].to_numpy())
        bare = households.drop(columns=["lon", "lat"]).assign(
            geom=geom, import_job_id=report.job_id
        )
        problems = problems.assign(import_job_id=report.job_id)
        numbers = bare["round"].unique().tolist()

        def copy_problems(side: Connection) -> None:
            with side.begin():
                for number in numbers:
                    part = problems[problems["round"] == number]
                    _copy(side, partition("problem", number), part)

        # Problems go through a second session at the same time: the server parses both COPYs
        # at once. Its own commit is safe, as bare tables are all or nothing: a load that stops
        # before it is attached is dropped and done again.
        copied = rounds.alongside(copy_problems)
        for number in numbers:
            _copy(conn, partition("household", number), bare[bare["round"] == number])
        copied.result()
        report.households_inserted += len(bare)
        report.problems_inserted += len(problems)

    def _store_late(self, conn: Connection, report: ImportReport, rounds: _Rounds) -> None:
        """Upsert the rows held back while their rounds were loaded (now attached)."""
        if not rounds.late_rows:
            return
        with conn.begin():
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
            conn.exec_driver_sql(LATE)
            _upsert_staged(conn, report)
            imported = int(conn.scalar(text(COUNT_ROWS)) or 0)
        report.rows_imported += imported
        report.rows_unchanged += rounds.late_rows - imported

    def _households(
        self,
        values: pd.DataFrame,
        placement: Placement,
        flags: Labels,
        rows: NDArray[np.int64],
        head: pd.Series,
        keep: NDArray[np.bool_],
    ) -> pd.DataFrame:
        """One record per household: its best-placed row, with the flags of all its rows."""
        district, province = self.index.chain(pd.Series(placement.subdistrict, index=values.index))
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

    def _villages(
        self,
        conn: Connection,
        values: pd.DataFrame,
        placement: Placement,
        wanted: np.ndarray,
        rounds: _Rounds,
    ) -> dict[tuple[str, int], tuple[float, float]]:
        """Mean position of the GPS households of each wanted village.

        Stored households count once each, except those in this batch, which count as the batch
        has them: the same rows give the same village wherever they stand in the file.
        """
        moo = values["moo"].to_numpy()
        keys = pd.DataFrame({"code": values["declared_subdistrict"], "moo": moo})[wanted]
        keys = keys.drop_duplicates()
        _copy(conn, "stage_batch_household", values[["household_id", "round"]].drop_duplicates())
        # Without statistics the planner takes the temp table for tiny and loops over it.
        conn.exec_driver_sql("ANALYZE stage_batch_household")
        sums: dict[tuple[str, int], list[float]] = {}
        params = {"codes": keys["code"].tolist(), "moos": keys["moo"].astype(int).tolist()}
        quote = conn.dialect.identifier_preparer.quote
        tables = ["household", *(partition("household", r) for r in rounds.loads)]
        stored = " UNION ALL ".join(STORED.format(table=quote(t)) for t in tables)
        for code, number, sx, sy, count in conn.execute(
            text(VILLAGES.format(stored=stored)), params
        ):
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

    def _quarantine(self, conn: Connection, batch: Prepared, report: ImportReport) -> None:
        """Keep what this run refused in the batch's rows, and only that (a re-run may differ)."""
        conn.execute(
            delete(QuarantinedRow).where(
                QuarantinedRow.sha256 == report.sha256,
                QuarantinedRow.row_number.between(int(batch.rows.min()), int(batch.rows.max())),
            )
        )
        refused = batch.refused
        if not refused.any():
            return
        records = batch.original[refused].to_dict("records")
        declared = batch.values["declared_subdistrict"].to_numpy(dtype=object)
        entries = [
            {
                "import_job_id": report.job_id,
                "sha256": report.sha256,
                "file_name": report.file,
                "row_number": int(batch.rows[i]),
                "reasons": batch.reasons[i],
                "messages": batch.messages[i],
                "values": {k: v for k, v in record.items() if v not in ("", None)},
                "subdistrict_code": _code(declared[i]),
            }
            for i, record in zip(np.flatnonzero(refused).tolist(), records, strict=True)
        ]
        conn.execute(insert(QuarantinedRow), entries)
        for i in np.flatnonzero(refused).tolist():
            report.quarantine_reasons.update(set(batch.reasons[i]))


def _code(value: object) -> str | None:
    """A declared subdistrict code, if it is one."""
    return value if isinstance(value, str) and len(value) == 6 and value.isdigit() else None


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


def round_(value: float) -> float:
    return float(f"{value:.3f}")
