"""The bridge's sinks failing: a 5xx storm, 429s with Retry-After, hung connections. Every
page is delivered once it passes, retries stay within the configured attempts, and the
healthy sink beside the failing one is not held up."""

import collections
import threading
import time
import uuid

import pytest

from tests.faults.figures import Figures, record
from tests.integration.bridge_harness import STALL, BridgeProcess, HookServer, produce_pages
from tests.integration.worker_harness import read_topic
from tests.unit.alerting.pager_samples import message

pytestmark = pytest.mark.integration

PAGES = 30
ATTEMPTS = 30
STORM_S = 4


def test_5xx_storm_429s_and_hung_connections_lose_nothing(kafka, tmp_path):
    pages = [message(key=f"storm{i}") for i in range(PAGES)]
    keys = [m.dedup_key for m in pages]
    with HookServer(default=503, stall_s=3) as flaky, HookServer() as healthy:
        for k in keys[:5]:
            flaky.script[k] = [429, 429]
        for k in keys[5:8]:
            flaky.script[k] = [STALL]
        tag = uuid.uuid4().hex[:8]
        pager, dlq = f"pager-{tag}", f"pager-dlq-{tag}"
        kafka.create_topic(pager, 2)
        kafka.create_topic(dlq, 1)
        retry = f"    timeout: 1s\n    retry: {{initial: 50ms, max: 500ms, attempts: {ATTEMPTS}}}\n"
        config = tmp_path / "bridge.yaml"
        config.write_text(
            f"sinks:\n  - name: flaky\n    type: webhook\n    url: {flaky.url}/x\n{retry}"
            f"  - name: healthy\n    type: webhook\n    url: {healthy.url}/x\n{retry}"
            "routes:\n  - sinks: [flaky, healthy]\n"
        )
        bridge = BridgeProcess(kafka, config, pager, dlq, f"bridge-{tag}")
        try:
            bridge.start(tmp_path).wait_ready()
            produce_pages(kafka, pager, pages)
            healthy.wait_accepted(PAGES)  # during the storm: the failing sink holds nobody up
            assert not flaky.accepted()
            # The storm passes.
            threading.Timer(STORM_S, setattr, (flaky, "default", 202)).start()
            flaky.wait_accepted(PAGES, timeout_s=120)
            bridge.wait_metric("signalfire_bridge_deliveries_total", PAGES, sink="flaky")
            time.sleep(1)  # anything still in flight would show now

            accepted = collections.Counter(c.key for c in flaky.accepted())
            requests = collections.Counter(c.key for c in flaky.calls)
            dead = read_topic(kafka, dlq, quiet_s=1)
            failures = sum(1 for c in flaky.calls if c.answer == STALL or int(c.answer) >= 400)
            lost = len(set(keys) - set(accepted))
            duplicated = sum(n - 1 for n in accepted.values())
            record(
                "bridge: 5xx storm, 429s, hung connections",
                Figures(failures, 2 * PAGES, len(accepted) + len(healthy.accepted()), lost,
                        duplicated, len(dead), 0),
            )  # fmt: skip
            assert (lost, duplicated, len(dead)) == (0, 0, 0)
            assert max(requests.values()) <= ATTEMPTS  # bounded
            assert all(requests[k] >= 3 for k in keys[:5])  # two 429s, then more
            assert collections.Counter(c.key for c in healthy.accepted()) == {k: 1 for k in keys}
            retries = bridge.metric("signalfire_bridge_retries_total", sink="flaky")
            assert retries == sum(requests.values()) - PAGES
            assert bridge.stop() == 0
        finally:
            if bridge.proc and bridge.proc.poll() is None:
                bridge.kill()
