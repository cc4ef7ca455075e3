"""Turn a batch of canonical text columns into typed values and reasons to refuse rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geo.intake.labels import Labels
from geo.intake.normalise import (
    BE_OFFSET,
    lookup,
    member,
    numbers,
    parse_dates,
    thai_digits_to_arabic,
)
from geo.vocab import STATUSES
from layers.survey.profiles import CANONICAL

DATE_COLUMNS = ("surveyed_on", "reported_on", "updated_on", "resolved_on")
DIGIT_COLUMNS = (
    "household_id",
    "round",
    "house_no",
    "moo",
    "subdistrict_code",
    "members",
    "lat",
    "lon",
    *DATE_COLUMNS,
)
URBAN = {
    "1": True,
    "true": True,
    "yes": True,
    "urban": True,
    "เมือง": True,
    "0": False,
    "false": False,
    "no": False,
    "rural": False,
    "ชนบท": False,
}
#: The longest text each column takes (characters); the others take ``TEXT_MAX``.
TEXT_LIMITS = {"household_id": 64, "problem_detail": 10_000}
TEXT_MAX = 256


def round_range() -> tuple[int, int]:
    """Rounds a survey may name: from B.E. 2500 to next year's.

    A round is named for the year it serves, and surveyed the year before; a later one is a typing
    error.
    """
    return 2500, dt.date.today().year + BE_OFFSET + 1


@dataclass
class Checked:
    """A batch with typed columns, per-row flags (repairs) and reasons (refusals)."""

    values: pd.DataFrame
    flags: Labels
    reasons: Labels
    messages: Labels


def check(frame: pd.DataFrame, *, default_round: int | None, categories: set[str]) -> Checked:
    """Parse and check the canonical columns of a batch (all text, ``""`` where empty).

    Repairs are recorded as flags (Thai digits, Buddhist Era dates, rounds given in CE); rows that
    cannot be used get machine-readable reasons and a message naming the field and the value.
    An empty cell is a value the row does not give (None), like a column the file lacks: the
    importer leaves the stored value alone. ``default_round`` fills only empty rounds.
    """
    n = len(frame)
    text = {
        c: frame[c].fillna("").astype(str).str.strip()
        if c in frame
        else pd.Series([""] * n, index=frame.index)
        for c in CANONICAL
    }
    flags, reasons, messages = Labels(n), Labels(n), Labels(n)
    flag = flags.add

    def refuse(mask: NDArray[np.bool_], reason: str, column: str) -> None:
        reasons.add(mask, reason)
        for i in np.flatnonzero(mask).tolist():
            messages.append(i, f"{column}: {text[column].iloc[i]!r}")

    for column in CANONICAL:
        # PostgreSQL text cannot hold U+0000: such a row is refused, never half-stored.
        nul = text[column].str.contains("\x00", regex=False).to_numpy(dtype=bool)
        reasons.add(nul, "nul_character")
        if nul.any():
            for i in np.flatnonzero(nul).tolist():
                messages.append(i, f"{column}: holds a NUL character (U+0000)")
            text[column] = text[column].str.replace("\x00", "", regex=False)
    for column in CANONICAL:
        limit = TEXT_LIMITS.get(column, TEXT_MAX)
        lengths = text[column].str.len().to_numpy()
        long = lengths > limit
        reasons.add(long, "field_too_long")
        for i in np.flatnonzero(long).tolist():
            messages.append(i, f"{column}: {lengths[i]:,} characters, at most {limit:,}")
    for column in DIGIT_COLUMNS:
        text[column], found = thai_digits_to_arabic(text[column])
        flag(found, "thai_digits")
    out = pd.DataFrame(index=frame.index)
    out["household_id"] = text["household_id"]
    refuse((out["household_id"] == "").to_numpy(), "missing_household_id", "household_id")

    round_ = numbers(text["round"])
    if default_round is not None:
        round_ = round_.mask(text["round"] == "", default_round)
    in_ce = (round_ >= 1900) & (round_ < 2400)
    flag(in_ce.to_numpy(dtype=bool), "round_in_ce")
    round_ = round_.where(~in_ce, round_ + BE_OFFSET)
    refuse(round_.isna().to_numpy() & (text["round"] == "").to_numpy(), "missing_round", "round")
    bad_round = ~round_.between(*round_range()) & round_.notna() | (
        round_.isna() & (text["round"] != "")
    )
    refuse(bad_round.to_numpy(dtype=bool), "bad_round", "round")
    out["round"] = round_.fillna(0).astype(np.int64)

    code = text["subdistrict_code"].str.upper().str.removeprefix("TH")
    refuse(
        ~code.str.fullmatch(r"\d{6}").to_numpy(dtype=bool),
        "bad_subdistrict_code",
        "subdistrict_code",
    )
    out["declared_subdistrict"] = code

    for column, low, high, reason in (("moo", 0, 99, "bad_moo"), ("members", 1, 99, "bad_members")):
        number = numbers(text[column])
        given = (text[column] != "").to_numpy()
        bad = given & ~(number.between(low, high) & (number == number.round())).to_numpy(dtype=bool)
        refuse(bad, reason, column)
        out[column] = number.where(~bad).to_numpy(dtype=float)

    urban = pd.Series(lookup(text["urban"].str.lower(), URBAN), index=frame.index, dtype=object)
    refuse(((text["urban"] != "") & urban.isna()).to_numpy(), "bad_urban", "urban")
    out["urban"] = urban.astype(object).where(urban.notna(), None)

    for column in ("lat", "lon"):
        number = numbers(text[column].str.replace(",", ".", regex=False))
        flag(((text[column] != "") & number.isna()).to_numpy(), "unreadable_coordinates")
        out[column] = number.to_numpy(dtype=float)

    problem = text["problem_code"].str.lower()
    refuse(
        (problem != "").to_numpy() & ~member(problem, categories),
        "unknown_problem_code",
        "problem_code",
    )
    out["category"] = problem.where(problem != "", None)
    status = text["status"].str.lower()
    given = (status != "").to_numpy()
    refuse((problem != "").to_numpy() & given & ~member(status, STATUSES), "bad_status", "status")
    out["status"] = status.where(given, None)
    out["detail"] = text["problem_detail"].where(text["problem_detail"] != "", None)

    for column in DATE_COLUMNS:
        dates, buddhist, bad = parse_dates(text[column])
        flag(buddhist, "buddhist_era_date")
        refuse(bad, "bad_date", column)
        out[column] = dates
    for column in ("house_no", "community"):
        out[column] = text[column].where(text[column] != "", None)
    return Checked(out, flags, reasons, messages)
