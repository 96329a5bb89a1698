"""One class per detector type, looked up by the rule's `detect.type`."""

from signalfire.engine.detectors.absence import AbsenceDetector
from signalfire.engine.detectors.base import Detector
from signalfire.engine.detectors.distinct import DistinctDetector
from signalfire.engine.detectors.match import MatchDetector
from signalfire.engine.detectors.new_value import NewValueDetector
from signalfire.engine.detectors.ratio import RatioDetector
from signalfire.engine.detectors.sequence import SequenceDetector
from signalfire.engine.detectors.spike import SpikeDetector
from signalfire.engine.detectors.threshold import ThresholdDetector
from signalfire.engine.settings import EngineSettings
from signalfire.filters.compile import SelectSpec
from signalfire.rules.model import Rule

REGISTRY: dict[str, type[Detector]] = {
    cls.kind: cls
    for cls in (
        MatchDetector,
        ThresholdDetector,
        DistinctDetector,
        RatioDetector,
        SpikeDetector,
        NewValueDetector,
        AbsenceDetector,
        SequenceDetector,
    )
}


def make_detector(rule: Rule, settings: EngineSettings) -> Detector:
    return REGISTRY[rule.detect.type](rule, settings)


def spec_for(rule: Rule) -> SelectSpec:
    """What a rule selects from a batch (its filter, group key and detector value)."""
    return REGISTRY[rule.detect.type].spec_for(rule)


__all__ = ["REGISTRY", "Detector", "make_detector", "spec_for"]
