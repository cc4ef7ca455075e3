"""Exports of ODK Central and KoboToolbox read from their files and written as a canonical CSV.

Central's download is a zip of CSV files (the submissions, and one file per repeat group);
Kobo's is a CSV (any separator: ``;`` by default) of the submissions alone, or a workbook with
one sheet for the submissions and one per repeat group. The form they are exports of is the
reference XLSForm (``data/forms/household.xlsx``), read with pyxform.
"""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from geo.collect.exports import META, Tool, canonical_rows
from geo.collect.form import FORM_ID, REPEAT, Form, form_from_json, reference_sheets
from geo.errors import InvalidInputError, UnsupportedFileError

TOOLS: tuple[Tool, ...] = ("odk", "kobo")
SUFFIXES: dict[Tool, tuple[str, ...]] = {"odk": (".zip", ".csv"), "kobo": (".csv", ".xlsx")}
MAX_UNZIPPED = 4 << 30
"""The most a zip may hold once inflated (bytes): more is refused, not read."""
SEPARATORS = ",;\t|"


@dataclass
class Export:
    """An export's tables as text, and how messages name them."""

    submissions: pd.DataFrame
    entries: pd.DataFrame | None
    names: tuple[str, str]
    passed_over: dict[str, str] = field(default_factory=dict)
    """Tables and files not read (other repeat groups, media files), and why."""


@lru_cache(maxsize=8)
def _parsed(path: Path, mtime: float) -> Form:
    from pyxform.xls2json import parse_file_to_json  # the form is read only by these imports

    warnings: list[str] = []
    try:
        tree = parse_file_to_json(str(path), default_name=FORM_ID, warnings=warnings)
    except Exception as exc:  # pyxform raises its own kinds; the message says what is wrong
        raise InvalidInputError(f"{path}: not a valid XLSForm ({exc})") from exc
    return form_from_json(tree)


def read_form(path: Path) -> Form:
    """The household form of an XLSForm workbook (read once per version of the file)."""
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such form")
    return _parsed(path, path.stat().st_mtime)


def write_reference_form(categories: pd.DataFrame, path: Path) -> Path:
    """Write the reference XLSForm for the taxonomy's ``categories`` (code, name_th, name_en)."""
    with pd.ExcelWriter(path, engine="openpyxl") as book:
        for name, sheet in reference_sheets(categories).items():
            sheet.to_excel(book, sheet_name=name, index=False)
    return path


def read_export(path: Path, tool: Tool, label: str) -> Export:
    """The tables of an export file of ``tool``.

    ``odk``: Central's zip, or its CSV of submissions alone; ``kobo``: a CSV or a workbook.

    Raises
    ------
    UnsupportedFileError
        When the file is not of a kind the tool writes.
    InvalidInputError
        When it cannot be read, or holds no table of submissions.
    """
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES[tool]:
        kinds = " or ".join(SUFFIXES[tool])
        raise UnsupportedFileError(f"{label}: a {tool} export is a {kinds} file")
    try:
        if suffix == ".zip":
            return _read_zip(path, label)
        if suffix == ".xlsx":
            return _read_workbook(path, label)
        return Export(_read_csv(path.read_bytes(), label), None, (Path(label).name, ""))
    except (InvalidInputError, UnsupportedFileError):
        raise
    except zipfile.BadZipFile as exc:
        raise UnsupportedFileError(f"{label}: the file's content is not a zip ({exc})") from exc
    except Exception as exc:  # zipfile, openpyxl, pandas: the message is what helps
        raise InvalidInputError(f"{label}: cannot read the export ({exc})") from exc


def _read_csv(data: bytes, label: str) -> pd.DataFrame:
    text = data.decode("utf-8-sig")
    header = text.split("\n", 1)[0]
    try:
        separator = csv.Sniffer().sniff(header, delimiters=SEPARATORS).delimiter
    except csv.Error:
        separator = ","
    return pd.read_csv(
        io.StringIO(text), sep=separator, dtype=str, keep_default_na=False, na_filter=False
    )


def _read_zip(path: Path, label: str) -> Export:
    with zipfile.ZipFile(path) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if sum(m.file_size for m in members) > MAX_UNZIPPED:
            raise InvalidInputError(
                f"{label}: the zip holds more than {MAX_UNZIPPED:,} bytes once inflated"
            )
        tables = {
            m.filename: _read_csv(archive.read(m), f"{label}: {m.filename}")
            for m in members
            if m.filename.lower().endswith(".csv")
        }
    media = [m.filename for m in members if not m.filename.lower().endswith(".csv")]
    mains = [name for name, t in tables.items() if "PARENT_KEY" not in t.columns]
    if len(mains) != 1:
        raise InvalidInputError(
            f"{label}: an ODK Central export holds one CSV of submissions (without PARENT_KEY); "
            f"this zip holds {len(mains)}: {', '.join(mains) or 'none'}"
        )
    main = mains[0]
    stem = Path(main).stem
    repeats = [n for n in tables if n != main]
    problem = next(
        (n for n in repeats if Path(n).stem in (f"{stem}-{REPEAT}", f"{stem}-{REPEAT}~1")), None
    )
    notes = {n: f"not the {REPEAT} repeat" for n in repeats if n != problem}
    notes.update(dict.fromkeys(media, "a media file"))
    entries = tables[problem] if problem else None
    return Export(tables[main], entries, (main, problem or ""), notes)


def _read_workbook(path: Path, label: str) -> Export:
    sheets = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False)
    linked = {n for n, s in sheets.items() if META["kobo"].parent[0] in s.columns}
    mains = [n for n in sheets if n not in linked]
    if not mains:
        raise InvalidInputError(f"{label}: no sheet of submissions (every sheet is a repeat)")
    main = mains[0]
    problem = next((n for n in linked if n == REPEAT), None)
    notes = {n: f"not the {REPEAT} repeat" for n in sheets if n not in (main, problem)}
    entries = sheets[problem] if problem else None
    return Export(sheets[main], entries, (f"sheet {main}", f"sheet {problem}"), notes)


@dataclass
class Converted:
    """An export written as a canonical CSV (delete ``path`` when done)."""

    path: Path
    passed_over: dict[str, str]


def convert(path: Path, tool: Tool, form: Form, label: str) -> Converted:
    """Write the export at ``path`` as a canonical CSV in the temp folder."""
    export = read_export(path, tool, label)
    rows = canonical_rows(form, export.submissions, export.entries, tool, names=export.names)
    if export.entries is None and tool == "odk":
        export.passed_over[f"{REPEAT} repeat"] = "not in the export: problems come from the list"
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", newline="", suffix=".csv", prefix=f"bamrung-{tool}-", delete=False
    ) as handle:
        rows.to_csv(handle, index=False)
    return Converted(Path(handle.name), export.passed_over)
