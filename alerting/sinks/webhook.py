"""A generic webhook: the pager message as JSON, optionally signed with HMAC-SHA256.

The signature covers the timestamp and the body (`<unix seconds>.<body>`), so a receiver can
refuse both tampered and replayed requests:

    X-Signalfire-Timestamp: 1795420800
    X-Signalfire-Signature: sha256=<hex HMAC of b"1795420800." + body>
"""

from __future__ import annotations

import hashlib
import hmac

from alerting.delivery import HttpRequest
from alerting.pager import PagerMessage
from alerting.sinks.base import Sink

TIMESTAMP_HEADER = "X-Signalfire-Timestamp"
SIGNATURE_HEADER = "X-Signalfire-Signature"


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: bytes, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does: constant-time comparison of the expected signature."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


class WebhookSink(Sink):
    kind = "webhook"

    def __init__(self, name: str, url: str, secret: bytes | None = None) -> None:
        super().__init__(name, url)
        self._secret = secret

    def __repr__(self) -> str:  # never show the secret
        return f"WebhookSink({self.name!r}, {self.url!r}, signed={self._secret is not None})"

    def request(self, message: PagerMessage, body: bytes, now_s: float) -> HttpRequest:
        if self._secret is None:
            return HttpRequest(self.url, body)
        timestamp = str(int(now_s))
        headers = {
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(self._secret, timestamp, body),
        }
        return HttpRequest(self.url, body, headers)
