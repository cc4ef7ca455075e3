"""Import survey files: validate, place, store in batches (one transaction each), quarantine.

The entry points: :class:`Importer` opens and checks a file (:meth:`Importer.open`), runs the
job and its pipeline (:meth:`Importer.run`). The steps live beside it: ``batches`` (read,
check, place, de-duplicate), ``storing`` (one batch, one transaction), ``rounds`` (new rounds
loaded in bulk), ``staging`` (upserts), ``sql``; job and quarantine bookkeeping in ``imports``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
from sqlalchemy import Connection, Engine, func, select, text, update

from geo.access import Scope
from geo.collect.exports import Tool
from geo.collect.form import PERSONAL
from geo.errors import BamrungError, InvalidInputError
from geo.intake.areas import AreaIndex
from layers.store.files import file_checksum
from layers.store.keys import pii_key
from layers.store.models import ImportJob, ProblemCategory
from layers.store.partitions import attached_rounds
from layers.store.settings import Settings
from layers.survey import imports
from layers.survey.batches import (
    Prepared,
    classify_columns,
    household_id_column,
    prepare,
    whole_households,
)
from layers.survey.collected import TOOLS, convert, read_form
from layers.survey.dedupe import SeenRows
from layers.survey.imports import JobLease
from layers.survey.opening import Opened, choose_parts
from layers.survey.prefetch import Prefetch
from layers.survey.profiles import identity_profile, load_profile
from layers.survey.readers import open_survey, read_batches
from layers.survey.report import ImportReport
from layers.survey.rounds import Rounds, store_late
from layers.survey.sql import AREA_PARENTS, AREA_POLYGONS, STAGING
from layers.survey.storing import store_batch

log = logging.getLogger(__name__)
BATCH_ROWS = 100_000


def load_area_index(conn: Connection) -> AreaIndex:
    """Subdistrict and district polygons and the code tree, from the database."""

    def polygons(level: str) -> gpd.GeoDataFrame:
        frame = gpd.read_postgis(
            text(AREA_POLYGONS),
            conn,
            geom_col="geom",
            params={"level": level},
        )
        return frame.set_crs(4326, allow_override=True)

    parents: dict[str, str] = dict(conn.execute(text(AREA_PARENTS)).all())
    subdistricts = polygons("subdistrict")
    if subdistricts.empty:
        raise InvalidInputError("no subdistrict boundaries are loaded", needs="boundaries")
    return AreaIndex(subdistricts, parents, polygons("district"))


class Importer:
    """Imports survey files into one database; reusable across files."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.key = pii_key(settings)
        self.form_file = settings.survey_form_file
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
        """Open a file and check everything about it that is not row by row.

        Its kind, text, shape, column names, and which of its layers or sheets hold the required
        columns.

        Raises ``InvalidInputError`` (``MissingColumnsError``, ``UnsupportedFileError``) with a
        message naming the file by ``label`` (default: the path); nothing is written.
        """
        if profile in TOOLS:
            if layers:
                raise InvalidInputError(
                    f"{label or path}: the {profile} export is read whole (the form says which "
                    "tables): name no layer or sheet"
                )
            return self._open_export(path, profile, round, label or str(path))
        survey = open_survey(path, label)
        try:
            self.index  # noqa: B018 - no boundaries: refused before a job is started
            chosen = load_profile(profile) if profile else None
            survey, skipped = choose_parts(survey, chosen, round is not None, layers)
            chosen = chosen or identity_profile(survey.columns)
        except BaseException:
            survey.close()
            raise
        return Opened(survey, chosen, round, skipped)

    def _open_export(self, path: Path, tool: Tool, round: int | None, label: str) -> Opened:
        """An ODK Central or KoboToolbox export, opened as the canonical CSV it is written as.

        Messages name the export; its checksum is the job's; the CSV is deleted on close.
        """
        if not path.is_file():
            raise InvalidInputError(f"{label}: no such file")
        self.index  # noqa: B018 - no boundaries: refused before anything is read
        converted = convert(path, tool, read_form(self.form_file), label)
        try:
            survey = open_survey(converted.path, label)
            survey = replace(survey, path=path, text_path=converted.path)
            survey, _ = choose_parts(survey, None, round is not None, None)
        except BaseException:
            converted.path.unlink(missing_ok=True)
            raise
        profile = identity_profile(survey.columns).model_copy(update={"name": tool})
        treated = {c: how for c, how in PERSONAL.items() if c in survey.columns}
        return Opened(survey, profile, round, converted.passed_over, treated)

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

        def prepared() -> Iterator[Prepared]:
            seen = SeenRows()
            treated = dict(opened.treated)
            id_column = household_id_column(profile, survey.columns)
            for batch in whole_households(read_batches(survey, batch_rows), id_column):
                treated = classify_columns(batch, profile, treated, report)
                yield prepare(
                    batch, opened, treated, scope, open_rounds, seen,
                    key=self.key, categories=self.categories, index=self.index,
                )  # fmt: skip

        with (
            Prefetch(prepared(), "bamrung-prepare") as batches,
            self.engine.connect() as conn,
            Rounds(self.engine, conn) as rounds,
        ):
            conn.exec_driver_sql(STAGING)
            conn.commit()
            while (item := batches.take()) is not None:
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
                store_late(conn, report, rounds)

    def _store(
        self,
        conn: Connection,
        batch: Prepared,
        report: ImportReport,
        rounds: Rounds,
        scope: Scope | None,
    ) -> None:
        store_batch(conn, batch, report, rounds, scope, self.index)


def round_(value: float) -> float:
    """``value`` to three decimals, as a report shows its timing."""
    return float(f"{value:.3f}")
