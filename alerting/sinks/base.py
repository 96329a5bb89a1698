"""What every sink provides: an attempt at delivering a message (for most sinks, the HTTP
request for it), and optional periodic re-sends."""

from __future__ import annotations

from alerting.bridge_metrics import BridgeMetrics
from alerting.delivery import Attempt, HttpRequest, Transport, http_attempt
from alerting.pager import PagerMessage


class Refused(Exception):
    """The sink cannot take this message at all (e.g. too large): dead-letter it, never retry."""


class Sink:
    """A sink turns a pager message into one HTTP request; it holds no connection itself.

    A sink that is not an HTTP endpoint (the page store) overrides `attempt` instead, and
    `open`/`close` for what it holds; the bridge's queue, retries and dead letters are the same.
    """

    kind = "sink"
    replays = False  # whether the sink needs `restore` of past messages at start

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url

    def request(self, message: PagerMessage, body: bytes, now_s: float) -> HttpRequest:
        """The request that delivers `message` (`body` is its encoded form, already redacted)."""
        return HttpRequest(self.url, body)

    def attempt(
        self, message: PagerMessage, body: bytes, now_s: float, transport: Transport
    ) -> Attempt:
        """One try at delivering `message`, repeated by the bridge's retry policy.

        Raises Refused, before any try, for a message the sink can never take."""
        return http_attempt(self.request(message, body, now_s), transport)

    async def open(self, metrics: BridgeMetrics) -> None:
        """Called as the bridge starts, before any message; raises to stop it starting."""

    async def close(self) -> None:
        """Called as the bridge stops, after the last message."""

    def delivered(self, message: PagerMessage, now_s: float) -> None:
        """Called once the message is delivered; sinks with client-side state update it here."""

    def restore(self, message: PagerMessage) -> None:
        """Replay of a message delivered before this process started
        (see `streams.bridge_restore`)."""

    def resends(self, now_s: float) -> list[HttpRequest]:
        """Requests the sink wants sent again now (Alertmanager's re-sends); usually none."""
        return []

    def tracked(self) -> int:
        """Alerts held for re-sending."""
        return 0
