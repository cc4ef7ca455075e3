"""Files as the platform reads and writes them: checksums, and the GeoPackage version it writes."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20
#: GeoPackage 1.2: what GDAL 3.6 and QGIS 3.22 read without a warning (pyogrio's newer GDAL
#: writes 1.4 unless told; in GDAL ``VERSION`` is a dataset option).
GPKG_VERSION = "1.2"


def sha256_of(*paths: Path) -> str:
    """Checksum of the files' bytes, in order (a shapefile is several files)."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def file_checksum(path: Path) -> str:
    """sha256 of a data file; of all the parts of a shapefile."""
    if path.suffix.lower() == ".shp":
        return sha256_of(*[p for p in (path.with_suffix(s) for s in SHAPEFILE_PARTS) if p.exists()])
    return sha256_of(path)
