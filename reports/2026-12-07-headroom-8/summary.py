"""Headroom-6's pooled summary (CHORD minus each baseline, pretrained-frozen cells) with Yelp SASRec added.

Runs ``reports/2026-12-07-headroom-6/summary.py`` (loaded from there, unchanged) with ``yelp_sasrec``
among its cells and this report's folder, then headroom-7's, before headroom-6's and -5's among the
folders it reads each ``<cell>_pooled.json`` from (the first that has it). This report adds no pooled
table (its Yelp SASRec checkpoint is not headroom-2's, section 3), so Yelp SASRec's row is
headroom-7's two seeds.

usage: python reports/2026-12-07-headroom-8/summary.py   (from the repo root)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

REP = Path("reports")
_spec = importlib.util.spec_from_file_location("h6_summary", REP / "2026-12-07-headroom-6" / "summary.py")
h6 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h6)
h6.DIRS = (REP / "2026-12-07-headroom-8", REP / "2026-12-07-headroom-7", *h6.DIRS)
h6.CELLS = (*h6.CELLS, "yelp_sasrec")

if __name__ == "__main__":
    h6.main()
