"""The import rules: the tiers of the fixed top level, and the rooms inside them.

- ``geo`` imports neither ``layers`` nor ``api``, reads no environment and opens no database;
  ``layers`` does not import ``api``; only ``api`` speaks HTTP or parses a command line.
- ``layers/store`` (settings, engine, models, migrations) imports only ``geo`` and itself: the
  capability packages build on it, never the other way round.
- The capability packages of ``layers`` import each other in one direction only (``LAYERS``):
  ``access`` (who sees what) under ``survey`` (the intake machinery, surveys and their jobs)
  under ``geography`` (boundaries and Geo-social layers, brought in with that machinery) under
  ``analysis`` under ``cases`` (hand-off to agencies) under ``delivery``.
- No module imports another package's private (``_name``) helpers.
- Routers and pages never import routers or pages; the command line imports neither.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "geo": {"layers", "api", "sqlalchemy", "psycopg", "fastapi", "starlette", "typer", "os"},
    "layers": {"api", "fastapi", "starlette", "typer", "uvicorn", "httpx"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources(*packages: str) -> Iterator[Path]:
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


def imports(path: Path) -> Iterator[tuple[str, list[str]]]:
    """Each import of a module, anywhere in it (also inside functions): the module imported
    and the names taken from it."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [alias.name for alias in node.names]


def package_of(module: str) -> str:
    return module.rpartition(".")[0]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_tiers(package: str) -> None:
    offenders = {
        module_name(path): sorted({m.split(".")[0] for m, _ in imports(path)} & FORBIDDEN[package])
        for path in sources(package)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_store_builds_on_geo_only() -> None:
    offenders = [
        (module_name(path), module)
        for path in sources("layers/store")
        for module, _ in imports(path)
        if module.startswith("layers") and not module.startswith("layers.store")
    ]
    assert offenders == []


#: The packages of ``layers``, each importing only those before it.
LAYERS = ("store", "access", "survey", "geography", "analysis", "cases", "citizens", "delivery")


def test_the_capabilities_of_layers_import_one_way() -> None:
    assert sorted(p.name for p in (ROOT / "layers").iterdir() if (p / "__init__.py").exists()) == (
        sorted(LAYERS)
    )
    offenders = []
    for path in sources(*(f"layers/{package}" for package in LAYERS)):
        rank = LAYERS.index(path.relative_to(ROOT).parts[1])
        for module, _ in imports(path):
            parts = module.split(".")
            if parts[:1] == ["layers"] and parts[1:2] and LAYERS.index(parts[1]) > rank:
                offenders.append((module_name(path), module))
    assert offenders == []


def test_no_private_helper_crosses_a_package() -> None:
    offenders = []
    for path in sources("geo", "layers", "api"):
        here = package_of(module_name(path))
        for module, names in imports(path):
            if module.split(".")[0] not in {"geo", "layers", "api"}:
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and package_of(module) != here:
                offenders.append((module_name(path), module, private))
    assert offenders == []


def test_routers_pages_and_the_command_line_import_no_router_and_no_page() -> None:
    offenders = [
        (module_name(path), module)
        for path in sources("api/routers", "api/pages", "api/cli")
        for module, names in imports(path)
        if module.startswith(("api.routers", "api.pages"))
        or (module == "api" and {"routers", "pages"} & set(names))
    ]
    assert offenders == []


def test_every_map_kind_is_drawn_and_served() -> None:
    from api.routers.maps import DESCRIPTIONS as KINDS
    from geo.vocab import MAP_KINDS
    from layers.delivery.maps import BUILDERS

    assert list(BUILDERS) == list(KINDS) == list(MAP_KINDS)


def test_every_layer_kind_has_its_geometry() -> None:
    from geo.geosocial import GEOMETRY
    from geo.vocab import LAYER_KINDS

    assert tuple(GEOMETRY) == LAYER_KINDS
