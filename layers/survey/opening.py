"""A survey file checked as a whole before import: which layers or sheets to read, and how."""

from __future__ import annotations

from dataclasses import dataclass, field

from geo.errors import InvalidInputError, MissingColumnsError
from layers.survey.profiles import Profile, identity_profile, missing_columns
from layers.survey.readers import SurveyFile


@dataclass
class Opened:
    """A file checked as a whole and ready to import: the parts to read and how to read them."""

    survey: SurveyFile
    profile: Profile
    round: int | None
    """The round for rows without one."""
    skipped: dict[str, str]
    """Layers or sheets passed over, and why."""
    treated: dict[str, str] = field(default_factory=dict)
    """Personal columns known before any row is read (``hashed`` or ``dropped``): a form says
    which questions ask for a person's name or ID number."""

    def close(self) -> None:
        """Close the survey file (its UTF-8 copy, if any, is deleted)."""
        self.survey.close()


def choose_parts(
    survey: SurveyFile, profile: Profile | None, round_given: bool, names: list[str] | None
) -> tuple[SurveyFile, dict[str, str]]:
    """The parts to read: those named, else every part with the required columns.

    Raises ``InvalidInputError`` when a named part does not exist or no part can be read.
    """
    label = survey.label
    known = [p.name for p in survey.parts]
    if names:
        unknown = [n for n in names if n not in known]
        if unknown:
            listed = ", ".join(repr(n) for n in known if n is not None) or "none"
            raise InvalidInputError(
                f"{label}: no layer or sheet {', '.join(map(repr, unknown))} (it has: {listed})"
            )
        survey = survey.only(list(names))
    lacking = {}
    for part in survey.parts:
        mapping = profile or identity_profile(part.columns)
        missing = missing_columns(mapping, part.columns, round_given=round_given)
        if missing:
            lacking[part.name] = missing
    if len(lacking) == len(survey.parts):
        if len(survey.parts) == 1:
            part = survey.parts[0]
            missing = lacking[part.name]
            where = f"{label}" + (f", layer {part.name!r}" if names or part.name else "")
            raise MissingColumnsError(
                f"{where}: required column(s) missing: {', '.join(missing)} "
                f"(found: {', '.join(part.columns)}; "
                f"profile: {profile.name if profile else 'canonical'})",
                missing,
            )
        shown = "; ".join(f"{name!r} lacks {', '.join(m)}" for name, m in lacking.items())
        raise MissingColumnsError(
            f"{label}: no layer holds the required columns ({shown})",
            sorted({c for m in lacking.values() for c in m}),
        )
    skipped = {
        str(name): f"required column(s) missing: {', '.join(missing)}"
        for name, missing in lacking.items()
    }
    return survey.only([p.name for p in survey.parts if p.name not in lacking]), skipped
