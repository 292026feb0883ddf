"""Benchmark suites: name -> ``suite(ctx: RunContext) -> None``."""

from . import adaptation, e2e, kernels, scoring

SUITES = {"kernels": kernels.run, "scoring": scoring.run, "adaptation": adaptation.run, "e2e": e2e.run}
