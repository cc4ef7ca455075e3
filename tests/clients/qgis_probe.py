"""What QGIS 3.22 (Debian's python3-qgis) makes of a layer, a project or a server.

Run by the tests with Debian's own Python (``/usr/bin/python3``), not the project's: the QGIS
bindings live there. Prints one JSON document on stdout. Usage::

    qgis_probe.py layer SOURCE [PROVIDER]   # e.g. "file.gpkg|layername=targeting" ogr
    qgis_probe.py project URI              # e.g. "geopackage:/path/file.gpkg?projectName=bamrung"
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# A profile of its own: nothing from (or into) a user's QGIS settings or network cache.
os.environ.setdefault("QGIS_CUSTOM_CONFIG_PATH", tempfile.mkdtemp(prefix="qgis-probe-"))

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsProject,
    QgsVectorLayer,
)


def describe(layer: QgsVectorLayer) -> dict[str, object]:
    """Validity, count, CRS, style and field aliases of a layer as QGIS loaded it."""
    if not layer.isValid():
        return {"valid": False, "error": layer.error().summary()}
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
    raise SystemExit(f"unknown probe {kind!r}")


if __name__ == "__main__":
    app = QgsApplication([], False)
    app.initQgis()
    try:
        result = main(sys.argv[1:])
        result["qgis"] = Qgis.version()
        print(json.dumps(result, ensure_ascii=False))
    finally:
        app.exitQgis()
