"""An attack as the bridge delivers it with incidents: real pager messages (alerting.message)
read by the correlator in order, each with the `custom_details.incident` the bridge attaches
(alerting.incidents.attach)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from alerting.incidents import Correlator
from alerting.incidents.attach import with_incident
from alerting.message import pager_message
from alerting.pager import PagerMessage
from signalfire.engine.alert import Action, Alert, Evidence
from tests.unit.alerting.pager_samples import T0
from tests.unit.helpers import rule

MIN = 60_000
ORG_SURGE = rule("""\
id: org_surge
title: Org request surge
severity: critical
group_by: [org_id]
detect: {type: threshold, window: 60s, threshold: 1000}
""")
# Grouped below the org: the org (and the account) come from the group's events.
KEY_BURST = rule("""\
id: key_burst
title: Key request burst
severity: warning
group_by: [api_key_id]
detect: {type: threshold, window: 60s, threshold: 100}
""")
IP_SCAN = rule("""\
id: ip_scan
title: One IP scanning
severity: warning
group_by: [ip]
detect: {type: threshold, window: 60s, threshold: 100}
""")


def org_page(action: Action, at: int, org: str = "o1") -> PagerMessage:
    alert = Alert(ORG_SURGE.id, action, (("org_id", org),), at, Evidence(value=1200))
    return pager_message(ORG_SURGE, alert)


def key_page(
    action: Action, at: int, key: str, org: str = "o1", account: str | None = None
) -> PagerMessage:
    parents: tuple[tuple[str, Any], ...] = (("org_id", org),)
    if account is not None:
        parents += (("account_id", account),)
    alert = Alert(
        KEY_BURST.id,
        action,
        (("api_key_id", key),),
        at,
        Evidence(value=150),
        parents,
    )
    return pager_message(KEY_BURST, alert)


def ip_page(action: Action, at: int, ip: str = "203.0.113.7") -> PagerMessage:
    alert = Alert(IP_SCAN.id, action, (("ip", ip),), at, Evidence(value=400))
    return pager_message(IP_SCAN, alert)


def correlated(messages: Iterable[PagerMessage], window_ms: int = 30 * MIN) -> list[PagerMessage]:
    """The messages as the bridge delivers them: each with its incident."""
    correlator = Correlator(window_ms)
    return [with_incident(m, correlator.decide(m)) for m in messages]


def attack() -> list[PagerMessage]:
    """Org o1 attacked: its surge opens an incident, its keys' bursts are absorbed by it, one
    repeats, then all resolve, the last resolving the incident. Beside it, an IP scan and org
    o2's surge each open their own, still open at the end."""
    return correlated(
        [
            org_page("trigger", T0),  # opened
            key_page("trigger", T0 + 1 * MIN, "k1"),  # absorbed by the org's page
            key_page("trigger", T0 + 2 * MIN, "k2", account="a1"),  # absorbed
            key_page("trigger", T0 + 3 * MIN, "k1"),  # updated
            ip_page("trigger", T0 + 4 * MIN),  # opened: about the IP
            org_page("trigger", T0 + 5 * MIN, org="o2"),  # opened: another org
            key_page("resolve", T0 + 10 * MIN, "k1"),  # page_resolved
            org_page("resolve", T0 + 20 * MIN),  # page_resolved: k2 still fires
            key_page("resolve", T0 + 25 * MIN, "k2", account="a1"),  # resolved
        ]
    )
