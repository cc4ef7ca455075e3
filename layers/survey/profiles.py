"""Column-mapping profiles: how another layout (a YAML file of names) maps onto the canonical."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from geo.errors import InvalidInputError

#: The canonical long format: one row per problem (an empty ``problem_code`` for none).
CANONICAL = (
    "household_id",
    "round",
    "house_no",
    "moo",
    "subdistrict_code",
    "community",
    "members",
    "urban",
    "lat",
    "lon",
    "surveyed_on",
    "problem_code",
    "problem_detail",
    "status",
    "reported_on",
    "updated_on",
    "resolved_on",
)
REQUIRED = ("household_id", "subdistrict_code", "problem_code")


class Profile(BaseModel):
    """A mapping from a file's columns onto the canonical ones."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    columns: dict[str, str] = {}
    """canonical name: the file's column name."""
    geopoint: str | None = None
    """An ODK-style column "lat lon altitude accuracy" that gives lat and lon."""
    values: dict[str, dict[str, str]] = {}
    """canonical column: {value in the file: canonical value}."""

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame with canonical column names (other columns are kept as they are).

        Columns the profile does not map keep matching canonical names without regard to case
        or spaces (a DBF's ``ROUND`` is ``round``).
        """
        renamed = frame.rename(columns={source: target for target, source in self.columns.items()})
        loose = {
            c: c.strip().lower()
            for c in renamed.columns
            if c.strip().lower() in CANONICAL and c.strip().lower() not in renamed.columns
        }
        renamed = renamed.rename(columns=loose)
        if self.geopoint and self.geopoint in frame.columns:
            parts = frame[self.geopoint].fillna("").astype(str).str.split(expand=True)
            renamed["lat"] = parts.get(0, "")
            renamed["lon"] = parts.get(1, "")
        for column, mapping in self.values.items():
            if column in renamed:
                renamed[column] = renamed[column].replace(mapping)
        return renamed


def identity_profile(columns: list[str]) -> Profile:
    """The canonical layout itself, matching column names without regard to case or spaces."""
    by_key = {c.strip().lower(): c for c in columns}
    return Profile(
        name="canonical",
        columns={c: by_key[c] for c in CANONICAL if c in by_key and by_key[c] != c},
    )


def load_profile(path: str) -> Profile:
    """A profile from a YAML file (``odk`` and ``kobo`` exports are read by ``collected``)."""
    file = Path(path)
    if not file.is_file():
        raise InvalidInputError(f"no profile {path!r}: use odk, kobo or a YAML file")
    try:
        return Profile.model_validate(yaml.safe_load(file.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        raise InvalidInputError(f"{file}: not a valid profile: {exc}") from exc


def missing_columns(profile: Profile, columns: list[str], *, round_given: bool) -> list[str]:
    """Required canonical columns that the file does not provide through the profile.

    ``round`` is required unless the round is given for the whole file (``--round``).
    """
    provided = {c.strip().lower() for c in columns} | {
        target for target, source in profile.columns.items() if source in columns
    }
    required = REQUIRED if round_given else (*REQUIRED, "round")
    return [c for c in required if c not in provided]
