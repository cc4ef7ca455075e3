"""Delivering the outbox to offices' webhooks: signed, retried with back-off, dead letters.

At least once: a message is marked delivered only after its receiver answered 2xx, so a crash
between the two sends it again, with the same ``Idempotency-Key``. Each message is locked while
it is sent (``SKIP LOCKED``), so two workers never send the same message at once. The HTTP
request itself is the caller's ``send`` (``api.webhooks``): this layer knows no HTTP.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, func, select, update

from geo.cases.webhook import KEY_HEADER, SIGNATURE_HEADER, backoff, sign
from geo.errors import NotFoundError
from geo.intake.personal import keyed_hash
from layers.cases import events
from layers.cases.events import SYSTEM
from layers.store.keys import pii_key
from layers.store.models import Case, Office, Outbox
from layers.store.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Sent:
    """What one delivery run did."""

    delivered: int = 0
    failed: int = 0
    dead: int = 0


#: Sends a body to a URL with headers; answers None when the receiver took it, else why not.
Send = Callable[[str, bytes, dict[str, str]], str | None]


def deliver(engine: Engine, settings: Settings, send: Send, *, limit: int = 100) -> Sent:
    """Send the messages that are due, oldest first, up to ``limit``."""
    sent = Sent()
    key = pii_key(settings)
    for _ in range(limit):
        with engine.begin() as conn:
            message = conn.execute(
                select(Outbox, Office.webhook_url, Case.household_id)
                .join(Office, Office.code == Outbox.office)
                .join(Case, Case.id == Outbox.case_id)
                .where(Outbox.state == "pending", Outbox.next_at <= func.now())
                .order_by(Outbox.id)
                .limit(1)
                .with_for_update(of=Outbox, skip_locked=True)
            ).first()
            if message is None:
                break
            error = _post(send, settings, message, key)
            _record(conn, settings, message, error, sent)
    return sent


def _post(send: Send, settings: Settings, message: Any, key: bytes) -> str | None:
    """Send one signed message; None when the receiver took it, else why not."""
    secret = settings.webhook_secrets.get(message.office)
    if secret is None:
        return f"no shared secret for office {message.office} (BAMRUNG_WEBHOOK_SECRETS)"
    if message.webhook_url is None:
        return f"office {message.office} has no webhook any more"
    ref = keyed_hash(pd.Series([message.household_id]), key).iloc[0]
    body = json.dumps(
        {**message.payload, "household_ref": ref, "key": message.key}, ensure_ascii=False
    ).encode()
    headers = {
        "Content-Type": "application/json",
        KEY_HEADER: message.key,
        SIGNATURE_HEADER: sign(secret.get_secret_value().encode(), body, int(time.time())),
    }
    return send(message.webhook_url, body, headers)


def _record(
    conn: Connection, settings: Settings, message: Any, error: str | None, sent: Sent
) -> None:
    attempts = message.attempts + 1
    now = dt.datetime.now(dt.UTC)
    if error is None:
        conn.execute(
            update(Outbox)
            .where(Outbox.id == message.id)
            .values(state="delivered", attempts=attempts, delivered_at=now, last_error=None)
        )
        state = conn.scalar(select(Case.state).where(Case.id == message.case_id))
        events.record(
            conn,
            SYSTEM,
            message.case_id,
            "deliver",
            state,
            str(state),
            now,
            note=f"delivered to {message.office} (attempt {attempts})",
            details={"outbox": message.id, "event": message.event_id},
        )
        sent.delivered += 1
        return
    dead = attempts >= settings.webhook_attempts
    wait = dt.timedelta(seconds=backoff(attempts, settings.webhook_backoff_s))
    conn.execute(
        update(Outbox)
        .where(Outbox.id == message.id)
        .values(
            state="dead" if dead else "pending",
            attempts=attempts,
            next_at=now + wait,
            last_error=error,
        )
    )
    log.warning(
        "outbox %s to %s: attempt %s failed (%s)%s",
        message.id,
        message.office,
        attempts,
        error,
        ": parked as a dead letter" if dead else "",
    )
    sent.dead += dead
    sent.failed += not dead


def dead_letters(conn: Connection) -> list[dict[str, Any]]:
    """The messages that could not be delivered, newest first."""
    rows = conn.execute(
        select(
            Outbox.id,
            Outbox.key,
            Outbox.case_id,
            Outbox.office,
            Outbox.attempts,
            Outbox.last_error,
            Outbox.next_at,
        )
        .where(Outbox.state == "dead")
        .order_by(Outbox.id.desc())
    ).mappings()
    return [dict(r) for r in rows]


def replay(conn: Connection, ids: list[int] | None = None) -> int:
    """Send dead letters again (all of them, or ``ids``); returns how many were queued."""
    query = update(Outbox).where(Outbox.state == "dead")
    if ids is not None:
        query = query.where(Outbox.id.in_(ids))
    done = conn.execute(
        query.values(state="pending", attempts=0, next_at=func.now()).returning(Outbox.id)
    ).all()
    if ids is not None and len(done) < len(set(ids)):
        raise NotFoundError("some of these messages are not dead letters")
    return len(done)
