"""The configuration reference (``docs/configuration.md``), written from the settings model.

``reference(Settings)`` lists every field of a pydantic-settings model as the environment
variable that sets it (the model's ``env_prefix`` and the field's name, or the field's aliases),
its type, its default and its description. ``python -m layers.store.configdoc`` prints it;
``make docs`` writes it to ``docs/configuration.md``, and a test fails when that file is stale.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path

import annotated_types
from pydantic import AliasChoices, AliasPath, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from layers.store.settings import PROJECT_ROOT

#: How each Python type reads in the reference.
TYPE_WORDS: dict[object, str] = {
    str: "text",
    int: "integer",
    float: "number",
    bool: "true/false",
    Path: "path",
    SecretStr: "secret text",
}

HEADER = """\
# Configuration

<!-- Generated from `Settings` in `layers/store/settings.py` by `make docs`
     (`python -m layers.store.configdoc`); edit the field descriptions there, not this file. -->

Bamrung needs no configuration: every setting has a default that works on one machine. Each
setting is read from an environment variable or from a `{env_file}` file in the working
directory (the environment wins). {case} Unknown variables are ignored.

| variable | type | default | what it does |
| --- | --- | --- | --- |
"""

FOOTER = """
The private cluster that Bamrung starts when `DATABASE_URL` is unset has server settings of its
own, for bulk work (1 GB shared buffers, a larger WAL before checkpoints): see
[the architecture](architecture.md#conventions).
"""


def env_names(name: str, field: FieldInfo, prefix: str) -> list[str]:
    """The environment variables that set a field, in the order they are looked up."""
    alias = field.validation_alias or field.alias
    if isinstance(alias, str):
        return [alias]
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    if isinstance(alias, AliasPath):
        return [str(alias.path[0])]
    return [f"{prefix}{name}".upper()]


def type_words(field: FieldInfo) -> str:
    """A field's type in words, with its bounds (``integer ≥ 1``)."""
    annotation = field.annotation
    members = (
        typing.get_args(annotation)
        if typing.get_origin(annotation) in (typing.Union, types.UnionType)
        else (annotation,)
    )
    words = " or ".join(
        TYPE_WORDS.get(member, getattr(member, "__name__", str(member)))
        for member in members
        if member is not type(None)
    )
    for bound in field.metadata:
        for attribute, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if isinstance(bound, getattr(annotated_types, attribute.capitalize())):
                words += f" {sign} {getattr(bound, attribute)}"
    return words


def default_words(field: FieldInfo) -> str:
    """A field's default as it would be written in the environment (``unset`` for none)."""
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return "(secret)"
    if isinstance(value, Path) and value.is_absolute() and value.is_relative_to(PROJECT_ROOT):
        return f"`{value.relative_to(PROJECT_ROOT).as_posix()}` in the clone"
    if isinstance(value, Path):
        return f"`{value.as_posix()}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def cell(text: str) -> str:
    """Text that stays inside one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def reference(settings_cls: type[BaseSettings]) -> str:
    """The Markdown configuration reference of a settings model."""
    config = settings_cls.model_config
    prefix = config.get("env_prefix") or ""
    env_file = config.get("env_file") or ".env"
    case = (
        "Names are case-sensitive."
        if config.get("case_sensitive")
        else "Names are matched without regard to case."
    )
    rows = []
    for name, field in settings_cls.model_fields.items():
        variables = " or ".join(f"`{variable}`" for variable in env_names(name, field, prefix))
        description = cell(field.description or "")
        rows.append(
            f"| {variables} | {type_words(field)} | {default_words(field)} | {description} |\n"
        )
    return HEADER.format(env_file=env_file, case=case) + "".join(rows) + FOOTER


if __name__ == "__main__":
    from layers.store.settings import Settings

    print(reference(Settings), end="")
