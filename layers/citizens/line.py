"""LINE as a door in: linked citizens report problems and ask their state by chat.

A citizen links a LINE account with a short-lived code; ``answer`` says what to reply to each
of the webhook's events (the webhook and the replies are ``api.routers.line``'s).

A message from a LINE account that is not linked gets instructions, never data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from geo import line
from geo.citizens import REPORT_STATE_NAMES, code_digest, new_code, normalise_code, shown
from geo.errors import BamrungError, InvalidInputError
from geo.maps.words import STATE_NAMES
from layers.access.users import User, user_named
from layers.citizens import reports
from layers.store.models import LineLink, LineLinkCode
from layers.survey.taxonomy import categories


def link_code(conn: Connection, user: User, now: dt.datetime) -> tuple[str, dt.datetime]:
    """A new code for ``user`` to send from LINE (earlier ones end), and when it expires."""
    if user.role != "citizen":
        raise InvalidInputError("only a citizen's account is linked to LINE")
    conn.execute(delete(LineLinkCode).where(LineLinkCode.username == user.name))
    code = new_code()
    expires = now + dt.timedelta(minutes=line.LINK_MINUTES)
    conn.execute(
        pg_insert(LineLinkCode).values(
            code_hash=code_digest(code), username=user.name, expires_at=expires
        )
    )
    return shown(code), expires


def answer(conn: Connection, event: object, now: dt.datetime, per_address: int) -> list[str]:
    """What to reply to one event (nothing for those that need no answer).

    A LINE account counts as one address for the limit of reports (``per_address``).
    """
    # Here, not above: line-bot-sdk takes over a second to import, in every worker's start.
    from linebot.v3.webhooks import FollowEvent, MessageEvent, TextMessageContent

    if isinstance(event, FollowEvent):
        return [line.UNLINKED if _linked(conn, _sender(event)) is None else line.HELP]
    if not isinstance(event, MessageEvent) or not isinstance(event.message, TextMessageContent):
        return []
    sender = _sender(event)
    said = line.command(event.message.text)
    if said.verb == "link":
        return [line.LINKED if _link(conn, sender, said.code, now) else line.BAD_CODE]
    user = _linked(conn, sender)
    if user is None:
        return [line.UNLINKED]
    taxonomy = categories(conn)
    if said.verb == "status":
        return [_status(conn, user, taxonomy)]
    if said.verb == "categories":
        return [line.categories_text(taxonomy)]
    if said.verb == "report":
        if not 1 <= said.number <= len(taxonomy):
            return [line.categories_text(taxonomy)]
        try:
            with conn.begin_nested():
                made = reports.submit(
                    conn, user,
                    reports.NewReport(taxonomy[said.number - 1]["code"], said.detail),
                    now, address=f"line:{sender}", per_address=per_address,
                )  # fmt: skip
        except BamrungError as exc:
            return [f"ส่งเรื่องไม่ได้: {exc}\nNot sent: {exc}"]
        return [line.sent_text(int(made["id"]), len(made["nearby"]))]
    return [line.HELP]


def _sender(event: object) -> str:
    return str(getattr(getattr(event, "source", None), "user_id", "") or "")


def _link(conn: Connection, sender: str, code: str, now: dt.datetime) -> bool:
    if not sender:
        return False
    try:
        digest = code_digest(normalise_code(code))
    except InvalidInputError:
        return False
    name = conn.scalar(
        delete(LineLinkCode)
        .where(LineLinkCode.code_hash == digest, LineLinkCode.expires_at > now)
        .returning(LineLinkCode.username)
    )
    if name is None:
        return False
    # One LINE account per citizen account, and the other way round: a new link replaces both.
    conn.execute(delete(LineLink).where(LineLink.username == name))
    stmt = pg_insert(LineLink).values(line_user_id=sender, username=name, linked_at=now)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[LineLink.line_user_id],
            set_={"username": name, "linked_at": now},
        )
    )
    return True


def _linked(conn: Connection, sender: str) -> User | None:
    name = conn.scalar(select(LineLink.username).where(LineLink.line_user_id == sender))
    return None if name is None else user_named(conn, name)


def _status(conn: Connection, user: User, taxonomy: Sequence[dict[str, object]]) -> str:
    rows, total = reports.listed(conn, user.scope, limit=10, offset=0)
    if total > 10:
        rows, _ = reports.listed(conn, user.scope, limit=10, offset=total - 10)
    shown_rows = []
    for r in reversed(rows):
        case = reports.get(conn, user.scope, int(r["id"]))["case"]
        words = STATE_NAMES["th"][case["state"]] if case else REPORT_STATE_NAMES["th"][r["state"]]
        shown_rows.append({**r, "shown": words})
    names = {str(c["code"]): str(c["name_th"]) for c in taxonomy}
    return line.status_text(shown_rows, names)
