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


def web_app(bridges: list[Bridge], registry: CollectorRegistry) -> web.Application:
    async def metrics_view(request: web.Request) -> web.Response:
        payload, content_type = render(registry, request.rel_url.query.getall("name[]", []))
        return web.Response(body=payload, content_type=content_type.split(";")[0])

    async def health_view(request: web.Request) -> web.Response:
        healthy = all(b.healthy for b in bridges)
        return web.json_response({"healthy": healthy}, status=200 if healthy else 503)

    async def ready_view(request: web.Request) -> web.Response:
        ready = all(b.ready for b in bridges)
        body = {
            "ready": ready,
            "pending": {name: r.pending for b in bridges for name, r in b.runners.items()},
        }
        return web.json_response(body, status=200 if ready else 503)

    app = web.Application()
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", health_view)
    app.router.add_get("/readyz", ready_view)
    return app


async def serve(settings: BridgeSettings, config: BridgeConfig) -> None:
    shadow_config = config.for_shadow()
    registry = CollectorRegistry()
    names = (*config.sinks, *(shadow_config.sinks if shadow_config else ()))
    metrics = BridgeMetrics.create(registry, names)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with aiohttp.ClientSession() as session:
        transport = AiohttpTransport(session)
        bridges = [Bridge(settings, config, metrics, transport)]
        if shadow_config is not None:
            # Pages kept from on-call reach the page store only, through a bridge of their own.
            bridges.append(Bridge(settings, shadow_config, metrics, transport, shadow=True))
        runner = web.AppRunner(web_app(bridges, registry), access_log=None)
        await runner.setup()
        host, port = settings.web_host, settings.web_port
        await web.TCPSite(runner, host, port).start()
        for bridge in bridges:
            await bridge.start()
            log.info(
                "signalfire bridge: %s -> %s, metrics on http://%s:%d/metrics",
                bridge.topic, ", ".join(bridge.config.sinks), host, port,
            )  # fmt: skip
        consumers = [asyncio.create_task(b.run()) for b in bridges]
        waiter = asyncio.create_task(stop.wait())
        failure: BaseException | None = None
        try:
            await asyncio.wait({*consumers, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            for consume in consumers:
                consume.cancel()
                try:
                    await consume
                except asyncio.CancelledError:
                    pass
                except Exception as exc:  # reported after the sinks drained
                    failure = failure or exc
            queues = [r.queue.join() for b in bridges for r in b.runners.values()]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*queues), DRAIN_S)
            for bridge in bridges:
                await bridge.stop()
            await runner.cleanup()
        if failure is not None:
            raise failure


def run_bridge(settings: BridgeSettings, config: BridgeConfig) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve(settings, config))
    return 0
