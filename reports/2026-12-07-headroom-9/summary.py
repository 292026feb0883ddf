"""Headroom-6's pooled summary (CHORD minus each baseline, pretrained-frozen cells) with both Yelp SASRec
checkpoints: headroom-7's two seeds on headroom-2's checkpoint (AVX-512 host, gone) and this report's
cell on the checkpoint retrained on the AVX2 host (``yelp_sasrec_avx2_pooled.json``).

Runs ``reports/2026-12-07-headroom-6/summary.py`` (loaded from there, unchanged) with this report's
folder first among the folders it reads each ``<cell>_pooled.json`` from (the first that has it). Both
Yelp SASRec rows read ``yelp/sasrec``; the folder in brackets tells them apart
(``2026-12-07-headroom-7``: headroom-2's checkpoint; ``2026-12-07-headroom-9``: the AVX2-host one).

usage: python reports/2026-12-07-headroom-9/summary.py   (from the repo root)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

REP = Path("reports")
_spec = importlib.util.spec_from_file_location("h6_summary", REP / "2026-12-07-headroom-6" / "summary.py")
h6 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h6)
h6.DIRS = (REP / "2026-12-07-headroom-9", REP / "2026-12-07-headroom-7", *h6.DIRS)
h6.CELLS = (*h6.CELLS, "yelp_sasrec", "yelp_sasrec_avx2")

if __name__ == "__main__":
    h6.main()
