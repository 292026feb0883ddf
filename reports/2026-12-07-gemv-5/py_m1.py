"""chord.mp_linear at M = 1, act8, mix3 K x K, as the bench's kernels suite builds it (chord.pack,
clone_packed rotation over >= 256 MiB), timed per call (chord.bench.timing.per_call_for): min /
p10 / median over a few seconds. Prints the AnonHugePages of this process too (are the rotated
weights on 2 MiB pages?).

    PYTHONPATH=<tree>/python:<tree> python py_m1.py K THREADS SECONDS [--ref]
"""

import sys

import torch

import chord
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.common import clone_packed, seeded_randn
from chord.bench.timing import per_call_for


def anon_huge_kb() -> int:
    for line in open("/proc/self/smaps_rollup"):
        if line.startswith("AnonHugePages"):
            return int(line.split()[1])
    return -1


def main() -> None:
    K = int(sys.argv[1]) if len(sys.argv) > 1 else 8192
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
    torch.manual_seed(0)
    w = seeded_randn(K, K, seed=0, device="cpu")
    x = seeded_randn(1, K, seed=1, device="cpu")
    _, mix = parse_mix("mix3")
    mw = chord.pack(w, mix_codes(mix, K, seed=0))
    n = max(2, -(-(256 << 20) // mw.nbytes))
    if "--ref" in sys.argv:  # as the bench's prepare(): one call and the float64 reference first
        chord.mp_linear(x, mw, act_bits=8)
        ref = x.double() @ mw.dequantize().double().T
        del ref
    mws = clone_packed(mw, n)
    torch.set_num_threads(threads)
    for i in range(20):
        chord.mp_linear(x, mws[i % n], act_bits=8)
    ts = per_call_for(lambda i: chord.mp_linear(x, mws[i % n], act_bits=8), seconds)
    ms = [1e3 * ts[int(q * (len(ts) - 1))] for q in (0.0, 0.1, 0.5)]
    print(
        f"K={K} t={threads} sets={n} calls={len(ts)} min {ms[0]:.4f} p10 {ms[1]:.4f} med {ms[2]:.4f} ms; AnonHugePages {anon_huge_kb() >> 10} MiB"
    )


if __name__ == "__main__":
    main()
