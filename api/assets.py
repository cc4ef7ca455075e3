"""Files the application serves and the command line writes: the pinned npm packages, the gallery.

The npm packages (Leaflet and its plugins, Swagger UI) are installed by ``make setup`` from
``api/static/vendor/package-lock.json``; nothing is loaded from a CDN.
"""

from __future__ import annotations

import json
from pathlib import Path

import folium

from geo.errors import UnavailableError
from geo.maps.assets import inline, links, render
from layers.store.settings import Settings

VENDOR_URL = "/static/vendor"
#: The pinned npm packages.
VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor" / "node_modules"
#: What `bamrung gallery` wrote: file name → label. Only these files are served.
MANIFEST = "gallery.json"


def gallery(settings: Settings) -> dict[str, str]:
    """The public maps `bamrung gallery` wrote, file name → label (none: empty)."""
    path = settings.home / "maps" / MANIFEST
    if not path.is_file():
        return {}
    listed: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return listed


def self_contained(m: folium.Map) -> str:
    """The map as one HTML page with the pinned files copied in (it opens offline)."""
    page = render(m, "vendor:")
    require_vendored(links(page), "vendor:")
    return inline(page, "vendor:", VENDOR_DIR)


def require_vendored(urls: list[str], base_url: str) -> None:
    """Refuse, in one line, to copy in files the pinned npm packages do not hold."""
    prefix = base_url.rstrip("/") + "/"
    missing = [
        url[len(prefix) :]
        for url in urls
        if url.startswith(prefix) and not (VENDOR_DIR / url[len(prefix) :]).is_file()
    ]
    if missing:
        raise UnavailableError(
            f"the pinned map files are not installed ({missing[0]} is missing from "
            f"{VENDOR_DIR}): run `make setup`, or `npm ci --prefix {VENDOR_DIR.parent}`"
        )
