"""The `store` sink: every pager message it is routed into the page store (`alerting.store`).

It is a sink like the HTTP ones: the bridge queues its messages, retries a failed write with
the sink's backoff, dead-letters what it refuses or runs out of retries on, and commits no
offset past a message it has not written. A write is one transaction in the database, on a
thread of the sink's own (database drivers block), so the event loop never waits on it.

A message whose fields the store cannot take (a timestamp that is no time) is refused before
anything is written and goes to the dead-letter topic. A database that is down, locked or
newer than this code is a failed try: retried, the page kept. Writes are idempotent, so a
retry after a timeout, a restart or a replayed topic never stores a page twice.

The store is opened (and migrated) as the bridge starts; a database newer than the code stops
the bridge with that message, a database that is down only delays the first write. Retention
runs at open and then hourly, after a write, on the same thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from alerting.bridge_metrics import BridgeMetrics
from alerting.delivery import Answer, Attempt, Transport
from alerting.pager import PagerMessage
from alerting.sinks.base import Refused, Sink
from alerting.store import (
    SchemaTooNew,
    Store,
    StoreError,
    StoreRefused,
    StoreUnavailable,
    StoreUrl,
)
from alerting.store import open_store as _open_store
from alerting.store.rows import MessageRow, Unstorable, message_row

log = logging.getLogger("signalfire.bridge")

PURGE_EVERY_S = 3600.0
T = TypeVar("T")
Opener = Callable[[StoreUrl, float], Store]


def open_store(url: StoreUrl, timeout_s: float) -> Store:
    return _open_store(url, connect_timeout_s=timeout_s)


class StoreSink(Sink):
    kind = "store"

    def __init__(
        self,
        name: str,
        url: StoreUrl,
        retention_ms: int,
        timeout_s: float = 10.0,
        *,
        opener: Opener = open_store,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name, url.shown)
        self.store_url = url
        self.retention_ms = retention_ms
        self._timeout_s = timeout_s
        self._opener = opener
        self._monotonic = monotonic
        self._store: Store | None = None
        self._purged_at: float | None = None
        self._metrics: BridgeMetrics | None = None
        # One thread: a Store is used from one thread at a time, and writes stay in order.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"store-{name}")

    def __repr__(self) -> str:
        return f"StoreSink({self.name!r}, {self.url!r})"

    def twin(self, name: str) -> StoreSink:
        """The same store under another name, with its own connection and thread: the shadow
        topic's bridge writes through it beside this one."""
        return StoreSink(
            name, self.store_url, self.retention_ms, self._timeout_s,
            opener=self._opener, monotonic=self._monotonic,
        )  # fmt: skip

    async def open(self, metrics: BridgeMetrics) -> None:
        self._metrics = metrics
        metrics.store_sink(self.name)
        try:
            await self._run(self._start)
        except StoreUnavailable as exc:  # SchemaTooNew is not: it stops the bridge
            log.warning("sink %s: page store not reachable yet (%s); will retry", self.name, exc)

    async def close(self) -> None:
        await self._run(self._close)
        self._thread.shutdown(wait=True)

    def attempt(
        self, message: PagerMessage, body: bytes, now_s: float, transport: Transport
    ) -> Attempt:
        try:
            row = message_row(message)
        except Unstorable as exc:
            raise Refused(f"page store: {exc}") from None

        async def write(timeout_s: float) -> Answer:
            try:
                outcome = await asyncio.wait_for(self._run(lambda: self._write(row)), timeout_s)
            except TimeoutError:
                # The write may still finish on its thread: the next try then finds it stored.
                return self._failed(f"page store: no answer in {timeout_s:g}s")
            except (StoreUnavailable, SchemaTooNew) as exc:
                return self._failed(str(exc))
            except StoreRefused as exc:
                return Answer("reject", str(exc))
            except Exception as exc:  # a bug must not end the sink's task: retry, then DLQ
                log.error("sink %s: page store write failed", self.name, exc_info=True)
                return self._failed(f"page store: {type(exc).__name__}")
            self._count(outcome)
            return Answer("delivered")

        return write

    # -- on the sink's thread ----------------------------------------------------------------
    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn)

    def _start(self) -> None:
        self._purge_if_due(self._ensure_open())

    def _ensure_open(self) -> Store:
        if self._store is None:
            self._store = self._opener(self.store_url, self._timeout_s)
            log.info("sink %s: page store %s open", self.name, self._store.url)
        return self._store

    def _write(self, row: MessageRow) -> str:
        store = self._ensure_open()
        outcome = store.record_row(row).outcome
        self._purge_if_due(store)
        return outcome

    def _purge_if_due(self, store: Store) -> None:
        now = self._monotonic()
        if self._purged_at is not None and now - self._purged_at < PURGE_EVERY_S:
            return
        self._purged_at = now
        try:
            purged = store.purge(self.retention_ms)
        except StoreError as exc:  # the pages wait for the next purge; the write stands
            log.warning("sink %s: retention purge failed: %s", self.name, exc)
            return
        if self._metrics is not None:
            self._metrics.store_purged.labels(sink=self.name).inc(purged.pages)

    def _close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- metrics -----------------------------------------------------------------------------
    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.store_writes.labels(sink=self.name, outcome=outcome).inc()

    def _failed(self, error: str) -> Answer:
        self._count("unavailable")
        return Answer("retry", error)
