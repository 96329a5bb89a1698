"""The engine's saved state: versioned, refused with one clear error when unreadable, taken
over rule by rule (unchanged rules keep their state, changed ones start empty)."""

from __future__ import annotations

import pickle

import orjson
import pytest

from signalfire._core import SnapshotError
from signalfire.engine.core import CoreEngine
from signalfire.engine.settings import EngineSettings
from tests.unit.helpers import base_rule

THROTTLED = base_rule({"type": "match"}, id="m", throttle="1h")
OTHER = base_rule({"type": "match"}, id="m", throttle="2h")


def record(n: int, ts: int) -> bytes:
    return orjson.dumps({"event_id": f"e{n}", "org_id": "o1", "ts": ts})


def test_unchanged_rule_keeps_its_state() -> None:
    engine = CoreEngine([THROTTLED])
    assert len(engine.process([record(1, 1_000)]).alerts) == 1
    restored = CoreEngine([THROTTLED], EngineSettings(), engine.save())
    # the throttle remembered across the restore: no second page within the hour
    assert restored.process([record(2, 2_000)]).alerts == []
    assert restored.now == 2_000
    assert restored.counts()[0].matches == 2


def test_changed_rule_starts_empty() -> None:
    engine = CoreEngine([THROTTLED])
    engine.process([record(1, 1_000)])
    restored = CoreEngine([OTHER], EngineSettings(), engine.save())
    assert len(restored.process([record(2, 2_000)]).alerts) == 1
    assert restored.now == 2_000


@pytest.mark.parametrize(
    "saved, words",
    [
        (b"", "unknown snapshot format: no engine snapshot header"),
        (b"\x80\x04pickle", "unknown snapshot format: no engine snapshot header"),
        (b"SFEN\x63\x00", "unknown snapshot format: format 99, this engine reads 1"),
        (b"SFEN\x01\x00\xff\xff", "corrupt snapshot"),
    ],
)
def test_unreadable_state_is_refused_in_one_line(saved: bytes, words: str) -> None:
    with pytest.raises(SnapshotError) as err:
        CoreEngine([THROTTLED], EngineSettings(), saved)
    assert str(err.value).startswith(words)
    assert "\n" not in str(err.value)


def test_pickled_engine_is_its_rules_settings_and_saved_state() -> None:
    engine = CoreEngine([THROTTLED], EngineSettings(allowed_lateness_ms=0))
    engine.process([record(1, 1_000)])
    copy = pickle.loads(pickle.dumps(engine))
    assert copy.save() == engine.save()
    assert copy.settings.allowed_lateness_ms == 0
    assert copy.process([record(2, 2_000)]).alerts == []
