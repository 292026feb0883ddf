import statistics
import sys
import time

import torch

import chord
from chord import format as fmt
from chord.bench import contend
from chord.bench.config import NAMED_MIXES, mix_codes
from chord.codebook import Codebook
from chord.mixed_weight import plan_buckets
from chord_kernels import _cpu

torch.manual_seed(0)


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
torch.set_num_threads(1)
cases = {}
for N, K in ((1024, 1024), (4096, 4096)):
    w = torch.randn(N, K)
    codes = mix_codes(NAMED_MIXES["mix3"], N)
    perm, buckets = plan_buckets(codes, Codebook.default())
    qw = torch.empty(fmt.total_bytes(buckets, K), dtype=torch.uint8)
    sc = torch.empty(N)
    ze = torch.empty(N)
    a = (w.numpy(), perm.to(torch.int32).numpy(), buckets, "sym", qw.numpy(), sc.numpy(), ze.numpy())
    cases[f"quantize_pack kernel {N}x{K}"] = (lambda a=a: lambda th: _cpu.quantize_pack(*a, th))()
    mw = chord.pack(w, codes)
    cases[f"chord.pack {N}x{K}"] = (
        lambda w=w, codes=codes: lambda th: (torch.set_num_threads(th), chord.pack(w, codes), torch.set_num_threads(1))
    )()
with torch.inference_mode(), contend.busy_processes(n) as busy:
    print("contend:", busy)
    for name, f in cases.items():
        row = [t(lambda: f(th), 20 if "4096" in name else 60) for th in (1, 2)]
        print(
            f"{name:30s} t1 min {row[0][0] * 1e3:8.3f} med {row[0][1] * 1e3:8.3f} | t2 min {row[1][0] * 1e3:8.3f} med {row[1][1] * 1e3:8.3f} | med t2/t1 {row[1][1] / row[0][1]:.2f}",
            flush=True,
        )
