"""The home page: the public map gallery (``bamrung gallery``) and where to go next."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import HTMLResponse

from api.assets import gallery
from api.auth import requires
from api.deps import SettingsDep
from api.security import html_page
from geo.access import PUBLIC
from geo.errors import NotFoundError
from geo.vocab import MAP_KINDS

router = APIRouter(tags=["maps"], dependencies=[Depends(requires(PUBLIC))])


@router.get("/", response_class=HTMLResponse, summary="The home page and the map gallery")
def home(settings: SettingsDep) -> HTMLResponse:
    maps = gallery(settings)
    links = "".join(
        f"<li><a href='/gallery/{html.escape(name)}'>{html.escape(label)}</a></li>"
        for name, label in maps.items()
    )
    live = "".join(f"<li><code>GET /maps/{k}?area=34</code></li>" for k in MAP_KINDS)
    return HTMLResponse(
        "<!doctype html><meta charset='utf-8'><title>Bamrung</title>"
        "<h1>Bamrung</h1><p>Household hardship in Thailand: surveys, analysis, maps.</p>"
        "<h2>Public maps</h2>"
        + (f"<ul>{links}</ul>" if maps else "<p>None yet: run <code>bamrung gallery</code>.</p>")
        + "<h2>Maps for officers</h2><p>With a login token "
        "(<code>Authorization: Bearer</code>):</p>"
        f"<ul>{live}</ul><p>The API: <a href='/docs'>/docs</a></p>"
    )


@router.get("/gallery/{name}", response_class=HTMLResponse, summary="A map of the gallery")
def gallery_map(
    settings: SettingsDep,
    name: Annotated[str, Path(pattern=r"^[\w.-]+\.html$", max_length=120)],
) -> HTMLResponse:
    if name not in gallery(settings):
        raise NotFoundError(f"no map {name!r} in the gallery")
    page = (settings.home / "maps" / name).read_text(encoding="utf-8")
    return html_page(page, settings)
