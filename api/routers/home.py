"""The home page: the public map gallery (``bamrung gallery``) and where to go next."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import FileResponse, HTMLResponse

from api.auth import requires
from api.deps import SettingsDep
from geo.access import PUBLIC
from geo.errors import NotFoundError
from geo.webmap import KINDS

router = APIRouter(tags=["maps"], dependencies=[Depends(requires(PUBLIC))])


@router.get("/", response_class=HTMLResponse, summary="The home page and the map gallery")
def home(settings: SettingsDep) -> HTMLResponse:
    folder = settings.home / "maps"
    names = sorted(p.name for p in folder.glob("*.html") if p.name != "index.html")
    gallery = "".join(
        f"<li><a href='/gallery/{html.escape(n)}'>{html.escape(n.removesuffix('.html'))}</a></li>"
        for n in names
    )
    live = "".join(f"<li><code>GET /maps/{k}?area=34</code></li>" for k in KINDS)
    return HTMLResponse(
        "<!doctype html><meta charset='utf-8'><title>Bamrung</title>"
        "<h1>Bamrung</h1><p>Household hardship in Thailand: surveys, analysis, maps.</p>"
        "<h2>Public maps</h2>"
        + (f"<ul>{gallery}</ul>" if names else "<p>None yet: run <code>bamrung gallery</code>.</p>")
        + "<h2>Maps for officers</h2><p>With a login token "
        "(<code>Authorization: Bearer</code>):</p>"
        f"<ul>{live}</ul><p>The API: <a href='/docs'>/docs</a></p>"
    )


@router.get("/gallery/{name}", response_class=FileResponse, summary="A map of the gallery")
def gallery_map(
    settings: SettingsDep,
    name: Annotated[str, Path(pattern=r"^[\w.-]+\.html$", max_length=120)],
) -> FileResponse:
    path = settings.home / "maps" / name
    if name.startswith(".") or not path.is_file():
        raise NotFoundError(f"no map {name!r} in the gallery")
    return FileResponse(path, media_type="text/html")
