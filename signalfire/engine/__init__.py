"""The detection engine: the compiled core behind a typed API (`core`), its settings and the
alerts it hands on (`alert`). Pure, event-time, deterministic."""

from signalfire.engine.settings import EngineSettings

__all__ = ["EngineSettings"]
