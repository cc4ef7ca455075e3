"""Where a map's page gets Leaflet and its plugins: the application's own pinned copies.

Folium's elements name each script and style sheet they need (``default_js``, ``default_css``);
``localise`` points every one at the vendored npm package file of the same version, and fails on
a name it does not know rather than letting a CDN through. ``inline`` then copies the files into
the page, images in style sheets as data URIs, so one HTML file opens without a network.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from pathlib import Path

import folium
from branca.element import Element

#: Folium's asset names → files under the vendored ``node_modules`` (see package.json).
ASSETS = {
    "leaflet": "leaflet/dist/leaflet.js",
    "leaflet_css": "leaflet/dist/leaflet.css",
    "Control.Fullscreen.js": "leaflet.fullscreen/Control.FullScreen.js",
    "Control.FullScreen.css": "leaflet.fullscreen/Control.FullScreen.css",
    "Leaflet.Search.js": "leaflet-search/dist/leaflet-search.min.js",
    "Leaflet.Search.css": "leaflet-search/dist/leaflet-search.min.css",
    "leaflet-heat.js": "leaflet.heat/dist/leaflet-heat.js",
    "markerclusterjs": "leaflet.markercluster/dist/leaflet.markercluster.js",
    "markerclustercss": "leaflet.markercluster/dist/MarkerCluster.css",
    "markerclusterdefaultcss": "leaflet.markercluster/dist/MarkerCluster.Default.css",
    "sarabun_thai": "@fontsource/sarabun/thai-400.css",
    "sarabun_latin": "@fontsource/sarabun/latin-400.css",
}
#: The Thai web font every map's words are set in, so Thai shows without a system font.
FONT = (("sarabun_thai", ""), ("sarabun_latin", ""))
#: Folium's defaults that these maps do not use (no Bootstrap, jQuery or icon fonts).
UNUSED = frozenset(
    {
        "jquery",
        "bootstrap",
        "awesome_markers",
        "bootstrap_css",
        "glyphicons_css",
        "awesome_markers_font_css",
        "awesome_markers_css",
        "awesome_rotate_css",
    }
)
_TAGS = re.compile(
    r'<script src="(?P<js>[^"]+)"></script>|<link rel="stylesheet" href="(?P<css>[^"]+)"/>'
)
_CSS_URL = re.compile(r"url\((['\"]?)(?P<url>[^)'\"]+)\1\)")


def localise(m: folium.Map, base_url: str) -> folium.Map:
    """Point every script and style sheet of ``m`` (and its children) at ``base_url``.

    The map gains the vendored Thai font too.
    """
    if not any(name == FONT[0][0] for name, _ in m.default_css):
        m.default_css = [*m.default_css, *FONT]
    for element in _walk(m):
        for attribute in ("default_js", "default_css"):
            assets = getattr(element, attribute, None)
            if not assets:
                continue
            local = []
            for name, _ in assets:
                if name in UNUSED:
                    continue
                if name not in ASSETS:
                    # A map element this module does not know yet: a fault of the code, not input.
                    raise RuntimeError(f"map asset {name!r} has no vendored copy")
                local.append((name, f"{base_url.rstrip('/')}/{ASSETS[name]}"))
            setattr(element, attribute, local)
    return m


def render(m: folium.Map, base_url: str, vendor: Path | None = None) -> str:
    """The map's HTML page loading the vendored files from ``base_url``.

    With ``vendor`` (the folder ``base_url`` stands for), a self-contained page with the files
    copied in.
    """
    page = localise(m, base_url).get_root().render()
    return page if vendor is None else inline(page, base_url, vendor)


def inline(page: str, base_url: str, vendor: Path) -> str:
    """The page with each vendored script and style sheet copied in; any other link is refused."""
    prefix = base_url.rstrip("/") + "/"

    def replace(match: re.Match[str]) -> str:
        url = match.group("js") or match.group("css")
        if not url.startswith(prefix):
            raise RuntimeError(f"the page links {url!r}, which is not a vendored file")
        path = vendor / url[len(prefix) :]
        text = path.read_text(encoding="utf-8")
        if match.group("js"):
            return "<script>" + text.replace("</script", "<\\/script") + "</script>"
        return f"<style>{_embed_images(text, path.parent)}</style>"

    return _TAGS.sub(replace, page)


def links(page: str) -> list[str]:
    """The scripts and style sheets a page links to."""
    return [m.group("js") or m.group("css") for m in _TAGS.finditer(page)]


def _embed_images(css: str, folder: Path) -> str:
    def replace(match: re.Match[str]) -> str:
        url = match.group("url")
        if url.startswith(("data:", "#")):
            return match.group(0)
        path = (folder / url.split("?")[0].split("#")[0]).resolve()
        if not path.is_file():
            return match.group(0)
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        data = base64.b64encode(path.read_bytes()).decode()
        return f"url(data:{kind};base64,{data})"

    return _CSS_URL.sub(replace, css)


def _walk(element: Element) -> list[Element]:
    found = [element]
    for child in element._children.values():
        found += _walk(child)
    return found
