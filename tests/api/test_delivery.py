"""Layers delivered as files (``bamrung export``, ``GET /exports/{layer}``), read back by the
tools officers use: Debian's GDAL 3.6 (``ogrinfo``, ``validate_gpkg.py``) and QGIS 3.22
(``python3-qgis``, run by ``tests/clients/qgis_probe.py``), with oracles written here."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mapclassify
import numpy as np
import pyogrio
import pytest
from branca.utilities import color_brewer
from sqlalchemy import text

from layers.delivery import catalog
from layers.store.settings import Settings
from tests.factories import engine_for, run, serve

DEBIAN_PYTHON = "/usr/bin/python3"
PROBE = Path(__file__).parents[1] / "clients" / "qgis_probe.py"
VALIDATE_GPKG = Path("/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py")
DISTRICT = "3419"
#: What QGIS must show for these fields (the words officers read).
THAI = {"score": "คะแนนความสำคัญ", "code": "รหัสพื้นที่", "problems": "จำนวนปัญหา"}


def qgis(*args: str) -> dict[str, Any]:
    """What QGIS 3.22 makes of a layer or project (``tests/clients/qgis_probe.py``)."""
    try:
        done = subprocess.run(
            [DEBIAN_PYTHON, str(PROBE), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except FileNotFoundError:
        pytest.fail("no Debian Python: `make test` installs python3-qgis")
    if "No module named 'qgis'" in done.stderr:
        pytest.fail("no QGIS bindings: `make test` installs Debian's python3-qgis")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def gdal_capabilities(path: Path, layer: str) -> dict[str, bool]:
    """Debian GDAL's answer to whether a layer filters by space fast (has a spatial index)."""
    code = (
        "import json, sys\nfrom osgeo import ogr\nds = ogr.Open(sys.argv[1])\n"
        "lay = ds.GetLayerByName(sys.argv[2])\n"
        "print(json.dumps({'fast_spatial_filter': bool(lay.TestCapability(ogr.OLCFastSpatialFilter))}))"
    )
    done = subprocess.run(
        [DEBIAN_PYTHON, "-c", code, str(path), layer], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def count(url: str, sql: str, **params: Any) -> int:
    engine = engine_for(url)
    with engine.connect() as conn:
        found = int(conn.scalar(text(sql), params) or 0)
    engine.dispose()
    return found


@pytest.fixture(scope="module")
def client(analysis_settings: Settings, world: dict[str, Any]) -> Iterator[httpx.Client]:
    with serve(analysis_settings) as http:
        yield http


def as_user(client: httpx.Client | None, world: dict[str, Any], name: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {world['tokens'][name]}"} if name else {}


def test_a_geopackage_opens_in_qgis_styled_with_thai_names_and_its_project(
    analysis_settings: Settings, tmp_path: Path
) -> None:
    url = analysis_settings.database_url
    assert url is not None
    path = tmp_path / "ubon.gpkg"
    done = run(
        "export", "targeting", "households", "--area", DISTRICT, "--level", "subdistrict",
        "--out", str(path), url=url, BAMRUNG_HOME=str(analysis_settings.home),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    # GeoPackage 1.2, valid by GDAL's own validator, and opened by GDAL 3.6 without a warning.
    validated = subprocess.run(
        [DEBIAN_PYTHON, str(VALIDATE_GPKG), str(path)], capture_output=True, text=True, check=False
    )
    assert validated.returncode == 0 and not validated.stdout + validated.stderr, validated
    info = subprocess.run(
        ["ogrinfo", "-ro", "-so", "-al", str(path)], capture_output=True, text=True
    )
    assert info.returncode == 0 and not info.stderr.strip(), info.stderr
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # "GPKG"
        assert db.execute("PRAGMA user_version").fetchone()[0] == 10200
        rtrees = {r[0] for r in db.execute("SELECT table_name FROM gpkg_extensions "
                                           "WHERE extension_name = 'gpkg_rtree_index'")}  # fmt: skip
        assert rtrees == {"targeting", "households", "outline"}
        styles = db.execute(
            "SELECT f_table_name, useAsDefault, update_time, styleSLD FROM layer_styles"
        ).fetchall()
        titles = dict(db.execute(
            "SELECT column_name, name FROM gpkg_data_columns WHERE table_name = 'targeting'"
        ).fetchall())  # fmt: skip
        metadata = " ".join(r[0] for r in db.execute("SELECT metadata FROM gpkg_metadata"))
    assert {s[0] for s in styles} == {"targeting", "households", "outline"}
    for _, default, updated, sld in styles:
        assert default == 1
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", updated), updated
        assert "StyledLayerDescriptor" in sld
    assert titles["score"] == THAI["score"]
    for word in (f"{DISTRICT}", "2567", "admin", "CC BY-IGO 3.0", "generated_at"):
        assert word in metadata

    # QGIS: every layer valid, counted as the database counts, styled as the web map classes.
    # The subdistricts ranked: those surveyed (a ranking has nothing to rank elsewhere).
    subdistricts = count(url, "SELECT count(DISTINCT subdistrict_code) FROM household "
                              "WHERE round = 2567 AND subdistrict_code LIKE :a",
                         a=DISTRICT + "%")  # fmt: skip
    with_problems = count(
        url,
        "SELECT count(DISTINCT household_id) FROM problem WHERE round = 2567 "
        "AND subdistrict_code LIKE :a",
        a=DISTRICT + "%",
    )
    households = count(url, "SELECT count(*) FROM household WHERE round = 2567 "
                            "AND subdistrict_code LIKE :a", a=DISTRICT + "%")  # fmt: skip
    targeting = qgis("layer", f"{path}|layername=targeting")
    assert targeting["valid"] and targeting["count"] == subdistricts
    assert targeting["crs"] == "EPSG:4326"
    assert {k: targeting["aliases"][k] for k in THAI} == THAI
    assert targeting["labels"]
    style = targeting["style"]
    assert style["type"] == "graduatedSymbol" and style["attribute"] == "score"
    scores = pyogrio.read_dataframe(path, layer="targeting")["score"].to_numpy()
    oracle = mapclassify.Quantiles(scores, k=5)
    assert np.allclose([c[1] for c in style["classes"]], oracle.bins)
    assert [c[2] for c in style["classes"]] == color_brewer("YlOrRd", n=5)
    homes = qgis("layer", f"{path}|layername=households")
    assert homes["valid"] and homes["count"] == households and homes["geometry"] == 0
    assert households > with_problems > 0

    project = qgis("project", f"geopackage:{path}?projectName=bamrung")
    assert project["read"]
    names = [layer["name"] for layer in project["layers"]]
    assert names[0] == "ขอบเขตพื้นที่"  # the outline, on top
    assert all(layer["valid"] for layer in project["layers"]), project
    assert {layer["style"]["type"] for layer in project["layers"]} == {
        "singleSymbol",
        "graduatedSymbol",
    }


def test_a_shapefile_zip_has_every_part_short_unique_names_and_a_style_qgis_reads(
    client: httpx.Client, world: dict[str, Any], tmp_path: Path, analysis_settings: Settings
) -> None:
    answer = client.get(
        "/exports/rollup",
        params={"format": "shp", "area": "34", "level": "district", "also": "outline"},
        headers=as_user(client, world, "governor"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert "rollup-34.zip" in answer.headers["content-disposition"]
    assert answer.headers["cache-control"] == "private, no-store"
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path)
    for layer in ("rollup", "outline"):
        assert {f"{layer}{s}" for s in (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qml")} <= names
    assert (tmp_path / "rollup.cpg").read_text().strip().upper() in ("UTF-8", "UTF8")
    fields = pyogrio.read_info(tmp_path / "rollup.shp")["fields"].tolist()
    assert all(len(f) <= 10 for f in fields)
    assert len({f.lower() for f in fields}) == len(fields)
    assert "households" in fields and "househol_2" in fields  # ..._with_problems, cut
    url = analysis_settings.database_url
    assert url is not None
    districts = count(url, "SELECT count(*) FROM admin_unit WHERE level = 'district' "
                           "AND code LIKE '34%'")  # fmt: skip
    read = qgis("layer", str(tmp_path / "rollup.shp"))
    assert read["valid"] and read["count"] == districts
    assert read["style"]["type"] == "graduatedSymbol"
    assert read["style"]["attribute"] == "problems_p"  # the short name of problems_per_1000
    assert read["aliases"]["problems_p"] == "ปัญหาต่อ 1,000 ครัวเรือน"
    assert read["aliases"]["househol_2"] == "ครัวเรือนที่มีปัญหา"
    frame = pyogrio.read_dataframe(tmp_path / "rollup.shp")
    assert frame["name_th"].str.contains("เมืองอุบลราชธานี").any()  # Thai survives the .dbf


def test_flatgeobuf_geojson_and_csv_and_their_crs(
    client: httpx.Client, world: dict[str, Any], tmp_path: Path
) -> None:
    headers = as_user(client, world, "admin")
    params = {"area": "34", "level": "district"}
    fgb = client.get("/exports/targeting", params={**params, "format": "fgb", "crs": "utm"},
                     headers=headers)  # fmt: skip
    assert fgb.status_code == 200, fgb.text
    (tmp_path / "t.fgb").write_bytes(fgb.content)
    assert pyogrio.read_info(tmp_path / "t.fgb")["crs"] == "EPSG:32648"  # Ubon: east of 102°E
    assert gdal_capabilities(tmp_path / "t.fgb", "targeting")["fast_spatial_filter"]
    style = client.get("/exports/targeting/style", params=params, headers=headers)
    (tmp_path / "t.qml").write_text(style.text, "utf-8")
    beside = qgis("layer", str(tmp_path / "t.fgb"))
    assert (
        beside["style"]["type"] == "graduatedSymbol" and beside["aliases"]["score"] == THAI["score"]
    )

    geojson = client.get("/exports/rollup", params={**params, "format": "geojson"},
                         headers=headers)  # fmt: skip
    assert geojson.status_code == 200
    document = geojson.json()
    assert "crs" not in document and len(document["features"]) > 0
    lon, lat = document["features"][0]["geometry"]["coordinates"][0][0][0]
    assert 97 < lon < 106 and 5 < lat < 21
    refused = client.get("/exports/rollup", params={**params, "format": "geojson", "crs": "32647"},
                         headers=headers)  # fmt: skip
    assert refused.status_code == 422 and "RFC 7946" in refused.text

    csv = client.get("/exports/rollup", params={**params, "format": "csv", "crs": "32648"},
                     headers=headers)  # fmt: skip
    assert csv.status_code == 200
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].split(",")[-1] == "wkt"
    x = float(re.search(r"MULTIPOLYGON \(\(\(([\d.]+) ", lines[1]).group(1))  # type: ignore[union-attr]
    assert 100_000 < x < 900_000  # metres of UTM 48N, not degrees
    one_layer = client.get("/exports/rollup", params={**params, "format": "fgb", "also": "outline"},
                           headers=headers)  # fmt: skip
    assert one_layer.status_code == 422 and "one layer" in one_layer.text


def test_exports_keep_to_the_scope_log_households_and_hide_small_counts(
    client: httpx.Client, world: dict[str, Any], analysis_settings: Settings, tmp_path: Path
) -> None:
    url = analysis_settings.database_url
    assert url is not None
    own = world["areas"]["own"]
    # Another province: not found; the whole country: the governor's own province.
    governor = as_user(client, world, "governor")
    assert client.get("/exports/rollup", params={"area": "10", "level": "district"},
                      headers=governor).status_code == 404  # fmt: skip
    wide = client.get("/exports/outline", params={"format": "geojson"}, headers=governor)
    assert [f["properties"]["code"] for f in wide.json()["features"]] == ["34"]

    # Households: the district officer's own, logged; the analyst's pseudonymised, no place.
    before = count(url, "SELECT count(*) FROM access_log")
    officer = client.get("/exports/households", params={"area": own[:4], "format": "csv"},
                         headers=as_user(client, world, "district_officer"))  # fmt: skip
    assert officer.status_code == 200
    rows = officer.content.decode("utf-8-sig").splitlines()
    expected = count(url, "SELECT count(*) FROM household WHERE round = 2567 "
                          "AND subdistrict_code LIKE :a", a=own[:4] + "%")  # fmt: skip
    assert len(rows) - 1 == expected and rows[0].startswith("household_id,")
    logged = count(
        url,
        "SELECT cardinality(households) FROM access_log WHERE path = '/exports/households' "
        "ORDER BY id DESC LIMIT 1",
    )
    assert logged == expected and count(url, "SELECT count(*) FROM access_log") == before + 1
    analyst = client.get("/exports/households", params={"area": own[:4], "format": "csv"},
                         headers=as_user(client, world, "analyst"))  # fmt: skip
    header = analyst.content.decode("utf-8-sig").splitlines()[0].split(",")
    assert header[0] == "household_ref" and "household_id" not in header and "wkt" not in header

    # The public: aggregates only, with the public API's own suppressed figures.
    assert client.get("/exports/households").status_code == 401
    public = client.get("/exports/rollup", params={"area": "34", "level": "subdistrict",
                                                   "format": "geojson"})  # fmt: skip
    assert public.status_code == 200
    published = client.get("/stats", params={"area": "34", "level": "subdistrict"}).json()
    figures = {r["code"]: r["households"] for r in published}
    exported = {f["properties"]["code"]: f["properties"]["households"]
                for f in public.json()["features"]}  # fmt: skip
    assert exported == figures and None in exported.values()


def test_an_export_over_the_limit_is_refused_before_anything_is_written(
    analysis_settings: Settings, world: dict[str, Any]
) -> None:
    small = Settings(**{**analysis_settings.model_dump(), "export_max_features": 10})
    with serve(small, world["tokens"]["admin"]) as http:
        answer = http.get("/exports/rollup", params={"area": "34", "level": "district"})
    assert answer.status_code == 413 and "BAMRUNG_EXPORT_MAX_FEATURES" in answer.text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rollup", "--out", "x.geojson", "--crs", "32647"], "RFC 7946"),
        (["rollup", "outline", "--out", "x.fgb"], "holds one layer"),
        (["rollup", "--out", "x.gpkg", "--crs", "3857"], "crs: '3857'"),
        (["nothing", "--out", "x.gpkg"], "no layer 'nothing'"),
        (["rollup", "--out", "x.txt"], "give --format"),
    ],
)
def test_the_export_command_refuses_what_it_cannot_write_in_one_line(
    analysis_settings: Settings, tmp_path: Path, args: list[str], message: str
) -> None:
    args = [str(tmp_path / a) if a.startswith("x.") else a for a in args]
    done = run("export", *args, "--area", "34", url=analysis_settings.database_url)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not list(tmp_path.iterdir())


def test_a_large_export_runs_as_a_job_on_the_queue_and_is_logged_when_downloaded(
    analysis_settings: Settings, world: dict[str, Any], tmp_path: Path
) -> None:
    url = analysis_settings.database_url
    assert url is not None
    district = world["areas"]["own"][:4]
    small = Settings(**{**analysis_settings.model_dump(), "export_max_features": 10})
    officer = as_user(None, world, "district_officer")
    with serve(small) as http:
        refused = http.get("/exports/households", params={"area": district}, headers=officer)
        assert refused.status_code == 413 and "as a job" in refused.text
        started = http.post(
            "/exports/jobs",
            json={"layers": ["households"], "area": district, "format": "gpkg"},
            headers=officer,
        )
        assert started.status_code == 202, started.text
        where = started.headers["location"]
        assert http.get(where, headers=officer).json()["state"] == "queued"
        other = as_user(None, world, "governor")
        assert http.get(where, headers=other).status_code == 404  # someone else's job
        assert http.post("/exports/jobs", json={"layers": ["households"]}).status_code == 401
        assert http.post("/exports/jobs", json={"layers": ["cases"], "format": "fgb",
                                                "crs": "32647", "area": district},
                         headers=officer).status_code == 202  # fmt: skip
        # The real worker, on the real queue: it runs what is queued and stops.
        done = run("worker", "--once", url=url, BAMRUNG_HOME=str(analysis_settings.home))
        assert done.returncode == 0, done.stderr
        status = http.get(where, headers=officer).json()
        assert status["state"] == "done" and status["progress"] == 100, status
        expected = count(url, "SELECT count(*) FROM household WHERE round = 2567 "
                              "AND subdistrict_code LIKE :a", a=district + "%")  # fmt: skip
        assert status["features"] == expected + 1  # and the district's outline
        before = count(url, "SELECT count(*) FROM access_log WHERE path LIKE '/exports/jobs/%'")
        file = http.get(status["download"], headers=officer)
        assert file.status_code == 200
        assert f"households-{district}.gpkg" in file.headers["content-disposition"]
        (tmp_path / "job.gpkg").write_bytes(file.content)
        assert len(pyogrio.read_dataframe(tmp_path / "job.gpkg", layer="households")) == expected
        assert count(url, "SELECT count(*) FROM access_log WHERE path LIKE '/exports/jobs/%'") == (
            before + 1
        )
        listed = http.get("/exports/jobs", headers=officer).json()
        assert [j["state"] for j in listed[:2]] == ["done", "done"]


@pytest.mark.parametrize("layer", sorted(set(catalog.LAYERS) - {"targeting", "households"}))
def test_every_layer_exports_as_a_geopackage_gdal_opens_without_a_warning(
    analysis_settings: Settings, tmp_path: Path, layer: str
) -> None:
    url = analysis_settings.database_url
    assert url is not None
    home = str(analysis_settings.home)
    if layer == "hotspots":  # what the layer shows must exist first
        made = run("hotspots", "--area", "34", "--permutations", "99", url=url, BAMRUNG_HOME=home)
        assert made.returncode == 0, made.stderr
    path = tmp_path / f"{layer}.gpkg"
    done = run("export", layer, "--area", "34", "--level", "district", "--out", str(path),
               url=url, BAMRUNG_HOME=home)  # fmt: skip
    assert done.returncode == 0, done.stderr
    info = subprocess.run(["ogrinfo", "-ro", "-so", str(path), layer], capture_output=True,
                          text=True)  # fmt: skip
    assert info.returncode == 0 and not info.stderr.strip(), info.stderr
    features = int(re.search(r"Feature Count: (\d+)", info.stdout).group(1))  # type: ignore[union-attr]
    if layer == "cases":  # as many as were referred by the tests before (shared data: not here)
        # Community issues' cases have no household to place them: the layer leaves them out.
        assert features == count(url, "SELECT count(*) FROM problem_case "
                                      "WHERE subdistrict_code LIKE '34%' "
                                      "AND household_id IS NOT NULL")  # fmt: skip
    else:
        assert features > 0
