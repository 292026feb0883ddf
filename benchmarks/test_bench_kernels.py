"""pytest-benchmark: chord.mp_linear vs torch fp32 / dynamic int8 / ATen int8 and int4 kernels,
M in {1, 16, 256} x 4096^2 and M=1 x 8192^2, bit mixes mix3 (3.0 avg bits) / u4 / u8, exact and
act_bits=8 paths (see benchmarks/conftest.py for how to run)."""

from __future__ import annotations

import pytest
import torch

import chord
from chord.bench.baselines import BASELINES, Unavailable
from chord.bench.config import PATHS, mix_codes, parse_mix
from chord.bench.suites.common import chord_linear

SHAPES = [(1, 4096, 4096), (16, 4096, 4096), (256, 4096, 4096), (1, 8192, 8192)]
MIXES = ["mix3", "u4", "u8"]
BYTES_PER_WEIGHT = {"torch_fp32": 4, "torch_dynamic_int8": 1, "aten_int8pack_mm": 1, "aten_int4pack_mm": 0.53}


def _ids(s):
    return f"M{s[0]}-K{s[1]}-N{s[2]}"


_CACHE: dict = {}


def _weights(M, K, N):
    key = (M, K, N)
    if key not in _CACHE:
        _CACHE.clear()  # one shape's weights at a time (8192^2 fp32 is 256 MB)
        g = torch.Generator().manual_seed(K * 31 + N)
        _CACHE[key] = (torch.randn(N, K, generator=g), torch.randn(M, K, generator=g), {})
    return _CACHE[key]


@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
@pytest.mark.parametrize("impl", list(BYTES_PER_WEIGHT))
def test_baseline(shape, impl, run_prepared, n_sets, benchmark):
    M, K, N = shape
    w, x, _ = _weights(M, K, N)
    benchmark.group = f"mp_linear {_ids(shape)}"
    try:
        prep = BASELINES[impl](w, x, n_sets(BYTES_PER_WEIGHT[impl] * N * K))
    except Unavailable as e:
        pytest.skip(str(e))
    run_prepared(prep, impl=impl, M=M, K=K, N=N)


@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
@pytest.mark.parametrize("mix", MIXES)
@pytest.mark.parametrize("path", list(PATHS))
def test_chord_mp_linear(shape, mix, path, run_prepared, n_sets, benchmark):
    M, K, N = shape
    w, x, packs = _weights(M, K, N)
    benchmark.group = f"mp_linear {_ids(shape)}"
    if mix not in packs:
        packs[mix] = chord.pack(w, mix_codes(parse_mix(mix)[1], N))
    mw = packs[mix]
    run_prepared(
        chord_linear(mw, x, PATHS[path], n_sets(mw.nbytes)),
        impl="chord",
        mix=mix,
        path=path,
        M=M,
        K=K,
        N=N,
        avg_bits=mw.avg_bits,
    )
