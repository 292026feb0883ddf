"""pytest-benchmark: item scoring (1 x 64 against 100,000 packed rows, scores and top-10) and
the adaptation step (``chord.pack`` of a 4096^2 fp32 weight) — see benchmarks/conftest.py."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import chord
from chord.bench.baselines import Prepared
from chord.bench.config import mix_codes, parse_mix
from chord.bench.suites.common import chord_linear, clone_packed

ROWS, DIM, K_TOP = 100_000, 64, 10


@pytest.fixture(scope="module")
def table():
    return torch.randn(ROWS, DIM, generator=torch.Generator().manual_seed(7))


@pytest.fixture(scope="module")
def user():
    return torch.randn(1, DIM, generator=torch.Generator().manual_seed(8))


def test_scores_fp32(table, user, run_prepared, n_sets, benchmark):
    benchmark.group = "scoring 1x64 vs 100k"
    ts = [table.clone() for _ in range(n_sets(table.numel() * 4))]
    run_prepared(Prepared(lambda i: F.linear(user, ts[i % len(ts)]), table.numel() * 4, len(ts)), impl="torch_fp32")


def test_topk_fp32(table, user, run_prepared, n_sets, benchmark):
    benchmark.group = "scoring 1x64 vs 100k top-10"
    ts = [table.clone() for _ in range(n_sets(table.numel() * 4))]
    run_prepared(
        Prepared(lambda i: torch.topk(F.linear(user, ts[i % len(ts)]), K_TOP), table.numel() * 4, len(ts)),
        impl="torch_fp32_topk",
    )


@pytest.mark.parametrize("mix", ["mix3", "u4", "u8"])
def test_scores_chord(mix, table, user, run_prepared, n_sets, benchmark):
    benchmark.group = "scoring 1x64 vs 100k"
    mw = chord.pack(table, mix_codes(parse_mix(mix)[1], ROWS))
    run_prepared(chord_linear(mw, user, 0, n_sets(mw.nbytes)), impl="chord", mix=mix)


@pytest.mark.parametrize("mix", ["mix3", "u4", "u8"])
def test_topk_chord(mix, table, user, run_prepared, n_sets, benchmark):
    from chord import mp_topk

    benchmark.group = "scoring 1x64 vs 100k top-10"
    mw = chord.pack(table, mix_codes(parse_mix(mix)[1], ROWS))
    mws = clone_packed(mw, n_sets(mw.nbytes))
    run_prepared(
        Prepared(lambda i: mp_topk(user, mws[i % len(mws)], K_TOP), mw.nbytes, len(mws)), impl="chord_topk", mix=mix
    )


@pytest.mark.parametrize("mix", ["mix3", "u4", "u8"])
def test_pack_4096(mix, run_prepared, n_sets, benchmark):
    benchmark.group = "adaptation pack 4096x4096"
    w = torch.randn(4096, 4096, generator=torch.Generator().manual_seed(9))
    codes = mix_codes(parse_mix(mix)[1], 4096)
    ws = [w.clone() for _ in range(n_sets(w.numel() * 4))]
    run_prepared(
        Prepared(lambda i: chord.pack(ws[i % len(ws)], codes), w.numel() * 4, len(ws)), impl="chord_pack", mix=mix
    )
