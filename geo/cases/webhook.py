"""Webhook messages to offices: signed bodies and the back-off between attempts.

A receiver checks ``X-Bamrung-Signature: t=<unix time>,v1=<hex>``, where ``v1`` is
HMAC-SHA256 of ``"<t>." + body`` under the office's shared secret (the scheme of Stripe's and
GitHub's webhooks), and drops a message whose ``Idempotency-Key`` it has seen: delivery is at
least once.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Bamrung-Signature"
KEY_HEADER = "Idempotency-Key"


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The signature header's value for ``body`` sent at ``timestamp`` (seconds)."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: bytes, body: bytes, header: str, now: float, tolerance_s: float = 300) -> bool:
    """Whether ``header`` is a valid signature of ``body`` under ``secret``.

    It must have been made within ``tolerance_s`` seconds of ``now``: a replayed old message
    fails.
    """
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        sent = int(parts["t"])
        expected = sign(secret, body, sent)
    except (KeyError, ValueError):
        return False
    return abs(now - sent) <= tolerance_s and hmac.compare_digest(expected, header)


def backoff(attempts: int, base_s: float, cap_s: float = 6 * 3600) -> float:
    """Seconds to wait after ``attempts`` failed deliveries: ``base_s`` doubled each time."""
    return float(min(cap_s, base_s * 2 ** max(0, attempts - 1)))
