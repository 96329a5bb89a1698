"""A shadow rule on a real broker: its pages land on the shadow topic, never on the pager topic
that the bridge delivers to on-call; its metrics are its own."""

import time

import orjson
import pytest

from tests.integration.worker_harness import Topics, WorkerProcess, produce, read_topic

pytestmark = pytest.mark.integration

RULE = """\
id: {id}
title: login seen
severity: warning
where: {{event_type: login}}
group_by: [org_id]
detect: {{type: match}}
{mode}
"""


def components(records):
    return sorted(orjson.loads(r.value)["payload"]["component"] for r in records)


def test_a_shadow_rules_page_goes_to_the_shadow_topic_only(kafka, tmp_path):
    topics = Topics.fresh()
    kafka.create_topic(topics.events, partitions=2)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "live.yaml").write_text(RULE.format(id="login_live", mode=""))
    (rules / "trial.yaml").write_text(RULE.format(id="login_trial", mode="mode: shadow"))
    worker = WorkerProcess(kafka, topics, rules).start(tmp_path)
    try:
        worker.wait_ready()
        now = int(time.time() * 1000)
        events = [
            {"event_id": f"e{n}", "ts": now + n, "org_id": f"o{n}", "event_type": "login"}
            for n in range(3)
        ]
        produce(kafka, topics.events, events)
        worker.wait_metric('signalfire_rule_triggers_total{rule="login_trial"}', 3)
        worker.wait_metric('signalfire_rule_triggers_total{rule="login_live"}', 3)
        shadow = read_topic(kafka, f"{topics.pager}.shadow")
        pager = read_topic(kafka, topics.pager)
    finally:
        assert worker.stop() == 0
    assert worker.log is not None
    [created] = [line for line in worker.log.read_text().splitlines() if "created topics" in line]
    assert f"{topics.pager}.shadow" in created.split(", ")  # at start, as the others
    assert components(shadow) == ["login_trial"] * 3
    assert components(pager) == ["login_live"] * 3
    for record in shadow:
        assert orjson.loads(record.value)["payload"]["custom_details"]["rule"]["mode"] == "shadow"
