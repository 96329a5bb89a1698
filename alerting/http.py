"""The real HTTP transport for sinks (aiohttp), the only place the bridge talks HTTP."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import aiohttp

from alerting.delivery import HttpRequest, HttpResponse, TransportError

MAX_ERROR_BODY = 512


def retry_after_seconds(value: str | None, now_s: float) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now_s)
    except (TypeError, ValueError):
        return None


class AiohttpTransport:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def post(self, request: HttpRequest, timeout_s: float) -> HttpResponse:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        headers = {"Content-Type": "application/json", **request.headers}
        try:
            async with self._session.post(
                request.url, data=request.body, headers=headers, timeout=timeout
            ) as response:
                body = await response.content.read(MAX_ERROR_BODY)
                retry_after = retry_after_seconds(response.headers.get("Retry-After"), time.time())
                return HttpResponse(response.status, retry_after, body)
        except TimeoutError:
            raise TransportError(f"timed out after {timeout_s:g}s") from None
        except aiohttp.ClientError as exc:
            raise TransportError(type(exc).__name__) from None
