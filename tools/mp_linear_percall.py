"""Per-call timing of chord.mp_linear (exact/act8) at small shapes, for one tree (PYTHONPATH).
Prints one JSON line per case: min/median us of (a) the public call on one hot weight,
(b) the public call rotating over copies (> LLC, made by that tree's ``chord bench``),
(c) the C++ entry alone.

    TREE=name [T=threads] [REPS=400] [SHAPES=1x1024x1024,...] [MIXES=mix3,u8] [PATHS=0,8] \\
        PYTHONPATH=TREE/python:TREE python tools/mp_linear_percall.py

The probes ``reports/2026-12-06-exact-small-shapes/percall.py`` and
``reports/2026-12-06-avx2-pinned/percall.py`` run this. It compares trees (an old commit against
main), so it needs only what those trees have: ``chord.pack``/``mp_linear``, ``parse_mix``,
``mix_codes`` and ``clone_packed``; the timing loop is this checkout's
(``python/chord/bench/timing.py``, loaded by path), so every tree is timed by the same code.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import sys
from pathlib import Path

import torch

import chord
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.common import clone_packed
from chord_kernels import _cpu


@functools.cache
def _timing():
    path = Path(__file__).resolve().parents[1] / "python" / "chord" / "bench" / "timing.py"
    spec = importlib.util.spec_from_file_location("this_checkouts_chord_bench_timing", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def stat(f, n: int) -> tuple[float, float]:
    """min, median microseconds of ``n`` single calls ``f(i)``."""
    ts = _timing().per_call(f, n)
    return ts[0] * 1e6, ts[len(ts) // 2] * 1e6


def main(threads_and_isa: bool = False) -> None:
    """``threads_and_isa``: each line also records ``t`` (torch threads) and ``isa`` (``CHORD_CPU_ISA``)."""
    torch.set_num_threads(int(os.environ.get("T", "1")))
    reps = int(os.environ.get("REPS", "400"))
    shapes = [(1, 1024, 1024), (16, 1024, 1024), (1, 256, 256), (16, 256, 256), (1, 4096, 4096)]
    if os.environ.get("SHAPES"):
        shapes = [tuple(int(v) for v in s.split("x")) for s in os.environ["SHAPES"].split(",")]
    mixes = os.environ.get("MIXES", "mix3,u8").split(",")
    paths = [int(v) for v in os.environ.get("PATHS", "0,8").split(",")]
    for M, K, N in shapes:
        g = torch.Generator().manual_seed(1)
        w = torch.randn(N, K, generator=g)
        x = torch.randn(M, K, generator=g)
        for ml in mixes:
            _, mix = parse_mix(ml)
            mw = chord.pack(w, mix_codes(mix, N, seed=0))
            nrot = max(2, min(64, (80 << 20) // mw.nbytes))
            copies = clone_packed(mw, nrot)
            for ab in paths:
                for c in copies:
                    chord.mp_linear(x, c, act_bits=ab)
                hot = stat(lambda i: chord.mp_linear(x, mw, act_bits=ab), reps)
                rot = stat(lambda i: chord.mp_linear(x, copies[i % nrot], act_bits=ab), max(reps, 2 * nrot))
                h = mw.__dict__["_cpu_handle"].handle
                y = torch.empty(M, N)
                nt = torch.get_num_threads()
                cpp = stat(lambda i: _cpu.mp_linear_ptr(h, x.data_ptr(), 0, M, K, 1, 0, ab, y.data_ptr(), N, nt), reps)
                line = {
                    "tree": os.environ.get("TREE", "?"),
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
                if threads_and_isa:
                    line |= {"t": torch.get_num_threads(), "isa": os.environ.get("CHORD_CPU_ISA", "auto")}
                print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
