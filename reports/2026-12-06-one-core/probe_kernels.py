import statistics
import sys
import time

import torch

import chord
from chord.bench import contend
from chord.bench.config import NAMED_MIXES, mix_codes

torch.manual_seed(0)


def cases():
    w = torch.randn(4096, 4096)
    codes = mix_codes(NAMED_MIXES["mix3"], 4096)
    mw = chord.pack(w, codes)
    x1 = torch.randn(1, 4096)
    x16 = torch.randn(16, 4096)
    tbl = chord.pack(torch.randn(100000, 64), mix_codes(NAMED_MIXES["mix3"], 100000))
    u = torch.randn(1, 64)
    w2 = torch.randn(1024, 1024)
    c2 = mix_codes(NAMED_MIXES["mix3"], 1024)
    return {
        "mp_linear M=1 4096² act8": lambda: chord.mp_linear(x1, mw, act_bits=8),
        "mp_linear M=16 4096² exact": lambda: chord.mp_linear(x16, mw),
        "mp_topk 100k×64 k=10": lambda: chord.mp_topk(u, tbl, 10),
        "pack 1024²": lambda: chord.pack(w2, c2),
        "pack 4096²": lambda: chord.pack(w, codes),
    }


def t(fn, reps):
    fn()
    fn()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out), statistics.median(out)


n = int(sys.argv[1]) if len(sys.argv) > 1 else 1
cs = cases()
with torch.inference_mode(), contend.busy_processes(n) as busy:
    print("contend:", busy)
    for name, fn in cs.items():
        row = []
        for th in (1, 2):
            torch.set_num_threads(th)
            reps = 30 if "4096² " in name and "pack" in name else 60
            mn, md = t(fn, reps)
            row.append((mn, md))
        print(
            f"{name:30s} t1 min {row[0][0] * 1e3:8.3f} med {row[0][1] * 1e3:8.3f} | t2 min {row[1][0] * 1e3:8.3f} med {row[1][1] * 1e3:8.3f} | med t2/t1 {row[1][1] / row[0][1]:.2f}",
            flush=True,
        )
