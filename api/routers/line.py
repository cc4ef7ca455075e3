"""The LINE Messaging API webhook: LINE's platform posts the chat's events, signed with the
channel's secret; each linked citizen's message is answered through the reply sender.

Unlinked senders get instructions, never data. The platform answers 200 once the signature is
good, whatever the messages said, as LINE expects.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request

from api.auth import requires
from api.deps import SessionDep, SettingsDep
from geo.errors import NotFoundError, TooLargeError, UnauthorizedError
from geo.line import REPLY_MAX
from layers.access.users import User
from layers.cases.events import clock
from layers.citizens import line
from layers.store.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/line", tags=["citizens"])
Anyone = Annotated[User | None, Depends(requires("public"))]
#: LINE's own bodies are small; a larger one is not from LINE.
BODY_MAX = 1_000_000


async def raw_body(request: Request) -> bytes:
    """The body exactly as signed (the signature is of its bytes)."""
    return await request.body()


def parsed(settings: Settings, body: str, signature: str) -> list[object]:
    """The webhook's events, once its signature is checked against the channel's secret.

    Raises
    ------
    NotFoundError
        If no LINE channel is configured (the webhook does not exist).
    UnauthorizedError
        If the signature is missing or wrong.
    """
    # line-bot-sdk is imported when LINE calls: it takes over a second, in every worker's start.
    from linebot.v3 import WebhookParser
    from linebot.v3.exceptions import InvalidSignatureError

    if settings.line_channel_secret is None:
        raise NotFoundError("LINE is not configured here")
    parser = WebhookParser(settings.line_channel_secret.get_secret_value())
    try:
        return list(parser.parse(body, signature))
    except InvalidSignatureError:
        raise UnauthorizedError("X-Line-Signature: the signature does not match") from None


def reply(settings: Settings, token: str, texts: list[str]) -> None:
    """Send ``texts`` as the answer to the event whose reply token is ``token``."""
    from linebot.v3.messaging import (
        ApiClient,
        Configuration,
        MessagingApi,
        ReplyMessageRequest,
        TextMessage,
    )

    secret = settings.line_channel_token
    config = Configuration(
        host=settings.line_api_url,
        access_token=None if secret is None else secret.get_secret_value(),
    )
    with ApiClient(config) as client:
        MessagingApi(client).reply_message(
            ReplyMessageRequest(
                reply_token=token,
                messages=[
                    TextMessage(text=t[:REPLY_MAX], quickReply=None, quoteToken=None)
                    for t in texts[:5]
                ],
            )
        )


@router.post("/webhook", summary="LINE's webhook: signed events from the chat")
def webhook(
    session: SessionDep,
    settings: SettingsDep,
    _: Anyone,
    body: Annotated[bytes, Depends(raw_body)],
    signature: Annotated[str, Header(alias="X-Line-Signature", max_length=200)] = "",
) -> dict[str, Any]:
    if len(body) > BODY_MAX:
        raise TooLargeError(f"at most {BODY_MAX} bytes")
    events = parsed(settings, body.decode("utf-8", "replace"), signature)
    now = clock(settings)
    replies: list[tuple[str, list[str]]] = []
    for event in events:
        texts = line.answer(session.connection(), event, now, settings.reports_per_address)
        token = getattr(event, "reply_token", None)
        if texts and token:
            replies.append((token, texts))
    session.commit()
    sent = 0
    for token, texts in replies:
        try:
            reply(settings, token, texts)
            sent += 1
        except Exception:  # LINE unreachable: the report is kept; the chat gets no answer
            log.warning("a LINE reply could not be sent", exc_info=True)
    return {"events": len(events), "replied": sent}
