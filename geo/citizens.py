"""Citizens' own door: enrolment codes and the rules of their reports (pure)."""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Literal, get_args

from geo.errors import InvalidInputError

#: Letters and digits a person reads off a slip without doubt: no 0/O, no 1/I.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
#: 10 characters of 32: 2⁵⁰ codes, against a few guesses an address allows in a window.
CODE_CHARACTERS = 10
#: How near a report of the same category is shown as maybe the same problem (FixMyStreet
#: shows the reports near the pin; a village's houses stand within a few hundred metres).
NEARBY_M = 250
DETAIL_MAX = 2000
#: Reports an account may send in 24 hours (a household has a handful of problems).
REPORTS_PER_DAY = 10
ReportState = Literal["to_verify", "verified", "rejected"]
REPORT_STATES: tuple[ReportState, ...] = get_args(ReportState)
#: A report's state in plain words, for the pages and the LINE chat.
REPORT_STATE_NAMES: dict[str, dict[str, str]] = {
    "th": {
        "to_verify": "รอเจ้าหน้าที่ตรวจสอบ",
        "verified": "ตรวจสอบแล้ว ส่งต่อหน่วยงาน",
        "rejected": "ไม่รับเรื่อง",
    },
    "en": {
        "to_verify": "Waiting for the district team",
        "verified": "Verified, handed on",
        "rejected": "Not taken",
    },
}
#: Where a report says the problem is.
Place = Literal["household", "map"]
PLACES: tuple[Place, ...] = get_args(Place)
# Control characters other than tab and newline.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def new_code() -> str:
    """A fresh enrolment code (shown once; only its digest is kept)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_CHARACTERS))


def shown(code: str) -> str:
    """The code as a slip prints it: two groups of five."""
    half = CODE_CHARACTERS // 2
    return f"{code[:half]}-{code[half:]}"


def normalise_code(text: str) -> str:
    """The code a person typed, without spaces or hyphens, in capitals.

    Raises
    ------
    InvalidInputError
        If it is not ten characters of the slip's alphabet.
    """
    code = re.sub(r"[\s-]", "", text).upper()
    if len(code) != CODE_CHARACTERS or any(c not in CODE_ALPHABET for c in code):
        raise InvalidInputError(
            f"code: {CODE_CHARACTERS} letters and digits, as printed on the slip", field="code"
        )
    return code


def code_digest(code: str) -> str:
    """What is stored of a code: its SHA-256 (a code is random, so no salt is needed)."""
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def check_detail(text: str) -> str:
    """A report's description, trimmed; refused when empty, too long or with control characters."""
    detail = text.strip()
    if not detail:
        raise InvalidInputError("detail: say what the problem is", field="detail")
    if len(detail) > DETAIL_MAX:
        raise InvalidInputError(f"detail: at most {DETAIL_MAX} characters", field="detail")
    if _CONTROL.search(detail):
        raise InvalidInputError("detail: control characters are not allowed", field="detail")
    return detail
