"""Headroom-6's CHORD-random per-seed table with this report's random-frozen Yelp SASRec seeds added.

Runs ``reports/2026-12-07-headroom-6/chord_random_seeds.py`` (loaded from there, unchanged) over its
result files (headroom-4's and headroom-6's ``chord_random/``) and this report's ``chord_random/``.

usage: python reports/2026-12-07-headroom-8/chord_random_seeds.py [--json OUT]   (from the repo root)
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

REP = Path("reports")
_spec = importlib.util.spec_from_file_location("h6_seeds", REP / "2026-12-07-headroom-6" / "chord_random_seeds.py")
h6 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h6)
h6.DIRS = (*h6.DIRS, REP / "2026-12-07-headroom-8" / "chord_random")

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", type=Path)
    h6.main(p.parse_args().json)
