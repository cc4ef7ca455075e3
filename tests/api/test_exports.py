"""Every ``--out`` of the command line writes what its suffix says, with its shapes, and the
files open in Debian's GDAL (the one QGIS 3.22 uses) without a warning; a wrong suffix is
refused before any work."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from layers.store.settings import Settings
from tests.factories import run

OGRINFO = shutil.which("ogrinfo")
# Each command, its layer, the shapes it must hold, and its arguments.
COMMANDS: dict[str, tuple[str, str, list[str]]] = {
    "density": ("hexagons", "Polygon", ["density", "--area", "3419"]),
    "hotspots": ("hotspots", "Polygon", ["hotspots", "--area", "34", "--permutations", "99"]),
    "target areas": (
        "targeting",
        "Polygon",
        ["target", "--area", "34", "--level", "subdistrict"],
    ),
    "target households": (
        "targeting",
        "Point",
        ["target", "--area", "3419", "--level", "household"],
    ),
    "water access": ("water_access", "Point", ["overlay", "water-access", "--area", "3419"]),
    "sample": (
        "sampled",
        "Point",
        ["overlay", "sample", "--raster", "syn-elevation", "--area", "3419"],
    ),
    "zonal": (
        "zonal",
        "Polygon",
        ["overlay", "zonal", "--raster", "syn-elevation", "--area", "34", "--level", "district"],
    ),
}


def ogrinfo(path: Path) -> tuple[str, str]:
    """ogrinfo's summary of every layer, and what it wrote on stderr."""
    if OGRINFO is None:
        pytest.fail("no ogrinfo: `make test` installs Debian's gdal-bin")
    done = subprocess.run(
        [OGRINFO, "-ro", "-al", "-so", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_out_writes_a_gis_file_with_its_shapes(
    analysis_settings: Settings, tmp_path: Path, command: str, suffix: str
) -> None:
    layer, shapes, args = COMMANDS[command]
    url = analysis_settings.database_url
    assert url is not None
    path = tmp_path / f"out{suffix}"
    done = run(*args, "--out", str(path), url=url, BAMRUNG_HOME=str(analysis_settings.home))
    assert done.returncode == 0, done.stderr
    summary, warnings = ogrinfo(path)
    assert not warnings.strip(), warnings
    assert f"Geometry: {shapes}" in summary or f"Geometry: Multi {shapes}" in summary, summary
    count = int(re.search(r"Feature Count: (\d+)", summary).group(1))  # type: ignore[union-attr]
    assert count > 0
    if suffix == ".gpkg":
        assert f"Layer name: {layer}" in summary
        assert "EPSG" in summary and "4326" in summary


def test_a_csv_out_has_the_rows_without_shapes(analysis_settings: Settings, tmp_path: Path) -> None:
    url = analysis_settings.database_url
    assert url is not None
    path = tmp_path / "ranked.csv"
    done = run("target", "--area", "34", "--level", "district", "--out", str(path), url=url)
    assert done.returncode == 0, done.stderr
    header = path.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert header[:3] == ["code", "rank", "burden"] and "geom" not in header


@pytest.mark.parametrize(
    "args",
    [
        ["target", "--area", "34", "--level", "subdistrict"],
        ["density", "--area", "34"],
        ["overlay", "water-access", "--area", "34"],
        ["hotspots", "--area", "34"],
    ],
)
def test_a_wrong_suffix_is_refused_in_one_line_before_any_work(
    analysis_settings: Settings, analysis_engine: Engine, tmp_path: Path, args: list[str]
) -> None:
    url = analysis_settings.database_url
    assert url is not None
    with analysis_engine.connect() as conn:
        runs = conn.scalar(
            text("SELECT count(*) + (SELECT count(*) FROM hotspot_run) FROM target_run")
        )
    done = run(*args, "--out", str(tmp_path / "out.shp"), url=url)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == [f"error: {tmp_path / 'out.shp'}: write .gpkg, .geojson or .csv (not .shp)"]
    assert not (tmp_path / "out.shp").exists()
    with analysis_engine.connect() as conn:
        after = conn.scalar(
            text("SELECT count(*) + (SELECT count(*) FROM hotspot_run) FROM target_run")
        )
    assert after == runs, "work was done before the suffix was refused"


def test_maps_and_surveys_refuse_other_suffixes(tmp_path: Path) -> None:
    page = run("map", "choropleth", "--out", str(tmp_path / "map.png"))
    assert page.returncode == 2 and "write a .html file" in page.stderr
    survey = run("synth", "--province", "34", "--out", str(tmp_path / "survey.xlsx"))
    assert survey.returncode == 2 and "write a .csv file" in survey.stderr


def test_an_out_into_a_missing_folder_is_refused_in_one_line(
    analysis_settings: Settings, tmp_path: Path
) -> None:
    url = analysis_settings.database_url
    assert url is not None
    missing = tmp_path / "missing"
    for args in (
        ["imports", "quarantine", "1", "--out", str(missing / "q.csv")],
        ["synth", "--province", "34", "--out", str(missing / "s.csv")],
        ["map", "choropleth", "--out", str(missing / "m.html")],
        ["target", "--level", "district", "--area", "34", "--out", str(missing / "t.gpkg")],
    ):
        done = run(*args, url=url)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.strip().splitlines() == [
            f"error: {missing / Path(args[-1]).name}: the folder {missing} does not exist"
        ]
    assert not missing.exists()
