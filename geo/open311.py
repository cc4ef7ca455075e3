"""Open311 GeoReport v2 vocabulary: statuses, the service list, and its JSON and XML bodies.

A request is a citizen's report with its case. GeoReport has two statuses, ``open`` and
``closed``; ``status_notes`` says which closed it is, so "closed" never passes for "solved":
a rejected report, a case verified solved by the household, or one closed unsolved.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = ("json", "xml")
MEDIA = {"json": "application/json", "xml": "text/xml; charset=utf-8"}
#: Case states that end a request, with what ``status_notes`` says of each (Thai, English).
CLOSED = {
    "verified": ("ครัวเรือนยืนยันว่าแก้ไขแล้ว", "solved: the household confirmed it"),
    "closed_unsolved": ("ปิดเรื่องโดยยังไม่ได้แก้ไข", "closed unsolved"),
}
NOTES = {
    "to_verify": ("รอทีมอำเภอตรวจสอบ", "waiting for the district team to verify it"),
    "rejected": ("ไม่รับเป็นปัญหา", "not taken as a problem"),
    "verified": ("ส่งต่อหน่วยงานแล้ว", "handed to the office that holds the authority"),
    "resolved": (
        "หน่วยงานแจ้งว่าแก้ไขแล้ว รอครัวเรือนยืนยัน",
        "the office says it is solved; waiting for the household to confirm",
    ),
}


def status(report_state: str, case_state: str | None) -> str:
    """``open`` or ``closed``: closed once rejected, verified solved, or closed unsolved."""
    if report_state == "rejected" or case_state in CLOSED:
        return "closed"
    return "open"


def status_notes(
    report_state: str, case_state: str | None, reason: str | None, lang: str = "th"
) -> str:
    """What the status means, in words: never "closed" alone."""
    pick = 0 if lang == "th" else 1
    if case_state in CLOSED:
        return CLOSED[case_state][pick]
    if report_state == "rejected":
        return f"{NOTES['rejected'][pick]}: {reason}" if reason else NOTES["rejected"][pick]
    if case_state == "resolved":
        return NOTES["resolved"][pick]
    return NOTES["verified" if report_state == "verified" else "to_verify"][pick]


def body(items: Sequence[Mapping[str, Any]], fmt: str, root: str, item: str) -> str:
    """A list of flat records as GeoReport's JSON (a list) or XML (``<root><item>…``)."""
    if fmt == "json":
        return json.dumps(list(items), ensure_ascii=False, default=str)
    top = ET.Element(root)
    for record in items:
        element = ET.SubElement(top, item)
        for key, value in record.items():
            child = ET.SubElement(element, key)
            if isinstance(value, bool):
                child.text = "true" if value else "false"
            elif value is not None:
                child.text = str(value)
    return '<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="unicode")


def errors(code: int, description: str, fmt: str) -> str:
    """GeoReport's error document."""
    return body([{"code": code, "description": description}], fmt, "errors", "error")
