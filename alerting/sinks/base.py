"""What every sink provides: the HTTP request for a message, and optional periodic re-sends."""

from __future__ import annotations

from alerting.delivery import HttpRequest
from alerting.pager import PagerMessage


class Refused(Exception):
    """The sink cannot take this message at all (e.g. too large): dead-letter it, never retry."""


class Sink:
    """A sink turns a pager message into one HTTP request; it holds no connection itself."""

    kind = "sink"
    replays = False  # whether the sink needs `restore` of past messages at start

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url

    def request(self, message: PagerMessage, body: bytes, now_s: float) -> HttpRequest:
        """The request that delivers `message` (`body` is its encoded form, already redacted)."""
        return HttpRequest(self.url, body)

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
