"""Every Triton kernel variant compiles for Hopper (sm_90) without a GPU.

The interpreter runs Python, not the compiler, so a kernel can pass every interpreter test and
still fail to compile (unsupported op, layout, type). This compiles each variant
(``chord_kernels.triton.variants``: GEMV and GEMM x fp16/bf16/fp32 x dot precision, every
width branch live, plus strided-x and all-pruned kernels; the mp_topk scan and rescoring
kernels; the packer) to a cubin in a subprocess *without*
TRITON_INTERPRET, and checks the code takes the intended Hopper paths.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("triton")

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = r"""
import re, sys
from chord_kernels.triton import variants
from triton.backends.compiler import GPUTarget
import triton
all_configs, families = sys.argv[1] == "all", tuple(f + "/" for f in sys.argv[2].split(","))
for name, src, cfg in variants.variants(all_configs):
    if not name.startswith(families):
        continue
    k = triton.compile(src, target=GPUTarget("cuda", 90, 32), options=variants.compile_options(cfg))
    ptx = k.asm["ptx"]
    assert "cubin" in k.asm and len(k.asm["cubin"]) > 0, name
    stats = dict(wgmma=len(re.findall(r"wgmma\.mma_async", ptx)),
                 v4=len(re.findall(r"ld\.global(?:\.[a-z]+)*\.v4", ptx)),
                 cpasync=len(re.findall(r"cp\.async", ptx)),
                 local=len(re.findall(r"\b(?:ld|st)\.local", ptx)),
                 divrn=len(re.findall(r"\bdiv\.rn\.f32", ptx)),
                 inexact=len(re.findall(r"\.(?:ftz|approx)\b|\bfma\.rn\.f32", ptx)))
    print("VARIANT", name, *[f"{a}={b}" for a, b in stats.items()], flush=True)
"""


def _compile(which: str) -> dict[str, dict[str, int]]:
    """Compile the variants in two subprocesses at once (GEMM; the rest): two cores, half the wall."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "python"), env.get("PYTHONPATH", "")])
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, which, fam],
            cwd=ROOT,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for fam in ("gemm", "gemv,topk,pack")
    ]
    out = {}
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=3000)
        assert proc.returncode == 0, f"compilation for sm_90 failed:\n{stdout[-3000:]}\n{stderr[-6000:]}"
        for line in stdout.splitlines():
            if line.startswith("VARIANT "):
                _, name, *kv = line.split(" ")
                out[name] = {k: int(v) for k, v in (p.split("=") for p in kv)}
    return out


def _block_m(name: str) -> int:
    """BLOCK_M of a GEMM variant name such as ``gemm/fp16/tf32/all-widths/M16,N64,K256``."""
    return int(re.search(r"/M(\d+),", name).group(1))


def _block_m_topk(name: str) -> int:
    return int(re.search(r"/M(\d+),", name).group(1))


def _check(stats: dict[str, dict[str, int]]):
    fams = {n.split("/")[0] for n in stats}
    assert fams == {"gemv", "gemm", "topk", "pack"}, fams
    assert {n for n in stats if n.startswith("pack/")} == {"pack/sym", "pack/asym"}
    for name in ("pack/sym", "pack/asym"):
        # bit-identity with the CPU packer: IEEE division, no flush-to-zero, no approximate
        # instructions, no FMA contraction (the rounding-by-2^23 trick needs its add and sub)
        assert stats[name]["divrn"] > 0 and stats[name]["inexact"] == 0, (name, stats[name])
    assert any(n.startswith("topk/rescore/") for n in stats)
    scans = [n for n in stats if n.startswith("topk/scan/")]
    for m in (1, 16, 32, 64):  # every user-block size of the scan, both K steps, full and sampled
        assert any(n.startswith(f"topk/scan/M{m},") for n in scans), m
    assert {n.split(",KB")[1].split("/")[0] for n in scans} == {"16", "64"}
    assert any(n.endswith("/sample") for n in scans) and not all(n.endswith("/sample") for n in scans)
    for dt in ("fp16", "bf16", "fp32"):
        assert any(n.startswith(f"gemv/{dt}/all-widths") for n in stats), dt
        assert any(n.startswith(f"gemm/{dt}/") for n in stats), dt
    for name, s in stats.items():
        assert s["local"] == 0, f"{name}: spills to local memory"
        if "all-pruned" in name:
            continue
        if name.startswith("gemm/") and "/tf32/" in name:
            # fp16/bf16 (and tf32) dots of 64-row tiles must run on Hopper's warpgroup MMA
            # (16-row tiles are 1-warp mma.sync by design, see configs.py); weights via cp.async
            if _block_m(name) >= 64:
                assert s["wgmma"] > 0, f"{name}: no wgmma in the PTX"
            assert s["cpasync"] > 0, f"{name}: packed weight tiles are not loaded asynchronously"
        if name.startswith("topk/scan/M") and not name.startswith("topk/scan/M1,"):
            assert s["wgmma"] > 0 or _block_m_topk(name) < 64, f"{name}: no tensor-core MMA"
        if name.startswith("gemv/") and "strided" not in name:
            assert s["v4"] > 0, f"{name}: packed weights are not read with 16-byte vector loads"


def test_every_variant_compiles_for_hopper():
    stats = _compile("default")
    assert len(stats) >= 10
    _check(stats)


@pytest.mark.slow
@pytest.mark.optional
@pytest.mark.skipif(
    os.environ.get("CHORD_TRITON_ALL_CONFIGS") != "1",
    reason="~110 compiles (tens of minutes on 2 cores): set CHORD_TRITON_ALL_CONFIGS=1",
)
def test_every_autotune_config_compiles_for_hopper():
    """Same, for each autotuning config of each family (not needed for coverage: the default
    test compiles every code path; this guards the tuning tables). Opt-in: CI runs slow tests."""
    _check(_compile("all"))
