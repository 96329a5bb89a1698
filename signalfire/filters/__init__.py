"""Filters compiled once per rule into plain Python functions over event batches."""

from signalfire.filters.compile import Selector, compile_predicate, compile_selector

__all__ = ["Selector", "compile_predicate", "compile_selector"]
