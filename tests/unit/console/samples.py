"""What the console's tests share: a control topic that keeps what it is given, and a store
with a few pages (a resolved burst, an open one, a fanout), or with those and an attack's
pages as the bridge delivers them with incidents."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alerting.store import Store, open_store
from tests.unit.alerting.incident_samples import attack
from tests.unit.alerting.pager_samples import T0, fanout, message


class Published(list[tuple[str, bytes | None]]):
    """The console's `publish`: the (key, value) records it would put on the control topic."""

    async def __call__(self, key: str, value: bytes | None) -> None:
        self.append((key, value))


def store_with_pages(folder: Path, clock: Callable[[], float]) -> Store:
    store = open_store(f"sqlite:///{folder / 'pages.db'}", clock=clock)
    store.record(message("trigger", key="k_1"))
    store.record(message("resolve", key="k_1", at=T0 + 60_000))
    store.record(message("trigger", key="k_2", at=T0 + 120_000))
    store.record(fanout(at=T0 + 180_000))
    return store


def store_with_incidents(folder: Path, clock: Callable[[], float]) -> Store:
    """The pages above (no incidents) and `attack()`: org o1's incident (resolved), an IP's and
    org o2's (open)."""
    store = store_with_pages(folder, clock)
    for m in attack():
        store.record(m)
    return store
