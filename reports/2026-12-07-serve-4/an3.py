import json
import sys

import numpy as np

ev = json.load(open(sys.argv[1]))
req = np.array([(e[1], e[2], e[3]) for e in ev if e[0] == "req"])
fw = np.array([e[1:] for e in ev if e[0] == "fwd"])
base = req[:, 0].min()
ok = req[req[:, 2] == 200]
sh = req[req[:, 2] == 503]
edges = np.arange(0, 5.6, 0.25)
h_ok = np.histogram(ok[:, 1] - base, edges)[0] * 4
h_sh = np.histogram(sh[:, 0] - base, edges)[0] * 4
print("answered/s per 0.25 s:", " ".join(f"{x:.0f}" for x in h_ok))
print("503/s     per 0.25 s:", " ".join(f"{x:.0f}" for x in h_sh))
print("total ok", len(ok), "span", round(ok[:, 1].max() - base, 3))
