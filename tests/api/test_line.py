"""The LINE webhook as LINE's platform calls it: events signed with the channel's secret
(HMAC-SHA256, base64, in ``X-Line-Signature``), answered through the real reply sender of
``line-bot-sdk``, pointed at a local recorder of LINE's reply API (LINE cannot be reached
here). Checked against the recorded replies and SQL written here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from layers.store.settings import Settings
from tests.api.test_citizens import enrolled, home, signed_in
from tests.factories import engine_for, serve

__all__ = ["home"]  # the fixture: a household of the officer's subdistrict
SECRET = "channel-secret-for-the-tests"
TOKEN = "channel-access-token"
LINE_USER = "U4af4980629a0b3f1c2d3e4f5a6b7c8d9"


class LineApi(BaseHTTPRequestHandler):
    """LINE's reply endpoint, recording what it is sent."""

    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append({"path": self.path, "auth": self.headers["Authorization"], "body": body})
        # As LINE answers a reply: the messages it sent.
        sent = [{"id": str(n), "quoteToken": f"q{n}"} for n, _ in enumerate(body["messages"])]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"sentMessages": sent}).encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def line_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), LineApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def webhook(analysis_settings: Settings, line_api: str) -> Iterator[httpx.Client]:
    settings = analysis_settings.model_copy(
        update={
            "line_channel_secret": SecretStr(SECRET),
            "line_channel_token": SecretStr(TOKEN),
            "line_api_url": line_api,
        }
    )
    with serve(settings) as http:
        yield http


def said(text_: str, n: int) -> bytes:
    event = {
        "type": "message",
        "message": {"type": "text", "id": str(n), "text": text_, "quoteToken": f"q{n}"},
        "timestamp": 1_700_000_000_000 + n,
        "source": {"type": "user", "userId": LINE_USER},
        "replyToken": f"reply-{n}",
        "mode": "active",
        "webhookEventId": f"01H{n:023d}",
        "deliveryContext": {"isRedelivery": False},
    }
    return json.dumps({"destination": "Ubot", "events": [event]}, ensure_ascii=False).encode()


def signature(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def chat(webhook: httpx.Client, message: str, n: int) -> str:
    """Send ``message`` as the LINE user; the text LINE was asked to reply with."""
    before = len(LineApi.seen)
    body = said(message, n)
    answer = webhook.post(
        "/line/webhook",
        content=body,
        headers={"X-Line-Signature": signature(body), "Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"events": 1, "replied": 1}
    sent = LineApi.seen[before:]
    assert len(sent) == 1 and sent[0]["path"] == "/v2/bot/message/reply"
    assert sent[0]["auth"] == f"Bearer {TOKEN}"
    assert sent[0]["body"]["replyToken"] == f"reply-{n}"
    return "\n".join(m["text"] for m in sent[0]["body"]["messages"])


def test_a_signed_message_from_a_linked_citizen_reports_and_asks_in_thai(
    analysis_settings: Settings,
    world: dict[str, Any],
    webhook: httpx.Client,
    home: dict[str, Any],
) -> None:
    # A forged or missing signature: refused, nothing answered.
    body = said("สถานะ", 1)
    before = len(LineApi.seen)
    for bad in (signature(body, "another-secret"), ""):
        refused = webhook.post("/line/webhook", content=body, headers={"X-Line-Signature": bad})
        assert refused.status_code == 401, refused.text
    assert len(LineApi.seen) == before

    # Not linked yet: instructions, never data.
    assert "ยังไม่ได้ผูก" in chat(webhook, "สถานะ", 2)

    with serve(analysis_settings, world["tokens"]["officer"]) as officer:
        enrolled(officer, webhook, home["id"], "somchai.line")
    citizen = signed_in(webhook, "somchai.line")
    page = webhook.post("/app/reports/line", headers=citizen)
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    code = re.search(r"ผูก ([A-Z2-9]{5}-[A-Z2-9]{5})", page.text)
    assert code is not None, page.text[-800:]
    assert "ผูกบัญชี LINE กับครัวเรือนแล้ว" in chat(webhook, f"ผูก {code.group(1)}", 3)
    assert "ไม่ถูกต้อง" in chat(webhook, f"ผูก {code.group(1)}", 4)  # a code links once

    listed = chat(webhook, "แจ้ง", 5)
    engine = engine_for(str(analysis_settings.database_url))
    with engine.connect() as conn:
        taxonomy = conn.execute(
            text("SELECT code, name_th FROM problem_category ORDER BY dimension, code")
        ).all()
    number = [c.code for c in taxonomy].index(home["category"]) + 1
    assert f"{number}. {taxonomy[number - 1].name_th}" in listed
    receipt = chat(webhook, f"แจ้ง {number} น้ำประปาไม่ไหลมาสามวันแล้ว", 6)
    report_id = int(re.search(r"#(\d+)", receipt).group(1))  # type: ignore[union-attr]
    with engine.connect() as conn:
        kept = conn.execute(
            text(
                "SELECT household_id, category, detail, reporter, address, state "
                "FROM citizen_report WHERE id = :i"
            ),
            {"i": report_id},
        ).one()
    engine.dispose()
    assert tuple(kept) == (
        home["id"], home["category"], "น้ำประปาไม่ไหลมาสามวันแล้ว", "somchai.line",
        f"line:{LINE_USER}", "to_verify",
    )  # fmt: skip
    status = chat(webhook, "สถานะ", 7)
    assert f"#{report_id} {taxonomy[number - 1].name_th}: รอเจ้าหน้าที่ตรวจสอบ" in status
    assert home["id"] not in status  # the household's id never goes to the chat
    assert "พิมพ์" in chat(webhook, "สวัสดีครับ", 8)  # anything else: the help
