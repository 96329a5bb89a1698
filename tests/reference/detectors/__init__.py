"""One class per detector type, looked up by the rule's `detect.type`."""

from signalfire.engine.settings import EngineSettings
from signalfire.rules.model import Rule
from tests.reference.detectors.absence import AbsenceDetector
from tests.reference.detectors.base import Detector
from tests.reference.detectors.distinct import DistinctDetector
from tests.reference.detectors.match import MatchDetector
from tests.reference.detectors.new_value import NewValueDetector
from tests.reference.detectors.ratio import RatioDetector
from tests.reference.detectors.sequence import SequenceDetector
from tests.reference.detectors.spike import SpikeDetector
from tests.reference.detectors.threshold import ThresholdDetector
from tests.reference.filters import SelectSpec

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
