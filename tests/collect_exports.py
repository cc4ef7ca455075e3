"""Exports of the household form written as ODK Central and KoboToolbox write them (test oracle).

Written from the tools' published formats, apart from the product's readers: Central's zip
(getodk/central-backend ``lib/data/briefcase.js``: ``SubmissionDate`` first, groups joined by
``-``, a geopoint as four columns, ``KEY``, then Central's own columns; one CSV per repeat with
``PARENT_KEY`` and ``KEY``), Briefcase's dates (Java MEDIUM), and Kobo's CSV and workbook
(formpack: ``/`` between groups, ``;`` between CSV fields, the geopoint's raw column and its
``_name_latitude``… columns, select-multiple summary and 0/1 columns, metadata columns after the
answers, a sheet per repeat linked by ``_parent_index`` → ``_index``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

FORM_ID = "bamrung_household"
HOUSEHOLD = (
    "household_id", "round", "house_no", "moo", "subdistrict_code", "community", "members",
    "urban",
)  # fmt: skip
PERSON = ("head_name", "head_national_id")
PROBLEM = ("code", "detail", "status", "reported_on", "updated_on", "resolved_on")
FROM_CANONICAL = {"code": "problem_code", "detail": "problem_detail"}
CENTRAL_TAIL = (
    "SubmitterID", "SubmitterName", "AttachmentsPresent", "AttachmentsExpected", "Status",
    "ReviewState", "DeviceID", "Edits", "FormVersion",
)  # fmt: skip
KOBO_TAIL = (
    "_id", "_uuid", "_submission_time", "_validation_status", "_notes", "_status",
    "_submitted_by", "__version__", "_tags", "_index",
)  # fmt: skip
KOBO_REPEAT_TAIL = (
    "_index", "_parent_table_name", "_parent_index", "_submission__id", "_submission__uuid",
    "_submission__submission_time", "_submission__validation_status", "_submission__notes",
    "_submission__status", "_submission__submitted_by", "_submission___version__",
    "_submission__tags",
)  # fmt: skip
KOBO_SHEET = "แบบสำรวจครัวเรือน Bamrung (B..."
"""The form title cut to Excel's 31 characters, as formpack names the main sheet."""
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def submissions(canonical: pd.DataFrame) -> list[dict]:
    """The canonical long rows as submissions: household answers and their problem entries."""
    out = []
    for (household, round_), rows in canonical.groupby(["household_id", "round"], sort=False):
        first = rows.iloc[0]
        problems = [
            {p: str(r.get(FROM_CANONICAL.get(p, p), "")) for p in PROBLEM}
            for _, r in rows.iterrows()
            if r["problem_code"]
        ]
        out.append(
            {
                "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{household}/{round_}")),
                "household": {h: str(first.get(h, "")) for h in HOUSEHOLD},
                "person": {p: str(first.get(p, "")) for p in PERSON},
                "lat": str(first["lat"]),
                "lon": str(first["lon"]),
                "today": str(first["surveyed_on"]),
                "problems": problems,
                "review": "",
                "edits": 0,
            }
        )
    return out


def _csv(
    header: list[str], rows: list[list[str]], delimiter: str = ",", quote_all: bool = False
) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=delimiter,
        lineterminator="\r\n" if quote_all else "\n",
        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
    )
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def briefcase_date(iso: str, with_time: bool = False) -> str:
    """``2018-04-26`` as Java's MEDIUM style writes it: ``Apr 26, 2018`` (``8:56:00 AM``)."""
    if not iso:
        return ""
    day = dt.date.fromisoformat(iso)
    text = f"{MONTHS[day.month - 1]} {day.day}, {day.year}"
    return text + " 8:56:00 AM" if with_time else text


def central_zip(
    subs: list[dict],
    path: Path,
    *,
    date: Callable[[str], str] = lambda iso: iso,
    submitted: Callable[[str], str] = lambda iso: f"{iso}T03:15:00.000Z",
    extra_repeat: list[list[str]] | None = None,
) -> Path:
    """Central's "with repeats" download: ``FORM.csv`` and ``FORM-problem.csv`` in a zip."""
    head = [
        "SubmissionDate", "start", "end", "today",
        *(f"household-{h}" for h in HOUSEHOLD),
        *(f"household-location-{c}" for c in ("Latitude", "Longitude", "Altitude", "Accuracy")),
        *(f"household-{p}" for p in PERSON),
        "household-problems", "meta-instanceID", "meta-instanceName", "KEY", *CENTRAL_TAIL,
    ]  # fmt: skip
    main, repeat = [], []
    for s in subs:
        key = f"uuid:{s['uuid']}"
        located = s["lat"] != ""
        main.append(
            [
                submitted(s["today"]),
                f"{s['today']}T09:00:00.000+07:00",
                f"{s['today']}T09:20:00.000+07:00",
                date(s["today"]),
                *(s["household"][h] for h in HOUSEHOLD),
                *((s["lat"], s["lon"], "151.2", "4.8") if located else ("", "", "", "")),
                *(s["person"][p] for p in PERSON),
                " ".join(p["code"] for p in s["problems"]),
                key if not s["edits"] else f"uuid:{uuid.uuid4()}",
                f"{s['household']['household_id']} {s['household']['round']}",
                key,
                "7", "enumerator 7", "0", "0", "", s["review"], "collect:abc123",
                str(s["edits"]), "2026120201",
            ]
        )  # fmt: skip
        for n, p in enumerate(s["problems"], 1):
            values = [date(p[c]) if c.endswith("_on") else p[c] for c in PROBLEM]
            repeat.append([*values, key, f"{key}/problem[{n}]"])
    repeat += extra_repeat or []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{FORM_ID}.csv", _csv(head, main))
        archive.writestr(f"{FORM_ID}-problem.csv", _csv([*PROBLEM, "PARENT_KEY", "KEY"], repeat))
        archive.writestr("media/house.jpg", b"\xff\xd8\xff\xe0 not read")
    return path


def _kobo_main(
    subs: list[dict],
    choices: list[str],
    *,
    header: Callable[[str], str],
    location: Callable[[str], str],
    value: Callable[[str, str], str],
    details: bool = True,
) -> tuple[list[str], list[list[str]]]:
    """The submissions as Kobo writes them; ``header`` names a question path, ``location`` the
    geopoint's raw column ("") and its parts, ``value`` writes a choice of a list."""
    head = [
        header("start"), header("end"), header("today"),
        *(header(f"household/{h}") for h in HOUSEHOLD),
        location(""),
        *(location(c) for c in ("latitude", "longitude", "altitude", "precision")),
        *(header(f"household/{p}") for p in PERSON),
        header("household/problems"),
        *(f"{header('household/problems')}/{value('category', c)}" for c in choices if details),
        *KOBO_TAIL,
    ]  # fmt: skip
    rows = []
    for n, s in enumerate(subs, 1):
        located = s["lat"] != ""
        listed = {p["code"] for p in s["problems"]}
        answers = dict(s["household"])
        answers["urban"] = value("yes_no", "yes" if answers["urban"] == "true" else "no")
        rows.append(
            [
                f"{s['today']}T09:00:00.000+07:00", f"{s['today']}T09:20:00.000+07:00",
                s["today"],
                *(answers[h] for h in HOUSEHOLD),
                f"{s['lat']} {s['lon']} 151.2 4.8" if located else "",
                *((s["lat"], s["lon"], "151.2", "4.8") if located else ("", "", "", "")),
                *(s["person"][p] for p in PERSON),
                " ".join(value("category", c) for c in sorted(listed)),
                *("1" if c in listed else "0" for c in choices if details),
                str(1000 + n), s["uuid"], f"{s['today']}T03:15:00", s["review"], "",
                "submitted_via_web", "enumerator7", "vXyZ2026", "", str(n),
            ]
        )  # fmt: skip
    return head, rows


def kobo_workbook(subs: list[dict], choices: list[str], path: Path) -> Path:
    """Kobo's XLS export (XML values and headers): the submissions, and a sheet per repeat."""
    # XML headers with groups: the geopoint's raw column bare, its parts under the group.
    head, rows = _kobo_main(
        subs,
        choices,
        header=lambda p: p,
        location=lambda part: f"household/_location_{part}" if part else "location",
        value=lambda _l, c: c,
    )
    repeat = []
    for n, s in enumerate(subs, 1):
        for p in s["problems"]:
            repeat.append(
                [
                    *(p[c] for c in PROBLEM),
                    str(len(repeat) + 1), KOBO_SHEET, str(n), str(1000 + n),
                    s["uuid"], f"{s['today']}T03:15:00", s["review"], "",
                    "submitted_via_web", "enumerator7", "vXyZ2026", "",
                ]
            )  # fmt: skip
    with pd.ExcelWriter(path, engine="openpyxl") as book:
        pd.DataFrame(rows, columns=head).to_excel(book, sheet_name=KOBO_SHEET, index=False)
        pd.DataFrame(
            repeat, columns=[*(f"problem/{c}" for c in PROBLEM), *KOBO_REPEAT_TAIL]
        ).to_excel(book, sheet_name="problem", index=False)
    return path


def kobo_csv(
    subs: list[dict],
    choices: list[str],
    path: Path,
    *,
    labels: dict[str, str] | None = None,
    choice_labels: dict[tuple[str, str], str] | None = None,
    details: bool = True,
) -> Path:
    """Kobo's CSV export (``;`` between fields, every one quoted; no repeats): XML names without
    groups, or labels when given; a select-multiple as its answer and (``details``, Kobo's
    "both") a 0/1 column per choice, or as its answer alone ("summary")."""
    named = labels or {}
    head, rows = _kobo_main(
        subs,
        choices,
        header=lambda p: named.get(p, p.rsplit("/", 1)[-1]),
        location=lambda part: (
            f"_{named.get('household/location', 'location')}_{part}"
            if part
            else named.get("household/location", "location")
        ),
        value=lambda lst, c: (choice_labels or {}).get((lst, c), c),
        details=details,
    )
    path.write_bytes(_csv(head, rows, delimiter=";", quote_all=True))
    return path
