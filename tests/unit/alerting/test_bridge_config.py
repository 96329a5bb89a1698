"""The bridge config: valid files load; every problem is `file:line: message`."""

from pathlib import Path

import pytest
import yaml

from alerting.bridge_config import BridgeConfigError, IncidentSettings, load_bridge_config
from alerting.sinks.alertmanager import AlertmanagerSink
from alerting.sinks.pagerduty import PagerDutySink
from alerting.sinks.webhook import WebhookSink

ROOT = Path(__file__).resolve().parents[3]

GOOD = """\
sinks:
  - name: am
    type: alertmanager
    url: http://localhost:9093
    resend_interval: 30s
    rate_limit: 50/s
  - name: pd
    type: pagerduty
    routing_key_env: PD_KEY
    rate_limit: 120/m
    retry: {initial: 1s, max: 1m, attempts: 5}
    timeout: 5s
  - name: hook
    type: webhook
    url: https://hooks.example/x
    hmac_secret_file: hook.secret
routes:
  - match: {severity: critical, labels.team: tns}
    sinks: [pd]
    continue: true
  - sinks: [am, hook]
redact: [ip, attrs.*]
"""


def write(tmp_path, text, name="bridge.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(tmp_path, text, env=None):
    path = write(tmp_path, text)
    with pytest.raises(BridgeConfigError) as info:
        load_bridge_config(path, env or {})
    return [str(p) for p in info.value.problems], path


def test_a_good_config_loads(tmp_path):
    (tmp_path / "hook.secret").write_text("hmac-secret\n")
    config = load_bridge_config(write(tmp_path, GOOD), {"PD_KEY": "k" * 32})
    am, pd, hook = (config.sinks[n] for n in ("am", "pd", "hook"))
    assert isinstance(am.sink, AlertmanagerSink) and am.sink.resend_interval_s == 30
    assert am.rate_per_s == 50 and pd.rate_per_s == 2
    assert isinstance(pd.sink, PagerDutySink) and isinstance(hook.sink, WebhookSink)
    assert (pd.policy.initial_s, pd.policy.max_s, pd.policy.attempts) == (1, 60, 5)
    assert pd.policy.timeout_s == 5 and hook.policy.attempts == 10
    assert config.routes[0].match == {"severity": ("critical",), "labels.team": ("tns",)}
    assert config.routes[0].continue_ and config.routes[1].sinks == ("am", "hook")
    assert config.redaction.hides("attrs.ua") and config.redaction.hides("ip")
    assert "k" * 32 not in repr(config)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("sinks: []\nroutes: []\n", 1, "non-empty list of sinks"),
        ("sinks:\n  - name: Bad Name\n    type: webhook\nroutes:\n  - sinks: [x]\n", 2,
         "sink name"),
        ("sinks:\n  - name: a\n    type: slack\n    url: http://x\nroutes:\n  - sinks: [a]\n", 3,
         "type must be one of"),
        ("sinks:\n  - name: a\n    type: webhook\n    url: ftp://x\nroutes:\n  - sinks: [a]\n", 4,
         "http(s) URL"),
        ("sinks:\n  - name: a\n    type: webhook\n    url: http://x\n    colour: red\n"
         "routes:\n  - sinks: [a]\n", 5, "unknown key 'colour'"),
        ("sinks:\n  - name: a\n    type: webhook\n    url: http://x\nroutes:\n  - sinks: [b]\n", 6,
         "no sink named 'b'"),
        ("sinks:\n  - name: a\n    type: webhook\n    url: http://x\nroutes:\n"
         "  - match: {severity: critical}\n    sinks: [a]\n", 6, "last route must have no"),
        ("sinks:\n  - name: a\n    type: webhook\n    url: http://x\nroutes:\n"
         "  - match: {org_id: o_1}\n    sinks: [a]\n  - sinks: [a]\n", 6, "cannot match on"),
        ("sinks:\n  - name: a\n    type: alertmanager\n    url: http://x\n"
         "    resend_interval: soon\nroutes:\n  - sinks: [a]\n", 5, "bad duration"),
        ("sinks:\n  - name: a\n    type: webhook\n    url: http://x\n    rate_limit: lots\n"
         "routes:\n  - sinks: [a]\n", 5, "like 50/s"),
        ("sinks:\n  - name: a\n    type: webhook\n    url: http://x\n"
         "    retry: {attempts: 0}\nroutes:\n  - sinks: [a]\n", 5, "from 1 to 100"),
        ("sinks:\n  - name: a\n    type: pagerduty\nroutes:\n  - sinks: [a]\n", 2,
         "needs routing_key_env or routing_key_file"),
        ("sinks:\n  - name: a\n    type: pagerduty\n    routing_key_env: NOPE\n"
         "routes:\n  - sinks: [a]\n", 4, "$NOPE is not set"),
        ("sinks:\n  - name: a\n    type: webhook\n    url: http://x\n"
         "    hmac_secret_file: missing.txt\nroutes:\n  - sinks: [a]\n", 5, "cannot read"),
        ("sinks:\n  - name: a\n    type: webhook\n    url: http://x\n  - name: a\n"
         "    type: webhook\n    url: http://y\nroutes:\n  - sinks: [a]\n", 5, "defined twice"),
        ("sinks: [\n", 1, "YAML syntax"),
        ("sinks: []\nsinks: []\n", 2, "duplicate key"),
        ("sinks:\n  - name: a\n    type: webhook\n    url: http://x\nroutes:\n  - sinks: [a]\n"
         "redact: ip\n", 7, "list of field names"),
        ("- just a list\n", 1, "expected a mapping"),
    ],
)  # fmt: skip
def test_problems_name_file_and_line(tmp_path, text, line, words):
    found, path = problems(tmp_path, text)
    assert any(p.startswith(f"{path}:{line}: ") and words in p for p in found), found


def test_all_problems_are_reported_at_once(tmp_path):
    text = "sinks:\n  - name: a\n    type: nope\n  - name: b\n    type: webhook\n    url: x\n"
    found, _ = problems(tmp_path, text)
    assert len(found) == 3  # bad type, bad url, no routes


def test_a_missing_file_is_an_error_not_a_traceback(tmp_path):
    with pytest.raises(BridgeConfigError, match="cannot read"):
        load_bridge_config(tmp_path / "absent.yaml", {})


def test_a_secret_value_never_appears_in_problems(tmp_path):
    text = ("sinks:\n  - name: a\n    type: pagerduty\n    routing_key_env: PD\n    url: bad\n"
            "routes:\n  - sinks: [a]\n")  # fmt: skip
    found, _ = problems(tmp_path, text, {"PD": "SUPERSECRETROUTINGKEY"})
    assert found and not any("SUPERSECRET" in p for p in found)


def test_shipped_bridge_configs_load(tmp_path):
    paths = sorted((ROOT / "deploy" / "bridge").glob("*.yaml"))
    # ConfigMaps of the k8s manifests that carry a bridge config.
    for manifest in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(manifest.read_text()):
            if doc and doc.get("kind") == "ConfigMap":
                for name, text in (doc.get("data") or {}).items():
                    if "routes:" in text and "sinks:" in text:
                        paths.append(write(tmp_path, text, f"{manifest.stem}-{name}"))
    assert len(paths) >= 3
    env = {"PAGERDUTY_ROUTING_KEY": "k" * 32, "SIGNALFIRE_WEBHOOK_SECRET": "s" * 32}
    for path in paths:
        config = load_bridge_config(path, env)
        assert config.sinks and config.routes, path


def test_incidents_are_off_unless_configured_and_take_a_window_and_a_cap(tmp_path):
    base = "sinks:\n  - {name: hook, type: webhook, url: http://h/}\nroutes:\n  - sinks: [hook]\n"
    path = tmp_path / "bridge.yaml"
    path.write_text(base)
    assert load_bridge_config(path).incidents is None
    path.write_text(base + "incidents: {}\n")
    assert load_bridge_config(path).incidents == IncidentSettings(30 * 60_000, 100_000)
    path.write_text(base + "incidents: {window: 10m, max_open: 500}\n")
    assert load_bridge_config(path).incidents == IncidentSettings(600_000, 500)
    # the shadow bridge's pages are not on-call's: never correlated
    assert load_bridge_config(path).for_shadow() is None


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        ("incidents: {window: soon}\n", "bridge.yaml:5: "),
        ("incidents: {max_open: 0}\n", "bridge.yaml:5: incidents: max_open: a whole number >= 1"),
        ("incidents: {group_by: [ip]}\n", "bridge.yaml:5: incidents: unknown key 'group_by'"),
        ("incidents: [30m]\n", "bridge.yaml:5: incidents: expected a mapping (window, max_open)"),
    ],
)
def test_a_bad_incidents_section_fails_at_its_line(tmp_path, tail, message):
    base = "sinks:\n  - {name: hook, type: webhook, url: http://h/}\nroutes:\n  - sinks: [hook]\n"
    path = tmp_path / "bridge.yaml"
    path.write_text(base + tail)
    with pytest.raises(BridgeConfigError) as exc:
        load_bridge_config(path)
    assert any(str(p).startswith(str(tmp_path / message)) for p in exc.value.problems), [
        str(p) for p in exc.value.problems
    ]
