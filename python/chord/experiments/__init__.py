"""The paper-style experiment grid (``chord experiment``)."""

from .runner import METHODS, SWEEP, Grid, GridConfig

__all__ = ["Grid", "GridConfig", "METHODS", "SWEEP"]
