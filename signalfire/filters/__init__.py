"""Filters compiled once per rule into plain Python functions over event batches."""

from signalfire.filters.compile import FusedSelector, SelectSpec, compile_fused, compile_predicate

__all__ = ["FusedSelector", "SelectSpec", "compile_fused", "compile_predicate"]
