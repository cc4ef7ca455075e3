"""Import survey files: validate, place, store in batches (one transaction each), quarantine."""

from __future__ import annotations

import binascii
import contextlib
import logging
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

from geo.access import Scope
from geo.errors import BamrungError, InvalidInputError, MissingColumnsError
from geo.intake.rules import (
    AreaIndex,
    Labels,
    Placement,
    keyed_hash,
    lookup,
    personal_columns,
    place,
)
from layers.geography.sources import file_checksum
from layers.store.keys import pii_key
from layers.store.models import PRECISIONS, ImportJob, ProblemCategory, QuarantinedRow
from layers.store.partitions import RoundLoad, attached_rounds, finish, partition
from layers.store.settings import Settings
from layers.survey import imports
from layers.survey.imports import JobLease
from layers.survey.profiles import (
    CANONICAL,
    Profile,
    identity_profile,
    load_profile,
    missing_columns,
)
from layers.survey.readers import (
    ROW,
    SHAPE,
    SurveyFile,
    frame_to_csv,
    open_survey,
    read_batches,
)
from layers.survey.validate import check

log = logging.getLogger(__name__)
BATCH_ROWS = 100_000
READER_COLUMNS = (ROW, SHAPE)
"""Columns the readers add to the file's own."""
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
        out = asdict(self)
        for key in ("quarantine_reasons", "geocode_precision", "repairs"):
            out[key] = dict(sorted(getattr(self, key).items()))
        return out


@dataclass
class Opened:
    """A file checked as a whole and ready to import: the parts to read and how to read them."""

    survey: SurveyFile
    profile: Profile
    round: int | None
    """The round for rows without one."""
    skipped: dict[str, str]
    """Layers or sheets passed over, and why."""

    def close(self) -> None:
        self.survey.close()


def _choose_parts(
    survey: SurveyFile, profile: Profile | None, round_given: bool, names: list[str] | None
) -> tuple[SurveyFile, dict[str, str]]:
    """The parts to read: those named, else every part with the required columns.

    Raises ``InvalidInputError`` when a named part does not exist or no part can be read.
    """
    label = survey.label
    known = [p.name for p in survey.parts]
    if names:
        unknown = [n for n in names if n not in known]
        if unknown:
            listed = ", ".join(repr(n) for n in known if n is not None) or "none"
            raise InvalidInputError(
                f"{label}: no layer or sheet {', '.join(map(repr, unknown))} (it has: {listed})"
            )
        survey = survey.only(list(names))
    lacking = {}
    for part in survey.parts:
        mapping = profile or identity_profile(part.columns)
        missing = missing_columns(mapping, part.columns, round_given=round_given)
        if missing:
            lacking[part.name] = missing
    if len(lacking) == len(survey.parts):
        if len(survey.parts) == 1:
            part = survey.parts[0]
            missing = lacking[part.name]
            where = f"{label}" + (f", layer {part.name!r}" if names or part.name else "")
            raise MissingColumnsError(
                f"{where}: required column(s) missing: {', '.join(missing)} "
                f"(found: {', '.join(part.columns)}; "
                f"profile: {profile.name if profile else 'canonical'})",
                missing,
            )
        shown = "; ".join(f"{name!r} lacks {', '.join(m)}" for name, m in lacking.items())
        raise MissingColumnsError(
            f"{label}: no layer holds the required columns ({shown})",
            sorted({c for m in lacking.values() for c in m}),
        )
    skipped = {
        str(name): f"required column(s) missing: {', '.join(missing)}"
        for name, missing in lacking.items()
    }
    return survey.only([p.name for p in survey.parts if p.name not in lacking]), skipped


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
CREATE TEMP TABLE IF NOT EXISTS late_household (LIKE stage_household, batch bigint);
CREATE TEMP TABLE IF NOT EXISTS late_problem (LIKE stage_problem);
CREATE TEMP TABLE IF NOT EXISTS late_row (LIKE stage_row);
TRUNCATE late_household, late_problem, late_row;
"""
# Held back rows go in as they would have batch by batch: one batch's households at a time (a
# later batch's values merge into an earlier one's), then every problem.
LATE_BATCH = """
INSERT INTO stage_household
SELECT household_id, round, house_no, moo, declared_subdistrict, community, members, urban,
    head_id_hash, lon, lat, precision, outside_m, flags, subdistrict_code, district_code,
    province_code, surveyed_on, source_row
FROM late_household WHERE batch = :batch
"""
LATE_PROBLEMS = """
INSERT INTO stage_problem SELECT * FROM late_problem;
INSERT INTO stage_row SELECT * FROM late_row;
TRUNCATE late_household, late_problem, late_row;
"""

PROBLEM_COLUMNS = ("detail", "status", "reported_on", "updated_on", "resolved_on")
ROW_KEYS = ["household_id", "round", "category"]
#: Flags that describe how a position was found: they follow the position.
PLACEMENT_FLAGS = (
    "swapped_coordinates",
    "utm_coordinates",
    "outside_declared_subdistrict",
    "subdistrict_from_point",
    "missing_coordinates",
    "coordinates_rejected",
    "unreadable_coordinates",
    "representative_point",
)
# Upserts merge a file into what is stored: a value the file does not give (its column is absent,
# or its cell empty: NULL in the stage) leaves the stored value alone. A fallback position (no
# usable coordinates) never replaces a stored one while the declared subdistrict stays the same.
# Flags accumulate, except those of the position, which follow it. Only rows whose values change
# are written (their ``updated_at`` is then the transaction's start, ``now()``). Counted from the
# statement's snapshot: partitioned tables cannot return ``xmax`` to tell inserts from updates.
UPSERT_HOUSEHOLDS = """
WITH merged AS (
    SELECT s.household_id, s.round, s.source_row,
        coalesce(s.house_no, t.house_no) AS house_no,
        coalesce(s.moo, t.moo) AS moo,
        s.declared_subdistrict,
        coalesce(s.community, t.community) AS community,
        coalesce(s.members, t.members) AS members,
        coalesce(s.urban, t.urban) AS urban,
        coalesce(s.head_id_hash, t.head_id_hash) AS head_id_hash,
        CASE WHEN k.keep THEN t.geom ELSE s.geom END AS geom,
        CASE WHEN k.keep THEN t.precision ELSE s.precision END AS precision,
        CASE WHEN k.keep THEN t.outside_m ELSE s.outside_m END AS outside_m,
        CASE WHEN t.flags IS NULL OR t.flags = s.flags THEN s.flags ELSE ARRAY(
            SELECT f FROM (
                SELECT f FROM unnest(t.flags) f WHERE k.keep OR f <> ALL(:placement)
                UNION
                SELECT f FROM unnest(s.flags) f WHERE NOT (k.keep AND f = ANY(:placement))
            ) AS u ORDER BY f COLLATE "C"
        ) END AS flags,
        CASE WHEN k.keep THEN t.subdistrict_code ELSE s.subdistrict_code END AS subdistrict_code,
        CASE WHEN k.keep THEN t.district_code ELSE s.district_code END AS district_code,
        CASE WHEN k.keep THEN t.province_code ELSE s.province_code END AS province_code,
        coalesce(s.surveyed_on, t.surveyed_on) AS surveyed_on,
        t.household_id IS NOT NULL AS stored,
        t
    FROM (SELECT *, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS geom FROM stage_household) s
    LEFT JOIN household t USING (household_id, round)
    CROSS JOIN LATERAL (
        SELECT t.household_id IS NOT NULL AND s.precision IN ('village', 'subdistrict', 'district')
            AND s.declared_subdistrict = t.declared_subdistrict AS keep
    ) k
),
changed AS (
    SELECT * FROM merged m
    WHERE NOT m.stored OR (
        m.house_no, m.moo, m.declared_subdistrict, m.community, m.members, m.urban,
        m.head_id_hash, m.geom, m.precision, m.outside_m, m.flags, m.subdistrict_code,
        m.district_code, m.province_code, m.surveyed_on
    ) IS DISTINCT FROM (
        (m.t).house_no, (m.t).moo, (m.t).declared_subdistrict, (m.t).community, (m.t).members,
        (m.t).urban, (m.t).head_id_hash, (m.t).geom, (m.t).precision, (m.t).outside_m,
        (m.t).flags, (m.t).subdistrict_code, (m.t).district_code, (m.t).province_code,
        (m.t).surveyed_on
    )
),
written AS (
    INSERT INTO household AS t (household_id, round, house_no, moo, declared_subdistrict,
        community, members, urban, head_id_hash, geom, precision, outside_m, flags,
        subdistrict_code, district_code, province_code, surveyed_on, import_job_id, source_row)
    SELECT household_id, round, house_no, moo, declared_subdistrict, community, members, urban,
        head_id_hash, geom, precision, outside_m, flags, subdistrict_code, district_code,
        province_code, surveyed_on, :job, source_row
    FROM changed
    ON CONFLICT (household_id, round) DO UPDATE SET house_no = excluded.house_no,
        moo = excluded.moo, declared_subdistrict = excluded.declared_subdistrict,
        community = excluded.community, members = excluded.members, urban = excluded.urban,
        head_id_hash = excluded.head_id_hash, geom = excluded.geom,
        precision = excluded.precision, outside_m = excluded.outside_m, flags = excluded.flags,
        subdistrict_code = excluded.subdistrict_code, district_code = excluded.district_code,
        province_code = excluded.province_code, surveyed_on = excluded.surveyed_on,
        import_job_id = excluded.import_job_id, source_row = excluded.source_row,
        updated_at = now()
)
SELECT count(*) FILTER (WHERE NOT stored), count(*) FILTER (WHERE stored) FROM changed
"""
UPSERT_PROBLEMS = """
WITH merged AS (
    SELECT s.household_id, s.round, s.category, s.source_row, h.subdistrict_code,
        coalesce(s.detail, t.detail) AS detail,
        coalesce(s.status, t.status, 'open') AS status,
        coalesce(s.reported_on, t.reported_on) AS reported_on,
        coalesce(s.updated_on, t.updated_on) AS updated_on,
        coalesce(s.resolved_on, t.resolved_on) AS resolved_on,
        t.household_id IS NOT NULL AS stored,
        t.detail AS was_detail, t.status AS was_status, t.reported_on AS was_reported_on,
        t.updated_on AS was_updated_on, t.resolved_on AS was_resolved_on
    FROM stage_problem s
    JOIN household h USING (household_id, round)
    LEFT JOIN problem t USING (household_id, round, category)
),
changed AS (
    SELECT * FROM merged
    WHERE NOT stored
       OR (detail, status, reported_on, updated_on, resolved_on) IS DISTINCT FROM
          (was_detail, was_status, was_reported_on, was_updated_on, was_resolved_on)
),
written AS (
    INSERT INTO problem AS t (household_id, round, category, detail, status, reported_on,
        updated_on, resolved_on, subdistrict_code, import_job_id, source_row)
    SELECT household_id, round, category, detail, status, reported_on, updated_on, resolved_on,
        subdistrict_code, :job, source_row
    FROM changed
    ON CONFLICT (household_id, round, category) DO UPDATE SET detail = excluded.detail,
        status = excluded.status, reported_on = excluded.reported_on,
        updated_on = excluded.updated_on, resolved_on = excluded.resolved_on,
        import_job_id = excluded.import_job_id, source_row = excluded.source_row,
        updated_at = now()
)
SELECT count(*) FILTER (WHERE NOT stored), count(*) FILTER (WHERE stored) FROM changed
"""
# Rows whose household or problem this transaction wrote.
COUNT_ROWS = """
SELECT count(*) FILTER (WHERE h.updated_at = now() OR p.updated_at = now())
FROM stage_row r
JOIN household h ON h.household_id = r.household_id AND h.round = r.round
LEFT JOIN problem p
    ON p.household_id = r.household_id AND p.round = r.round AND p.category = r.category
"""
VILLAGES = """
SELECT subdistrict_code, moo,
    -- In a fixed order: a float sum depends on it, and the rows' physical order may differ.
    sum(ST_X(geom) ORDER BY household_id, round), sum(ST_Y(geom) ORDER BY household_id, round),
    count(*)
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


def _upsert_households(conn: Connection, report: ImportReport) -> int:
    """Upsert the staged households, counted in the report; returns how many were written."""
    new, changed = conn.execute(
        text(UPSERT_HOUSEHOLDS), {"job": report.job_id, "placement": list(PLACEMENT_FLAGS)}
    ).one()
    report.households_inserted += new
    report.households_updated += changed
    return int(new + changed)


def _upsert_problems(conn: Connection, report: ImportReport) -> int:
    """Upsert the staged problems, counted in the report; returns how many were written."""
    new, changed = conn.execute(text(UPSERT_PROBLEMS), {"job": report.job_id}).one()
    report.problems_inserted += new
    report.problems_updated += changed
    return int(new + changed)


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

    def open(
        self,
        path: Path,
        *,
        round: int | None = None,
        profile: str | None = None,
        layers: list[str] | None = None,
        label: str | None = None,
    ) -> Opened:
        """Open a file and check everything about it that is not row by row: its kind, text,
        shape, column names, and which of its layers or sheets hold the required columns.

        Raises ``InvalidInputError`` (``MissingColumnsError``, ``UnsupportedFileError``) with a
        message naming the file by ``label`` (default: the path); nothing is written.
        """
        survey = open_survey(path, label)
        try:
            self.index  # noqa: B018 - no boundaries: refused before a job is started
            chosen = load_profile(profile) if profile else None
            survey, skipped = _choose_parts(survey, chosen, round is not None, layers)
            chosen = chosen or identity_profile(survey.columns)
        except BaseException:
            survey.close()
            raise
        return Opened(survey, chosen, round, skipped)

    def run(
        self,
        path: Path,
        *,
        round: int | None = None,
        profile: str | None = None,
        layers: list[str] | None = None,
        label: str | None = None,
        scope: Scope | None = None,
        started_by: str | None = None,
        batch_rows: int = BATCH_ROWS,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> ImportReport:
        """Import one file. Bad files fail before anything is written (``InvalidInputError``).

        ``scope``: the uploader's; rows it may not write are refused (``outside_your_area``)
        and nothing outside it is touched. None: no limit (the command line).
        """
        opened = self.open(path, round=round, profile=profile, layers=layers, label=label)
        return self.run_opened(
            opened, scope=scope, started_by=started_by, batch_rows=batch_rows,
            on_progress=on_progress,
        )  # fmt: skip

    def run_opened(
        self,
        opened: Opened,
        *,
        scope: Scope | None = None,
        started_by: str | None = None,
        batch_rows: int = BATCH_ROWS,
        on_progress: Callable[[int, int], None] | None = None,
        lease: JobLease | None = None,
    ) -> ImportReport:
        """Import a file that :meth:`open` checked (and close it).

        ``lease``: a job queued beforehand (an upload) and its owning session, used instead of
        a new job; it is released when the import ends.
        """
        started = time.perf_counter()
        survey = opened.survey
        try:
            report, lease = self._start(opened, scope, started_by, lease)
            try:
                self._import(opened, scope, batch_rows, report, on_progress)
            except BaseException as exc:
                # A library's message may quote a row of the file: only ours are kept.
                error = str(exc) if isinstance(exc, BamrungError) else type(exc).__name__
                self._finish(report, "failed", error[:2000])
                raise
            report.seconds = round_(time.perf_counter() - started)
            report.rows_per_s = round_(report.rows / report.seconds if report.seconds else 0.0)
            if report.rows == 0:
                report.warnings.append(f"{survey.label}: the file holds no rows, only a header")
            for warning in report.warnings:
                log.warning("%s", warning)
            self._finish(report, "done", None)
        finally:
            survey.close()
            if lease is not None:
                lease.release()
        return report

    def _start(
        self,
        opened: Opened,
        scope: Scope | None,
        started_by: str | None,
        lease: JobLease | None,
    ) -> tuple[ImportReport, JobLease]:
        survey = opened.survey
        digest = file_checksum(survey.path)
        values = {
            "sha256": digest,
            "round": opened.round,
            "profile": opened.profile.name,
            "started_by": started_by,
        }
        with self.engine.begin() as conn:
            imports.mark_interrupted(conn)
        if lease is None:
            file_name = Path(survey.label).name
            lease = imports.start_job(self.engine, "running", file_name=file_name, **values)
        else:
            with lease.conn.begin():
                lease.conn.execute(
                    update(ImportJob)
                    .where(ImportJob.id == lease.job_id)
                    .values(state="running", **values)
                )
        report = ImportReport(
            lease.job_id,
            Path(survey.label).name,
            digest,
            survey.kind,
            survey.encoding,
            opened.profile.name,
            columns=survey.columns,
            layers=[p.name for p in survey.parts if p.name is not None],
            scope=scope.area if scope is not None else None,
        )
        for name, why in opened.skipped.items():
            report.warnings.append(f"{survey.label}: layer {name!r} was not read: {why}")
        return report, lease

    def _finish(self, report: ImportReport, state: str, error: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(ImportJob)
                .where(ImportJob.id == report.job_id)
                .values(state=state, error=error, finished_at=func.now(), report=report.as_dict())
            )

    def _import(
        self,
        opened: Opened,
        scope: Scope | None,
        batch_rows: int,
        report: ImportReport,
        on_progress: Callable[[int, int], None] | None,
    ) -> None:
        """Prepare batch k+1 in a second thread while this one stores batch k.

        Preparing is Python (one core), storing is mostly PostgreSQL (the other); batches are
        stored in file order, one transaction each.
        """
        survey, profile = opened.survey, opened.profile
        open_rounds = None
        if scope is not None and scope.area:
            # An upload limited to an area writes into rounds that exist: a new round (the
            # default round of everyone) is opened by a country-wide user or the command line.
            with self.engine.connect() as conn:
                open_rounds = attached_rounds(conn)
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
                    item = self._prepare(batch, opened, treated, scope, open_rounds, seen)
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
                        # Index lookups row by row: compiling them (JIT) costs more than it saves.
                        conn.exec_driver_sql("SET LOCAL jit = off")
                        self._store(conn, item, report, rounds, scope)
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
        readers = [c for c in READER_COLUMNS if c in batch]
        found = personal_columns(batch.drop(columns=readers), known=used | canonical | set(treated))
        for column, how in found.items():
            log.info("personal data: column %r is %s", column, how)
        treated = {**treated, **found}
        report.personal_columns = treated
        report.ignored_columns = sorted(
            set(batch.columns) - used - canonical - set(treated) - set(readers)
        )
        return treated

    def _prepare(
        self,
        batch: pd.DataFrame,
        opened: Opened,
        treated: dict[str, str],
        scope: Scope | None,
        open_rounds: set[int] | None,
        seen: SeenRows,
    ) -> Prepared:
        rows = batch[ROW].to_numpy()
        shape = batch.get(SHAPE)
        original = batch.drop(columns=[c for c in READER_COLUMNS if c in batch])
        hashed = [c for c, how in treated.items() if how == "hashed"]
        for column in hashed:
            original[column] = keyed_hash(original[column], self.key)
        original = original.drop(columns=[c for c, how in treated.items() if how == "dropped"])
        checked = check(
            opened.profile.apply(original), default_round=opened.round, categories=self.categories
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
        if scope is not None:
            _refuse_outside(scope, values, placement, reasons, messages)
        if open_rounds is not None:
            closed = ~values["round"].isin(list(open_rounds)).to_numpy() & ~reasons.mask()
            reasons.add(closed, "round_not_open")
            for i in np.flatnonzero(closed).tolist():
                messages.append(
                    i,
                    f"round: {values['round'].iloc[i]} is not in the database yet; a round is "
                    "opened by importing its first file with a country-wide account",
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
        flags.add(np.flatnonzero(np.isin(rows, list(opened.survey.cp874_rows))), "cp874_text")
        if shape is not None:
            # The position of a polygon, line or multipoint feature is a point on it.
            drawn = (shape != "").to_numpy() & ~placement.fallback
            flags.add(drawn, "representative_point")
        head = original[hashed[0]] if hashed else pd.Series(None, index=values.index, dtype=object)
        return Prepared(rows, original, values, placement, flags, reasons, messages, refused, head)

    def _store(
        self,
        conn: Connection,
        batch: Prepared,
        report: ImportReport,
        rounds: _Rounds,
        scope: Scope | None,
    ) -> None:
        if scope is not None and scope.area:
            _refuse_stored_outside(conn, batch, scope)
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
            _copy(conn, "late_household", households[late].assign(batch=int(rows.min())))
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
        households_written = _upsert_households(conn, report)
        problems_written = _upsert_problems(conn, report)
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
        problems["status"] = problems["status"].fillna("open")  # no status given: open
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
            batches = conn.scalars(text("SELECT DISTINCT batch FROM late_household ORDER BY 1"))
            for batch in batches.all():
                conn.execute(text(LATE_BATCH), {"batch": batch})
                _upsert_households(conn, report)
                conn.exec_driver_sql("TRUNCATE stage_household")
            conn.exec_driver_sql(LATE_PROBLEMS)
            _upsert_problems(conn, report)
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
                "values": {k: _storable(v) for k, v in record.items() if v not in ("", None)},
                "subdistrict_code": _code(declared[i]),
            }
            for i, record in zip(np.flatnonzero(refused).tolist(), records, strict=True)
        ]
        conn.execute(insert(QuarantinedRow), entries)
        for i in np.flatnonzero(refused).tolist():
            report.quarantine_reasons.update(set(batch.reasons[i]))


def _refuse_outside(
    scope: Scope, values: pd.DataFrame, placement: Placement, reasons: Labels, messages: Labels
) -> None:
    """Refuse the rows ``scope`` may not write: declared or placed outside its area
    (``outside_your_area``), or outside the rest of it (``outside_your_scope``)."""
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


def _refuse_stored_outside(conn: Connection, batch: Prepared, scope: Scope) -> None:
    """Refuse rows of households stored outside ``scope``'s area: a file never moves them in."""
    keep = ~batch.refused
    if not keep.any():
        return
    ids = batch.values["household_id"][keep]
    rounds = batch.values["round"][keep]
    pairs = pd.DataFrame({"household_id": ids, "round": rounds}).drop_duplicates()
    found = conn.execute(
        text(
            "SELECT h.household_id, h.round, h.subdistrict_code FROM household h "
            "JOIN unnest(CAST(:ids AS text[]), CAST(:rounds AS int[])) AS s(household_id, round) "
            "USING (household_id, round) WHERE NOT starts_with(h.subdistrict_code, :area)"
        ),
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


QUARANTINE_TEXT_MAX = 10_000
"""The longest text quarantine keeps of a value (the file keeps the rest)."""


def _storable(value: object) -> object:
    """A value as quarantine keeps it: without NUL characters (shown as U+FFFD), and cut at
    ``QUARANTINE_TEXT_MAX`` characters."""
    if not isinstance(value, str):
        return value
    value = value.replace("\x00", "\ufffd")
    if len(value) > QUARANTINE_TEXT_MAX:
        value = f"{value[:QUARANTINE_TEXT_MAX]}… [cut: {len(value):,} characters in the file]"
    return value


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
