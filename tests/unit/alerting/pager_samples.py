"""Real pager messages (built by alerting.message) for the bridge's tests: pages of a worker
that hides only the secret and prompt fields, so the bridge's own redaction has work to do."""

from alerting.message import pager_message
from alerting.pager import PagerMessage
from signalfire.engine.alert import Alert, Evidence
from tests.unit.helpers import rule

BURST = rule("""\
id: api_key_burst
title: API key request burst
severity: critical
labels: {team: tns, abuse: stolen_key}
annotations:
  runbook: https://runbooks.example/api-key-burst
  summary: "API key {api_key_id} from {ip} made {value} requests in {window}"
group_by: [org_id, api_key_id, ip]
detect: {type: threshold, window: 60s, threshold: 1000}
evidence: {top: [ip]}
""")

FANOUT = rule("""\
id: ip_account_fanout
title: One IP behind many accounts
severity: warning
labels: {team: growth}
group_by: [ip]
detect: {type: distinct, field: account_id, window: 10m, threshold: 50}
""")

T0 = 1_795_420_800_000


def burst(
    action: str = "trigger", *, key: str = "k_123", ip: str = "203.0.113.9", at: int = T0
) -> Alert:
    return Alert(
        "api_key_burst",
        action,  # type: ignore[arg-type]
        (("org_id", "o_1"), ("api_key_id", key), ("ip", ip)),
        at,
        Evidence(
            value=1312,
            window_start=at - 60_000,
            window_end=at,
            sample_event_ids=("e1", "e2"),
            top={"ip": [(ip, 900), ("198.51.100.7", 12)]},
        ),
    )


def message(
    action: str = "trigger", *, key: str = "k_123", ip: str = "203.0.113.9", at: int = T0
) -> PagerMessage:
    return pager_message(BURST, burst(action, key=key, ip=ip, at=at))


def fanout(ip: str = "203.0.113.50", at: int = T0) -> PagerMessage:
    alert = Alert("ip_account_fanout", "trigger", (("ip", ip),), at, Evidence(value=73))
    return pager_message(FANOUT, alert)
