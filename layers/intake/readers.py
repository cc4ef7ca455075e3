"""Read survey files of any supported format as batches of text columns."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyogrio
import shapely
from pyproj import CRS, Transformer

from geo.errors import InvalidInputError

ROW = "__row"
CSV_SUFFIXES = (".csv", ".txt")
SPATIAL_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp")
EXCEL_SUFFIXES = (".xlsx",)
CHUNK = 4 << 20


@dataclass(frozen=True)
class SurveyFile:
    """A survey file, opened far enough to know its format, encoding, columns and size."""

    path: Path
    kind: str
    encoding: str | None
    columns: list[str]
    rows: int
    """Row count (for CSV, counted from line ends: exact unless fields hold line breaks)."""
    text_path: Path | None = None
    """A UTF-8 copy of a CSV that was not UTF-8 (read instead of ``path``); delete when done."""
    cp874_rows: frozenset[int] = frozenset()
    """Rows written in cp874 inside an otherwise UTF-8 file (a mixed file), by line: exact when
    no field holds a line break."""

    def close(self) -> None:
        if self.text_path is not None:
            self.text_path.unlink(missing_ok=True)


def open_survey(path: Path) -> SurveyFile:
    """Recognise a survey file and read its header.

    Raises
    ------
    InvalidInputError
        When the file is missing, of an unknown kind or unreadable; the message says why.
    """
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in CSV_SUFFIXES:
            return _open_csv(path)
        if suffix in EXCEL_SUFFIXES:
            return _open_excel(path)
        if suffix in SPATIAL_SUFFIXES:
            return _open_spatial(path)
    except InvalidInputError:
        raise
    except Exception as exc:  # each library raises its own kinds; the message is what helps
        raise InvalidInputError(f"{path}: cannot read the file ({exc})") from exc
    raise InvalidInputError(
        f"{path}: unknown kind of file; use CSV, XLSX, GeoJSON, GeoPackage or Shapefile"
    )


def _is_utf8(path: Path) -> tuple[bool, int]:
    """Whether a file is valid UTF-8, and its number of lines.

    Validated by Arrow (out of the GIL, beside the field count) a run of whole lines at a time:
    a newline byte never falls inside a UTF-8 sequence.
    """
    valid, lines, rest = True, 0, b""
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            lines += chunk.count(b"\n")
            if not valid:
                continue
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            valid = _valid_utf8(memoryview(data)[:cut])
            rest = data[cut:]
    return valid and _valid_utf8(memoryview(rest)), lines


def _valid_utf8(data: memoryview) -> bool:
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    text = pa.LargeStringArray.from_buffers(1, offsets, pa.py_buffer(data))
    try:
        text.validate(full=True)  # full: the text must be UTF-8
    except pa.ArrowInvalid:
        return False
    return True


def _transcode(path: Path) -> tuple[Path, frozenset[int], bool]:
    """Copy a non-UTF-8 CSV to UTF-8, line by line: UTF-8 lines stay, others are cp874.

    UTF-8 Thai also decodes as cp874 (into nonsense), so a line is taken as UTF-8 whenever it is
    valid UTF-8. Returns the copy, the record numbers that were cp874, and whether every
    non-ASCII line was (a plain cp874 file rather than a mixed one).
    """
    cp874: set[int] = set()
    other_non_ascii = False
    fd, name = tempfile.mkstemp(suffix=".csv")
    with path.open("rb") as source, os.fdopen(fd, "wb") as target:
        for number, line in enumerate(source):
            try:
                text = line.decode("utf-8")
                other_non_ascii |= not line.isascii()
            except UnicodeDecodeError:
                try:
                    text = line.decode("cp874")
                except UnicodeDecodeError as exc:
                    Path(name).unlink(missing_ok=True)
                    raise InvalidInputError(
                        f"{path}: line {number + 1} is neither UTF-8 nor Thai (TIS-620/cp874)"
                    ) from exc
                cp874.add(number)
            target.write(text.encode("utf-8"))
    return Path(name), frozenset(cp874), not other_non_ascii


def _open_csv(path: Path) -> SurveyFile:
    # Two passes over the file at once: Arrow counts fields without the GIL while Python checks
    # the encoding. Only a file with a bad row is read again, to say which rows (from its UTF-8
    # text: Arrow hands over a bad row's text decoded).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bamrung-shape") as pool:
        uneven = pool.submit(_fields_differ, path)
        utf8, lines = _is_utf8(path)
        differ = uneven.result()
    text_path, cp874_rows, encoding = None, frozenset[int](), "utf-8"
    if not utf8:
        text_path, cp874_rows, pure = _transcode(path)
        encoding = "cp874" if pure else "utf-8+cp874"
        cp874_rows = frozenset() if pure else cp874_rows
    bad = _ragged_rows(text_path or path) if differ else []
    with (text_path or path).open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), None)
    if not header:
        raise InvalidInputError(f"{path}: the file is empty")
    columns = [h.strip() for h in header]
    if bad:
        # Line numbers and field counts only: a row's text may be personal data.
        shown = "; ".join(f"line {line}: {fields} fields" for line, fields in bad[:10])
        raise InvalidInputError(
            f"{path}: {len(bad)} row(s) do not have the header's {len(columns)} fields "
            f"({shown}); fix them (a stray comma or quote) and import again: nothing was imported"
        )
    return SurveyFile(path, "csv", encoding, columns, max(lines - 1, 0), text_path, cp874_rows)


def _parse_fields(path: Path, note: Callable[[pacsv.InvalidRow], str] | None = None) -> None:
    """Read a CSV through, counting fields only; a ragged row goes to ``note``, else raises."""
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(use_threads=False, block_size=16 << 20),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=note),
        convert_options=pacsv.ConvertOptions(include_columns=[]),
    )
    for _ in reader:
        pass


def _fields_differ(path: Path) -> bool:
    """Whether some row's number of fields may differ from the header's (or the file is empty)."""
    try:
        _parse_fields(path)
    except pa.ArrowInvalid:
        return True
    return False


def _ragged_rows(path: Path) -> list[tuple[int, int]]:
    """(line, fields) of the rows whose number of fields differs from the header's."""
    bad: list[tuple[int, int]] = []

    def note(row: pacsv.InvalidRow) -> str:
        bad.append((row.number or 0, row.actual_columns))
        return "skip"

    try:
        _parse_fields(path, note)
    except pa.ArrowInvalid:  # an empty file: said when its header is read
        return []
    return bad


def _open_excel(path: Path) -> SurveyFile:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        header = next(sheet.iter_rows(max_row=1, values_only=True), None)
        rows = max((sheet.max_row or 1) - 1, 0)
    finally:
        book.close()
    if not header:
        raise InvalidInputError(f"{path}: the first sheet is empty")
    return SurveyFile(path, "xlsx", None, [_text(h).strip() for h in header], rows)


def dbf_encoding(path: Path) -> str | None:
    """cp874 for a shapefile without .cpg whose attribute bytes are Thai, else GDAL's choice."""
    dbf = path.with_suffix(".dbf")
    if path.suffix.lower() != ".shp" or path.with_suffix(".cpg").exists() or not dbf.exists():
        return None
    sample = dbf.read_bytes()[: 1 << 20]
    try:
        # Incremental: a character cut at the end of the sample is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(sample)
    except UnicodeDecodeError:
        if any(0xA1 <= b <= 0xFB for b in sample):
            return "cp874"
    return None


def _open_spatial(path: Path) -> SurveyFile:
    encoding = dbf_encoding(path)
    info = pyogrio.read_info(path, encoding=encoding)
    columns = [str(c) for c in info["fields"]]
    return SurveyFile(path, "spatial", encoding, columns, int(info["features"]))


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10]
    return str(value)


def read_batches(survey: SurveyFile, size: int) -> Iterator[pd.DataFrame]:
    """The rows as DataFrames of text (``""`` where empty), ``size`` rows or so at a time.

    Every frame has a ``__row`` column: the 1-based number of the record in the file (the
    header is not counted). Spatial files add ``lat`` and ``lon`` from point geometries when
    they have no such columns.
    """
    readers = {"csv": _csv_batches, "xlsx": _excel_batches, "spatial": _spatial_batches}
    first = 1
    for frame in readers[survey.kind](survey, size):
        frame.insert(0, ROW, np.arange(first, first + len(frame), dtype=np.int64))
        first += len(frame)
        yield frame


def _csv_batches(survey: SurveyFile, size: int) -> Iterator[pd.DataFrame]:
    # Every column is read as text: codes keep their leading zeros, nothing is guessed.
    names = survey.columns
    reader = pacsv.open_csv(
        survey.text_path or survey.path,
        read_options=pacsv.ReadOptions(
            encoding="utf8",
            block_size=max(size * 200, 1 << 20),
            column_names=names,
            skip_rows=1,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
    )
    # Blocks are cut by bytes: re-cut them into batches of ``size`` rows.
    pending: list[pa.RecordBatch] = []
    count = 0
    for block in reader:
        pending.append(block)
        count += block.num_rows
        while count >= size:
            table = pa.Table.from_batches(pending, schema=reader.schema)
            yield table.slice(0, size).to_pandas()
            rest = table.slice(size)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending, schema=reader.schema).to_pandas()


def _excel_batches(survey: SurveyFile, size: int) -> Iterator[pd.DataFrame]:
    import openpyxl

    book = openpyxl.load_workbook(survey.path, read_only=True, data_only=True)
    try:
        rows = book.worksheets[0].iter_rows(min_row=2, values_only=True)
        width = len(survey.columns)
        buffer: list[list[str]] = []
        for row in rows:
            values = [_text(v) for v in row[:width]]
            if not any(values):
                continue
            buffer.append(values + [""] * (width - len(values)))
            if len(buffer) >= size:
                yield pd.DataFrame(buffer, columns=survey.columns)
                buffer = []
        if buffer:
            yield pd.DataFrame(buffer, columns=survey.columns)
    finally:
        book.close()


def _spatial_batches(survey: SurveyFile, size: int) -> Iterator[pd.DataFrame]:
    lower = {c.lower() for c in survey.columns}
    with pyogrio.open_arrow(
        survey.path, batch_size=size, encoding=survey.encoding, use_pyarrow=True
    ) as (
        meta,
        reader,
    ):
        crs = CRS.from_user_input(meta["crs"]) if meta.get("crs") else None
        transform = (
            Transformer.from_crs(crs, 4326, always_xy=True)
            if crs is not None and crs.to_epsg() != 4326
            else None
        )
        geometry = meta.get("geometry_name") or "wkb_geometry"
        for batch in reader:
            table = pa.Table.from_batches([batch])
            frame = pd.DataFrame(
                {
                    name: [_text(v) for v in table.column(name).to_pylist()]
                    for name in table.column_names
                    if name != geometry
                }
            )
            if geometry in table.column_names and not {"lat", "lon"} <= lower:
                geoms = shapely.from_wkb(
                    np.asarray(table.column(geometry).to_pylist(), dtype=object)
                )
                points = shapely.point_on_surface(geoms)
                x, y = shapely.get_x(points), shapely.get_y(points)
                if transform is not None:
                    x, y = transform.transform(x, y)
                frame["lon"] = [repr(float(v)) if not np.isnan(v) else "" for v in x]
                frame["lat"] = [repr(float(v)) if not np.isnan(v) else "" for v in y]
            yield frame


def frame_to_csv(frame: pd.DataFrame) -> bytes:
    """A frame as CSV bytes for PostgreSQL's COPY (header-less, NULL as an empty field)."""
    buffer = io.BytesIO()
    pacsv.write_csv(
        pa.Table.from_pandas(frame, preserve_index=False),
        buffer,
        write_options=pacsv.WriteOptions(include_header=False),
    )
    return buffer.getvalue()
