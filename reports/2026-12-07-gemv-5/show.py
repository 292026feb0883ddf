"""One line per `chord bench` output directory: min ms of chord mix3 act8 and of ggml Q2_K (own
allocation / 2 MiB pages) per case, and chord's fraction of the read roof.

    python show.py DIR...
"""

import json
import os
import sys

for d in sys.argv[1:]:
    with open(os.path.join(d, "results.json")) as f:
        doc = json.load(f)
    out: dict = {}
    for b in doc["benchmarks"]:
        p, e, name = b["params"], b["extra_info"], b["name"]
        if "chord" in name and "act8" in name:
            key = "chord"
        elif "ggml_q2_k" in name:
            key = "q2k2m" if "2m" in name else "q2k"
        else:
            continue
        case = f"{p['K']}t{p['threads']}"
        out.setdefault(case, {})[key] = round(b["stats"]["min"] * 1e3, 4)
        if key == "chord":
            out[case]["roof%"] = round(100 * e.get("read_roofline_fraction", 0), 1)
    print(os.path.basename(d), out)
