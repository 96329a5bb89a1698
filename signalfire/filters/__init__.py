"""Filters compiled once per rule into plain Python functions over event batches."""

from signalfire.filters.compile import (
    Selector,
    SelectSpec,
    compile_fused,
    compile_predicate,
    compile_selector,
)

__all__ = ["SelectSpec", "Selector", "compile_fused", "compile_predicate", "compile_selector"]
