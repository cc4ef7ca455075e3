"""Pages rendered from the Jinja2 templates, in the caller's language, with the session's CSRF
token for HTMX to send, under the policy of ``api.security.html_page``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from api.security import html_page
from api.web.words import LANGUAGES, MONTHS, WORDS, names
from layers.access.sessions import csrf_token
from layers.access.users import User
from layers.store.keys import signing_key
from layers.store.settings import Settings

TEMPLATES = Path(__file__).with_name("templates")
STATIC_DIR = Path(__file__).with_name("static")
STATIC_URL = "/static/app"
#: An anonymous visitor's language (a signed-in user's is kept with the user).
LANG_COOKIE = "bamrung_lang"


def environment() -> jinja2.Environment:
    """The templates' environment (made by the app factory, kept in ``app.state``)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = number
    env.filters["pct"] = lambda v: "–" if v is None else f"{v:.1f}%"
    env.globals["STATIC"] = STATIC_URL
    env.globals["query"] = query
    return env


def language(request: Request) -> str:
    """The signed-in user's language, else the visitor's cookie, else Thai."""
    lang = getattr(request.state, "lang", None) or request.cookies.get(LANG_COOKIE, "th")
    return lang if lang in LANGUAGES else "th"


def words(request: Request) -> Callable[..., str]:
    """The pages' words in the caller's language: ``t(key, **values)``."""
    table = WORDS[language(request)]

    def t(key: str, **values: Any) -> str:
        text = table[key]
        return text.format(**values) if values else text

    return t


def page(
    request: Request,
    template: str,
    user: User | None,
    *,
    http_status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """The page ``template`` for ``user`` (None: a visitor)."""
    settings: Settings = request.app.state.settings
    env: jinja2.Environment = request.app.state.templates
    lang = language(request)
    cookie = getattr(request.state, "session", None)
    t = words(request)
    body = env.get_template(template).render(
        request=request,
        user=user,
        lang=lang,
        t=t,
        name=names(lang),
        date=lambda d: be_date(d, lang),
        csrf=csrf_token(signing_key(settings), cookie) if cookie else None,
        path=request.url.path,
        menu=menu(user),
        word_keys=WORDS[lang].keys(),
        category_name=lambda c: _category_name(context.get("categories"), c, lang),
        **context,
    )
    return html_page(body, settings, http_status)


def number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"


def be_date(value: dt.date | dt.datetime | str | None, lang: str) -> str:
    """A date as Thai officials write it: the Buddhist Era in Thai (1 ธ.ค. 2569), the Common
    Era in English (1 Dec 2026); a time of day is kept (Bangkok time)."""
    if value is None:
        return "–"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    clock = ""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone(dt.timedelta(hours=7)))
        clock = f" {value:%H:%M}"
    month = MONTHS[lang][value.month - 1]
    year = value.year + 543 if lang == "th" else value.year
    return f"{value.day} {month} {year}{clock}"


def query(**params: Any) -> str:
    """A query string of the parameters that have a value."""
    given = {k: v for k, v in params.items() if v not in (None, "", False)}
    return "?" + urlencode(given) if given else ""


#: The menu: (address, word, the permission it needs; None: everyone).
MENU = (
    ("/app", "dashboard", "account"),
    ("/app/areas", "areas", "account"),
    ("/app/map", "map", None),
    ("/app/atlas", "atlas", None),
    ("/app/communities", "communities", None),
    ("/app/households", "households", "households:read"),
    ("/app/problems", "problems", "problems:read"),
    ("/app/imports", "imports", "imports:read"),
    ("/app/reports", "reports", "reports:read"),
    ("/app/cases", "cases", "cases:read"),
    ("/app/review", "review", "cases:read"),
    ("/app/admin", "admin", "users:admin"),
)


def menu(user: User | None) -> list[tuple[str, str, bool]]:
    return [
        (href, key, need is None or (user is not None and user.scope.allows(need)))
        for href, key, need in MENU
    ]


def _category_name(taxonomy: list[dict[str, Any]] | None, code: str, lang: str) -> str:
    """A category's name in the page's language (its code when the page has no taxonomy)."""
    for row in taxonomy or ():
        if row["code"] == code:
            return str(row["name_th"] if lang == "th" else row["name_en"])
    return code


def redirect(request: Request, target: str) -> Response:
    """Go to ``target`` after a form: a 303 for the browser's own form, ``HX-Redirect`` for
    HTMX (which would follow a 303 itself and swap the next page into the form's place)."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


class PageRoute(APIRoute):
    """A page's route: a field of a GET form left empty means "not given".

    A browser sends every field of a filter form, ``dimension=`` for "any" among them; typed
    parameters would refuse those. They are dropped from the query string before it is read.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def without_blanks(request: Request) -> Response:
            query: bytes = request.scope.get("query_string", b"")
            pairs = [p for p in query.split(b"&") if b"=" in p and not p.endswith(b"=")]
            scope = {**request.scope, "query_string": b"&".join(pairs)}
            return await handler(Request(scope, request.receive))

        return without_blanks


def pages_router(prefix: str = "") -> APIRouter:
    """The router of one page group: tagged ``pages`` (whose errors are pages too), out of the
    OpenAPI document, its GET forms' empty fields dropped."""
    return APIRouter(prefix=prefix, tags=["pages"], include_in_schema=False, route_class=PageRoute)
