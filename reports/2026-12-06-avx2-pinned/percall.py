"""Per-call timing of chord.mp_linear (exact/act8) at small shapes, for one tree (PYTHONPATH).
Prints one JSON line per case: min/median us of (a) the public call on one hot weight,
(b) the public call rotating over copies (> LLC, as chord bench), (c) the C++ entry alone."""

import json
import os
import time

import torch

import chord
from chord.bench.config import mix_codes, parse_mix
from chord_kernels import _cpu

torch.set_num_threads(int(os.environ.get("T", "1")))
reps = int(os.environ.get("REPS", "400"))
shapes = [(1, 1024, 1024), (16, 1024, 1024), (1, 256, 256), (16, 256, 256), (1, 4096, 4096)]
if os.environ.get("SHAPES"):
    shapes = [tuple(int(v) for v in s.split("x")) for s in os.environ["SHAPES"].split(",")]
mixes = os.environ.get("MIXES", "mix3,u8").split(",")
paths = [int(v) for v in os.environ.get("PATHS", "0,8").split(",")]


def stat(f, n):
    ts = []
    for i in range(n):
        t0 = time.perf_counter()
        f(i)
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[0] * 1e6, ts[len(ts) // 2] * 1e6


for M, K, N in shapes:
    g = torch.Generator().manual_seed(1)
    w = torch.randn(N, K, generator=g)
    x = torch.randn(M, K, generator=g)
    for ml in mixes:
        _, mix = parse_mix(ml)
        mw = chord.pack(w, mix_codes(mix, N, seed=0))
        nrot = max(2, min(64, (80 << 20) // mw.nbytes))
        copies = [mw] + [
            chord.MixedWeight(
                mw.qweight.clone(),
                mw.scales.clone(),
                mw.zeros.clone(),
                mw.perm.clone(),
                mw.codes,
                list(mw.buckets),
                mw.shape,
                mw.codebook,
            )
            for _ in range(nrot - 1)
        ]
        for ab in paths:
            for c in copies:
                chord.mp_linear(x, c, act_bits=ab)
            hot = stat(lambda i: chord.mp_linear(x, mw, act_bits=ab), reps)
            rot = stat(lambda i: chord.mp_linear(x, copies[i % nrot], act_bits=ab), max(reps, 2 * nrot))
            cache = mw.__dict__["_cpu_handle"]
            h = cache.handle
            y = torch.empty(M, N)
            nt = torch.get_num_threads()
            cpp = stat(lambda i: _cpu.mp_linear_ptr(h, x.data_ptr(), 0, M, K, 1, 0, ab, y.data_ptr(), N, nt), reps)
            print(
                json.dumps(
                    {
                        "tree": os.environ.get("TREE", "?"),
                        "t": torch.get_num_threads(),
                        "isa": os.environ.get("CHORD_CPU_ISA", "auto"),
                        "shape": f"{M}x{K}x{N}",
                        "mix": ml,
                        "act_bits": ab,
                        "hot_min": round(hot[0], 1),
                        "hot_med": round(hot[1], 1),
                        "rot_min": round(rot[0], 1),
                        "rot_med": round(rot[1], 1),
                        "cpp_min": round(cpp[0], 1),
                        "cpp_med": round(cpp[1], 1),
                    }
                ),
                flush=True,
            )
