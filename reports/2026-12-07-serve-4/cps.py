import json
import sys

for f in sys.argv[1:]:
    d = json.load(open(f))
    for r in d["results"]:
        rows = r["rows"] + ([r["overload"]["row"]] if r.get("overload") else [])
        print(
            f.split("/")[-1],
            "w",
            r["workers"],
            "mi",
            r["max_inflight"],
            " ".join(
                f"c{x['concurrency']}:{x['cpu_ms_per_strategy'] * 1e3:.0f}us/{x['mean_batch']:.0f}b/{x['server_cpu_cores']:.2f}c"
                for x in rows
            ),
        )
