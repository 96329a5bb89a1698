"""Shadow rules in the worker: their pages go to the shadow topic's list, never the pager's,
and what they did is counted per rule like any other's."""

import orjson
import pytest

from alerting.pager import decode
from signalfire.cli.main import main
from signalfire.entities import entity_ref
from signalfire.rules import load_rules
from streams.config import WorkerConfig, load_config
from streams.processor import Processor
from streams.settings import ConfigError
from tests.unit.streams.memory_kafka import Record

RULE = """\
id: {id}
title: login seen
severity: warning
where: {{event_type: login}}
group_by: [org_id]
detect: {{type: match}}
{mode}
"""


def processor(tmp_path):
    (tmp_path / "live.yaml").write_text(RULE.format(id="login_live", mode=""))
    (tmp_path / "trial.yaml").write_text(RULE.format(id="login_trial", mode="mode: shadow"))
    config = WorkerConfig(rules=str(tmp_path))
    return Processor(config, load_rules([str(tmp_path)]).rules, lambda: 1000.0), config


def test_a_shadow_rules_pages_go_to_the_shadow_list_only(tmp_path):
    p, cfg = processor(tmp_path)
    tp = (cfg.events_topic, 0)
    p.assign([tp])
    value = orjson.dumps({"event_id": "e1", "ts": 5_000, "org_id": "o1", "event_type": "login"})
    out = p.process(tp, [Record(cfg.events_topic, 0, 0, b"o1", value)])
    [(_, live)] = out.pages
    [(key, shadow)] = out.shadow_pages
    assert decode(live).payload.component == "login_live"
    trial = decode(shadow)
    assert trial.payload.component == "login_trial"
    assert key == entity_ref("org_id", "o1").encode()  # keyed by its root, as pages are
    assert trial.payload.custom_details.rule.mode == "shadow"
    assert b'"mode"' not in live  # a live rule's page is what it always was
    assert {r: d.triggers for r, d in out.rule_deltas.items()} == {
        "login_live": 1,
        "login_trial": 1,
    }


def test_the_shadow_topic_defaults_beside_the_pager_topic(tmp_path):
    assert load_config({"rules": str(tmp_path)}, {}).shadow_topic == "pager.shadow"
    env = {"SIGNALFIRE_PAGER_TOPIC": "pages"}
    assert load_config({"rules": str(tmp_path)}, env).shadow_topic == "pages.shadow"
    flags = {"rules": str(tmp_path), "shadow_topic": "trials"}
    assert load_config(flags, env).shadow_topic == "trials"


def test_the_shadow_topic_is_never_the_pager_topic(tmp_path):
    with pytest.raises(ConfigError, match="--shadow-topic / SIGNALFIRE_SHADOW_TOPIC: topics must"):
        load_config({"rules": str(tmp_path), "shadow_topic": "pager"}, {})


def test_the_backtest_marks_shadow_rules_and_their_pages(tmp_path, capsys):
    processor(tmp_path)  # the two rule files
    events = tmp_path / "ev.jsonl"
    events.write_bytes(b'{"event_id": "e1", "ts": 5000, "org_id": "o1", "event_type": "login"}\n')
    out = tmp_path / "pages.jsonl"
    assert main(["backtest", "--rules", str(tmp_path), str(events), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    rows = {line.split("  ")[0]: line.split()[-9] for line in text.splitlines()[2:4]}
    assert rows == {"login_live": "match", "login_trial [shadow]": "match"}
    assert "1 events, 0 late, 2 pager messages, 1 of them shadow (never to on-call)" in text
    modes = {
        m["payload"]["component"]: m["payload"]["custom_details"]["rule"].get("mode", "live")
        for m in map(orjson.loads, out.read_bytes().splitlines())
    }
    assert modes == {"login_live": "live", "login_trial": "shadow"}
