"""The budget curves of issue 19 with this report's runs added, from committed result files only.

It draws what ``2026-12-07-headroom-4/budget_curves.py`` draws (loaded from there, unchanged) and adds,
on the pretrained-frozen Yelp SASRec, Yelp Caser, Beauty Caser and Beauty SASRec panels, the runs of
this report (and the searched population on every user on ML-100K SASRec): CHORD (trained at 3.0 bits, served at 1.5-3.0; the mean of its training seeds with
min-max bars), CHORD's own one strategy, layer-wise, DIET (pretrained), and the headroom cells'
searched population strategy scored on every user. All of them score every test user, so they are
dashed lines with hollow markers beside their own fp32 line (dashed), apart from the headroom
sample (solid lines, dotted fp32), as in headroom-4. Yelp Caser's 2026-12-06 CHORD point (another
recipe) is kept under its own name.

usage: python reports/2026-12-07-headroom-5/budget_curves.py [OUT.png]   (run from the repo root)
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

H5 = Path("reports") / "2026-12-07-headroom-5"
# where the cells' result files are: a later report appends its own dir (same names, plus more DIET
# training seeds as <cell>_diet_s<seed>.json)
CELLS = [H5 / "cells"]
_spec = importlib.util.spec_from_file_location(
    "h4_curves", Path("reports") / "2026-12-07-headroom-4" / "budget_curves.py"
)
h4 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h4)

h4.STYLE["searched population, all users"] = ("C0", "^")
h4.STYLE["CHORD (2026-12-06 recipe)"] = ("C8", "D")
_original = h4.panels


def added(ds: str, m: str) -> tuple[list[dict], bool]:
    """This report's series for one pretrained-frozen checkpoint (all users, dashed), and whether this
    report ran CHORD / layer-wise / DIET on it (then they replace older all-user runs of those)."""
    short, pair = ds.replace("-", ""), f"{ds}/{m}"
    runs = sorted((p for c in CELLS for p in c.glob(f"{short}_{m}_s*.json")), key=lambda p: p.name)
    diet = [h4.experiment(p) for p in sorted(p for c in CELLS for p in c.glob(f"{short}_{m}_diet_s*.json"))]
    res = [h4.experiment(p) for p in runs]
    sp_path = H5 / "searched" / f"{short}_{m}.json"
    sp = h4.experiment(sp_path)
    u = f"{h4.users_of(runs[0] if runs else sp_path)} users (all)"
    ser = h4.exp_series("searched population, all users", [sp], f"{pair}/population-searched", u) if sp else []
    if res:
        chord = [r for r in res if any(k.startswith(f"{pair}/chord-pretrained@") for k in r)]
        ser += h4.exp_series("CHORD", chord, f"{pair}/chord-pretrained", u)
        ser += h4.exp_series("CHORD's one strategy", chord, f"{pair}/population-pretrained", u)
        ser += h4.exp_series("layer-wise", res[:1], f"{pair}/layerwise", u)
        ser += h4.exp_series("DIET", res[:1] + diet, f"{pair}/diet-pretrained", u)
    if sp and f"{pair}/fp32" in sp:
        ser.append({"fp32": sp[f"{pair}/fp32"], "users": u, "all": True})
    return ser, bool(res)


def panels() -> list[tuple[str, list[dict]]]:
    out = []
    for title, ser in _original():
        ds, _, m = title.partition(" / ")
        new, replaces = added(ds, m) if "random-frozen" not in title else ([], False)
        if replaces:
            # Yelp Caser's 2026-12-06 run (5-minute recipe, 3.0 bits): its layer-wise and one-strategy
            # points are this report's (the same checkpoint); its CHORD is another recipe
            for s in ser:
                if s.get("all") and s.get("name") in ("CHORD", "CHORD's one strategy", "layer-wise"):
                    s["name"] = "CHORD (2026-12-06 recipe)" if s["name"] == "CHORD" else None
            ser = [s for s in ser if s.get("name", "") is not None]
        have_all_fp32 = any("fp32" in s and s.get("all") for s in ser)
        ser += [s for s in new if not ("fp32" in s and have_all_fp32)]
        out.append((title, ser))
    return out


h4.panels = panels

if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else H5 / "budget_curves.png"
    for line in h4.draw(out):
        print(line)
    print(f"wrote {out}")
