"""The console process: the page store, the control topic's writer and the web server, until
SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from alerting.console.app import make_app
from alerting.console.config import ConsoleConfig
from alerting.store import open_store
from streams.clients import KafkaClients
from streams.console_settings import ConsoleSettings
from streams.control import ControlWriter

log = logging.getLogger("signalfire.console")


async def serve(settings: ConsoleSettings, config: ConsoleConfig) -> None:
    store = await asyncio.to_thread(open_store, config.store_url)
    writer = ControlWriter(KafkaClients(), settings.kafka.options(), settings.control_topic)
    await writer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(make_app(config, store, writer.publish), access_log=None)
    await runner.setup()
    host, port = settings.listen or (config.host, config.port)
    try:
        await web.TCPSite(runner, host, port).start()
        log.info(
            "signalfire console on http://%s:%d/ (store %s, snoozes to %s)",
            host, port, store.url, settings.control_topic,
        )  # fmt: skip
        await stop.wait()
    finally:
        await runner.cleanup()
        await writer.stop()
        store.close()
