"""The M = 1 rows of chord bench result files, in the order they were timed: per row the min ms,
GB/s, the read roof before / after its rounds, its fraction of that roof and of the run's roof,
when its probes ended (seconds into the run), and chord's speedup over llama.cpp Q2_K (own allocation / 2 MiB pages) in the same group.

    python reports/2026-12-07-roof-2/show.py DIR [DIR ...]     # each DIR holds a results.json
"""

import json
import sys
from pathlib import Path


def show(path: Path) -> None:
    doc = json.loads((path / "results.json").read_text())
    c = doc["chord"]
    bw = ", ".join(f"t={t} {v['read_GBps']:.1f}" for t, v in sorted(c["bandwidth"].items()))
    probes = f", {c['roof_probes']} probes {c['roof_probe_elapsed_s']:.1f} s" if c.get("roof_probes") else ""
    print(f"## {path.name}: run-level read roof {bw} GB/s; {c['elapsed_s']:.0f} s{probes}")
    groups: dict[str, list[dict]] = {}
    for r in doc["benchmarks"]:
        if r["params"].get("M") == 1:
            groups.setdefault(r["group"], []).append(r)
    for g, recs in groups.items():
        print(f"  {g}")
        q2 = {
            r["params"].get("pages", "own"): r["stats"]["min"] for r in recs if r["extra_info"]["impl"] == "ggml_q2_k"
        }
        for r in recs:
            ex = r["extra_info"]
            adj = ex.get("read_GBps_adjacent")
            name = ex["impl"] + (" " + r["params"]["pages"] if "pages" in r["params"] else "")
            line = f"    {name:<20} {r['stats']['min'] * 1e3:7.3f} ms {ex.get('GBps', 0):5.1f} GB/s"
            line += f" run roof {ex.get('read_roofline_fraction', 0):4.0%}"
            if adj:
                mode = " CHANGED" if ex["host_mode_changed"] else ""
                at = adj.get("at_s") or [None, None]
                if at[0] is not None:
                    line += f" | {at[0]:5.1f}-{at[1]:5.1f} s"
                line += f" | beside {adj['before']:5.1f} -> {adj['after']:5.1f}"
                line += f" = {ex['read_roofline_fraction_adjacent']:4.0%}{mode}"
            if ex["impl"] == "chord" and q2:
                line += " | x Q2_K " + " / ".join(
                    f"{q2[p] / r['stats']['min']:.2f}" for p in sorted(q2, key="own".__ne__)
                )
            print(line)
        grp = recs[0]["extra_info"].get("read_GBps_group")
        if grp:
            flag = " GROUP MODE CHANGED" if recs[0]["extra_info"]["group_mode_changed"] else ""
            print(f"    group roofs {grp['min']:.1f}-{grp['max']:.1f} GB/s over {grp['probes']} probes{flag}")


if __name__ == "__main__":
    for d in sys.argv[1:]:
        show(Path(d))
