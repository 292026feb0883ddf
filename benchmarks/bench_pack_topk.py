"""Timing of the on-device adaptation step (chord::quantize_pack) and of fused quantized item
scoring + top-k (chord::mp_topk) against their torch baselines. Plain script (median of
repeats, rotating weight sets so caches don't flatter); run under the bench lock:

    flock /tmp/chord-bench.lock python benchmarks/bench_pack_topk.py [--threads 2]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

import chord
from chord.backends import reference
from chord.mixed_weight import plan_buckets


CLOCK = time.perf_counter


def median_ms(fn, args_list, reps):
    fn(*args_list[0])  # warm up
    ts = []
    for r in range(reps):
        a = args_list[r % len(args_list)]
        t0 = CLOCK()
        fn(*a)
        ts.append((CLOCK() - t0) * 1e3)
    return statistics.median(ts)


def mix_codes(N, mix, g):
    """mix: '3.0' (75% 2-bit, 12.5% 4-bit, 12.5% 8-bit), '4', '8', '2' -> uint8 codes [N] (default codebook)."""
    if mix == "3.0":
        n8, n4 = N // 8, N // 8
        c = torch.tensor([3] * n8 + [2] * n4 + [1] * (N - n8 - n4), dtype=torch.uint8)
        return c[torch.randperm(N, generator=g)]
    return torch.full((N,), {"2": 1, "4": 2, "8": 3}[mix], dtype=torch.uint8)


def bench_pack(reps, sets):
    g = torch.Generator().manual_seed(0)
    print("## quantize_pack (fp32 weights x codes -> packed), 4096x4096")
    N = K = 4096
    ws = [torch.randn(N, K, generator=g) for _ in range(sets)]
    for mix in ("3.0", "4", "8"):
        codes = mix_codes(N, mix, g)
        perm, buckets = plan_buckets(codes, chord.Codebook.default())
        args = [(w, perm, buckets, "sym") for w in ws]
        t_cpp = median_ms(torch.ops.chord.quantize_pack, args, reps)
        t_ref = median_ms(reference.quantize_pack, args, max(3, reps // 4))
        t_api = median_ms(lambda w: chord.pack(w, codes), [(w,) for w in ws], reps)
        gbs = N * K * 4 / t_cpp / 1e6
        print(f"mix {mix:>3}: C++ op {t_cpp:7.2f} ms ({gbs:5.1f} GB/s fp32 read) | torch reference {t_ref:8.2f} ms "
              f"({t_ref / t_cpp:5.1f}x) | chord.pack() incl. Python checks {t_api:7.2f} ms")


def bench_model_pack(reps):
    """Every quantizable Linear of a SASRec-sized backbone (d=64, 2 blocks, FFN 4d) plus a
    100k x 64 item table, packed at the 3.0-bit mix (what DeviceModel.apply runs)."""
    g = torch.Generator().manual_seed(1)
    d = 64
    shapes = [(d, d)] * 4 * 2 + [(4 * d, d), (d, 4 * d)] * 2 + [(100_000, d)]
    ws = [torch.randn(s, generator=g) for s in shapes]
    codes = [mix_codes(s[0], "3.0", g) for s in shapes]
    plans = [plan_buckets(c, chord.Codebook.default()) for c in codes]

    def run_cpp():
        for w, (p, b) in zip(ws, plans):
            torch.ops.chord.quantize_pack(w, p, b, "sym")

    def run_ref():
        for w, (p, b) in zip(ws, plans):
            reference.quantize_pack(w, p, b, "sym")

    n_el = sum(a * b for a, b in shapes)
    t_cpp = median_ms(run_cpp, [()], reps)
    t_ref = median_ms(run_ref, [()], max(3, reps // 4))
    t_small = median_ms(lambda: [torch.ops.chord.quantize_pack(w, p, b, "sym")
                                 for w, (p, b) in zip(ws[:-1], plans[:-1])], [()], reps)
    print(f"## SASRec-sized model ({len(shapes) - 1} Linear layers d={d} + 100k x {d} item table, {n_el / 1e6:.2f} M weights), 3.0-bit mix")
    print(f"C++ {t_cpp:.2f} ms ({n_el * 4 / t_cpp / 1e6:.1f} GB/s) | reference {t_ref:.2f} ms ({t_ref / t_cpp:.1f}x) | "
          f"backbone only (no item table) C++ {t_small:.3f} ms")


def bench_topk(reps, sets, threads):
    g = torch.Generator().manual_seed(2)
    N, K, k = 100_000, 64, 10
    print(f"## scoring {N} items x K={K} + top-{k}")
    Es = [torch.randn(N, K, generator=g) for _ in range(sets)]
    for M in (1, 256):
        xs = [torch.randn(M, K, generator=g) for _ in range(sets)]
        t_fp = median_ms(lambda x, E: torch.topk(x @ E.T, k, dim=1), list(zip(xs, Es)), reps)
        line = f"M={M:>3}: fp32 x@E.T+topk {t_fp:7.3f} ms"
        for mix in ("3.0", "4", "8"):
            mws = [chord.pack(E, mix_codes(N, mix, g)) for E in Es]
            for ab in (0, 8):
                t = median_ms(lambda x, mw: chord.mp_topk(x, mw, k, act_bits=ab), list(zip(xs, mws)), reps)
                line += f" | {mix}b{'/a8' if ab else ''} {t:6.3f} ms ({t_fp / t:4.1f}x)"
        print(line)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--sets", type=int, default=3, help="weight sets rotated between repeats")
    ap.add_argument("--only", choices=("pack", "model", "topk"), default=None)
    ap.add_argument("--clock", choices=("wall", "process"), default="wall",
                    help="process: CPU time of this process (robust on a loaded machine; meaningful with --threads 1)")
    a = ap.parse_args()
    global CLOCK
    CLOCK = time.process_time if a.clock == "process" else time.perf_counter
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, threads {a.threads}, clock {a.clock}, load average {open('/proc/loadavg').read().split()[:3]}")
    if a.only in (None, "pack"):
        bench_pack(a.reps, a.sets)
    if a.only in (None, "model"):
        bench_model_pack(a.reps)
    if a.only in (None, "topk"):
        bench_topk(a.reps * 5, a.sets, a.threads)


if __name__ == "__main__":
    main()
