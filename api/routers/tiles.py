"""Vector tiles and their TileJSON, inside the caller's scope (``layers.delivery.tiles``).

Areas with counts and rates below zoom 12, points of households or cases from zoom 12 for the
roles that may see them; a tile with positions of households is access-logged. ``ETag`` and
``If-None-Match`` spare a client a tile it has; the public's tiles may be cached a while.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response

from api.auth import requires
from api.deps import SessionDep, SettingsDep, audit
from layers.access.users import User
from layers.delivery import tiles
from layers.delivery.features import data_version

router = APIRouter(prefix="/tiles", tags=["delivery"])
Caller = Annotated[User | None, Depends(requires("public"))]
Tileset = Annotated[str, Path(pattern=r"^[a-z]+$", max_length=24)]
MVT = "application/vnd.mapbox-vector-tile"
#: How long a browser may keep a public tile (the data changes with each import).
PUBLIC_CACHE = "public, max-age=300"


@router.get("/{tileset}.json", summary="A tileset's TileJSON 3.0 for this caller")
def tilejson(request: Request, user: Caller, tileset: Tileset) -> JSONResponse:
    base = f"{request.url.scheme}://{request.url.netloc}"
    return JSONResponse(tiles.tilejson(base, tileset, user.scope if user else None))


@router.get(
    "/{tileset}/{z}/{x}/{y}.mvt",
    summary="One vector tile (Mapbox Vector Tile)",
    responses={200: {"content": {MVT: {}}}, 304: {"description": "the client's copy is current"}},
)
def get_tile(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Caller,
    tileset: Tileset,
    z: Annotated[int, Path(ge=0, le=tiles.MAX_ZOOM)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
) -> Response:
    scope = user.scope if user else None
    conn = session.connection()
    tiles.check(tileset, z, x, y)
    headers = {} if user else {"Cache-Control": PUBLIC_CACHE}
    version = data_version(conn)  # once a request: the ETag and the tile's cache key
    tag = tiles.etag(tileset, z, x, y, scope, version)
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers={"ETag": tag, **headers})
    got = tiles.tile(conn, settings, request.app.state.tiles, tileset, z, x, y, scope, version)
    if user is not None and got.households:
        audit(request, session, user, got.households, ["position"])
    return Response(got.data, media_type=MVT, headers={"ETag": got.etag, **headers})
