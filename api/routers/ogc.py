"""OGC API – Features at ``/ogc``: what QGIS, GDAL and owslib read, inside the caller's scope.

Parts 1 (core, GeoJSON, HTML, OpenAPI), 2 (CRS84, EPSG:4326, 32647, 32648 by ``crs`` and
``bbox-crs``) and 3 (queryables, equality filters on them, CQL2 text ``filter``). Anonymous
callers see the public aggregates and the boundaries; every items page with household data is
access-logged, and authenticated answers are ``private, no-store`` (``api.security``).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from api.auth import requires
from api.deps import SessionDep, SettingsDep, audit
from api.web.render import page
from geo import ogc
from geo.errors import InvalidInputError, NotFoundError
from layers.access.users import User
from layers.delivery import features

#: A parameter a client got wrong: OGC API's exception document (``api.errors``).
EXCEPTION = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "description": {"type": "string"}},
    "required": ["code", "description"],
}
router = APIRouter(
    prefix="/ogc",
    tags=["ogc"],
    responses={
        400: {
            "description": "a parameter with a bad value",
            "content": {"application/json": {"schema": EXCEPTION}},
        }
    },
)
Caller = Annotated[User | None, Depends(requires("public"))]
FormatQuery = Annotated[Literal["json", "html"], Query(description="json (default) or html")]
CollectionId = Annotated[str, Path(max_length=48, pattern=r"^[a-z_]+$")]
#: The items parameters that are not properties to filter by.
RESERVED = frozenset(
    {
        "f",
        "limit",
        "offset",
        "bbox",
        "bbox-crs",
        "crs",
        "properties",
        "filter",
        "filter-lang",
        "filter-crs",
    }
)
GEOJSON = "application/geo+json"
#: The answers of routes with ``f``: JSON, or an HTML page.
JSON_OR_HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "text/html": {}}}
}
REFERENCE = re.compile(r"#/components/schemas/([\w.-]+)")
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}/ogc"


def _link(href: str, rel: str, kind: str, title: str = "") -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": kind}
    if title:
        link["title"] = title
    return link


def _answer(
    request: Request,
    user: User | None,
    f: str,
    body: dict[str, Any],
    media: str = "application/json",
) -> Response:
    if f == "html":
        return page(request, "ogc.html", user, document=body, title=body.get("title", "OGC API"))
    return JSONResponse(body, media_type=media)


def _lang(request: Request) -> str:
    return "en" if request.query_params.get("lang") == "en" else "th"


@router.get("", summary="OGC API – Features: the landing page", responses=JSON_OR_HTML)
def landing(request: Request, user: Caller, f: FormatQuery = "json") -> Response:
    base = _base(request)
    body = {
        "title": "Bamrung OGC API – Features",
        "description": "Household hardship layers of Thailand, inside the caller's scope "
        "(synthetic survey data).",
        "links": [
            _link(f"{base}?f=json", "self", "application/json", "this document"),
            _link(f"{base}?f=html", "alternate", "text/html", "this document as HTML"),
            _link(f"{base}/api", "service-desc", OPENAPI, "the API definition"),
            _link(f"{base}/conformance", "conformance", "application/json", "conformance"),
            _link(f"{base}/collections", "data", "application/json", "the collections"),
        ],
    }
    return _answer(request, user, f, body)


@router.get("/conformance", summary="The conformance classes served", responses=JSON_OR_HTML)
def conformance(request: Request, user: Caller, f: FormatQuery = "json") -> Response:
    return _answer(request, user, f, {"title": "Conformance", "conformsTo": list(ogc.CONFORMANCE)})


@router.get(
    "/api",
    summary="The API definition (OpenAPI 3) of the OGC routes",
    responses={200: {"content": {OPENAPI: {}}}},
)
def definition(request: Request, settings: SettingsDep, user: Caller) -> Response:
    document = copy.deepcopy(request.app.openapi())
    paths = {p: v for p, v in document["paths"].items() if p.startswith("/ogc")}
    for path in paths.values():
        for parameter in path.get("get", {}).get("parameters", []):
            if parameter["name"] == "limit":
                # Clients size their pages by it (QGIS: the maximum); a larger limit is served
                # as this many, so the route itself does not refuse it.
                parameter["schema"]["maximum"] = settings.ogc_page_max
    schemas = document.get("components", {}).get("schemas", {})
    used: set[str] = set()
    found = set(REFERENCE.findall(json.dumps(paths)))
    while found - used:  # the schemas these paths refer to, and those they refer to
        used |= found
        found |= set(REFERENCE.findall(json.dumps([schemas[name] for name in used])))
    components = {"schemas": {name: schemas[name] for name in sorted(used)}}
    return JSONResponse({**document, "paths": paths, "components": components}, media_type=OPENAPI)


def _collection(request: Request, found: features.Collection, lang: str) -> dict[str, Any]:
    base = f"{_base(request)}/collections/{found.id}"
    return {
        "id": found.id,
        "title": found.title[lang],
        "description": found.title["en" if lang == "th" else "th"],
        "itemType": "feature",
        "crs": list(ogc.CRS_URIS),
        "storageCrs": ogc.CRS84,
        "extent": {"spatial": {"bbox": [[97.3, 5.6, 105.7, 20.5]], "crs": ogc.CRS84}},
        "links": [
            _link(base, "self", "application/json"),
            _link(f"{base}/items?f=json", "items", GEOJSON, "the features"),
            _link(f"{base}/items?f=html", "items", "text/html", "the features as HTML"),
            _link(
                f"{base}/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "application/schema+json",
                "what a filter may name",
            ),
        ],
    }


@router.get("/collections", summary="The collections the caller may read", responses=JSON_OR_HTML)
def list_collections(
    request: Request, session: SessionDep, user: Caller, f: FormatQuery = "json"
) -> Response:
    lang = _lang(request)
    scope = user.scope if user else None
    body = {
        "title": "Collections",
        "links": [_link(f"{_base(request)}/collections", "self", "application/json")],
        "collections": [
            _collection(request, c, lang) for c in features.collections(session.connection(), scope)
        ],
        "crs": list(ogc.CRS_URIS),
    }
    return _answer(request, user, f, body)


@router.get("/collections/{collection_id}", summary="One collection", responses=JSON_OR_HTML)
def get_collection(
    request: Request, user: Caller, collection_id: CollectionId, f: FormatQuery = "json"
) -> Response:
    found = features.collection(collection_id, user.scope if user else None)
    return _answer(request, user, f, _collection(request, found, _lang(request)))


@router.get(
    "/collections/{collection_id}/queryables",
    summary="What a filter may name",
    responses={200: {"content": {"application/schema+json": {}, "text/html": {}}}},
)
def get_queryables(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Caller,
    collection_id: CollectionId,
    f: FormatQuery = "json",
) -> Response:
    scope = user.scope if user else None
    found = features.collection(collection_id, scope)
    known = features.queryables(
        session.connection(), found, scope, settings, request.app.state.features
    )
    body = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{_base(request)}/collections/{found.id}/queryables",
        "type": "object",
        "title": found.title[_lang(request)],
        "properties": {
            "geometry": {"format": f"geometry-{found.geometry}"},
            **{name: {"title": name, **kind} for name, kind in known.items()},
        },
        "additionalProperties": False,
    }
    return _answer(request, user, f, body, "application/schema+json")


def items_query(
    request: Request,
    settings: SettingsDep,
    limit: Annotated[
        int, Query(ge=1, description="features a page (at most BAMRUNG_OGC_PAGE_MAX)")
    ] = 10,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    bbox: Annotated[str | None, Query(max_length=200, description="west,south,east,north")] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", max_length=100)] = None,
    crs: Annotated[str | None, Query(max_length=100, description="the CRS of the answer")] = None,
    properties: Annotated[
        str | None, Query(max_length=1000, description="names, by commas")
    ] = None,
    filter: Annotated[str | None, Query(max_length=4000, description="CQL2 text")] = None,
    filter_lang: Annotated[str | None, Query(alias="filter-lang", max_length=20)] = None,
    filter_crs: Annotated[str | None, Query(alias="filter-crs", max_length=100)] = None,
    datetime: Annotated[str | None, Query(max_length=60, description="not served")] = None,
) -> features.ItemsQuery:
    if filter_crs not in (None, ogc.CRS84):
        raise InvalidInputError(f"filter-crs: only {ogc.CRS84} is served")
    if datetime is not None:
        # Ignoring it would answer every feature as if filtered (QGIS sends it for dates).
        raise InvalidInputError(
            "datetime: no collection has a temporal extent; filter dates with "
            "`filter=opened_on >= DATE('2024-01-01')`"
        )
    epsg, lat_lon = ogc.crs_of(crs)
    equals = tuple(
        (name, value) for name, value in request.query_params.items() if name not in RESERVED
    )
    return features.ItemsQuery(
        limit=min(limit, settings.ogc_page_max),
        offset=offset,
        bbox=ogc.parse_bbox(bbox, bbox_crs),
        crs=epsg,
        lat_lon=lat_lon,
        properties=tuple(p.strip() for p in properties.split(",") if p.strip())
        if properties
        else None,
        equals=equals,
        filter=filter,
        filter_lang=filter_lang,
    )


ItemsDep = Annotated[features.ItemsQuery, Depends(items_query)]


@router.get(
    "/collections/{collection_id}/items",
    summary="A page of features",
    description="`limit`/`offset` paging with `next` links; `bbox` (and `bbox-crs`), `crs`, "
    "`properties`, a property's name as an equality filter, CQL2 text in `filter`.",
    responses={200: {"content": {GEOJSON: {}, "text/html": {}}}},
)
def get_items(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Caller,
    collection_id: CollectionId,
    query: ItemsDep,
    f: FormatQuery = "json",
) -> Response:
    return _items(request, session, settings, user, collection_id, query, f, None)


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    summary="One feature",
    responses={200: {"content": {GEOJSON: {}}}},
)
def get_item(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Caller,
    collection_id: CollectionId,
    feature_id: Annotated[str, Path(max_length=80)],
    query: ItemsDep,
    f: FormatQuery = "json",
) -> Response:
    return _items(request, session, settings, user, collection_id, query, f, feature_id)


def _items(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: User | None,
    collection_id: str,
    query: features.ItemsQuery,
    f: str,
    feature_id: str | None,
) -> Response:
    scope = user.scope if user else None
    found = features.collection(collection_id, scope)
    conn = session.connection()
    cache = request.app.state.features
    if feature_id is not None:
        query = features.ItemsQuery(**{**query.__dict__, "feature": feature_id, "offset": 0})
    got = features.items(conn, settings, cache, found, scope, query)
    if user is not None and got.households:
        audit(request, session, user, got.households, sorted(query.properties or ["*"]))
    headers = {"Content-Crs": f"<{ogc.crs_uri(query.crs, query.lat_lon)}>"}
    if feature_id is not None:
        if got.returned == 0:
            raise NotFoundError("no such feature in this collection")  # the id is not echoed
        return Response(got.features, media_type=GEOJSON, headers=headers)
    links = _page_links(request, query, got)
    if f == "html":
        document = json.loads(f'{{"type": "FeatureCollection", "features": [{got.features}]}}')
        return page(
            request,
            "ogc.html",
            user,
            document={
                "title": found.title[_lang(request)],
                "links": links,
                "features": document["features"],
            },
            title=found.title[_lang(request)],
        )
    matched = "" if got.matched is None else f', "numberMatched": {got.matched}'
    body = (
        f'{{"type": "FeatureCollection", "features": [{got.features}], '
        f'"numberReturned": {got.returned}{matched}, "links": {json.dumps(links)}}}'
    )
    return Response(body, media_type=GEOJSON, headers=headers)


def _page_links(
    request: Request, query: features.ItemsQuery, got: features.Page
) -> list[dict[str, str]]:
    url = request.url
    links = [_link(str(url), "self", GEOJSON)]
    more = got.returned == query.limit and (
        got.matched is None or got.estimated or query.offset + got.returned < got.matched
    )
    if more:
        params = dict(request.query_params)
        params["offset"] = str(query.offset + got.returned)
        params["limit"] = str(query.limit)
        links.append(_link(str(url.include_query_params(**params)), "next", GEOJSON, "next page"))
    if query.offset > 0:
        params = dict(request.query_params)
        params["offset"] = str(max(0, query.offset - query.limit))
        links.append(
            _link(str(url.include_query_params(**params)), "prev", GEOJSON, "previous page")
        )
    return links
