"""The CPU-runnable parts of benchmarks/gpu/check.py (the GPU script must be ready to run as
is): argument parsing, the 3.0-bit code mix, case list, rotation count, table formatting."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

pytest.importorskip("triton")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu" / "check.py"


@pytest.fixture(scope="module")
def check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_args_and_cases(check):
    a = check.parse_args(["--budget-s", "100", "--quick"])
    assert a.budget_s == 100 and a.quick and not a.dry_run
    todo, extras = check.cases(dry=False, quick=False)
    assert {(M, N) for k, M, N, K in todo if k == "layer"} == {(M, n) for M in (1, 16, 64, 256) for n in (4096, 8192)}
    assert {(M, N, K) for k, M, N, K in todo if k == "scoring"} == {(1, 10**6, 64), (256, 10**6, 64)}
    assert {(M, N, K) for k, M, N, K in todo if k == "topk"} == {(M, N, 64) for M in (1, 256) for N in (10**6, 10**7)}
    assert {(N, K) for k, M, N, K in todo if k == "pack"} == {(4096, 4096), (10**6, 64)}
    assert todo[:2] == extras == [("layer", 1, 8192, 8192), ("layer", 16, 8192, 8192)]  # targets first
    assert todo[2] == ("topk", 256, 10**7, 64)  # the top-k target next
    assert len(set(todo)) == len(todo)
    assert check.n_rotate(25 * 2**20, 60 * 2**20) * 25 >= 4 * 60


def test_mix_is_three_bits(check):
    from chord import Codebook

    codes = check.mix_codes(8192, torch.Generator().manual_seed(0))
    bits = torch.tensor(Codebook.default().bits)[codes.long()]
    assert bits.float().mean().item() == 3.0


def test_table(check):
    t = dict(chord=0.01, torch_fp16=0.05, torch_bf16=0.05, dequant_matmul=0.2, chord_eager=0.03)
    row = dict(
        kind="layer",
        M=1,
        N=8192,
        K=8192,
        times_ms=t,
        chord_vs_fp16=5.0,
        chord_vs_dequant=20.0,
        chord_gbps=2500.0,
        pct_roofline=60.0,
    )
    topk = dict(kind="topk", M=256, N=10**7, K=64, times_ms=dict(chord=2.0, torch_fp16_mm_topk=9.0), chord_gbps=180.0)
    packr = dict(kind="pack", M=0, N=4096, K=4096, times_ms=dict(chord=0.2, copy=0.05, reference=3.0), chord_gbps=400.0)
    out = check.format_table([row, topk, packr], 4300.0, dict(device="H200", torch="2.11", triton="3.6"))
    assert "8192" in out and "5.00x" in out and "eager=0.0300" in out and "4300 GB/s" in out
    assert "4.50x" in out and "0.25x" in out and "reference=3.0000" in out
