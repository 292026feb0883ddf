import json
import sys

for f in sys.argv[1:]:
    d = json.load(open(f))
    rows = {}
    for b in d["benchmarks"]:
        ex = b["extra_info"]
        p = b["params"]
        key = (ex["impl"], p.get("M", ""), p.get("K") or p.get("model") or "", p.get("path", ""))
        rows.setdefault(key, {})[p["threads"]] = (b["stats"]["min"] * 1e3, b["stats"]["median"] * 1e3)
    print(f, "contend cpus", (d["chord"].get("contend") or {}).get("cpus"), "load", d["machine_info"]["load_average"])
    for k, v in rows.items():
        if 1 in v and 2 in v:
            print(
                f"   {k}: t1 min {v[1][0]:.3g} med {v[1][1]:.3g} | t2 min {v[2][0]:.3g} med {v[2][1]:.3g} | t2/t1 min {v[2][0] / v[1][0]:.2f} med {v[2][1] / v[1][1]:.2f}"
            )
