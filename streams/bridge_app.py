"""The bridge process: web server (/metrics, /healthz, /readyz), signals, graceful stop.

The bridge is a small asyncio program (one consumer, a few HTTP clients), so it runs on
aiohttp directly rather than inside a Faust app. On SIGTERM/SIGINT it stops reading, gives the
sinks a few seconds to finish what they hold, commits what is done, and exits; anything not
finished is delivered again by the next bridge from the committed offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from alerting.bridge_config import BridgeConfig
from alerting.bridge_metrics import BridgeMetrics
from alerting.http import AiohttpTransport
from alerting.metrics import render
from streams.bridge import Bridge
from streams.bridge_settings import BridgeSettings

log = logging.getLogger("signalfire.bridge")
DRAIN_S = 10.0


def web_app(bridge: Bridge, registry: CollectorRegistry) -> web.Application:
    async def metrics_view(request: web.Request) -> web.Response:
        payload, content_type = render(registry)
        return web.Response(body=payload, content_type=content_type.split(";")[0])

    async def health_view(request: web.Request) -> web.Response:
        return web.json_response({"healthy": bridge.healthy}, status=200 if bridge.healthy else 503)

    async def ready_view(request: web.Request) -> web.Response:
        body = {
            "ready": bridge.ready,
            "pending": {name: r.pending for name, r in bridge.runners.items()},
        }
        return web.json_response(body, status=200 if bridge.ready else 503)

    app = web.Application()
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", health_view)
    app.router.add_get("/readyz", ready_view)
    return app


async def serve(settings: BridgeSettings, config: BridgeConfig) -> None:
    registry = CollectorRegistry()
    metrics = BridgeMetrics.create(registry, tuple(config.sinks))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with aiohttp.ClientSession() as session:
        bridge = Bridge(settings, config, metrics, AiohttpTransport(session))
        runner = web.AppRunner(web_app(bridge, registry), access_log=None)
        await runner.setup()
        host, port = settings.web_host, settings.web_port
        await web.TCPSite(runner, host, port).start()
        await bridge.start()
        log.info(
            "signalfire bridge: %s -> %s, metrics on http://%s:%d/metrics",
            settings.pager_topic, ", ".join(config.sinks), host, port,
        )  # fmt: skip
        consume = asyncio.create_task(bridge.run())
        waiter = asyncio.create_task(stop.wait())
        failure: BaseException | None = None
        try:
            await asyncio.wait({consume, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            consume.cancel()
            waiter.cancel()
            try:
                await consume
            except asyncio.CancelledError:
                pass
            except Exception as exc:  # reported after the sinks drained
                failure = exc
            queues = [r.queue.join() for r in bridge.runners.values()]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*queues), DRAIN_S)
            await bridge.stop()
            await runner.cleanup()
        if failure is not None:
            raise failure


def run_bridge(settings: BridgeSettings, config: BridgeConfig) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve(settings, config))
    return 0
