"""GPU benchmark of the Triton mp_linear kernels (run by ``benchmarks/gpu/run.sh`` after the tests).

Shapes: M in {1, 16, 64, 256} x K = N in {4096, 8192} at the 3.0-average-bit mix (75 % 2-bit,
12.5 % 4-bit, 12.5 % 8-bit), and item scoring (M = 1 and 256, K = 64, N = 1,000,000 rows).
Baselines in the same run: torch fp16 and bf16 ``F.linear`` on the dense weight, and
dequantize-then-matmul (``MixedWeight.dequantize`` to fp16 + ``F.linear``). For M = 1/16 at
8192 it also times one launch per bucket and bf16 activations.

Fused scoring + top-10 (``chord::mp_topk``, kind "topk"): 1 and 256 users x K = 64 against
1,000,000 and 10,000,000 items (same 3.0-bit mix) vs torch fp16 matmul + ``torch.topk`` on the
dense table; ids are checked against the float64 reference for two users first. Packing (kind
"pack", ``chord::quantize_pack``): 4096 x 4096 and 1,000,000 x 64 fp32 weights vs a plain
device copy of the weight and the pure-torch reference packer. Both are timed eagerly
(``do_bench``: they sync with the host for argument checks and the merge, so they cannot be
captured in a CUDA graph); the times include that host work.

Timing: ``triton.testing.do_bench_cudagraph`` (a CUDA graph of many calls, replayed and timed
with CUDA events: GPU time, no Python launch overhead), median; every call rotates over several
weight sets whose total exceeds the 60 MB L2 four times, so weights come from HBM. "eager" is
``triton.testing.do_bench`` on the plain Python call (L2 flushed before each call), i.e. what
an eager caller sees including launch overhead.
Roofline: the bytes the fused kernel must move (packed weights + per-row scale/zero/perm +
x + y) over the device-to-device copy bandwidth measured at the start (bytes read + written).
Each case is checked against the fp32 dequantize-then-matmul result before it is timed.

Prints a table (last, so it ends the output) and writes JSON to ``$OUT/gpu_check.json``
(or ``--out``). ``--dry-run`` runs the whole script on CPU through the Triton interpreter at
tiny shapes (checks the plumbing, the numbers mean nothing). A time budget (``--budget-s``)
skips the remaining cases rather than overrun the call.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

DRY = "--dry-run" in sys.argv
if DRY:  # must precede the first import of chord_kernels.triton
    os.environ["TRITON_INTERPRET"] = "1"

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import chord  # noqa: E402
from chord import Codebook, pack  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dry-run", action="store_true", help="CPU + Triton interpreter, tiny shapes")
    p.add_argument("--budget-s", type=float, default=300.0, help="stop starting new cases after this")
    p.add_argument("--out", default=os.environ.get("OUT"), help="directory for gpu_check.json ($OUT)")
    p.add_argument("--quick", action="store_true", help="only the two target cases (M=1, 16 at 8192)")
    p.add_argument("--warmup-ms", type=float, default=25.0)
    p.add_argument("--rep-ms", type=float, default=40.0)
    return p.parse_args(argv)


# -- timing ----------------------------------------------------------------------------------
def bench(fn, dev, warmup_ms, rep_ms, graph=True) -> float:
    """Median ms of ``fn()``. On CUDA, by default from a CUDA graph of many calls replayed and
    timed with events (``do_bench_cudagraph``): GPU time without Python launch overhead, which
    at M = 1 (a few microseconds of kernel) would otherwise dominate. ``graph=False``: eager
    ``do_bench`` (L2 flushed before each call; includes launch overhead the GPU cannot hide)."""
    if dev.type == "cuda":
        from triton.testing import do_bench, do_bench_cudagraph

        fn()  # autotune / compile outside any capture
        torch.cuda.synchronize()
        if graph:
            try:
                return float(do_bench_cudagraph(fn, rep=rep_ms, return_mode="median"))
            except Exception as e:  # noqa: BLE001 - an uncapturable baseline: time it eagerly
                torch.cuda.synchronize()
                print(f"  (CUDA graph capture failed: {type(e).__name__}: {e}; timing eagerly)", flush=True)
        return float(do_bench(fn, warmup=warmup_ms, rep=rep_ms, return_mode="median"))
    fn()
    ts = []
    for _ in range(3):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts)


def copy_bandwidth(dev, nbytes, warmup_ms, rep_ms) -> float:
    """Device-to-device copy bandwidth in GB/s, counting bytes read + bytes written."""
    a = torch.empty(nbytes // 4, dtype=torch.float32, device=dev).uniform_()
    b = torch.empty_like(a)
    ms = bench(lambda: b.copy_(a), dev, warmup_ms, rep_ms)
    return 2 * a.numel() * 4 / (ms * 1e-3) / 1e9


# -- cases ------------------------------------------------------------------------------------
def mix_codes(N, gen):
    """3.0 average bits: 75 % code 1 (2-bit), 12.5 % code 2 (4-bit), 12.5 % code 3 (8-bit)."""
    n8 = n4 = N // 8
    codes = torch.ones(N, dtype=torch.uint8)
    codes[:n8] = 3
    codes[n8 : n8 + n4] = 2
    return codes[torch.randperm(N, generator=gen)]


def cases(dry: bool, quick: bool):
    """(cases in run order, cases that also time the extra variants). Targets first: the two
    mp_linear target layers, then the top-k target (256 x 10M), then packing and the rest."""
    if dry:
        out = [
            ("layer", 1, 256, 256),
            ("layer", 16, 256, 256),
            ("scoring", 1, 2000, 64),
            ("topk", 1, 3000, 64),
            ("topk", 20, 3000, 64),
            ("pack", 0, 96, 96),
            ("pack", 0, 3000, 64),
        ]
        extra = [("layer", 1, 256, 256)]
        return out, extra
    layers = [("layer", M, n, n) for n in (8192, 4096) for M in (1, 16, 64, 256)]
    layers.sort(key=lambda c: (c[1] not in (1, 16) or c[2] != 8192, c[2] != 8192, c[1]))  # targets first
    scoring = [("scoring", 1, 1_000_000, 64), ("scoring", 256, 1_000_000, 64)]
    targets = [("layer", 1, 8192, 8192), ("layer", 16, 8192, 8192)]
    topk = [
        ("topk", 256, 10_000_000, 64),
        ("topk", 1, 10_000_000, 64),
        ("topk", 1, 1_000_000, 64),
        ("topk", 256, 1_000_000, 64),
    ]
    packing = [("pack", 0, 4096, 4096), ("pack", 0, 1_000_000, 64)]
    if quick:
        return targets + topk[:1], targets
    return targets + topk + packing + layers[2:] + scoring, targets


def n_rotate(bytes_per_set, l2_bytes, cap=16):
    return max(2, min(cap, -(-4 * l2_bytes // max(1, bytes_per_set))))


def result(kind, M, N, K, times_ms, moved, **fields) -> dict:
    """One case's JSON row: the case, its times (ms by name; "chord" the kernel under test), the
    bytes the kernel must move, its achieved GB/s, and the kind's own ``fields``."""
    gbps = moved / (times_ms["chord"] * 1e-3) / 1e9
    return dict(kind=kind, M=M, N=N, K=K, times_ms=times_ms, bytes_moved=moved, chord_gbps=gbps, **fields)


def run_case(kind, M, N, K, dev, args, bw, extra=False):
    import chord_kernels.triton as ct
    from chord_kernels.triton import gemm, gemv

    gen = torch.Generator().manual_seed(M * 7 + N + K)
    l2 = 60 * 2**20 if dev.type == "cuda" else 2**20
    packed_bytes = N * K * 3 // 8 + 12 * N
    R = n_rotate(packed_bytes, l2) if dev.type == "cuda" else 2
    mws, dense16 = [], []
    for _ in range(R):
        w = torch.randn(N, K, generator=gen).to(dev)
        mws.append(pack(w, mix_codes(N, gen).to(dev), Codebook.default()))
        dense16.append(w.half())
        del w
    dense_bf = [d.bfloat16() for d in dense16]
    xs16 = [torch.randn(M, K, generator=gen).to(dev).half() for _ in range(R)]
    xsbf = [x.bfloat16() for x in xs16]
    mw0 = mws[0]
    # correctness at this shape before timing: against fp32 dequantize-then-matmul
    ref = xs16[0].float() @ mw0.dequantize(torch.float32).T
    y = ct.mp_linear(xs16[0], mw0)
    rel = float((y.float() - ref).norm() / ref.norm())
    if not rel < 5e-3:
        raise AssertionError(f"{kind} M={M} N={N} K={K}: relative error {rel:.3g} vs dequantize-then-matmul")

    it = {"i": 0}

    def rot(f):
        def g():
            i = it["i"] = (it["i"] + 1) % R
            return f(i)

        return g

    t = {}
    t["chord"] = bench(rot(lambda i: ct.mp_linear(xs16[i], mws[i])), dev, args.warmup_ms, args.rep_ms)
    tuned = gemv.mp_gemv if ct.choose_path(M) == "gemv" else gemm.mp_gemm
    best = getattr(tuned, "best_config", None)
    t["chord_eager"] = bench(
        rot(lambda i: ct.mp_linear(xs16[i], mws[i])), dev, args.warmup_ms, args.rep_ms, graph=False
    )
    t["torch_fp16"] = bench(rot(lambda i: F.linear(xs16[i], dense16[i])), dev, args.warmup_ms, args.rep_ms)
    t["torch_bf16"] = bench(rot(lambda i: F.linear(xsbf[i], dense_bf[i])), dev, args.warmup_ms, args.rep_ms)
    t["dequant_matmul"] = bench(
        rot(lambda i: F.linear(xs16[i], mws[i].dequantize(torch.float16))), dev, args.warmup_ms, args.rep_ms
    )
    if extra:
        t["chord_per_bucket"] = bench(
            rot(lambda i: ct.mp_linear(xs16[i], mws[i], launch="per_bucket")), dev, args.warmup_ms, args.rep_ms
        )
        t["chord_bf16"] = bench(rot(lambda i: ct.mp_linear(xsbf[i], mws[i])), dev, args.warmup_ms, args.rep_ms)
    moved = mw0.nbytes + M * K * 2 + M * N * 2  # packed + scale/zero/perm + x + y (fp16)
    roof_ms = moved / (bw * 1e9) * 1e3
    return result(
        kind,
        M,
        N,
        K,
        t,
        moved,
        avg_bits=mw0.avg_bits,
        rotate=R,
        rel_err=rel,
        roofline_ms=roof_ms,
        chord_vs_fp16=t["torch_fp16"] / t["chord"],
        chord_vs_bf16=t["torch_bf16"] / t["chord"],
        chord_vs_dequant=t["dequant_matmul"] / t["chord"],
        pct_roofline=100 * roof_ms / t["chord"],
        path=ct.choose_path(M),
        config=None if best is None else dict(best.kwargs, num_warps=best.num_warps, num_stages=best.num_stages),
    )


TOPK_K = 10


def run_topk_case(M, N, K, dev, args):
    """Fused scoring + top-10 of M users against N items vs torch fp16 matmul + topk."""
    import chord_kernels.triton as ct
    from chord.backends import reference

    gen = torch.Generator(device=dev).manual_seed(M * 7 + N)
    w = torch.randn(N, K, device=dev, generator=gen)
    mw = pack(w, mix_codes(N, torch.Generator().manual_seed(N)).to(dev), Codebook.default())
    dense16 = w.half()
    del w
    x = torch.randn(M, K, device=dev, generator=gen)
    x16 = x.half()
    args_p = (*mw.packed, TOPK_K)
    # correctness first: exact ids against the float64 reference for (at most) two users
    v, i = ct.mp_topk_packed(x[:2], *args_p)
    rv, ri = reference.mp_topk(x[:2], mw.packed, TOPK_K, compute_dtype=torch.float64)
    if not torch.equal(i, ri):
        raise AssertionError(f"topk M={M} N={N}: ids differ from the float64 reference")
    del rv, ri
    torch.cuda.empty_cache() if dev.type == "cuda" else None
    t = {}
    t["chord"] = bench(lambda: ct.mp_topk_packed(x, *args_p), dev, args.warmup_ms, args.rep_ms, graph=False)
    t["torch_fp16_mm_topk"] = bench(
        lambda: torch.topk(x16 @ dense16.T, TOPK_K, dim=1), dev, args.warmup_ms, args.rep_ms, graph=False
    )
    moved = mw.qweight.numel() + 8 * N + M * K * 2  # packed + scale/zero (perm only for survivors) + x
    return result(
        "topk", M, N, K, t, moved, k=TOPK_K, avg_bits=mw.avg_bits, chord_vs_torch=t["torch_fp16_mm_topk"] / t["chord"]
    )


def run_pack_case(N, K, dev, args):
    """chord::quantize_pack of an N x K fp32 weight (3.0-bit mix) vs a plain copy of the weight
    and the pure-torch reference packer."""
    import chord_kernels.triton as ct
    from chord.backends import reference
    from chord.mixed_weight import plan_buckets

    gen = torch.Generator(device=dev).manual_seed(N + K)
    w = torch.randn(N, K, device=dev, generator=gen)
    perm, buckets = plan_buckets(mix_codes(N, torch.Generator().manual_seed(K)), Codebook.default())
    perm = perm.to(dev)
    got = ct.quantize_pack(w, perm, buckets, "sym")
    want = reference.quantize_pack(w, perm, buckets, "sym")
    if not all(torch.equal(a.view(torch.uint8), b.view(torch.uint8)) for a, b in zip(got, want)):
        raise AssertionError(f"pack N={N} K={K}: not bit-identical to the reference packer")
    out = torch.empty_like(w)
    t = {}
    t["chord"] = bench(lambda: ct.quantize_pack(w, perm, buckets, "sym"), dev, args.warmup_ms, args.rep_ms, graph=False)
    t["copy"] = bench(lambda: out.copy_(w), dev, args.warmup_ms, args.rep_ms, graph=False)
    t["reference"] = bench(
        lambda: reference.quantize_pack(w, perm, buckets, "sym"), dev, args.warmup_ms, args.rep_ms, graph=False
    )
    moved = N * K * 4 + got[0].numel() + 8 * N  # read fp32 once + write packed + scale/zero
    return result(
        "pack", 0, N, K, t, moved, chord_vs_copy=t["copy"] / t["chord"], chord_vs_reference=t["reference"] / t["chord"]
    )


# -- output -----------------------------------------------------------------------------------
COLS = [
    ("case", 8),
    ("M", 4),
    ("N", 8),
    ("K", 5),
    ("chord ms", 9),
    ("fp16 ms", 9),
    ("bf16 ms", 9),
    ("deq+mm ms", 10),
    ("x fp16", 7),
    ("x deq", 6),
    ("GB/s", 7),
    ("%roof", 6),
    ("other", 30),
]


def format_table(rows, bw, meta) -> str:
    head = " ".join(f"{n:>{w}}" for n, w in COLS)
    lines = [
        f"# {meta.get('device')}  torch {meta.get('torch')}  triton {meta.get('triton')}  "
        f"copy bandwidth {bw:.0f} GB/s (read+write)",
        head,
        "-" * len(head),
    ]
    for r in rows:
        if r["kind"] not in ("layer", "scoring"):
            continue
        t = r["times_ms"]
        other = " ".join(
            f"{k.replace('chord_', '')}={v:.4f}"
            for k, v in t.items()
            if k not in ("chord", "torch_fp16", "torch_bf16", "dequant_matmul")
        )
        vals = [
            r["kind"],
            r["M"],
            r["N"],
            r["K"],
            f"{t['chord']:.4f}",
            f"{t['torch_fp16']:.4f}",
            f"{t['torch_bf16']:.4f}",
            f"{t['dequant_matmul']:.4f}",
            f"{r['chord_vs_fp16']:.2f}x",
            f"{r['chord_vs_dequant']:.1f}x",
            f"{r['chord_gbps']:.0f}",
            f"{r['pct_roofline']:.0f}",
            other,
        ]
        lines.append(" ".join(f"{str(v):>{w}}" for v, (_, w) in zip(vals, COLS)))
    extra = [r for r in rows if r["kind"] in ("topk", "pack")]
    if extra:
        lines += [
            "",
            "# fused scoring + top-10 (vs torch fp16 matmul + topk) and packing (vs a plain copy of "
            "the fp32 weight); eager times",
            f"{'case':>6} {'M':>4} {'N':>9} {'K':>5} {'chord ms':>9} {'base ms':>9} {'x base':>7} {'GB/s':>6}  other",
        ]
        for r in extra:
            t = r["times_ms"]
            base = t["torch_fp16_mm_topk"] if r["kind"] == "topk" else t["copy"]
            other = " ".join(f"{k}={v:.4f}" for k, v in t.items() if k not in ("chord", "torch_fp16_mm_topk", "copy"))
            lines.append(
                f"{r['kind']:>6} {r['M']:>4} {r['N']:>9} {r['K']:>5} {t['chord']:>9.4f} {base:>9.4f} "
                f"{base / t['chord']:>6.2f}x {r['chord_gbps']:>6.0f}  {other}"
            )
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    t0 = time.time()
    dev = torch.device("cpu" if args.dry_run else "cuda")
    if dev.type == "cuda" and not torch.cuda.is_available():
        sys.exit("check.py: no CUDA device (use --dry-run to exercise the script on CPU)")
    import triton

    meta = dict(
        device=torch.cuda.get_device_name() if dev.type == "cuda" else "cpu (interpreter, dry run)",
        torch=torch.__version__,
        triton=triton.__version__,
        chord=chord.__version__,
        dry_run=args.dry_run,
    )
    bw = copy_bandwidth(dev, (2 << 30) if dev.type == "cuda" else (8 << 20), args.warmup_ms, args.rep_ms)
    todo, extras = cases(args.dry_run, args.quick)
    rows, skipped, failed = [], [], []
    for kind, M, N, K in todo:
        if time.time() - t0 > args.budget_s:
            skipped.append(dict(kind=kind, M=M, N=N, K=K))
            continue
        tc = time.time()
        try:
            if kind == "topk":
                r = run_topk_case(M, N, K, dev, args)
            elif kind == "pack":
                r = run_pack_case(N, K, dev, args)
            else:
                r = run_case(kind, M, N, K, dev, args, bw, extra=(kind, M, N, K) in extras)
        except Exception as e:  # noqa: BLE001 - record and go on: one bad case must not lose the rest
            failed.append(dict(kind=kind, M=M, N=N, K=K, error=f"{type(e).__name__}: {e}"))
            print(f"FAILED {kind} M={M} N={N} K={K}: {type(e).__name__}: {e}", flush=True)
            continue
        r["case_s"] = time.time() - tc
        rows.append(r)
        if kind in ("topk", "pack"):
            print(f"done {kind} M={M} N={N} K={K} in {r['case_s']:.1f}s: {r['times_ms']}", flush=True)
        else:
            print(
                f"done {kind} M={M} N={N} K={K} in {r['case_s']:.1f}s: chord {r['times_ms']['chord']:.4f} ms, "
                f"{r['chord_vs_fp16']:.2f}x fp16, {r['pct_roofline']:.0f}% roofline, config {r['config']}",
                flush=True,
            )
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    result = dict(meta=meta, copy_gbps=bw, rows=rows, skipped=skipped, failed=failed, wall_s=time.time() - t0)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "gpu_check.json"), "w") as f:
            json.dump(result, f, indent=1)
    print(format_table(rows, bw, meta))
    if skipped:
        print(f"skipped (time budget {args.budget_s:.0f}s): {skipped}")
    if failed:
        print(f"FAILED cases: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
