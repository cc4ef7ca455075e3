"""Exports of the household form, as ODK Central and KoboToolbox write them, made canonical rows.

Both tools write one table of submissions and one of problem entries (the repeat), linked by a
key. :func:`canonical_rows` joins them into the canonical long format, one row per problem (or
one row for a household without any), and keeps what it cannot take as refused rows with a
reason, never dropping them:

- ``orphan_problem``: a repeat entry whose parent submission is not in the export;
- ``rejected_in_review``: a submission rejected in review (Central ``ReviewState=rejected``,
  Kobo ``validation_status_not_approved``): kept out of the figures, as the reviewer decided;
- ``superseded``: an earlier survey of the same household and round (another submission, an
  earlier ``today``, else an earlier submission time): the latest wins;
- ``missing_problem_code``: a repeat entry without a category.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from geo.collect.form import (
    DATE_FIELDS,
    HOUSEHOLD_FIELDS,
    LOCATION,
    PROBLEM_FIELDS,
    PROBLEMS,
    REPEAT,
    Form,
    Question,
)
from geo.errors import MissingColumnsError

Tool = Literal["odk", "kobo"]
#: Columns the rows carry beside the canonical ones: where each came from, and why it is refused.
SOURCE, REFUSED, WHY = "export_source", "export_refused", "export_why"
EXPORT_COLUMNS = (SOURCE, REFUSED, WHY)
REQUIRED = ("household_id", "subdistrict_code")
JAVA_MEDIUM = ("%b %d, %Y %I:%M:%S %p", "%b %d, %Y, %I:%M:%S %p", "%b %d, %Y")
"""Briefcase's dates and date-times (Java's MEDIUM style, English locale)."""


@dataclass(frozen=True)
class Meta:
    """The columns that identify, date and judge a submission, in one tool's words."""

    key: tuple[str, ...]
    """The submission's own id, the first column present wins."""
    link: str
    """The main table's column a repeat entry points at."""
    parent: tuple[str, ...]
    """The repeat table's column pointing at ``link``."""
    entry: tuple[str, ...]
    """The repeat entry's own id."""
    submitted: tuple[str, ...]
    review: tuple[str, ...]
    rejected: frozenset[str]


META: dict[Tool, Meta] = {
    "odk": Meta(
        key=("KEY", "meta-instanceID", "instanceID"),
        link="KEY",
        parent=("PARENT_KEY",),
        entry=("KEY",),
        submitted=("SubmissionDate",),
        review=("ReviewState",),
        rejected=frozenset({"rejected"}),
    ),
    "kobo": Meta(
        key=("_id", "_uuid", "meta/instanceID"),
        link="_index",
        parent=("_parent_index",),
        entry=("_index",),
        submitted=("_submission_time",),
        review=("_validation_status",),
        rejected=frozenset({"validation_status_not_approved", "Not Approved"}),
    ),
}
KOBO_SEPARATORS = ("/", ".", "-", ":", "_")
"""Group separators Kobo may be asked for (``/`` by default)."""
LIST_SEPARATORS = ("/", "-", ".", ":")
"""Between a select-multiple's name and a choice in its 0/1 columns (Central and Kobo: ``/``)."""
FOUND_SHOWN = 20
"""Columns a message lists of those an export has."""


@dataclass(frozen=True)
class Headers:
    """How one export names the questions: question key → column."""

    columns: dict[tuple[str | None, str], str]
    latitude: str | None
    longitude: str | None
    geopoint: str | None
    """The raw ``"lat lon altitude accuracy"`` column, when the split ones are missing."""
    listed: dict[str, str]
    """Choice name → the 0/1 column of the select-multiple list, when the export split it."""


def _spellings(form: Form, q: Question, tool: Tool) -> list[str]:
    """Every header an export may give question ``q``: names first, then labels.

    Its groups joined by the tool's separator (Central: ``-``; Kobo: ``/`` or another chosen
    one), without the groups outside its repeat (Central's repeat files), its bare name (an
    export without group names), then (Kobo's label headers) its labels, bare and with their
    groups' labels in front.
    """
    paths = [list(q.groups)]
    if q.repeat:
        paths.append(list(q.groups[q.groups.index(q.repeat) + 1 :]))
    separators = ("-",) if tool == "odk" else KOBO_SEPARATORS
    names = [sep.join([*groups, q.name]) for groups in paths for sep in separators]
    names += [q.name, *q.labels.values()]
    if tool == "kobo":
        for lang, label in q.labels.items():
            parts = [form.group_labels.get(g, {}).get(lang, g) for g in q.groups]
            names += [sep.join([*parts, label]) for sep in KOBO_SEPARATORS]
    return list(dict.fromkeys(n.strip() for n in names if n))


def _shown(present: Iterable[str]) -> str:
    columns = list(present)
    more = f" and {len(columns) - FOUND_SHOWN} more" if len(columns) > FOUND_SHOWN else ""
    return ", ".join(columns[:FOUND_SHOWN]) + more


def find_headers(
    form: Form, columns: Iterable[str], tool: Tool, *, repeat: bool, label: str
) -> Headers:
    """Which column holds each question of the submissions (or, ``repeat``, of the entries).

    Raises
    ------
    MissingColumnsError
        When a required question has no column: the export is not of the household form.
    """
    present = {c.strip(): c for c in columns}
    found: dict[tuple[str | None, str], str] = {}
    keys = (
        [(REPEAT, name) for name in PROBLEM_FIELDS.values()]
        if repeat
        else [*HOUSEHOLD_FIELDS.values(), (LOCATION[0], PROBLEMS)]
    )
    for key in keys:
        if key not in form.questions:
            continue
        hit = next((present[s] for s in _spellings(form, form.questions[key], tool)
                    if s in present), None)  # fmt: skip
        if hit is not None:
            found[key] = hit
    claimed = pd.Series(list(found.values()))
    if claimed.duplicated().any():
        twice = sorted(set(claimed[claimed.duplicated()]))
        raise MissingColumnsError(
            f"{label}: column(s) {', '.join(map(repr, twice))} would answer two questions of the "
            "form: give the questions labels of their own",
            [],
        )
    if repeat:
        if (REPEAT, "code") not in found:
            raise MissingColumnsError(
                f"{label}: the problem entries have no column for the problem's category "
                f"(code; found: {_shown(present)})",
                ["problem_code"],
            )
        return Headers(found, None, None, None, {})
    missing = [c for c in REQUIRED if HOUSEHOLD_FIELDS[c] not in found]
    if missing:
        raise MissingColumnsError(
            f"{label}: no column for {', '.join(missing)} "
            f"(is it an export of the Bamrung household form? found: {_shown(present)})",
            missing,
        )
    lat, lon, raw = _geopoint_columns(form, present, tool)
    return Headers(found, lat, lon, raw, _listed_columns(form, present, found, tool))


def _geopoint_columns(
    form: Form, present: dict[str, str], tool: Tool
) -> tuple[str | None, str | None, str | None]:
    if LOCATION not in form.questions:
        return None, None, None
    q = form.questions[LOCATION]
    bases = _spellings(form, q, tool)
    if tool == "odk":
        parts = [(f"{b}-Latitude", f"{b}-Longitude") for b in bases]
    else:
        # Kobo names the parts "_location_latitude", with the groups in front when the
        # headers carry them ("household/_location_latitude"), or by the label likewise.
        names = [q.name, *q.labels.values()]
        groups = [q.groups, *([form.group_labels.get(g, {}).get(lang, g) for g in q.groups]
                              for lang in q.labels)]  # fmt: skip
        prefixes = [""] + [sep.join(g) + sep for g in groups if g for sep in KOBO_SEPARATORS]
        parts = [(f"_{b}_latitude", f"_{b}_longitude") for b in bases]
        parts += [(f"{p}_{n}_latitude", f"{p}_{n}_longitude") for p in prefixes for n in names]
    for lat, lon in parts:
        if lat in present and lon in present:
            return present[lat], present[lon], None
    raw = next((present[b] for b in bases if b in present), None)
    return None, None, raw


def _listed_columns(
    form: Form, present: dict[str, str], found: dict[tuple[str | None, str], str], tool: Tool
) -> dict[str, str]:
    """The 0/1 columns of a split select-multiple (``group/problems/drugs``, ``problems-drugs``)."""
    key = (LOCATION[0], PROBLEMS)
    if key not in form.questions:
        return {}
    q = form.questions[key]
    bases = _spellings(form, q, tool)
    choices = form.choices.get(q.choices or "", {})
    for base in dict.fromkeys([*([found[key]] if key in found else []), *bases]):
        for sep in LIST_SEPARATORS:
            listed = {}
            for name, labels in choices.items():
                hit = next(
                    (present[f"{base}{sep}{s}"] for s in (name, *labels.values())
                     if f"{base}{sep}{s}" in present),
                    None,
                )  # fmt: skip
                if hit is not None:
                    listed[name] = hit
            if listed:
                return listed
    return {}


def export_date(values: pd.Series) -> pd.Series:
    """Dates as the tools write them, made ``YYYY-MM-DD``; what is not a date is left as it is.

    ISO 8601 dates and date-times (Central, Kobo: the date as written, whatever the offset),
    a workbook's date cells (``2024-01-05 00:00:00``) and Briefcase's Java MEDIUM style
    (``Apr 26, 2018``, ``Apr 26, 2018 8:56:00 AM``).
    """
    text = values.fillna("").astype(str).str.strip()
    iso = text.str.extract(r"^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$")[0]
    out = iso.where(iso.notna(), text)
    rest = iso.isna() & (text != "")
    for i in np.flatnonzero(rest.to_numpy()):
        out.iloc[i] = _java_medium(text.iloc[i])
    return out


def _java_medium(text: str) -> str:
    for pattern in JAVA_MEDIUM:
        try:
            return dt.datetime.strptime(text, pattern).date().isoformat()
        except ValueError:
            continue
    return text


def _choice(values: pd.Series, names: dict[str, str]) -> pd.Series:
    """Choice labels (any language) made choice names; unknown values are left for the checks."""
    stripped = values.fillna("").astype(str).str.strip()
    return stripped.map(lambda v: names.get(v, v))


def split_listed(value: str, names: dict[str, str]) -> list[str]:
    """The choices of a select-multiple answer: names (space-separated) or labels.

    Labels may hold spaces, so the answer is read from the left, longest known spelling first.
    """
    words = value.split()
    if all(w in names for w in words):  # choice names (or one-word labels): the common case
        return list(dict.fromkeys(names[w] for w in words))
    value = value.strip()
    spellings = sorted(names, key=len, reverse=True)
    out: list[str] = []
    unknown: list[str] = []
    while value:
        hit = next((s for s in spellings if value == s or value.startswith(s + " ")), None)
        if hit is None:
            # Not a known choice: its words up to the next known one are one answer (refused
            # later as an unknown category, with its text).
            word, _, value = value.partition(" ")
            unknown.append(word)
        else:
            if unknown:
                out.append(" ".join(unknown))
                unknown = []
            out.append(names[hit])
            value = value[len(hit) :]
        value = value.lstrip()
    if unknown:
        out.append(" ".join(unknown))
    return list(dict.fromkeys(out))


def canonical_rows(
    form: Form,
    submissions: pd.DataFrame,
    entries: pd.DataFrame | None,
    tool: Tool,
    *,
    names: tuple[str, str],
) -> pd.DataFrame:
    """The canonical long rows of an export: one per problem, or one for a household without.

    Parameters
    ----------
    form : Form
        The version of the household form the export is of.
    submissions, entries : DataFrame
        The export's tables as text (empty strings for empty cells): the submissions and the
        problem repeat's entries (None: the export has no repeat table, as Kobo's CSV).
    tool : {"odk", "kobo"}
    names : (str, str)
        How messages name the two tables (their file or sheet names).

    Returns
    -------
    DataFrame
        Canonical columns (those the export has), ``head_name`` and ``head_national_id`` when
        asked, and ``export_source``, ``export_refused``, ``export_why``; a household's rows
        together, in the order of the submissions.
    """
    meta = META[tool]
    submissions = submissions.fillna("").astype(str).reset_index(drop=True)
    heads = find_headers(form, submissions.columns, tool, repeat=False, label=names[0])
    subs = _households(form, submissions, heads)
    key = _first(submissions, meta.key)
    named = next((k for k in meta.key if k in submissions), "key")
    subs[SOURCE] = _where(names[0], len(submissions), named, key)
    subs[REFUSED], subs[WHY] = "", ""
    problems = None
    if entries is not None:
        if meta.link not in submissions:
            raise MissingColumnsError(
                f"{names[0]}: no {meta.link} column, so the problem entries of {names[1]} "
                "cannot be joined to their submissions",
                [meta.link],
            )
        subs["_link"] = submissions[meta.link].to_numpy()
        problems = _entries(form, entries.fillna("").astype(str), tool, meta, names[1])
    else:
        subs["_link"] = ""
    _judge(subs, submissions, meta)

    households = subs.assign(_at=np.arange(len(subs)))
    parts = []
    coded = pd.DataFrame({"_at": pd.Series(dtype=np.int64), "problem_code": pd.Series(dtype=str)})
    if problems is not None:
        # Each entry with its household's answers (all its versions when a key repeats: the
        # versions refused above carry their reason on).
        own = households.drop(columns=[SOURCE]).merge(
            problems, left_on="_link", right_on="_parent", how="inner", sort=False
        )
        own = own.rename(columns={"_source": SOURCE})
        blank = (own[REFUSED] == "") & (own["problem_code"] == "")
        own.loc[blank, REFUSED] = "missing_problem_code"
        own.loc[blank, WHY] = own.loc[blank, SOURCE] + ": the problem entry has no category"
        own["_part"] = 0
        parts.append(own.drop(columns=["_link", "_parent"]))
        coded = own.loc[own["problem_code"] != "", ["_at", "problem_code"]]
    listed = _listed(form, submissions, heads)
    extra = listed.merge(coded.drop_duplicates(), how="left", indicator=True)
    extra = extra[extra["_merge"] == "left_only"].drop(columns="_merge")
    parts.append(households.drop(columns="_link").merge(extra, on="_at").assign(_part=1))
    bare = ~households["_at"].isin(pd.concat([coded["_at"], listed["_at"]]))
    parts.append(households[bare].drop(columns="_link").assign(problem_code="", _part=2))
    out = pd.concat(parts, ignore_index=True)
    # A household's rows together (the import reads a household from consecutive rows), its
    # surveys in the export's order.
    who = [c for c in ("household_id", "round") if c in out]
    out["_first"] = out.groupby(who, sort=False)["_at"].transform("min") if who else out["_at"]
    out = out.sort_values(["_first", "_at", "_part"], kind="stable")
    out = out.drop(columns=["_first", "_at", "_part"])
    if problems is not None:
        orphans = problems[~problems["_parent"].isin(subs["_link"])]
        if len(orphans):
            lost = orphans.drop(columns=["_parent", "_source"])
            lost[SOURCE] = orphans["_source"].to_numpy()
            lost[REFUSED] = "orphan_problem"
            lost[WHY] = (
                orphans["_source"] + ": its submission (" + orphans["_parent"] + ") is not in "
                + names[0]
            ).to_numpy()  # fmt: skip
            out = pd.concat([out, lost], ignore_index=True)
    columns = [c for c in out.columns if c not in EXPORT_COLUMNS] + list(EXPORT_COLUMNS)
    return out.reindex(columns=columns).fillna("").reset_index(drop=True)


def _where(table: str, rows: int, named: str, key: pd.Series | None) -> list[str]:
    """How messages point at each row: ``table row N (KEY uuid:…)`` (N counts the header)."""
    where = pd.Series(np.arange(2, rows + 2)).astype(str).radd(f"{table} row ")
    if key is not None:
        where = where + f" ({named} " + key.reset_index(drop=True) + ")"
    return [str(w) for w in where]


def _first(frame: pd.DataFrame, names: tuple[str, ...]) -> pd.Series | None:
    for name in names:
        if name in frame:
            return frame[name].astype(str)
    return None


def _households(form: Form, frame: pd.DataFrame, heads: Headers) -> pd.DataFrame:
    out = pd.DataFrame(index=range(len(frame)))
    for canonical, key in HOUSEHOLD_FIELDS.items():
        if key not in heads.columns:
            continue
        values = frame[heads.columns[key]].reset_index(drop=True)
        q = form.questions[key]
        if q.choices:
            values = _choice(values, form.choice_names(q.choices))
        if canonical in DATE_FIELDS:
            values = export_date(values)
        out[canonical] = values.to_numpy()
    if heads.latitude and heads.longitude:
        out["lat"] = frame[heads.latitude].to_numpy()
        out["lon"] = frame[heads.longitude].to_numpy()
    elif heads.geopoint:
        parts = frame[heads.geopoint].fillna("").astype(str).str.split(expand=True)
        out["lat"] = parts.get(0, pd.Series("", index=parts.index)).fillna("").to_numpy()
        out["lon"] = parts.get(1, pd.Series("", index=parts.index)).fillna("").to_numpy()
    return out


def _listed(form: Form, frame: pd.DataFrame, heads: Headers) -> pd.DataFrame:
    """The problems each submission's select-multiple list names, in the list's order.

    Columns ``_at`` (the submission's position) and ``problem_code``. The 0/1 columns, where
    the export has them and a submission ticked one; else the answer's own column.
    """
    parts = [
        pd.DataFrame({"_at": np.flatnonzero(ticked.to_numpy()), "problem_code": name})
        for name, column in heads.listed.items()
        if (ticked := frame[column].str.strip().isin(["1", "1.0", "True", "true"])).any()
    ]
    done = pd.concat([p["_at"] for p in parts]).unique() if parts else np.array([], dtype=int)
    key = (LOCATION[0], PROBLEMS)
    if key in heads.columns:
        names = form.choice_names(form.questions[key].choices or "")
        answers = frame[heads.columns[key]]
        rest = np.setdiff1d(np.flatnonzero((answers.str.strip() != "").to_numpy()), done)
        chosen = (
            pd.Series(
                [split_listed(v, names) for v in answers.iloc[rest]], index=rest, dtype=object
            )
            .explode()
            .dropna()
        )
        parts.append(
            pd.DataFrame(
                {"_at": chosen.index.to_numpy(dtype=np.int64), "problem_code": chosen.astype(str)}
            ).reset_index(drop=True)
        )
    if not parts:
        return pd.DataFrame(
            {"_at": pd.Series(dtype=np.int64), "problem_code": pd.Series(dtype=str)}
        )
    return pd.concat(parts).sort_values("_at", kind="stable").reset_index(drop=True)


def _entries(form: Form, frame: pd.DataFrame, tool: Tool, meta: Meta, name: str) -> pd.DataFrame:
    heads = find_headers(form, frame.columns, tool, repeat=True, label=name)
    out = pd.DataFrame(index=range(len(frame)))
    for canonical, question in PROBLEM_FIELDS.items():
        key = (REPEAT, question)
        if key not in heads.columns:
            continue
        values = frame[heads.columns[key]].reset_index(drop=True)
        q = form.questions[key]
        if q.choices:
            values = _choice(values, form.choice_names(q.choices))
        if canonical in DATE_FIELDS:
            values = export_date(values)
        out[canonical] = values.to_numpy()
    parent = _first(frame, meta.parent)
    if parent is None:
        raise MissingColumnsError(
            f"{name}: the problem entries have no {' or '.join(meta.parent)} column linking "
            "them to their submission",
            list(meta.parent),
        )
    out["_parent"] = parent.to_numpy()
    entry = _first(frame, meta.entry)
    out["_source"] = _where(name, len(frame), meta.entry[0], entry)
    return out


def _judge(subs: pd.DataFrame, frame: pd.DataFrame, meta: Meta) -> None:
    """Refuse rejected submissions, and every survey of a household and round but the latest."""
    review = _first(frame, meta.review)
    if review is not None:
        rejected = review.str.strip().isin(meta.rejected).to_numpy()
        subs.loc[rejected, REFUSED] = "rejected_in_review"
        subs.loc[rejected, WHY] = subs.loc[rejected, SOURCE] + ": rejected in review"
    if "household_id" not in subs or "round" not in subs:
        return
    submitted = _first(frame, meta.submitted)
    order = pd.DataFrame(
        {
            "surveyed": subs.get("surveyed_on", pd.Series("", index=subs.index)),
            "submitted": _instants(submitted) if submitted is not None else pd.NaT,
            "row": np.arange(len(subs)),
        },
        index=subs.index,
    )
    # A submission without a household id is refused by the row checks, not judged here.
    live = ((subs[REFUSED] == "") & (subs["household_id"].str.strip() != "")).to_numpy()
    ranked = order[live].sort_values(["surveyed", "submitted", "row"], na_position="first")
    keys = [subs.loc[ranked.index, g] for g in ("household_id", "round")]
    latest = ranked.groupby(keys, sort=False)["row"].transform("last")
    older = latest[latest != ranked["row"]]
    at, winner = older.index.to_numpy(), older.to_numpy()
    subs.loc[at, REFUSED] = "superseded"
    subs.loc[at, WHY] = (
        subs.loc[at, SOURCE].to_numpy() + ": a later survey of this household is "
        + subs[SOURCE].to_numpy()[winner]
    )  # fmt: skip


def _instants(values: pd.Series) -> pd.Series:
    """Submission times as instants: ISO 8601 (Central, Kobo) or Java MEDIUM (Briefcase)."""
    text = values.str.strip()
    iso = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    medium = pd.Series(pd.NaT, index=text.index, dtype=iso.dtype)
    rest = iso.isna() & (text != "")
    for i in np.flatnonzero(rest.to_numpy()):
        for pattern in JAVA_MEDIUM:
            try:
                medium.iloc[i] = pd.Timestamp(dt.datetime.strptime(text.iloc[i], pattern), tz="UTC")
                break
            except ValueError:
                continue
    return iso.fillna(medium)
