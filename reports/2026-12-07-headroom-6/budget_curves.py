"""The budget curves of issue 19 with this report's runs added, from committed result files only.

Draws headroom-5's figure (its script, loaded from there, unchanged in what it draws) with this
report's result files added: the pretrained-frozen cells' new CHORD and DIET training seeds
(``cells/<cell>_s<seed>.json``, ``cells/<cell>_diet_s<seed>.json``: DIET is now the mean of its seeds
with min-max bars, as CHORD), DIET on ML-100K SASRec where it ran, and the random-frozen cells' new
CHORD-random seeds (``chord_random/``), pooled into their CHORD-random series.

usage: python reports/2026-12-07-headroom-6/budget_curves.py [OUT.png]   (run from the repo root)
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

H6 = Path("reports") / "2026-12-07-headroom-6"
_spec = importlib.util.spec_from_file_location(
    "h5_curves", Path("reports") / "2026-12-07-headroom-5" / "budget_curves.py"
)
h5 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h5)
h4 = h5.h4
h5.CELLS.append(H6 / "cells")
_h5_panels = h4.panels


def _more_seeds(pair: str, ser: list[dict], files: list[Path], name: str, key: str) -> list[dict]:
    """Adds the runs in ``files`` to the series ``name`` (or makes it): one more value per budget."""
    runs = [h4.experiment(p) for p in files]
    if not runs:
        return ser
    old = next((s for s in ser if s.get("name") == name and s.get("all")), None)
    if old is None:
        return ser + h4.exp_series(name, runs, f"{pair}/{key}", f"{h4.users_of(files[0])} users (all)")
    pts = dict(old["pts"])
    for b in h4.BUDGETS:
        pts.setdefault(b, [])
        pts[b] = pts[b] + [r[f"{pair}/{key}@{b}"] for r in runs if f"{pair}/{key}@{b}" in r]
    old["pts"] = [(b, v) for b, v in sorted(pts.items()) if v]
    return ser


def panels() -> list[tuple[str, list[dict]]]:
    out = []
    for title, ser in _h5_panels():
        ds, _, m = title.split(",")[0].partition(" / ")
        short, pair = ds.replace("-", ""), f"{ds}/{m}"
        if "random-frozen" in title:
            files = sorted((H6 / "chord_random").glob(f"{short}_{m}_random_s*.json"))
            ser = _more_seeds(pair, ser, files, "CHORD-random", "chord-random")
        elif not any(s.get("name") == "DIET" for s in ser):
            # a checkpoint that had no headroom-5 run (ML-100K SASRec): its DIET runs are this report's
            ser = _more_seeds(
                pair, ser, sorted((H6 / "cells").glob(f"{short}_{m}_diet_s*.json")), "DIET", "diet-pretrained"
            )
        out.append((title, ser))
    return out


h4.panels = panels

if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else H6 / "budget_curves.png"
    for line in h4.draw(out):
        print(line)
    print(f"wrote {out}")
