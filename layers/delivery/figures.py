"""Public pages of case figures: by agency, as a chart and a table, for the gallery."""

from __future__ import annotations

import base64
import html

import pandas as pd
from sqlalchemy import Connection, select

from geo.access import Scope
from geo.disclosure import suppress
from geo.maps.charts import kpi_chart
from geo.maps.words import SOURCES
from layers.cases import events, queries
from layers.store.models import Agency
from layers.store.settings import Settings

WORDS = {
    "th": {
        "title": "ผลการส่งต่อเรื่องให้หน่วยงาน",
        "agency": "หน่วยงาน",
        "received": "รับเรื่อง",
        "acknowledged_on_time_pct": "รับทราบตามกำหนด (%)",
        "median_days_to_acknowledge": "วันทำการถึงรับทราบ (มัธยฐาน)",
        "median_days_to_resolve": "วันทำการถึงแก้ไข (มัธยฐาน)",
        "overdue": "เกินกำหนด",
        "rejected": "ส่งคืน",
        "rerouted": "ส่งต่อใหม่",
        "solved_by_agency": "หน่วยงานแก้ไข",
        "solved_by_household": "ครัวเรือนแก้ไขเอง",
    },
    "en": {
        "title": "Cases handed to agencies",
        "agency": "Agency",
        "received": "Received",
        "acknowledged_on_time_pct": "Acknowledged on time (%)",
        "median_days_to_acknowledge": "Working days to acknowledge (median)",
        "median_days_to_resolve": "Working days to resolve (median)",
        "overdue": "Overdue",
        "rejected": "Rejected",
        "rerouted": "Re-routed",
        "solved_by_agency": "Solved by the agency",
        "solved_by_household": "Solved by the household",
    },
}
COLUMNS = tuple(k for k in WORDS["en"] if k not in ("title", "agency"))
#: Figures that are no counts of cases (shares, medians): shown as they are.
PLAIN = ("acknowledged_on_time_pct", "median_days_to_acknowledge", "median_days_to_resolve")


def kpi_page(conn: Connection, settings: Settings, *, area: str, lang: str) -> str:
    """The figures of an area's cases by agency: a chart and a table (aggregates only)."""
    words = WORDS[lang]
    rows = queries.kpis(
        conn,
        Scope(role="analyst", area=area, pseudonymised=True),
        by="agency",
        today=events.today(events.clock(settings)),
    )
    counted = [c for c in COLUMNS if c not in PLAIN]
    if rows:
        # Small counts hidden, as in the public roll-ups.
        frame = pd.DataFrame(rows)
        hidden = suppress(frame[counted], {})
        rows = [
            {**row, **{c: None for c in counted if hidden.iloc[i][c]}} for i, row in enumerate(rows)
        ]
    name = Agency.name_th if lang == "th" else Agency.name_en
    names = {code: shown for code, shown in conn.execute(select(Agency.code, name))}
    # The chart names agencies by code: its fonts have no Thai glyphs.
    image = kpi_chart(rows, WORDS["en"], WORDS["en"]["title"]) if rows else b""
    head = "".join(f"<th>{html.escape(words[c])}</th>" for c in COLUMNS)
    body = "".join(
        "<tr><td>"
        + html.escape(f"{names.get(r['key'], r['key'])} ({r['key']})")
        + "</td>"
        + "".join(f"<td>{'' if r[c] is None else format(r[c], ',')}</td>" for c in COLUMNS)
        + "</tr>"
        for r in rows
    )
    chart = (
        f"<img alt='{html.escape(words['title'])}' src='data:image/png;base64,"
        f"{base64.b64encode(image).decode()}'>"
        if image
        else ""
    )
    sources = "<br>".join(html.escape(s) for s in SOURCES[lang])
    return (
        f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'>"
        f"<title>{html.escape(words['title'])}</title><style>body{{font:14px sans-serif;"
        "margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;"
        "padding:4px 8px;text-align:right}}td:first-child{{text-align:left}}</style></head>"
        f"<body><h1>{html.escape(words['title'])} · {html.escape(area or 'ประเทศไทย')}</h1>"
        f"{chart}<table><tr><th>{html.escape(words['agency'])}</th>{head}</tr>{body}</table>"
        f"<p><small>{sources}</small></p></body></html>"
    )
