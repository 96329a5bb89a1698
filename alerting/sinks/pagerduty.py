"""PagerDuty Events API v2: the pager message is already the envelope; add the routing key."""

from __future__ import annotations

import orjson

from alerting.delivery import HttpRequest
from alerting.pager import PagerMessage, to_json
from alerting.sinks.base import Refused, Sink

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
MAX_BODY = 512 * 1024  # PagerDuty refuses larger events


class PagerDutySink(Sink):
    kind = "pagerduty"

    def __init__(self, name: str, url: str, routing_key: str) -> None:
        super().__init__(name, url)
        self._routing_key = routing_key

    def __repr__(self) -> str:  # never show the routing key
        return f"PagerDutySink({self.name!r}, {self.url!r})"

    def request(self, message: PagerMessage, body: bytes, now_s: float) -> HttpRequest:
        data = orjson.dumps({"routing_key": self._routing_key, **to_json(message)})
        if len(data) > MAX_BODY:
            raise Refused(f"event of {len(data)} bytes is over PagerDuty's {MAX_BODY} byte limit")
        return HttpRequest(self.url, data)
