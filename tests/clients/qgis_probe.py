"""What QGIS 3.22 (Debian's python3-qgis) makes of a layer, a project or a server.

Run by the tests with Debian's own Python (``/usr/bin/python3``), not the project's: the QGIS
bindings live there. Prints one JSON document on stdout. Usage::

    qgis_probe.py layer SOURCE [PROVIDER]   # e.g. "file.gpkg|layername=targeting" ogr
    qgis_probe.py project URI              # e.g. "geopackage:/path/file.gpkg?projectName=bamrung"
    qgis_probe.py oapif URL TYPENAME       # an OGC API – Features collection, every feature read
    qgis_probe.py vectortile TEMPLATE W S E N  # XYZ vector tiles, drawn over a box (degrees)

A server's credentials come in ``PROBE_AUTH`` (never on the command line), as QGIS keeps them:
an auth configuration of method ``Basic`` ("basic USER TOKEN") or ``OAuth2`` with the Resource
Owner grant ("oauth2 TOKEN_URL CLIENT_ID USER PASSWORD"); none: no credentials.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from urllib.parse import quote

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# A profile of its own: nothing from (or into) a user's QGIS settings or network cache.
PROFILE = tempfile.mkdtemp(prefix="qgis-probe-")
os.environ.setdefault("QGIS_CUSTOM_CONFIG_PATH", PROFILE)
os.environ.setdefault("QGIS_AUTH_DB_DIR_PATH", PROFILE)

from qgis.core import (  # noqa: E402 (after the environment QGIS reads at import)
    Qgis,
    QgsApplication,
    QgsAuthMethodConfig,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeatureRequest,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProject,
    QgsRectangle,
    QgsSettings,
    QgsVectorLayer,
    QgsVectorTileLayer,
)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402


def describe(layer: QgsVectorLayer) -> dict[str, object]:
    """Validity, count, CRS, style and field aliases of a layer as QGIS loaded it."""
    if not layer.isValid():
        return {"valid": False}  # (its error() crashes QGIS 3.22 for a failed OAPIF layer)
    renderer = layer.renderer()
    style: dict[str, object] = {"type": renderer.type() if renderer else None}
    if renderer is not None and renderer.type() == "graduatedSymbol":
        style["attribute"] = renderer.classAttribute()
        style["classes"] = [
            [r.lowerValue(), r.upperValue(), r.symbol().color().name()] for r in renderer.ranges()
        ]
    elif renderer is not None and renderer.type() == "categorizedSymbol":
        style["attribute"] = renderer.classAttribute()
        style["categories"] = {
            str(c.value()): [c.label(), c.symbol().color().name()] for c in renderer.categories()
        }
    fields = layer.fields()
    return {
        "valid": True,
        "count": layer.featureCount(),
        "crs": layer.crs().authid(),
        "geometry": layer.geometryType(),
        "style": style,
        "labels": bool(layer.labelsEnabled()),
        "aliases": {fields[i].name(): layer.attributeAlias(i) for i in range(len(fields))},
    }


def auth_config() -> str | None:
    """The id of an auth configuration made from ``PROBE_AUTH`` (None without credentials)."""
    given = os.environ.get("PROBE_AUTH", "").split()
    if not given:
        return None
    manager = QgsApplication.authManager()
    if not manager.masterPasswordIsSet():
        assert manager.setMasterPassword("probe-master-password", True)
    if given[0] == "basic":
        config = QgsAuthMethodConfig("Basic")
        config.setConfig("username", given[1])
        config.setConfig("password", given[2])
        config.setConfig("realm", "")
    else:
        token_url, client_id, user, password = given[1:5]
        config = QgsAuthMethodConfig("OAuth2")
        config.setConfig(
            "oauth2config",
            json.dumps(
                {
                    "accessMethod": 0,  # the token in an Authorization: Bearer header
                    "clientId": client_id,
                    "clientSecret": "",
                    "configType": 1,
                    "grantFlow": 2,  # Resource Owner
                    "username": user,
                    "password": password,
                    "persistToken": False,
                    "requestTimeout": 30,
                    "scope": "",
                    "tokenUrl": token_url,
                    "version": 1,
                }
            ),
        )
    config.setName("probe")
    stored, config = manager.storeAuthenticationConfig(config)
    assert stored, "QGIS did not store the auth configuration"
    return str(config.id())


def main(argv: list[str]) -> dict[str, object]:
    kind, source = argv[0], argv[1]
    if kind == "layer":
        provider = argv[2] if len(argv) > 2 else "ogr"
        return describe(QgsVectorLayer(source, "probe", provider))
    if kind == "project":
        project = QgsProject.instance()
        read = project.read(source)
        tree = project.layerTreeRoot().findLayers()
        return {
            "read": bool(read),
            "title": project.title(),
            "layers": [{"name": n.name(), **describe(n.layer())} for n in tree],
        }
    if kind == "oapif":
        authcfg = auth_config()
        uri = f"url='{source}' typename='{argv[2]}'" + (f" authcfg={authcfg}" if authcfg else "")
        layer = QgsVectorLayer(uri, "probe", "OAPIF")
        described = describe(layer)
        if described["valid"]:
            ids = [f.id() for f in layer.getFeatures(QgsFeatureRequest().setNoAttributes())]
            described["read"] = len(ids)
            described["fields"] = [f.name() for f in layer.fields()]
        return described
    if kind == "vectortile":
        authcfg = auth_config()
        uri = f"type=xyz&url={quote(source, safe=':/')}&zmin=0&zmax=16"
        layer = QgsVectorTileLayer(uri + (f"&authcfg={authcfg}" if authcfg else ""), "probe")
        if not layer.isValid():
            return {"valid": False}
        return {"valid": True, "painted": painted(layer, [float(v) for v in argv[2:6]])}
    raise SystemExit(f"unknown probe {kind!r}")


def painted(layer: QgsVectorTileLayer, box: list[float]) -> int:
    """How many of 64 × 64 sampled pixels QGIS paints when it draws ``layer`` over ``box``."""
    mercator = QgsCoordinateReferenceSystem("EPSG:3857")
    to_mercator = QgsCoordinateTransform(
        QgsCoordinateReferenceSystem("EPSG:4326"), mercator, QgsProject.instance()
    )
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(mercator)
    settings.setExtent(to_mercator.transformBoundingBox(QgsRectangle(*box)))
    settings.setOutputSize(QSize(256, 256))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    return sum(
        image.pixelColor(i, j).name() != "#ffffff"
        for i in range(0, 256, 4)
        for j in range(0, 256, 4)
    )


if __name__ == "__main__":
    app = QgsApplication([], False)
    app.initQgis()
    # Its own network cache: QGIS keys the cache by address alone, whoever asked.
    QgsSettings().setValue("cache/directory", os.path.join(PROFILE, "cache"))
    result = main(sys.argv[1:])
    result["qgis"] = Qgis.version()
    print(json.dumps(result, ensure_ascii=False), flush=True)
    # Not exitQgis(): QGIS 3.22 may crash tearing down a provider that failed to load.
    os._exit(0)
