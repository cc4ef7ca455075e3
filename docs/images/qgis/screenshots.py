"""The QGIS 3.22 screenshots of docs/qgis.md, made by QGIS itself (Debian's python3-qgis).

Run with Debian's Python, beside a served Bamrung (``make demo``) and a GeoPackage written by
``bamrung export``::

    /usr/bin/python3 docs/images/qgis/screenshots.py http://localhost:8000 ubon.gpkg

It fills in QGIS's own dialogs (the "WFS / OGC API – Features" connection, the OAuth2
sign-in) as an officer would and saves them, and draws the GeoPackage's project as QGIS draws
it. No credentials are saved: the dialogs show placeholders.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
PROFILE = tempfile.mkdtemp(prefix="qgis-shots-")
os.environ.setdefault("QGIS_CUSTOM_CONFIG_PATH", PROFILE)
os.environ.setdefault("QGIS_AUTH_DB_DIR_PATH", PROFILE)

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProject,
)
from qgis.gui import QgsNewHttpConnection  # noqa: E402
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402
from qgis.PyQt.QtWidgets import QComboBox, QLineEdit, QTabWidget  # noqa: E402

HERE = Path(__file__).parent


def connection(app: QgsApplication, url: str) -> None:
    """The connection dialog, filled in: its Basic tab (user name and API token)."""
    dialog = QgsNewHttpConnection(
        None, QgsNewHttpConnection.ConnectionWfs, "qgis/connections-wfs/", "Bamrung"
    )
    dialog.findChild(QLineEdit, "txtName").setText("Bamrung")
    dialog.findChild(QLineEdit, "txtUrl").setText(f"{url}/ogc")
    dialog.findChild(QLineEdit, "txtPageSize").setText("1000")
    dialog.resize(700, 640)
    dialog.show()
    app.processEvents()
    dialog.grab().save(str(HERE / "connection.png"))
    tabs = next(t for t in dialog.findChildren(QTabWidget) if t.count() == 2)
    tabs.setCurrentIndex(1)  # "Basic"
    dialog.findChild(QLineEdit, "txtUserName").setText("district")
    dialog.findChild(QLineEdit, "txtPassword").setText("bmr_your-api-token")
    app.processEvents()
    dialog.grab().save(str(HERE / "connection-basic.png"))


def oauth2(app: QgsApplication, url: str) -> None:
    """The OAuth2 method's form, as an officer fills it: Resource Owner, the token URL."""
    manager = QgsApplication.authManager()
    manager.setMasterPassword("screenshots", True)
    form = manager.authMethodEditWidget("OAuth2", None)
    form.findChild(QComboBox, "cmbbxGrantFlow").setCurrentText("Resource Owner")
    form.findChild(QLineEdit, "leTokenUrl").setText(f"{url}/auth/token")
    form.findChild(QLineEdit, "leClientId").setText("qgis")
    form.findChild(QLineEdit, "leUsername").setText("district")
    form.findChild(QLineEdit, "lePassword").setText("your password")
    form.resize(720, 760)
    form.show()
    app.processEvents()
    form.grab().save(str(HERE / "oauth2.png"))


def project(geopackage: Path) -> None:
    """The GeoPackage's own project, drawn by QGIS: styles, Thai labels, the outline."""
    loaded = QgsProject.instance()
    assert loaded.read(f"geopackage:{geopackage.resolve()}?projectName=bamrung")
    settings = QgsMapSettings()
    layers = [node.layer() for node in loaded.layerTreeRoot().findLayers()]
    settings.setLayers(layers)
    settings.setDestinationCrs(layers[0].crs())
    extent = layers[0].extent()
    extent.scale(1.05)
    settings.setExtent(extent)
    settings.setOutputSize(QSize(900, 900))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(str(HERE / "project.png"))


if __name__ == "__main__":
    qgis = QgsApplication([], True)
    qgis.initQgis()
    connection(qgis, sys.argv[1].rstrip("/"))
    oauth2(qgis, sys.argv[1].rstrip("/"))
    project(Path(sys.argv[2]))
    os._exit(0)  # QGIS 3.22 may crash tearing down its providers
