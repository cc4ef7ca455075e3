"""`bamrung map KIND` and `bamrung gallery`: map pages written to files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.common import engine, errors, out, suffix_out
from geo.access import scope_of
from geo.errors import InvalidInputError
from geo.vocab import LANGS, MAP_KINDS, PUBLIC_MAP_KINDS
from layers.store.settings import Settings

if TYPE_CHECKING:
    from layers.delivery.maps import Made

# The map modules (Folium, matplotlib, libpysal) are imported by the commands that draw: every
# other command starts a second sooner.

#: The gallery ``make demo`` writes: public figures only (suppressed), as the home page is public.
GALLERY = (
    ("problems_per_1000", "district"),
    ("affected_per_1000", "district"),
    ("solved_pct", "district"),
    ("problems_per_1000", "subdistrict"),
)


def map_command(
    kind: Annotated[str, typer.Argument(help=f"one of {', '.join(MAP_KINDS)}")],
    out_file: Annotated[
        Path, typer.Option("--out", help="the HTML file to write", callback=suffix_out(".html"))
    ],
    area: Annotated[str, typer.Option(help="area code; empty = Thailand")] = "34",
    level: Annotated[
        str | None,
        typer.Option(help="level of the areas drawn (default: the level below the area)"),
    ] = None,
    indicator: Annotated[str, typer.Option(help="choropleth indicator")] = "problems_per_1000",
    scheme: Annotated[str, typer.Option(help="quantiles, natural_breaks, equal_interval")] = (
        "quantiles"
    ),
    classes: Annotated[int, typer.Option(help="number of classes (3-9)")] = 5,
    round: Annotated[int | None, typer.Option("--round", help="survey round")] = None,
    lang: Annotated[str, typer.Option(help="th or en")] = "th",
    dimension: Annotated[str | None, typer.Option(help="only this dimension")] = None,
    category: Annotated[str | None, typer.Option(help="only this category")] = None,
    status: Annotated[str | None, typer.Option(help="only this status")] = None,
    raster: Annotated[str | None, typer.Option(help="registered raster (water map)")] = None,
    run: Annotated[int | None, typer.Option(help="hotspot run (default the area's latest)")] = None,
    state: Annotated[str | None, typer.Option(help="cases: only this case state")] = None,
    escalated: Annotated[
        bool | None, typer.Option(help="cases: only escalated ones (or only the others)")
    ] = None,
    public: Annotated[
        bool, typer.Option(help="the public's figures (small counts hidden), as served unlogged")
    ] = False,
    self_contained: Annotated[
        bool, typer.Option(help="copy Leaflet and its plugins in: one file that opens offline")
    ] = False,
) -> None:
    """Write one map as an HTML page (the operator's view: everything, unless --public)."""
    from layers.delivery import maps

    with errors():
        if kind not in MAP_KINDS:
            raise InvalidInputError(f"kind: {kind!r} is not one of {', '.join(MAP_KINDS)}")
        if lang not in LANGS:
            raise InvalidInputError("lang: th or en")
        query = maps.MapQuery.of(locals())
        settings = Settings()
        if public and kind not in PUBLIC_MAP_KINDS:
            raise InvalidInputError(f"--public: only {' and '.join(PUBLIC_MAP_KINDS)} are public")
        scope = None if public else scope_of("admin", None)
        with engine(settings).begin() as conn:
            made = maps.BUILDERS[kind](conn, settings, query, scope)
        _write(out_file, made, self_contained)
    out.print(f"wrote {out_file} ({out_file.stat().st_size / 1e6:.2f} MB)")


def gallery(
    out_dir: Annotated[
        Path | None, typer.Option("--out-dir", help="folder (default BAMRUNG_HOME/maps)")
    ] = None,
    area: Annotated[str, typer.Option(help="area code")] = "34",
    lang: Annotated[str, typer.Option(help="th or en")] = "th",
) -> None:
    """Public pages of an area (choropleths, cases by district, case figures), self-contained,
    listed for the home page."""
    from api.assets import MANIFEST
    from geo.maps.words import LABELS
    from layers.delivery import figures, maps

    settings = Settings()
    out_dir = out_dir or settings.home / "maps"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with errors(), engine(settings).begin() as conn:
        for indicator, level in GALLERY:
            query = maps.MapQuery(area=area, level=level, indicator=indicator, lang=lang)
            made = maps.choropleth(conn, settings, query, None)
            name = f"{area or 'th'}-{indicator}-{level}.html"
            _write(out_dir / name, made, self_contained=True)
            written.append((name, f"{LABELS[lang][indicator]} · {level}"))
        made = maps.public_cases(conn, settings, maps.MapQuery(area=area, lang=lang))
        name = f"{area or 'th'}-cases-district.html"
        _write(out_dir / name, made, self_contained=True)
        written.append((name, LABELS[lang]["cases_map"]))
        name = f"{area or 'th'}-cases-kpis.html"
        (out_dir / name).write_text(
            figures.kpi_page(conn, settings, area=area, lang=lang), encoding="utf-8"
        )
        written.append((name, figures.WORDS[lang]["title"]))
    # The home page serves the files this list names, and no other file of the folder.
    (out_dir / MANIFEST).write_text(json.dumps(dict(written), ensure_ascii=False), encoding="utf-8")
    out.print(f"wrote {len(written)} maps and {MANIFEST} to {out_dir}")


def _write(path: Path, made: Made, self_contained: bool) -> None:
    from api.assets import VENDOR_DIR
    from api.assets import self_contained as offline
    from geo.maps.assets import render

    page = offline(made.map) if self_contained else render(made.map, VENDOR_DIR.as_uri())
    path.write_text(page, encoding="utf-8")
