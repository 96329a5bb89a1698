"""The detection engine: pure, event-time, deterministic."""

from signalfire.engine.engine import Engine
from signalfire.engine.settings import EngineSettings

__all__ = ["Engine", "EngineSettings"]
