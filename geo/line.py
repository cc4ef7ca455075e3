"""What a LINE chat with the platform understands, and what it answers, in plain Thai.

A linked citizen types one of a few commands; everything else gets the help. The words are
Thai first with their English beside them, as a chat cannot switch language.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: How long a code to link a LINE account stays good.
LINK_MINUTES = 30
#: A reply is cut to what a LINE text message holds (5,000 characters).
REPLY_MAX = 5000

_LINK = re.compile(r"^\s*(?:ผูก|link)\s+([A-Za-z0-9 -]{10,16})\s*$", re.IGNORECASE)
_STATUS = re.compile(r"^\s*(?:สถานะ|status)\s*$", re.IGNORECASE)
_REPORT = re.compile(r"^\s*(?:แจ้ง|report)(?:\s+(\d{1,2})(?:\s+(.+))?)?\s*$", re.IGNORECASE | re.S)


@dataclass(frozen=True)
class Command:
    """What a message asks: link, status, categories, report, or help.

    ``link`` carries its code; ``report`` the category's number and the description.
    """

    verb: str
    code: str = ""
    number: int = 0
    detail: str = ""


def command(text: str) -> Command:
    """The command a message's text is."""
    if m := _LINK.match(text):
        return Command("link", code=m.group(1))
    if _STATUS.match(text):
        return Command("status")
    if m := _REPORT.match(text):
        if m.group(1) is None or m.group(2) is None:
            return Command("categories")
        return Command("report", number=int(m.group(1)), detail=m.group(2).strip())
    return Command("help")


HELP = (
    "พิมพ์ 'สถานะ' เพื่อดูเรื่องที่แจ้งไว้ หรือ 'แจ้ง' เพื่อแจ้งปัญหาใหม่\n"
    "Type 'status' for your reports, or 'report' to report a problem."
)
UNLINKED = (
    "บัญชี LINE นี้ยังไม่ได้ผูกกับครัวเรือน: เข้าสู่ระบบบำรุงด้วยรหัสจากใบลงทะเบียน "
    "เปิดหน้า 'เรื่องที่ฉันแจ้ง' กด 'ผูกบัญชี LINE' แล้วส่ง 'ผูก รหัส' มาที่นี่\n"
    "This LINE account is not linked to a household: sign in to Bamrung, open 'My reports', "
    "press 'Link LINE' and send 'link CODE' here."
)
LINKED = "ผูกบัญชี LINE กับครัวเรือนแล้ว\nLinked." + "\n" + HELP
BAD_CODE = (
    "รหัสไม่ถูกต้องหรือหมดอายุ กรุณาขอรหัสใหม่จากหน้า 'เรื่องที่ฉันแจ้ง'\n"
    "The code is wrong or expired: get a new one from 'My reports'."
)


def categories_text(categories: Sequence[dict[str, Any]]) -> str:
    """The numbered categories, and how to report one."""
    lines = [f"{n}. {c['name_th']}" for n, c in enumerate(categories, 1)]
    return (
        "พิมพ์ 'แจ้ง เลขหมวด รายละเอียด' เช่น 'แจ้ง 3 น้ำประปาไม่ไหล'\n"
        "Type 'report NUMBER what is wrong'.\n" + "\n".join(lines)
    )


def sent_text(report_id: int, nearby: int) -> str:
    """The receipt of a report, saying how many like it are near."""
    more = f"\nมีเรื่องคล้ายกันใกล้ๆ {nearby} เรื่อง" if nearby else ""
    return (
        f"รับเรื่อง #{report_id} แล้ว เจ้าหน้าที่อำเภอจะตรวจสอบ{more}\n"
        f"Report #{report_id} received: the district team will check it."
    )


def status_text(rows: Sequence[dict[str, Any]], names: dict[str, str]) -> str:
    """A household's reports, newest first, each with its state in words."""
    if not rows:
        return "ยังไม่มีเรื่องที่แจ้ง\nNo reports yet."
    return "\n".join(
        f"#{r['id']} {names.get(r['category'], r['category'])}: {r['shown']}" for r in rows
    )[:REPLY_MAX]
