"""Rerank latency of the C API (libchord, no Python) vs the Python fused runtime on the same model
file, strategy and user history; also the C example's peak memory.

    python tools/arm/bench_latency.py BUILD_DIR [--reps 2000] [--threads 1] [--out reports/...json]

BUILD_DIR: an x86 Release build of tools/arm/ci.sh (``bash tools/arm/ci.sh x86 build/x86``).
The model is a random-init SASRec of the default ML-100K size (1682 items, d = 64, 2 blocks,
max_len 50; latency does not depend on the weights) and a Caser (L = 5, d = 64); the strategy
a random 3-bit one; the history 50 items. Python: ``DeviceModel.apply`` + ``chord.runtime.compile``
+ ``FusedSASRec.topk`` (median of REPS calls); C: ``chord_apply_strategy`` + ``chord_rerank``.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import chord
from chord import DeviceModel, Strategy, model_fingerprint, quantizable_layers
from chord.export import export_model
from chord.models import Caser, SASRec


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def bench(arch: str, build: Path, reps: int, threads: int, act_bits: int, tmp: Path) -> dict:
    torch.manual_seed(0)
    model = (
        SASRec(1682, dim=64, blocks=2, heads=1, max_len=50, dropout=0.0)
        if arch == "sasrec"
        else Caser(1682, dim=64, L=5, n_v=4, n_h=16, num_users=943, dropout=0.0)
    ).eval()
    path, spath = tmp / f"{arch}.chord", tmp / f"{arch}.strategy"
    export_model(model, path)
    strat = Strategy.random(quantizable_layers(model), 3.0, seed=1).to_bytes(model_fingerprint(model))
    spath.write_bytes(strat)
    hist = torch.randint(1, 1683, (50,), generator=torch.Generator().manual_seed(2))
    user = 7 if arch == "caser" else -1
    kw = {"users": torch.tensor([user])} if arch == "caser" else {}

    torch.set_num_threads(threads)
    dm = DeviceModel(copy.deepcopy(model), act_bits=act_bits)
    t = []
    for _ in range(max(1, reps // 100)):
        t0 = time.perf_counter()
        dm.apply(strat)
        fused = chord.runtime.compile(dm.model)
        t.append(time.perf_counter() - t0)
    py_apply = _median(t) * 1e6
    seq = hist.view(1, -1)
    fused.topk(seq, 10, **kw)
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        _, ids = fused.topk(seq, 10, **kw)
        t.append(time.perf_counter() - t0)
    py_rerank = _median(t) * 1e6

    r = subprocess.run(
        [
            str(build / "chord_bench_capi"),
            str(path),
            str(spath),
            str(reps),
            str(threads),
            str(act_bits),
            str(user),
            *map(str, hist.tolist()),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    c = {k: float(v) for k, v in (line.split() for line in r.stdout.splitlines())}
    assert int(c["top1"]) == int(ids[0, 0]), (c, ids)
    # peak memory of the C example (one process: open + apply + rerank + print)
    mem = subprocess.run(
        [
            "/usr/bin/time",
            "-v",
            str(build / "chord_rerank"),
            str(path),
            str(spath),
            *map(str, hist.tolist()),
            "--user",
            str(user),
            "--act-bits",
            str(act_bits),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", mem.stderr).group(1))
    return {
        "arch": arch,
        "act_bits": act_bits,
        "threads": threads,
        "reps": reps,
        "model_file_bytes": path.stat().st_size,
        "python": {"apply_and_compile_us": round(py_apply, 1), "rerank_us": round(py_rerank, 2)},
        "c": {
            "open_us": c["open_us"],
            "apply_us": c["apply_us"],
            "rerank_us": c["rerank_us"],
            "rerank_min_us": c["rerank_min_us"],
        },
        "c_example_peak_rss_kb": rss_kb,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", type=Path)
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for arch in ("sasrec", "caser"):
            for act in (0, 8):
                rows.append(bench(arch, args.build, args.reps, args.threads, act, Path(d)))
                print(json.dumps(rows[-1]))
    meta = {
        "command": " ".join(sys.argv),
        "cpu": platform.processor() or platform.machine(),
        "isa": chord.backends.cpu.resolve_isa("auto") if hasattr(chord.backends.cpu, "resolve_isa") else None,
        "torch": torch.__version__,
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
