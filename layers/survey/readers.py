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
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyogrio
import shapely
from pyproj import CRS, Transformer

from geo.errors import InvalidInputError, UnsupportedFileError

ROW = "__row"
SHAPE = "__shape"
"""Column of spatial files: the geometry type of a row whose feature is not a single point (its
position is then the feature's representative point), else ``""``."""
CSV_SUFFIXES = (".csv", ".txt")
SPATIAL_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp")
EXCEL_SUFFIXES = (".xlsx",)
CHUNK = 4 << 20
BLOCK = 16 << 20
"""Bytes Arrow reads a CSV by: a row must fit in one (the file's first pass says when not)."""
SHAPE_NAMES = {
    1: "LineString",
    2: "LinearRing",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}


@dataclass(frozen=True)
class Part:
    """One table of a file: a GeoPackage layer, a workbook sheet, or the whole of a CSV."""

    name: str | None
    """The layer or sheet name (None for a CSV)."""
    columns: list[str]
    rows: int


@dataclass(frozen=True)
class SurveyFile:
    """A survey file, opened far enough to know its format, encoding, tables, columns and size.

    ``columns`` and ``rows`` are those of the parts read, in order: every part by default,
    fewer after :meth:`only`.
    """

    path: Path
    kind: str
    encoding: str | None
    parts: tuple[Part, ...]
    label: str
    """How messages name the file: the path given, or an upload's own file name."""
    text_path: Path | None = None
    """A UTF-8 copy of a CSV that was not UTF-8 (read instead of ``path``); delete when done."""
    cp874_rows: frozenset[int] = frozenset()
    """Rows written in cp874 inside an otherwise UTF-8 file (a mixed file), by line: exact when
    no field holds a line break."""

    @property
    def columns(self) -> list[str]:
        """Every column of the parts, each once, in the order they first appear."""
        return list(dict.fromkeys(c for part in self.parts for c in part.columns))

    @property
    def rows(self) -> int:
        """Row count (for CSV, counted from line ends: exact unless fields hold line breaks)."""
        return sum(part.rows for part in self.parts)

    def only(self, names: list[str | None]) -> SurveyFile:
        """The file with only the parts named, in the file's order."""
        return replace(self, parts=tuple(p for p in self.parts if p.name in names))

    def close(self) -> None:
        """Delete the UTF-8 copy of the file, if one was made."""
        if self.text_path is not None:
            self.text_path.unlink(missing_ok=True)


def open_survey(path: Path, label: str | None = None) -> SurveyFile:
    """Recognise a survey file and read the header of each of its tables.

    ``label`` names the file in messages (default: the path).

    Raises
    ------
    UnsupportedFileError
        When the file is not of a supported kind, or is not what its suffix says.
    InvalidInputError
        When the file is missing or unreadable, or a header repeats a column name or holds a
        NUL character; the message says why.
    """
    label = label or str(path)
    if not path.is_file():
        raise InvalidInputError(f"{label}: no such file")
    suffix = path.suffix.lower()
    openers = {
        **dict.fromkeys(CSV_SUFFIXES, _open_csv),
        **dict.fromkeys(EXCEL_SUFFIXES, _open_excel),
        **dict.fromkeys(SPATIAL_SUFFIXES, _open_spatial),
    }
    if suffix == ".zip":
        raise UnsupportedFileError(
            f"{label}: a zip is read as an ODK Central export: import it with the profile odk"
        )
    if suffix not in openers:
        raise UnsupportedFileError(
            f"{label}: unknown kind of file; use CSV, XLSX, GeoJSON, GeoPackage or Shapefile"
        )
    _check_signature(path, suffix, label)
    try:
        survey = openers[suffix](path, label)
    except InvalidInputError:
        raise
    except Exception as exc:  # each library raises its own kinds; the message is what helps
        raise InvalidInputError(f"{label}: cannot read the file ({exc})") from exc
    for part in survey.parts:
        _check_header(part, label)
    return survey


#: The first bytes of the binary kinds read, and of others people upload by mistake (zip, PDF,
#: old Office files, images).
SIGNATURES = {".xlsx": b"PK\x03\x04", ".gpkg": b"SQLite format 3\x00", ".shp": b"\x00\x00\x27\x0a"}
KIND_NAMES = {
    **dict.fromkeys(CSV_SUFFIXES, "CSV text"),
    ".xlsx": "an XLSX workbook",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "a GeoPackage",
    ".shp": "a Shapefile",
}
OTHER_BINARY = (b"%PDF", b"\xd0\xcf\x11\xe0", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\x1f\x8b")


def _check_signature(path: Path, suffix: str, label: str) -> None:
    """Refuse a file whose first bytes are not those of the kind its suffix names."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    expected = SIGNATURES.get(suffix)
    if expected is not None:
        ok = head.startswith(expected)
    else:
        # Text: no binary signature, and not mostly NUL bytes (UTF-16, or a binary file); a
        # stray NUL in a field is the row's problem, not the file's.
        binary = (*SIGNATURES.values(), *OTHER_BINARY)
        ok = not head.startswith(binary) and head.count(b"\x00") * 8 <= len(head)
        if suffix not in CSV_SUFFIXES:  # GeoJSON is a JSON object
            ok &= head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"")
    if not ok:
        raise UnsupportedFileError(f"{label}: the file's content is not {KIND_NAMES[suffix]}")


def _check_header(part: Part, label: str) -> None:
    """Column names must be free of NUL characters and each appear once.

    Without regard to case or spaces: the canonical columns are matched that way.
    """
    where = f"{label}" + (f", layer {part.name!r}" if part.name else "")
    for number, name in enumerate(part.columns, start=1):
        if "\x00" in name:
            raise InvalidInputError(f"{where}: the name of column {number} holds a NUL character")
    seen: dict[str, list[str]] = {}
    for name in part.columns:
        seen.setdefault(name.strip().casefold(), []).append(name)
    repeated = [names for names in seen.values() if len(names) > 1]
    if repeated:
        shown = "; ".join(" and ".join(repr(n) for n in names) for names in repeated)
        raise InvalidInputError(
            f"{where}: column names repeat ({shown}); keep one column of each name "
            "and import again: nothing was imported"
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


def _transcode(path: Path, label: str) -> tuple[Path, frozenset[int], bool]:
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
                        f"{label}: line {number + 1} is neither UTF-8 nor Thai (TIS-620/cp874)"
                    ) from exc
                cp874.add(number)
            target.write(text.encode("utf-8"))
    return Path(name), frozenset(cp874), not other_non_ascii


def _open_csv(path: Path, label: str) -> SurveyFile:
    # Two passes over the file at once: Arrow counts fields without the GIL while Python checks
    # the encoding. Only a file with a bad row is read again, to say which rows (from its UTF-8
    # text: Arrow hands over a bad row's text decoded).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bamrung-shape") as pool:
        uneven = pool.submit(_fields_differ, path)
        utf8, lines = _is_utf8(path)
        differ = uneven.result()
    text_path, cp874_rows, encoding = None, frozenset[int](), "utf-8"
    if not utf8:
        text_path, cp874_rows, pure = _transcode(path, label)
        encoding = "cp874" if pure else "utf-8+cp874"
        cp874_rows = frozenset() if pure else cp874_rows
    bad = _ragged_rows(text_path or path, label) if differ else []
    with (text_path or path).open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), None)
    if not header:
        raise InvalidInputError(f"{label}: the file is empty")
    columns = [h.strip() for h in header]
    if bad:
        # Line numbers and field counts only: a row's text may be personal data.
        shown = "; ".join(f"line {line}: {fields} fields" for line, fields in bad[:10])
        raise InvalidInputError(
            f"{label}: {len(bad)} row(s) do not have the header's {len(columns)} fields "
            f"({shown}); fix them (a stray comma or quote) and import again: nothing was imported"
        )
    part = Part(None, columns, max(lines - 1, 0))
    return SurveyFile(path, "csv", encoding, (part,), label, text_path, cp874_rows)


def _parse_fields(path: Path, note: Callable[[pacsv.InvalidRow], str] | None = None) -> None:
    """Read a CSV through, counting fields only; a ragged row goes to ``note``, else raises."""
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(use_threads=False, block_size=BLOCK),
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


def _ragged_rows(path: Path, label: str) -> list[tuple[int, int]]:
    """(line, fields) of the rows whose number of fields differs from the header's."""
    bad: list[tuple[int, int]] = []

    def note(row: pacsv.InvalidRow) -> str:
        bad.append((row.number or 0, row.actual_columns))
        return "skip"

    try:
        _parse_fields(path, note)
    except pa.ArrowInvalid as exc:
        if "straddl" in str(exc):
            raise InvalidInputError(
                f"{label}: a row is too long to read (tens of megabytes: a field holding a "
                "whole document, or a quote left open): nothing was imported"
            ) from exc
        return []  # an empty file: said when its header is read
    return bad


def _open_excel(path: Path, label: str) -> SurveyFile:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    parts = []
    try:
        for sheet in book.worksheets:
            header = next(sheet.iter_rows(max_row=1, values_only=True), None)
            columns = [_text(h).strip() for h in header or ()]
            while columns and not columns[-1]:  # trailing empty header cells
                columns.pop()
            if columns:
                parts.append(Part(sheet.title, columns, max((sheet.max_row or 1) - 1, 0)))
    finally:
        book.close()
    if not parts:
        raise InvalidInputError(f"{label}: every sheet is empty")
    return SurveyFile(path, "xlsx", None, tuple(parts), label)


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


def _open_spatial(path: Path, label: str) -> SurveyFile:
    encoding = dbf_encoding(path)
    parts = []
    for name, _geometry in pyogrio.list_layers(path):
        info = pyogrio.read_info(path, layer=name, encoding=encoding)
        parts.append(Part(str(name), [str(c) for c in info["fields"]], int(info["features"])))
    if not parts:
        raise InvalidInputError(f"{label}: the file holds no layer")
    return SurveyFile(path, "spatial", encoding, tuple(parts), label)


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
    columns = survey.columns
    first = 1
    for part in survey.parts:
        for frame in readers[survey.kind](survey, part, size):
            extra = [c for c in frame.columns if c not in columns]  # the reader's own columns
            if len(survey.parts) > 1:
                frame = frame.reindex(columns=[*columns, *extra], fill_value="")
            frame.insert(0, ROW, np.arange(first, first + len(frame), dtype=np.int64))
            first += len(frame)
            yield frame


def _csv_batches(survey: SurveyFile, _part: Part, size: int) -> Iterator[pd.DataFrame]:
    # Every column is read as text: codes keep their leading zeros, nothing is guessed.
    names = survey.columns
    reader = pacsv.open_csv(
        survey.text_path or survey.path,
        read_options=pacsv.ReadOptions(
            encoding="utf8",
            block_size=max(size * 200, BLOCK),
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


def _excel_batches(survey: SurveyFile, part: Part, size: int) -> Iterator[pd.DataFrame]:
    import openpyxl

    book = openpyxl.load_workbook(survey.path, read_only=True, data_only=True)
    try:
        rows = book[str(part.name)].iter_rows(min_row=2, values_only=True)
        width = len(part.columns)
        buffer: list[list[str]] = []
        for row in rows:
            values = [_text(v) for v in row[:width]]
            if not any(values):
                continue
            buffer.append(values + [""] * (width - len(values)))
            if len(buffer) >= size:
                yield pd.DataFrame(buffer, columns=part.columns)
                buffer = []
        if buffer:
            yield pd.DataFrame(buffer, columns=part.columns)
    finally:
        book.close()


def _spatial_batches(survey: SurveyFile, part: Part, size: int) -> Iterator[pd.DataFrame]:
    lower = {c.lower() for c in part.columns}
    with pyogrio.open_arrow(
        survey.path, layer=part.name, batch_size=size, encoding=survey.encoding, use_pyarrow=True
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
                # A multipoint of one point is that point; any other shape is represented by a
                # point on its surface (inside a polygon, on a line, one of a multipoint's).
                single = shapely.get_num_geometries(geoms) == 1
                parts = shapely.get_geometry(geoms, 0)
                geoms = np.where(single & (shapely.get_type_id(parts) == 0), parts, geoms)
                kind = shapely.get_type_id(geoms)
                frame[SHAPE] = np.where(
                    (kind == 0) | (kind < 0), "", [SHAPE_NAMES.get(int(k), "") for k in kind]
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
