"""PagerDuty Events API v2: the pager message is already the envelope; add the routing key.

With incidents (the bridge's `incidents:`), PagerDuty hears of incidents, not of pages: every
page of an incident is an event under the incident's id as `dedup_key`, so PagerDuty opens one
alert for the first and appends the others to it (no new notification), and the incident's
resolve resolves it. A page's own resolve while others of its incident still fire is not sent.
A page alone (a resolve whose incident the bridge no longer holds) goes as it came.
"""

from __future__ import annotations

import orjson

from alerting.delivery import Answer, Attempt, HttpRequest, Transport
from alerting.pager import PagerMessage, to_json
from alerting.sinks.base import Refused, Sink

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
MAX_BODY = 512 * 1024  # PagerDuty refuses larger events
# A page's status in its incident -> the event PagerDuty gets under the incident's id.
INCIDENT_ACTIONS = {
    "opened": "trigger",
    "joined": "trigger",
    "absorbed": "trigger",
    "updated": "trigger",
    "resolved": "resolve",
}


class PagerDutySink(Sink):
    kind = "pagerduty"

    def __init__(self, name: str, url: str, routing_key: str) -> None:
        super().__init__(name, url)
        self._routing_key = routing_key

    def __repr__(self) -> str:  # never show the routing key
        return f"PagerDutySink({self.name!r}, {self.url!r})"

    def attempt(
        self, message: PagerMessage, body: bytes, now_s: float, transport: Transport
    ) -> Attempt:
        incident = message.payload.custom_details.incident
        if incident is not None and incident.status == "page_resolved":
            return _nothing_to_send
        return super().attempt(message, body, now_s, transport)

    def request(self, message: PagerMessage, body: bytes, now_s: float) -> HttpRequest:
        event = to_json(message)
        incident = message.payload.custom_details.incident
        if incident is not None and incident.status in INCIDENT_ACTIONS:
            event["dedup_key"] = incident.id
            event["event_action"] = INCIDENT_ACTIONS[incident.status]
        data = orjson.dumps({"routing_key": self._routing_key, **event})
        if len(data) > MAX_BODY:
            raise Refused(f"event of {len(data)} bytes is over PagerDuty's {MAX_BODY} byte limit")
        return HttpRequest(self.url, data)


async def _nothing_to_send(timeout_s: float) -> Answer:
    # The incident still fires: PagerDuty hears of its resolve when its last page resolves.
    return Answer("delivered")
