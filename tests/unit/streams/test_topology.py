"""Which rules run where, and what of an event a repartition family needs."""

import orjson

from signalfire.engine.core import CoreEngine, Route
from signalfire.rules import load_rules
from streams.topology import DIRECT, build_topology, family_of, fields_read
from tests.reference.wire import read_body


def catalogue():
    return {r.id: r for r in load_rules(["rules"]).rules}


def test_rules_grouped_by_org_run_on_the_input_others_form_families():
    rules = catalogue()
    assert family_of(rules["token_drain"]) == DIRECT
    assert family_of(rules["ip_account_fanout"]) == "ip"
    topology = build_topology(list(rules.values()))
    assert {f.name for f in topology.families} == {"ip", "account_id"}


def test_fields_read_cover_filters_group_value_evidence_and_ids():
    rules = catalogue()
    # distinct accounts per ip, evidence on org_id / event_type / country, and the parent
    # entities its page may name (an ip's org, account and key, from its events)
    assert fields_read(rules["ip_account_fanout"]) == {
        "ts", "event_id", "ip", "account_id", "org_id", "event_type", "country", "api_key_id",
    }  # fmt: skip
    # a sequence reads each step's filter
    seq = fields_read(rules["signup_key_flagged_sequence"])
    assert {"event_type", "flagged", "account_id"} <= seq and "prompt_tokens" not in seq


def test_family_forwards_only_what_its_rules_read():
    topology = build_topology(list(catalogue().values()))
    (fam,) = [f for f in topology.families if f.name == "account_id"]
    event = {"event_id": "e1", "ts": 5, "org_id": "o", "account_id": "a", "event_type": "signup",
             "prompt": "secret text", "prompt_tokens": 9, "attrs": {"user_agent": "x"}}  # fmt: skip
    engine = CoreEngine(topology.direct)
    engine.route_to([Route(f.name, f.rules, f.fields) for f in topology.families], 1, 1 << 20)
    n = topology.families.index(fam)
    (body,) = engine.process([orjson.dumps(event)]).routed[n][0]
    assert read_body(body) == [{"ts": 5, "account_id": "a", "event_id": "e1",
                                "event_type": "signup", "org_id": "o"}]  # fmt: skip
