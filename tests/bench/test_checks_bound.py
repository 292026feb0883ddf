"""The fp32 error bound the fuzz tests hold every kernel to (chord.bench.checks.mp_linear_bound,
through tests.helpers.assert_within_fp32_bound): every CPU kernel path stays inside it at large K,
and it is tight enough to fail a result that dropped one term of the sum, at every K the fuzz
tests draw -- the rigorous worst-case bound alone grows as K and passes such a result at
K = 4096 (and catches it only barely at K = 2048: reports/2026-12-07-quiet8.md, "left")."""

from __future__ import annotations

import pytest
import torch

from chord.bench.checks import mp_linear_bound
from tests.backends.test_cpu_mp_linear import ISAS, make_weight, ref64, run_binding
from tests.helpers import BOUND_LAMBDA, assert_within_fp32_bound


def case(K: int, seed: int, N: int = 256, M: int = 2):
    g = torch.Generator().manual_seed(seed)
    mw = make_weight(N, K, torch.randint(1, 4, (N,), generator=g, dtype=torch.uint8), seed=seed)
    x = torch.randn(M, K, generator=g)
    bias = torch.randn(N, generator=g)
    return x, mw, bias


@pytest.mark.parametrize("K", [64, 1100, 4096])
def test_every_cpu_kernel_is_inside_the_bound(K):
    x, mw, bias = case(K, K)
    ref = ref64(x, mw, bias)
    for isa in ISAS:
        for path in ("direct", "panel"):
            assert_within_fp32_bound(run_binding(x, mw, bias, 0, isa, 2, path), x, mw, bias, ref, (isa, path))


@pytest.mark.parametrize("K", [300, 1100, 2048, 4096])
def test_a_dropped_term_fails_the_bound(K):
    x, mw, bias = case(K, K + 1)
    ref = ref64(x, mw, bias)
    x_dropped = x.clone()
    x_dropped[:, -1] = 0  # the last term of every sum left out (a tail bug)
    wrong = ref64(x_dropped, mw, bias)
    with pytest.raises(AssertionError):
        assert_within_fp32_bound(wrong, x, mw, bias, ref)


@pytest.mark.parametrize("K", [1, 7, 64, 513, 4096])
def test_the_probabilistic_bound_is_never_looser_and_scales_with_the_unit(K):
    x, mw, _ = case(K, 3, N=16)
    _, worst = mp_linear_bound(x, mw, 0)
    _, prob = mp_linear_bound(x, mw, 0, lam=BOUND_LAMBDA)
    _, cuda = mp_linear_bound(x, mw, 0, lam=BOUND_LAMBDA, unit_of="cuda")  # tf32 in Triton's dot
    assert (prob <= worst).all()
    assert (cuda > prob).all()
