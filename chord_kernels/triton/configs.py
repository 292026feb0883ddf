"""Autotuning search spaces and dispatch thresholds, as data.

On a GPU each family is autotuned over its table (keyed on bucketed M, bucketed N, K, the live
widths and bias), after pruning configs that would mostly compute padding and GEMM configs that
cannot hold the narrowest live width (a K step must span at least one 16-byte planar block of
every live width, and ``tl.dot`` needs >= 16 on its K dim). Under ``TRITON_INTERPRET=1`` each family has
exactly one config (the interpreter cannot time configs and runs ~ms per program: big blocks,
tiny grids). ``interpreting`` / ``check_runnable``: where the kernels can run.

The tables are leads picked from the shapes (K = N = 4096/8192 backbone layers, K = 64 item
scoring) without a GPU; ``benchmarks/gpu/check.py`` prints the config each shape picked.
"""

from __future__ import annotations

import os

import torch
import triton

#: CHORD_TRITON_AUTOTUNE=0 pins each family to one mid-table entry (no tuning): GPU test runs
#: use it so each kernel variant compiles once instead of once per config.
AUTOTUNE = os.environ.get("CHORD_TRITON_AUTOTUNE", "1") != "0"

#: M at or below which the CUDA-core GEMV family runs (tensor cores need M tiles of >= 16)
GEMV_MAX_M = 1

# GEMV: (BLOCK_N, BLOCK_KB, num_warps, num_stages). BLOCK_KB is bytes of each row per K step
# (the same tile for every width). Large steps keep enough bytes in flight per SM to cover HBM
# latency at M = 1 (Little's law: ~4.8 TB/s x ~0.6 us ~ 3 MB across 132 SMs); several rows per
# thread amortize the per-thread conversion of x (one per column held) and keep its re-read
# from L2 below the weight bytes; BLOCK_KB = 16/32 rows are for item scoring (K = 64).
_GEMV = [
    (8, 256, 4, 2),
    (16, 128, 4, 2),
    (16, 256, 4, 3),
    (32, 64, 4, 2),
    (32, 128, 4, 3),
    (64, 64, 4, 2),
    (64, 128, 8, 2),
    (128, 64, 8, 2),
    (128, 32, 4, 2),
    (256, 16, 4, 2),
    (256, 32, 8, 2),
]
_GEMV_INTERPRET = (64, 32, 1, 1)
_PINNED_GEMV = (32, 64, 4, 2)  # CHORD_TRITON_AUTOTUNE=0

# GEMM: (BLOCK_M, BLOCK_N, BLOCK_K, num_warps, num_stages). BLOCK_K counts elements: the
# activation tile in shared memory is the same for every width (a K step reads
# BLOCK_K * bits / 8 bytes of each row and issues 8 / bits dots of K = BLOCK_K * bits / 8).
# Below BLOCK_M = 64 triton uses mma.sync with the B operand in registers and re-does the
# unpack in every warp that shares B (SASS: num_warps x the work per weight element), while
# BLOCK_M = 64 uses wgmma with B in shared memory, unpacked once. So small M is padded to 64
# rows (tensor-core work is free at these sizes) or runs 1-warp mma.sync tiles. Shared memory
# per stage is ~ BLOCK_M x BLOCK_K x 2 B of x + BLOCK_K x BLOCK_N weight bytes (8-bit): 64 x 256
# x 3 stages is ~180 KB of Hopper's 227 KB, so BLOCK_K stops at 256 for 64-row tiles.
_GEMM = [
    (64, 64, 256, 4, 3),
    (64, 32, 256, 4, 3),
    (16, 64, 256, 1, 3),
    (16, 32, 256, 1, 4),
    (64, 64, 128, 4, 3),
    (64, 128, 128, 4, 3),
    (64, 128, 64, 4, 4),
    (128, 128, 64, 8, 3),
    (128, 64, 128, 4, 3),
    (128, 256, 64, 8, 3),
]
_GEMM_INTERPRET = (32, 64, 128, 1, 1)
_PINNED_GEMM = (64, 64, 128, 4, 3)  # CHORD_TRITON_AUTOTUNE=0


def interpreting(kernel) -> bool:
    """True when ``kernel`` was built by ``triton.jit`` under ``TRITON_INTERPRET=1``."""
    return type(kernel).__name__ == "InterpretedFunction"


def check_runnable(op: str, name: str, device: torch.device, interpreting: bool) -> None:
    """The kernels run on CUDA tensors, and on CPU tensors under the Triton interpreter only (the
    one check of the Triton entry points that the ``chord::`` op's checks in ``chord.ops`` lack)."""
    if device.type == "cpu" and not interpreting:
        raise RuntimeError(
            "chord_kernels.triton: CPU tensors run only under the Triton interpreter; set "
            "TRITON_INTERPRET=1 before chord_kernels.triton is first imported"
        )
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"{op}: {name}: expected a CUDA tensor (or CPU under TRITON_INTERPRET=1), got device {device}")


def gemv_configs(interpret: bool, autotune: bool = True) -> list[dict]:
    rows = [_GEMV_INTERPRET] if interpret else _GEMV if autotune else [_PINNED_GEMV]
    return [dict(BLOCK_N=n, BLOCK_KB=k, num_warps=w, num_stages=s) for n, k, w, s in rows]


def gemm_configs(interpret: bool, autotune: bool = True) -> list[dict]:
    rows = [_GEMM_INTERPRET] if interpret else _GEMM if autotune else [_PINNED_GEMM]
    return [dict(BLOCK_M=m, BLOCK_N=n, BLOCK_K=k, num_warps=w, num_stages=s) for m, n, k, w, s in rows]


def to_triton(rows: list[dict]) -> list[triton.Config]:
    out = []
    for r in rows:
        r = dict(r)
        w, s = r.pop("num_warps"), r.pop("num_stages")
        out.append(triton.Config(r, num_warps=w, num_stages=s))
    return out


def min_block_k(args: dict) -> int:
    """Smallest GEMM BLOCK_K for the live widths: 16 bytes (one planar block, and tl.dot's
    minimum K) of the narrowest one."""
    epb = max([8 // b for b in (8, 4, 2, 1) if args.get(f"W{b}")], default=1)
    return 16 * epb


def max_row_bytes(args: dict) -> int:
    """Packed bytes of a row of the widest live width (what a GEMV K step need not exceed)."""
    widest = max([b for b in (8, 4, 2, 1) if args.get(f"W{b}")], default=1)
    be = 16 * (8 // widest)
    return (int(args["K"]) + be - 1) // be * 16


def prune_gemv(cfgs, named_args, **kwargs):
    args = {**named_args, **kwargs}
    hi = max(16, triton.next_power_of_2(max_row_bytes(args)))
    keep = [c for c in cfgs if c.kwargs["BLOCK_KB"] <= hi]
    return keep or [min(cfgs, key=lambda c: c.kwargs["BLOCK_KB"])]


def prune_gemm(cfgs, named_args, **kwargs):
    args = {**named_args, **kwargs}
    m_cap = max(64, int(args["M_KEY"]))
    lo = min_block_k(args)
    hi = max(lo, triton.next_power_of_2(int(args["K"])))
    keep = [c for c in cfgs if lo <= c.kwargs["BLOCK_K"] <= hi and c.kwargs["BLOCK_M"] <= m_cap]
    if keep:
        return keep
    # every tuned config pruned: the largest-K one, widened to hold the narrowest live width
    c = max(cfgs, key=lambda c: c.kwargs["BLOCK_K"])
    kw = dict(c.kwargs, BLOCK_K=max(lo, c.kwargs["BLOCK_K"]))
    return [triton.Config(kw, num_warps=c.num_warps, num_stages=c.num_stages)]


def bucket_m(M: int) -> int:
    """Autotuning key for M: next power of two, capped (the best tile stops changing)."""
    return min(triton.next_power_of_2(max(1, M)), 512)


def bucket_n(N: int) -> int:
    return triton.next_power_of_2(max(1, N))


# quantize_pack: (BLOCK_R rows, BLOCK_K elements per statistics step, BLOCK_KB bytes per pack
# step, num_warps). Runs once per adaptation and is bound by reading the fp32 weights (twice:
# the second read mostly from L2), so one config, no autotuning.
_PACK = (16, 256, 64, 4)
_PACK_INTERPRET = (32, 256, 64, 1)


def pack_config(interpret: bool) -> dict:
    r, k, kb, w = _PACK_INTERPRET if interpret else _PACK
    return dict(BLOCK_R=r, BLOCK_K=k, BLOCK_KB=kb, num_warps=w)


# mp_topk scan: (BLOCK_M, BLOCK_N, num_warps, num_stages) by the number of users; BLOCK_KB is 16
# bytes for item-scoring K (<= 128: a 2-bit row is one 16-byte block at K = 64) and 64 above.
# No autotuning: the scan appends to candidate buffers through atomics, so a benchmarking rerun
# would corrupt the counts. M = 1 runs on CUDA cores (BLOCK_M = 1, no tl.dot padding to 16).
_TOPK = {1: (1, 128, 4, 2), 16: (16, 128, 4, 2), 32: (32, 128, 4, 2), 64: (64, 64, 4, 2)}
_TOPK_INTERPRET = {1: (1, 64, 1, 1), 16: (16, 32, 1, 1)}


def topk_config(M: int, interpret: bool) -> dict:
    table = _TOPK_INTERPRET if interpret else _TOPK
    key = min((m for m in table if m >= M), default=max(table))
    if M > 1 and key == 1:
        key = min(m for m in table if m > 1)
    bm, bn, w, s = table[key]
    return dict(BLOCK_M=bm, BLOCK_N=bn, BLOCK_KB=16, USE_DOT=bm > 1, num_warps=w, num_stages=s)


def topk_block_kb(K: int) -> int:
    return 16 if K <= 128 else 64


def topk_sample_rows(n_rows: int, k: int) -> int:
    """Rows scored (no threshold) to set the first threshold: ~2 sqrt(N k), which balances the
    sample's cost against the ~N k / sample rows that pass the threshold it gives."""
    return int(min(1 << 17, max(4096, triton.next_power_of_2(int(2 * (n_rows * k) ** 0.5)))))


def topk_cap(n_rows: int, k: int, sample_rows: int) -> int:
    """Candidate slots per user: 4x the expected N k / sample_rows passes, plus slack."""
    return int(min(n_rows, 4 * n_rows * k // max(1, sample_rows) + 4 * k + 1024))


# exact float64 rescoring of the candidates: (BLOCK_P pairs, BLOCK_K, num_warps)
_RESCORE = (32, 64, 4)
_RESCORE_INTERPRET = (64, 128, 1)


def rescore_config(interpret: bool) -> dict:
    p, k, w = _RESCORE_INTERPRET if interpret else _RESCORE
    return dict(BLOCK_P=p, BLOCK_K=k, num_warps=w)
