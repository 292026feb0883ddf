"""M = 1 act8 GEMV against llama.cpp Q2_K and the streaming-read roof, all in one process.

Every implementation runs round-robin (one call each per round, weights rotated through >= 256 MB
of copies so every call streams from DRAM, not the 32 MiB L3), min over rounds; the read roof is
the C++ probe (chord.bench.read_roof) in the same run. Variants:
  chord <mix> 2m   chord.mp_linear(act_bits=8) with packed weights as chord.pack places them
                   (2 MiB pages, chord.host_memory); 4k: the same bytes on torch's 4 KiB pages
  q2_k 4k / 2m     ggml Q2_K mul_mat (ggml-python), ggml's own context / one on 2 MiB pages
Usage: python gemv_roof.py OUT.json [ROUNDS] [THREADS] [SHAPES] [MIXES]
  e.g. python gemv_roof.py r.json 300 1,2 4096x4096,8192x8192 mix3,2:0.9,8:0.1
(mixes are separated by commas, their parts are "bits:share"; a mix is a run of parts)
"""

from __future__ import annotations

import json
import os
import sys
import time

import torch

import chord
from chord.bench import machine, peer_ggml, read_roof
from chord.bench.config import NAMED_MIXES, mix_codes
from chord.bench.suites.common import clone_packed


def parse_mixes(text: str) -> dict[str, dict[int, float]]:
    out, cur = {}, None
    for part in text.split(","):
        if ":" not in part:
            out[part] = NAMED_MIXES[part]
            cur = None
            continue
        b, f = part.split(":")
        if cur is None:
            cur = {}
            out[f"mix{len(out)}"] = cur
        cur[int(b)] = float(f)
    return {
        (k if not k.startswith("mix") or k in NAMED_MIXES else ",".join(f"{b}:{f}" for b, f in v.items())): v
        for k, v in out.items()
    }


def copies(mw: chord.MixedWeight, n: int, huge: bool) -> list[chord.MixedWeight]:
    """``n`` copies of ``mw`` (not ``mw`` itself: chord.pack placed it on 2 MiB pages)."""
    return clone_packed(mw, n + 1, hugepages=huge)[1:]


def main() -> None:
    out = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    threads = [int(t) for t in (sys.argv[3] if len(sys.argv) > 3 else "1,2").split(",")]
    shapes = [
        tuple(int(v) for v in s.split("x"))
        for s in (sys.argv[4] if len(sys.argv) > 4 else "4096x4096,8192x8192").split(",")
    ]
    mixes = parse_mixes(sys.argv[5] if len(sys.argv) > 5 else "mix3,2:0.9,8:0.1")
    rot = 256 << 20
    doc = {"machine": machine.machine_info(), "rounds": rounds, "rotation_bytes": rot, "roof": {}, "cases": []}
    for t in threads:
        torch.set_num_threads(t)
        doc["roof"][str(t)] = read_roof.stream_read(128 << 20, t)
        print(f"roof t={t}: " + ", ".join(f"{k} {v:.1f}" for k, v in doc["roof"][str(t)].items()), flush=True)
    for K, N in shapes:
        g = torch.Generator().manual_seed(0)
        w = torch.randn(N, K, generator=g)
        x = torch.randn(1, K, generator=g)
        impls = {}
        for label, mix in mixes.items():
            mw = chord.pack(w, mix_codes(mix, N, seed=0))
            n = max(2, -(-rot // mw.nbytes))
            for page, huge in (("2m", True), ("4k", False)):
                cs = copies(mw, n, huge)
                impls[f"chord {label} {page}"] = (
                    (lambda cs: lambda i: chord.mp_linear(x, cs[i % len(cs)], act_bits=8))(cs),
                    mw.qweight.numel() + 12 * N,  # packed bytes + scales, zeros, perm
                )
        row = 84 * K // 256  # Q2_K: 84 bytes per 256 weights
        nq = max(2, -(-rot // (row * N)))
        for t in threads:
            torch.set_num_threads(t)
            fns = dict(impls)
            keep = []
            for page, huge in (("4k", False), ("2m", True)):
                p = peer_ggml.ggml_matmul("ggml_q2_k", w, x, nq, t, hugepages=huge)
                keep.append(p)
                fns[f"q2_k {page}"] = (p.fn, row * N)
            best = {k: float("inf") for k in fns}
            deadline = time.perf_counter() + float(os.environ.get("MAX_S", 120))
            for r in range(rounds):
                for k, (fn, _) in fns.items():
                    t0 = time.perf_counter()
                    fn(r)
                    best[k] = min(best[k], time.perf_counter() - t0)
                if time.perf_counter() > deadline:
                    break
            roof = max(doc["roof"][str(t)].values())
            for k, (_fn, nbytes) in fns.items():
                case = {
                    "K": K,
                    "N": N,
                    "threads": t,
                    "impl": k,
                    "bytes": nbytes,
                    "min_ms": best[k] * 1e3,
                    "GBps": nbytes / best[k] / 1e9,
                    "roof_GBps": roof,
                    "rounds": r + 1,
                }
                case["roof_fraction"] = case["GBps"] / roof
                doc["cases"].append(case)
                print(
                    f"{K}x{N} t={t} {k:<24} {case['min_ms']:.3f} ms  {case['bytes'] / 1e6:.2f} MB  "
                    f"{case['GBps']:.1f} GB/s  {100 * case['roof_fraction']:.0f}% of roof",
                    flush=True,
                )
            del keep
    doc["load_average_end"] = machine.load_average()
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
