"""The Faust application that hosts the worker: lifecycle, signals and the web server.

Faust runs the process (start, graceful stop on SIGINT/SIGTERM) and serves `/metrics`,
`/healthz` and `/readyz` from its web server. The hot path does not go through Faust agents:
at ~100 us per message they would cap the worker at a few thousand events per second, so a
`Pipeline` service consumes record batches with aiokafka and feeds the engine per batch.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import tempfile
from pathlib import Path
from typing import NoReturn

import faust
import mode
from faust.auth import SASLCredentials, SSLCredentials
from faust.web import Request, Response, View
from prometheus_client import CollectorRegistry

from alerting.metrics import Metrics, render
from signalfire.gc_tuning import tune_gc
from signalfire.rules.model import Rule
from streams.config import WorkerConfig
from streams.kafka_config import KafkaSettings
from streams.pipeline import Pipeline

log = logging.getLogger("signalfire.worker")


def build_app(
    config: WorkerConfig, rules: list[Rule], registry: CollectorRegistry | None = None
) -> tuple[faust.App, Pipeline]:
    registry = registry or CollectorRegistry()
    metrics = Metrics.create(registry)
    pipeline = Pipeline(config, rules, metrics)
    app = faust.App(
        f"{config.group_id}-worker",
        broker=[f"kafka://{b.strip()}" for b in config.kafka.brokers.split(",")],
        broker_credentials=_credentials(config.kafka),
        web_host=config.web_host,
        web_port=config.web_port,
        web_bind=config.web_host,
        autodiscover=False,
        topic_partitions=1,
        store="memory://",
        # Faust keeps nothing there with memory tables, but creates the directory: not in the
        # working directory (a checkout, a read-only image).
        datadir=str(Path(tempfile.gettempdir()) / f"signalfire-{config.group_id}-worker"),
        # Faust's own consumer group only hosts the process; a crashed member must not hold
        # the restart back for Faust's default 60 s session.
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0,
        consumer_group_instance_id=config.instance_id or None,
    )

    @app.page("/metrics")
    async def metrics_view(web: View, request: Request) -> Response:
        pipeline.refresh_gauges()
        payload, content_type = render(registry, request.rel_url.query.getall("name[]", []))
        return web.bytes(payload, content_type=content_type.split(";")[0])

    @app.page("/healthz")
    async def health_view(web: View, request: Request) -> Response:
        status = 200 if pipeline.healthy else 503
        return web.json({"healthy": pipeline.healthy}, status=status)

    @app.page("/readyz")
    async def ready_view(web: View, request: Request) -> Response:
        body = {"ready": pipeline.ready, **pipeline.processor.stats()}
        return web.json(body, status=200 if pipeline.ready else 503)

    @app.service
    class Worker(mode.Service):
        async def on_start(self) -> None:
            await pipeline.start()
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, _request_reload, pipeline)
            log.info(
                "signalfire worker: %d rule(s), consuming %s, metrics on http://%s:%d/metrics",
                len(rules), ", ".join(pipeline.processor.topics()), config.web_host,
                config.web_port,
            )  # fmt: skip

        @mode.Service.task
        async def _consume(self) -> None:
            await pipeline.run()

        async def on_stop(self) -> None:
            await pipeline.stop()

    return app, pipeline


def _request_reload(pipeline: Pipeline) -> None:
    pipeline.reload.requested = True


def _credentials(kafka: KafkaSettings) -> SASLCredentials | SSLCredentials | None:
    if kafka.security_protocol.startswith("SASL"):
        return SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password,
            mechanism=kafka.sasl_mechanism,
            ssl_context=kafka.ssl_context(),
        )
    if kafka.security_protocol == "SSL":
        return SSLCredentials(kafka.ssl_context())
    return None


def run_worker(config: WorkerConfig, rules: list[Rule]) -> NoReturn:
    """Run until SIGINT/SIGTERM; Faust exits the process when the worker stops."""
    tune_gc()
    app, _ = build_app(config, rules)
    faust.Worker(app, loglevel="INFO", quiet=True).execute_from_commandline()
