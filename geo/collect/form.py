"""The reference household form (an XLSForm) and what an export of it holds.

One form serves ODK Collect and KoboCollect alike: a household group, a select-multiple list of
the problems found, and a repeat with one entry per problem. :func:`reference_sheets` writes its
sheets from the taxonomy; :func:`form_from_json` reads any version of it back (as pyxform parses
the workbook), so the export readers know each question's group, type, labels and choices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from geo.maps.words import STATUS_NAMES
from geo.vocab import STATUSES

FORM_ID = "bamrung_household"
TH, EN = "Thai (th)", "English (en)"
HOUSEHOLD = "household"
"""The household group."""
REPEAT = "problem"
"""The repeat group: one entry per problem."""
PROBLEMS = "problems"
"""The household's select-multiple list of the problems found."""
CATEGORIES = "category"
"""The choice list of problem categories (the taxonomy's codes)."""

#: Canonical column: the form's question, as (group, name); None is the top level.
HOUSEHOLD_FIELDS: dict[str, tuple[str | None, str]] = {
    "household_id": (HOUSEHOLD, "household_id"),
    "round": (HOUSEHOLD, "round"),
    "house_no": (HOUSEHOLD, "house_no"),
    "moo": (HOUSEHOLD, "moo"),
    "subdistrict_code": (HOUSEHOLD, "subdistrict_code"),
    "community": (HOUSEHOLD, "community"),
    "members": (HOUSEHOLD, "members"),
    "urban": (HOUSEHOLD, "urban"),
    "head_name": (HOUSEHOLD, "head_name"),
    "head_national_id": (HOUSEHOLD, "head_national_id"),
    "surveyed_on": (None, "today"),
}
LOCATION = (HOUSEHOLD, "location")
#: The questions about a person, and how an import treats them (as it treats such columns).
PERSONAL = {"head_national_id": "hashed", "head_name": "dropped"}
#: Canonical column: the repeat's question.
PROBLEM_FIELDS = {
    "problem_code": "code",
    "problem_detail": "detail",
    "status": "status",
    "reported_on": "reported_on",
    "updated_on": "updated_on",
    "resolved_on": "resolved_on",
}
DATE_FIELDS = ("surveyed_on", "reported_on", "updated_on", "resolved_on")


@dataclass(frozen=True)
class Question:
    """A question of the form: where it sits, what it takes, how it is labelled."""

    name: str
    groups: tuple[str, ...]
    """The groups it sits in, outermost first (a repeat among them)."""
    type: str
    labels: dict[str, str]
    """Language (``Thai (th)``, ``English (en)``, ``default``): label."""
    choices: str | None = None
    """The choice list of a select question."""

    @property
    def repeat(self) -> str | None:
        """The repeat group it sits in (the reference form has one), else None."""
        return self.groups[-1] if self.groups and self.groups[-1] == REPEAT else None


@dataclass(frozen=True)
class Form:
    """The questions and choice lists of a version of the household form."""

    questions: dict[tuple[str | None, str], Question]
    """(group it sits directly in, or None; name): question."""
    choices: dict[str, dict[str, dict[str, str]]]
    """List name: {choice name: {language: label}}."""
    group_labels: dict[str, dict[str, str]] = field(default_factory=dict)

    def choice_names(self, list_name: str) -> dict[str, str]:
        """Every way an export may write a choice of ``list_name`` (name or label): its name."""
        names: dict[str, str] = {}
        for name, labels in self.choices.get(list_name, {}).items():
            for label in labels.values():
                names.setdefault(label.strip(), name)
        for name in self.choices.get(list_name, {}):
            names[name] = name
        return names


def form_from_json(tree: dict[str, Any]) -> Form:
    """The form described by pyxform's JSON of an XLSForm (``xls2json.parse_file_to_json``)."""
    questions: dict[tuple[str | None, str], Question] = {}
    groups: dict[str, dict[str, str]] = {}

    def walk(children: list[dict[str, Any]], path: tuple[str, ...]) -> None:
        for child in children:
            kind, name = str(child.get("type", "")), str(child.get("name", ""))
            if kind in ("group", "repeat"):
                groups[name] = _labels(child.get("label"))
                walk(child.get("children", []), (*path, name))
                continue
            questions[(path[-1] if path else None, name)] = Question(
                name,
                path,
                kind,
                _labels(child.get("label")),
                child.get("itemset") or child.get("list_name"),
            )

    walk(tree.get("children", []), ())
    choices = {
        list_name: {str(c["name"]): _labels(c.get("label")) for c in items}
        for list_name, items in (tree.get("choices") or {}).items()
    }
    return Form(questions, choices, groups)


def _labels(label: object) -> dict[str, str]:
    if isinstance(label, dict):
        return {str(k): str(v) for k, v in label.items()}
    return {"default": str(label)} if label else {}


def reference_sheets(categories: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The sheets of the reference XLSForm: ``survey``, ``choices`` and ``settings``.

    Parameters
    ----------
    categories : DataFrame
        The taxonomy's problem categories, in order: ``code``, ``name_th``, ``name_en``.
    """
    th, en = f"label::{TH}", f"label::{EN}"
    rows: list[dict[str, str]] = []

    def ask(kind: str, name: str, thai: str, english: str, **extra: str) -> None:
        rows.append({"type": kind, "name": name, th: thai, en: english, **extra})

    required = {"required": "yes"}
    ask("start", "start", "", "")
    ask("end", "end", "", "")
    ask("today", "today", "", "")
    ask("begin_group", HOUSEHOLD, "ครัวเรือน", "Household")
    ask("text", "household_id", "รหัสครัวเรือน", "Household ID", **required)
    ask(
        "integer", "round", "รอบการสำรวจ (ปี พ.ศ.)", "Survey round (Buddhist Era year)",
        constraint=". >= 2500 and . <= 2700", **required,
    )  # fmt: skip
    ask("text", "house_no", "บ้านเลขที่", "House number")
    ask("integer", "moo", "หมู่ที่", "Village number (moo)", constraint=". >= 1 and . <= 99")
    ask(
        "text", "subdistrict_code", "รหัสตำบล (6 หลัก)", "Subdistrict code (6 digits)",
        constraint="regex(., '^[0-9]{6}$')", **required,
    )  # fmt: skip
    ask("text", "community", "ชุมชน", "Community")
    ask("integer", "members", "จำนวนสมาชิกในครัวเรือน", "Members of the household")
    ask("select_one yes_no", "urban", "อยู่ในเขตเทศบาล", "Inside a municipality (urban)")
    ask("geopoint", "location", "ตำแหน่งบ้าน", "Location of the house")
    ask("text", "head_name", "ชื่อหัวหน้าครัวเรือน", "Name of the head of household")
    ask(
        "text", "head_national_id", "เลขประจำตัวประชาชนของหัวหน้าครัวเรือน",
        "National ID number of the head of household",
    )  # fmt: skip
    ask(f"select_multiple {CATEGORIES}", PROBLEMS, "ปัญหาที่พบ", "Problems found")
    ask("end_group", "", "", "")
    ask("begin_repeat", REPEAT, "ปัญหา", "Problem", relevant=f"${{{PROBLEMS}}} != ''")
    ask(
        f"select_one {CATEGORIES}", "code", "ปัญหา", "Problem",
        choice_filter=f"selected(${{{PROBLEMS}}}, name)", **required,
    )  # fmt: skip
    ask("text", "detail", "รายละเอียด", "Details")
    ask("select_one status", "status", "สถานะ", "Status")
    ask("date", "reported_on", "วันที่แจ้งปัญหา", "Reported on")
    ask("date", "updated_on", "วันที่ปรับปรุงล่าสุด", "Last updated on")
    ask(
        "date", "resolved_on", "วันที่แก้ไขแล้ว", "Resolved on",
        relevant="starts-with(${status}, 'solved')",
    )  # fmt: skip
    ask("end_repeat", "", "", "")
    survey = pd.DataFrame(rows).fillna("")

    choices = [
        {"list_name": "yes_no", "name": "yes", th: "ใช่", en: "Yes"},
        {"list_name": "yes_no", "name": "no", th: "ไม่ใช่", en: "No"},
        *(
            {"list_name": CATEGORIES, "name": c.code, th: c.name_th, en: c.name_en}
            for c in categories.itertuples()
        ),
        *(
            {
                "list_name": "status",
                "name": s,
                th: STATUS_NAMES["th"][s],
                en: STATUS_NAMES["en"][s],
            }
            for s in STATUSES
        ),
    ]
    settings = pd.DataFrame(
        [
            {
                "form_title": "แบบสำรวจครัวเรือน Bamrung (Bamrung household survey)",
                "form_id": FORM_ID,
                "version": "2026120201",
                "default_language": TH,
                "instance_name": "concat(${household_id}, ' ', ${round})",
            }
        ]
    )
    return {"survey": survey, "choices": pd.DataFrame(choices), "settings": settings}
