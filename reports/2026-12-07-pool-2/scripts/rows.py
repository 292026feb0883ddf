"""chord and Q2_K rows of bench runs side by side: min ms, and the chord 2-thread row's pool counters
(wakeups per shared job where the build counts them). Usage: rows.py RUN_DIR..."""

import json
import sys
from pathlib import Path

for d in sys.argv[1:]:
    doc = json.loads((Path(d) / "results.json").read_text())
    cells = {}
    pool = {}
    for b in doc["benchmarks"]:
        ex, p = b["extra_info"], b["params"]
        impl = ex.get("impl")
        if impl not in ("chord", "ggml_q2_k", "torch_dynamic_int8"):
            continue
        pages = ex.get("pages") or p.get("pages") or ""
        key = (p.get("M"), p.get("threads"))
        name = impl + (f" {pages}" if pages and impl == "ggml_q2_k" else "")
        cells.setdefault(key, {}).setdefault(name, []).append(b["stats"]["min"] * 1e3)
        if impl == "chord":
            pool[key] = ex.get("pool")
    print(Path(d).name)
    for key, c in sorted(cells.items()):
        ch = c.get("chord", [float("nan")])[0]
        q = c.get("ggml_q2_k") or []
        qs = ", ".join(f"{x:.3f}" for x in q)
        ratio = ", ".join(f"{x / ch:.2f}x" for x in q)
        pl = pool.get(key) or {}
        extra = ""
        if pl:
            extra = f"  pool: shared {pl.get('shared')} alone {pl.get('alone')} stragglers {pl.get('stragglers')}"
            if "wakeups" in pl:
                extra += f" wakeups {pl['wakeups']}"
        print(
            f"  M={key[0]} t={key[1]}: chord {ch:.3f} ms; Q2_K {qs} ms ({ratio}); dyn-int8 {c.get('torch_dynamic_int8', [0])[0]:.3f}{extra}"
        )
