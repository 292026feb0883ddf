import json
import sys

for f in sys.argv[1:]:
    d = json.load(open(f))
    print(f, "load", d["machine_info"].get("load_average"))
    for b in d["benchmarks"]:
        p = b["params"]
        s = b["stats"]
        r = b["extra_info"].get("speedup_vs_torch_fp32", b["extra_info"].get("ratios", {}))
        print(
            f"  M={p['M']:<3} {p.get('mix', 'torch'):5s} {str(p.get('path', '')):5s} min={s['min'] * 1e6:7.1f} med={s['median'] * 1e6:7.1f}  x_torch(med)={r.get('torch_fp32', '') if isinstance(r, dict) else r}"
        )
