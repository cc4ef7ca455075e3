"""Import survey files: validate, place, store in batches (one transaction each), quarantine."""

from __future__ import annotations

import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from geo.errors import InvalidInputError
from geo.intake import AreaIndex, Placement, keyed_hash, personal_columns, place
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
        with path.open("x") as handle:
            path.chmod(0o600)
            handle.write(secrets.token_hex(32))
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
CREATE TEMP TABLE IF NOT EXISTS stage_identity (identity bigint, row_number bigint)
    ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_batch_household (household_id text, round int)
    ON COMMIT DELETE ROWS;
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
CREATE TEMP TABLE IF NOT EXISTS changed_household (
    household_id text, round int, inserted boolean) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS changed_problem (
    household_id text, round int, category text, inserted boolean) ON COMMIT DELETE ROWS;
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


def _upsert(
    table: str,
    keys: tuple[str, ...],
    columns: tuple[str, ...],
    select_list: str,
    changed: str,
    also_changed: str = "false",
) -> str:
    """INSERT … ON CONFLICT that updates only rows whose values differ, noting what changed."""
    assignments = ", ".join(f"{c} = excluded.{c}" for c in columns)
    compared = [c for c in columns if c != "geom"]
    current = ", ".join(f"t.{c}" for c in compared)
    incoming = ", ".join(f"excluded.{c}" for c in compared)
    key_list = ", ".join(keys)
    return f"""
    WITH up AS (
        INSERT INTO {table} AS t ({key_list}, {", ".join(columns)}, import_job_id, source_row)
        {select_list}
        ON CONFLICT ({key_list}) DO UPDATE SET {assignments},
            import_job_id = excluded.import_job_id, source_row = excluded.source_row,
            updated_at = now()
        WHERE ({current}) IS DISTINCT FROM ({incoming}) OR {also_changed}
        RETURNING {", ".join(f"t.{k}" for k in keys)}, (xmax = 0) AS inserted
    )
    INSERT INTO {changed} SELECT * FROM up
    """  # noqa: S608 - table and column names are constants of this module


UPSERT_HOUSEHOLDS = _upsert(
    "household",
    ("household_id", "round"),
    HOUSEHOLD_COLUMNS,
    """SELECT household_id, round, house_no, moo, declared_subdistrict, community, members, urban,
        head_id_hash, ST_SetSRID(ST_MakePoint(lon, lat), 4326), precision, outside_m, flags,
        subdistrict_code, district_code, province_code, surveyed_on, :job, source_row
    FROM stage_household""",
    "changed_household",
    # A position taken from the village's known households depends on what was known when it
    # was placed: importing the same row again does not move it.
    "NOT (t.geom = excluded.geom OR (t.precision = 'village' AND excluded.precision = 'village'))",
)
UPSERT_PROBLEMS = _upsert(
    "problem",
    ("household_id", "round", "category"),
    PROBLEM_COLUMNS,
    """SELECT household_id, round, category, detail, status, reported_on, updated_on,
        resolved_on, :job, source_row
    FROM stage_problem""",
    "changed_problem",
)
COUNT_ROWS = """
SELECT count(*) FILTER (WHERE h.household_id IS NOT NULL OR p.household_id IS NOT NULL)
FROM stage_row r
LEFT JOIN changed_household h ON h.household_id = r.household_id AND h.round = r.round
LEFT JOIN changed_problem p
    ON p.household_id = r.household_id AND p.round = r.round AND p.category = r.category
"""
COUNTS = "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM "
CHANGES = {
    "households": text(COUNTS + "changed_household"),
    "problems": text(COUNTS + "changed_problem"),
}
VILLAGES = """
SELECT declared_subdistrict, moo, sum(ST_X(geom)), sum(ST_Y(geom)), count(*)
FROM household h
WHERE precision IN ('gps', 'gps_corrected')
  AND (declared_subdistrict, moo) IN (
    SELECT * FROM unnest(CAST(:codes AS text[]), CAST(:moos AS int[])))
  AND NOT EXISTS (SELECT 1 FROM stage_batch_household s
                  WHERE s.household_id = h.household_id AND s.round = h.round)
GROUP BY declared_subdistrict, moo
"""


def _copy(conn: Connection, table: str, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    raw = conn.connection.dbapi_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy:  # type: ignore[attr-defined]
        copy.write(frame_to_csv(frame))


class Importer:
    """Imports survey files into one database; reusable across files."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.key = pii_key(settings)
        with engine.connect() as conn:
            self.index = load_area_index(conn)
            self.categories = set(conn.scalars(select(ProblemCategory.code)))

    def run(
        self,
        path: Path,
        *,
        round: int | None = None,
        profile: str | None = None,
        batch_rows: int = BATCH_ROWS,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> ImportReport:
        """Import one file. Bad files fail before anything is written (``InvalidInputError``)."""
        started = time.perf_counter()
        survey = open_survey(path)
        try:
            return self._run(survey, round, profile, batch_rows, on_progress, started)
        finally:
            survey.close()

    def _run(
        self,
        survey: SurveyFile,
        round: int | None,
        profile: str | None,
        batch_rows: int,
        on_progress: Callable[[int, int], None] | None,
        started: float,
    ) -> ImportReport:
        path = survey.path
        chosen: Profile = load_profile(profile) if profile else identity_profile(survey.columns)
        missing = missing_columns(chosen, survey.columns)
        if missing:
            raise InvalidInputError(
                f"{path}: required column(s) missing: {', '.join(missing)} "
                f"(found: {', '.join(survey.columns)}; profile: {chosen.name})"
            )
        digest = file_checksum(path)
        with self.engine.begin() as conn:
            conn.execute(
                update(ImportJob)
                .where(ImportJob.sha256 == digest, ImportJob.state == "running")
                .values(state="failed", error="interrupted", finished_at=func.now())
            )
            job_id = conn.scalar(
                insert(ImportJob)
                .values(
                    file_name=path.name,
                    sha256=digest,
                    round=round,
                    profile=chosen.name,
                    state="running",
                )
                .returning(ImportJob.id)
            )
        assert job_id is not None
        report = ImportReport(job_id, path.name, digest, survey.kind, survey.encoding, chosen.name)
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql(STAGING)
                conn.commit()
                treated: dict[str, str] | None = None
                id_column = household_id_column(chosen, survey.columns)
                for batch in whole_households(read_batches(survey, batch_rows), id_column):
                    if treated is None:
                        treated = self._classify_columns(batch, chosen, report)
                    with conn.begin():
                        self._batch(conn, batch, chosen, treated, report, round, survey.cp874_rows)
                        conn.execute(
                            update(ImportJob)
                            .where(ImportJob.id == job_id)
                            .values(rows_done=report.rows)
                        )
                    if on_progress:
                        on_progress(report.rows, max(survey.rows, report.rows))
        except Exception as exc:
            with self.engine.begin() as conn:
                conn.execute(
                    update(ImportJob)
                    .where(ImportJob.id == job_id)
                    .values(
                        state="failed",
                        error=str(exc)[:2000],
                        finished_at=func.now(),
                        report=report.as_dict(),
                    )
                )
            raise
        report.seconds = round_(time.perf_counter() - started)
        report.rows_per_s = round_(report.rows / report.seconds if report.seconds else 0.0)
        with self.engine.begin() as conn:
            conn.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id)
                .values(state="done", finished_at=func.now(), report=report.as_dict())
            )
        return report

    def _classify_columns(
        self, batch: pd.DataFrame, profile: Profile, report: ImportReport
    ) -> dict[str, str]:
        used = set(profile.columns.values()) | ({profile.geopoint} if profile.geopoint else set())
        canonical = {c for c in batch.columns if c.strip().lower() in CANONICAL}
        treated = personal_columns(batch.drop(columns=[ROW]), known=used | canonical)
        report.personal_columns = treated
        report.ignored_columns = sorted(
            set(batch.columns) - used - canonical - set(treated) - {ROW}
        )
        for column, how in treated.items():
            log.info("personal data: column %r is %s", column, how)
        return treated

    def _batch(
        self,
        conn: Connection,
        batch: pd.DataFrame,
        profile: Profile,
        treated: dict[str, str],
        report: ImportReport,
        default_round: int | None,
        cp874_rows: frozenset[int],
    ) -> None:
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
        moo = values["moo"].to_numpy(dtype=float)
        wanted = placement.fallback & ~np.isnan(moo)
        if wanted.any():
            placement = placement.with_villages(
                values["declared_subdistrict"], moo, self._villages(conn, values, placement, wanted)
            )
        reasons, messages = checked.reasons, checked.messages
        for i in np.flatnonzero(pd.isna(placement.precision)):
            reasons[i].append("unknown_subdistrict")
            messages[i].append(
                f"subdistrict_code: {values['declared_subdistrict'].iloc[i]!r} is not a known "
                "subdistrict and the row has no usable coordinates"
            )
        refused = np.array([bool(r) for r in reasons], dtype=bool)

        # Duplicates: within the batch, then against earlier batches (and runs) of this file.
        identity = (
            pd.util.hash_pandas_object(
                pd.DataFrame(
                    {
                        "h": values["household_id"],
                        "r": values["round"],
                        "c": values["category"].fillna(""),
                    }
                ),
                index=False,
            )
            .to_numpy()
            .view(np.int64)
        )
        repeated = (
            pd.Series(identity).where(~refused).duplicated(keep="first").to_numpy() & ~refused
        )
        candidates = ~refused & ~repeated
        _copy(
            conn,
            "stage_identity",
            pd.DataFrame({"identity": identity[candidates], "row_number": rows[candidates]}),
        )
        conn.execute(
            text(
                "INSERT INTO import_row_identity (sha256, identity, row_number) "
                "SELECT :sha, identity, row_number FROM stage_identity ON CONFLICT DO NOTHING"
            ),
            {"sha": report.sha256},
        )
        earlier = set(
            conn.scalars(
                text(
                    "SELECT s.row_number FROM stage_identity s JOIN import_row_identity i "
                    "ON i.sha256 = :sha AND i.identity = s.identity "
                    "WHERE i.row_number <> s.row_number"
                ),
                {"sha": report.sha256},
            )
        )
        repeated |= np.isin(rows, list(earlier)) & candidates
        for i in np.flatnonzero(repeated):
            reasons[i].append("duplicate_row")
            messages[i].append(
                "the same household, round and problem_code appear on an earlier row"
            )
        refused |= repeated
        keep = ~refused

        flags = [sorted(set(a + b)) for a, b in zip(checked.flags, placement.flags, strict=True)]
        for i in np.flatnonzero(np.isin(rows, list(cp874_rows))):
            flags[i].append("cp874_text")
        district, province = self.index.chain(pd.Series(placement.subdistrict, index=values.index))
        head = (
            original[hashed[0]] if hashed else pd.Series([None] * len(values), index=values.index)
        )
        households = pd.DataFrame(
            {
                "household_id": values["household_id"],
                "round": values["round"],
                "house_no": values["house_no"],
                "moo": pd.array(moo, dtype="Int64"),
                "declared_subdistrict": values["declared_subdistrict"],
                "community": values["community"],
                "members": pd.array(values["members"].to_numpy(dtype=float), dtype="Int64"),
                "urban": values["urban"],
                "head_id_hash": head.where(head.notna(), None),
                "lon": placement.lon,
                "lat": placement.lat,
                "precision": placement.precision,
                "outside_m": placement.outside_m,
                "flags": ["{" + ",".join(f) + "}" for f in flags],
                "subdistrict_code": placement.subdistrict,
                "district_code": district,
                "province_code": province,
                "surveyed_on": values["surveyed_on"],
                "source_row": rows,
            }
        )[keep]
        # One record per household: its best-placed row, with the flags of all its rows.
        households["_rank"] = households["precision"].map(PRECISION_RANK)
        households = households.sort_values("_rank", kind="stable").drop_duplicates(
            ["household_id", "round"], keep="first"
        )
        merged: dict[tuple[str, int], set[str]] = {}
        for i in np.flatnonzero(keep & np.array([bool(f) for f in flags], dtype=bool)):
            key = (values["household_id"].iloc[i], int(values["round"].iloc[i]))
            merged.setdefault(key, set()).update(flags[i])
        if merged:
            keys = list(zip(households["household_id"], households["round"], strict=True))
            households["flags"] = [
                "{" + ",".join(sorted(merged[k])) + "}" if k in merged else f
                for k, f in zip(keys, households["flags"], strict=True)
            ]
        households = households.drop(columns="_rank").sort_values("source_row")
        kept = values[keep]
        problems = pd.DataFrame(
            {
                "household_id": kept["household_id"],
                "round": kept["round"],
                "category": kept["category"],
                "detail": kept["detail"],
                "status": kept["status"],
                "reported_on": kept["reported_on"],
                "updated_on": kept["updated_on"],
                "resolved_on": kept["resolved_on"],
                "source_row": rows[keep],
            }
        )
        _copy(conn, "stage_row", problems[["household_id", "round", "category"]])
        _copy(conn, "stage_household", households)
        _copy(conn, "stage_problem", problems[problems["category"].notna()])
        conn.execute(text(UPSERT_HOUSEHOLDS), {"job": report.job_id})
        conn.execute(text(UPSERT_PROBLEMS), {"job": report.job_id})
        imported = conn.scalar(text(COUNT_ROWS)) or 0
        for prefix, query in CHANGES.items():
            inserted, updated = conn.execute(query).one()
            setattr(report, f"{prefix}_inserted", getattr(report, f"{prefix}_inserted") + inserted)
            setattr(report, f"{prefix}_updated", getattr(report, f"{prefix}_updated") + updated)
        self._quarantine(conn, original, rows, reasons, messages, refused, report)

        report.rows += len(values)
        report.rows_imported += imported
        report.rows_unchanged += int(keep.sum()) - imported
        report.rows_quarantined += int(refused.sum())
        report.geocode_precision.update(households["precision"].tolist())
        for row_flags, ok in zip(flags, keep, strict=True):
            if ok:
                report.repairs.update(row_flags)

    def _villages(
        self, conn: Connection, values: pd.DataFrame, placement: Placement, wanted: np.ndarray
    ) -> dict[tuple[str, int], tuple[float, float]]:
        """Mean position of the GPS households of each wanted village.

        Stored households count once each, except those in this batch, which count as the batch
        has them: the same rows give the same village wherever they stand in the file.
        """
        moo = values["moo"].to_numpy()
        keys = pd.DataFrame({"code": values["declared_subdistrict"], "moo": moo})[wanted]
        keys = keys.drop_duplicates()
        _copy(conn, "stage_batch_household", values[["household_id", "round"]].drop_duplicates())
        sums: dict[tuple[str, int], list[float]] = {}
        params = {"codes": keys["code"].tolist(), "moos": keys["moo"].astype(int).tolist()}
        for code, number, sx, sy, count in conn.execute(text(VILLAGES), params):
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

    def _quarantine(
        self,
        conn: Connection,
        original: pd.DataFrame,
        rows: np.ndarray,
        reasons: list[list[str]],
        messages: list[list[str]],
        refused: np.ndarray,
        report: ImportReport,
    ) -> None:
        if not refused.any():
            return
        records = original[refused].to_dict("records")
        entries = [
            {
                "import_job_id": report.job_id,
                "sha256": report.sha256,
                "file_name": report.file,
                "row_number": int(rows[i]),
                "reasons": reasons[i],
                "messages": messages[i],
                "values": {k: v for k, v in record.items() if v not in ("", None)},
            }
            for i, record in zip(np.flatnonzero(refused), records, strict=True)
        ]
        conn.execute(pg_insert(QuarantinedRow).on_conflict_do_nothing(), entries)
        for i in np.flatnonzero(refused):
            report.quarantine_reasons.update(set(reasons[i]))


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
