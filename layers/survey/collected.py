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
import warnings
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO

import pandas as pd

from geo.collect.exports import META, Tool, canonical_rows
from geo.collect.form import FORM_ID, REPEAT, Form, form_from_json, reference_sheets
from geo.errors import InvalidInputError, TooLargeError, UnsupportedFileError

TOOLS: tuple[Tool, ...] = ("odk", "kobo")
SUFFIXES: dict[Tool, tuple[str, ...]] = {"odk": (".zip", ".csv"), "kobo": (".csv", ".xlsx")}
MAX_UNZIPPED = 2 << 30
"""The most a zip's CSV files may hold once inflated (bytes): more is refused, not read."""
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
        with path.open("rb") as handle:
            return Export(_read_csv(handle, label), None, (Path(label).name, ""))
    except (InvalidInputError, TooLargeError):
        raise
    except zipfile.BadZipFile as exc:
        raise UnsupportedFileError(f"{label}: the file's content is not a zip ({exc})") from exc
    except Exception as exc:  # zipfile, openpyxl, pandas: the message is what helps
        raise InvalidInputError(f"{label}: cannot read the export ({exc})") from exc


def _read_csv(handle: IO[bytes], label: str) -> pd.DataFrame:
    """A CSV table as text, its separator found from its header.

    Both tools write UTF-8; a row with more fields than the header is refused, not shifted.
    """
    try:
        header = handle.readline().decode("utf-8-sig")
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        try:
            separator = csv.Sniffer().sniff(header, delimiters=SEPARATORS).delimiter
        except csv.Error:
            separator = ","
        names = next(csv.reader([header], delimiter=separator), [])
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise InvalidInputError(f"{label}: column names repeat: {', '.join(twice)}")
        with warnings.catch_warnings():
            # pandas only warns when a row has more fields than the header: refuse it instead.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                text, sep=separator, header=None, names=names, dtype=str, index_col=False,
                keep_default_na=False, na_filter=False, on_bad_lines="error",
            )  # fmt: skip
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{label}: not UTF-8 text (ODK Central and KoboToolbox write UTF-8): byte "
            f"{exc.start} cannot be read"
        ) from exc
    except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        raise InvalidInputError(
            f"{label}: a row does not have the header's fields ({exc})"
        ) from exc
    return frame.fillna("")


def _read_zip(path: Path, label: str) -> Export:
    with zipfile.ZipFile(path) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        # Tables are at the top of Central's zip; attachments under media/ (and a Mac's
        # __MACOSX/ shadows) are never read.
        csvs = [m for m in members if "/" not in m.filename and m.filename.lower().endswith(".csv")]
        if sum(m.file_size for m in csvs) > MAX_UNZIPPED:
            raise TooLargeError(
                f"{label}: its CSV files hold more than {MAX_UNZIPPED:,} bytes once inflated"
            )
        tables = {}
        for member in csvs:
            with archive.open(member) as handle:
                tables[member.filename] = _read_csv(handle, f"{label}: {member.filename}")
    passed = [m.filename for m in members if m not in csvs]
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
    notes.update(dict.fromkeys(passed, "not a table of the export"))
    entries = tables[problem] if problem else None
    return Export(tables[main], entries, (main, problem or ""), notes)


def _read_workbook(path: Path, label: str) -> Export:
    sheets = {
        name: sheet.fillna("").astype(str)
        for name, sheet in pd.read_excel(
            path, sheet_name=None, dtype=str, keep_default_na=False
        ).items()
    }
    # A row a spreadsheet left blank is no submission.
    sheets = {n: s[(s.apply(lambda c: c.str.strip()) != "").any(axis=1)] for n, s in sheets.items()}
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
