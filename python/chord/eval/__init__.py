"""Evaluation: batched full-ranking and 1 + n sampled evaluators (metrics in :mod:`chord.eval.metrics`)."""

from .evaluator import MODES, Evaluator, format_table

__all__ = ["Evaluator", "MODES", "format_table"]
