"""The console's `/metrics`: rule quality (alerting.quality) over the lookback window that ends
at each scrape, computed in a thread from the page store. Public, like `/healthz`: it shows
rule ids and counts, never a page's content."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CollectorRegistry

from alerting.console.context import console_of
from alerting.metrics import render
from alerting.quality import RuleQuality, quality_table
from alerting.quality_metrics import QualityMetrics
from alerting.store import Store, StoreError

log = logging.getLogger("signalfire.console")


@dataclass(slots=True)
class Exporter:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    metrics: QualityMetrics = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = QualityMetrics.create(self.registry)


EXPORTER = web.AppKey("quality_exporter", Exporter)


def add_metrics_route(app: web.Application) -> None:
    app[EXPORTER] = Exporter()
    app.router.add_get("/metrics", metrics)


def _table(store: Store, since_ms: int, until_ms: int) -> tuple[RuleQuality, ...]:
    return quality_table(store.triage_facts(since_ms, until_ms))


async def metrics(request: web.Request) -> web.Response:
    console = console_of(request)
    exporter = request.app[EXPORTER]
    lookback_ms = console.config.metrics_lookback_ms
    now = console.now_ms()
    try:
        table = await console.db(_table, console.store, now - lookback_ms, now)
    except StoreError as exc:
        # A failed scrape (up == 0) rather than stale or empty numbers.
        log.warning("metrics: page store unavailable: %s", exc)
        raise web.HTTPServiceUnavailable(text=f"page store unavailable: {exc}") from None
    exporter.metrics.update(table, lookback_ms / 1000)
    payload, content_type = render(exporter.registry)
    return web.Response(body=payload, headers={"Content-Type": content_type})
