"""The rule language: YAML files checked once at load into typed `Rule` objects."""

from signalfire.rules.loader import RuleSet, RuleSetError, load_rules, parse_rule_text
from signalfire.rules.model import Rule

__all__ = ["Rule", "RuleSet", "RuleSetError", "load_rules", "parse_rule_text"]
