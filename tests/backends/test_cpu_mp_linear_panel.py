"""The panel path of C++ ``chord::mp_linear`` (csrc/mp_linear/mp_linear_panel*.cpp: dequantize panels of
output columns once per call, then an FMA GEMM microkernel) and the cost model choosing between
it and the direct kernels (``choose_path``), on every ISA the CPU has.

Error metric as tests/backends/test_cpu_mp_linear.py: fuzzed fp32 outputs each within the float32
dot-product bound, fixed shapes ``max|y - ref| / max|ref| <= 1e-5`` (fp32), against the float64
reference, outputs NaN-poisoned first.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chord
from chord.backends import cpu as cpu_backend
from tests.backends.test_cpu_mp_linear import (
    ISAS,
    TOL,
    assert_close_to_float64,
    fuzz_cases,
    fuzz_problem,
    make_weight,
    pruned_columns_case,
    random_codes,
    ref64,
    rel_err,
    run_binding,
)
from tests.helpers import assert_within_fp32_bound, packed_args

pytestmark = pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built")
_cpu = cpu_backend._cpu


def path_of(mw, M, isa="auto", act_bits=0):
    return _cpu.mp_linear_path(*packed_args(mw, torch.Tensor.numpy), M, act_bits, isa)


def crossover(mw, isa, limit=400):
    """The smallest M the cost model sends to the panel path (None if none up to limit)."""
    return next((M for M in range(1, limit + 1) if path_of(mw, M, isa) == "panel"), None)


# ---------------------------------------------------------------------------------------------
@given(fuzz_cases(70, 200, 700))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_panel_fuzz_against_float64_reference(case):
    mw, x, bias, ref = fuzz_problem(case)
    for isa in ISAS:
        assert_close_to_float64(run_binding(x, mw, bias, isa=isa, path="panel"), x, mw, bias, ref, isa)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("N", [1, 15, 16, 17, 64, 65, 130])
def test_panel_each_width_and_column_tail(isa, bits, N):
    # N around the 16-lane vector and the 64-column AVX-512 tile; M covers every row-tile tail
    K = 200
    cb = chord.Codebook((0, bits, bits, bits), "asym" if bits == 1 else "sym")
    mw = make_weight(N, K, torch.full((N,), 1, dtype=torch.uint8), cb, seed=bits)
    x, b = torch.randn(13, K), torch.randn(N)
    assert rel_err(run_binding(x, mw, b, isa=isa, path="panel"), ref64(x, mw, b)) <= 1e-5


@pytest.mark.parametrize("isa", ISAS)
def test_panel_pruned_columns_are_exactly_bias_even_for_non_finite_x(isa):
    mw, x, b, pruned, allp = pruned_columns_case()
    y = run_binding(x, mw, b, isa=isa, path="panel")
    assert torch.equal(y[:, pruned], b[pruned].expand(7, -1))
    assert torch.equal(run_binding(x, mw, None, isa=isa, path="panel")[:, pruned], torch.zeros(7, int(pruned.sum())))
    assert not torch.isfinite(y[2, ~pruned]).all() and torch.isfinite(y[0]).all()
    assert torch.equal(run_binding(x, allp, b, isa=isa, path="panel"), b.expand(7, -1))


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("M,N,K", [(100, 300, 1024), (61, 1100, 64), (5, 700, 300)])
def test_panel_many_panels_and_tasks_deterministic_across_threads(isa, M, N, K):
    # these weights exceed one L2 panel (several panels x several row chunks per call): the
    # result must not depend on how tasks fall on threads, nor on who dequantized which panel
    mw = make_weight(N, K, torch.randint(0, 4, (N,), dtype=torch.uint8, generator=torch.Generator().manual_seed(K)))
    x, b = torch.randn(M, K), torch.randn(N)
    outs = [run_binding(x, mw, b, isa=isa, nthreads=nt, path="panel") for nt in (1, 2, 3, 1)]
    for y in outs[1:]:
        assert torch.equal(y, outs[0])
    assert rel_err(outs[0], ref64(x, mw, b)) <= 1e-5


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("M,N,K", [(13, 70, 4096), (7, 60, 2500), (19, 33, 1025)])
def test_panel_long_rows_several_panels(isa, M, N, K):
    # rows beyond 1024 (the AVX2 panel's range goes to 4096 with one 16-column tile per panel at
    # least): several panels, every row tile tail, each output one fp32 chain over the whole row;
    # against the float64 reference, and the same at any thread count
    g = torch.Generator().manual_seed(K)
    mw = make_weight(N, K, random_codes(N, "mix", g), seed=K)
    x, b = torch.randn(M, K, generator=g), torch.randn(N, generator=g)
    ys = [run_binding(x, mw, b, isa=isa, nthreads=nt, path="panel") for nt in (1, 2, 3)]
    assert_within_fp32_bound(ys[0], x, mw, b, ref64(x, mw, b), (isa, M, N, K))
    for y in ys[1:]:
        assert torch.equal(y, ys[0])


# ---- the cost model and both sides of its threshold -----------------------------------------
@given(
    N=st.integers(1, 400),
    K=st.integers(1, 1024),
    kind=st.sampled_from(["mix", 1, 2, 3]),
    isa=st.sampled_from(ISAS),
    with_bias=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_auto_path_both_sides_of_the_threshold(N, K, kind, isa, with_bias, seed):
    g = torch.Generator().manual_seed(seed)
    mw = make_weight(N, K, random_codes(N, kind, g), seed=seed)
    bias = torch.randn(N, generator=g) if with_bias else None
    m_star = crossover(mw, isa)
    if m_star is None:  # direct at every M tried (e.g. all rows pruned): still correct
        ms = [1, 7]
    else:
        # both paths run here; the choice need not be monotone right past the crossover (the
        # direct kernel's 4-row tiles make e.g. M = 4 cheaper per row than M = 3: K=513, N=36)
        ms = [m for m in (m_star - 1, m_star, m_star + 1) if m >= 1]
        assert path_of(mw, m_star, isa) == "panel" and (m_star == 1 or path_of(mw, m_star - 1, isa) == "direct")
    for M in ms:
        x = torch.randn(M, K, generator=g)
        y = run_binding(x, mw, bias, isa=isa)
        assert_within_fp32_bound(y, x, mw, bias, ref64(x, mw, bias), (M, m_star))
        # auto is exactly the path it reports
        assert torch.equal(y, run_binding(x, mw, bias, isa=isa, path=path_of(mw, M, isa)))


def test_cost_model_choices():
    g = torch.Generator().manual_seed(0)
    small = make_weight(64, 64, torch.randint(0, 4, (64,), dtype=torch.uint8, generator=g))
    big = make_weight(4096, 4096, torch.randint(0, 4, (4096,), dtype=torch.uint8, generator=g))
    longer = make_weight(64, 4097, torch.randint(0, 4, (64,), dtype=torch.uint8, generator=g))
    for isa in ISAS:
        # monotone in M: once the panel wins it keeps winning
        seq = [path_of(small, M, isa) for M in range(1, 300)]
        assert seq == sorted(seq, key=lambda p: p == "panel")
        assert path_of(small, 12800, isa) == "panel"
        # rows longer than one tile of columns fits in L2 (no K blocking): always the direct
        # kernels; the tile is 16 columns on AVX2 (rows up to 4096), 64 on AVX-512 (up to 1024)
        for M in (1, 16, 256, 100000):
            assert path_of(longer, M, isa) == "direct"
            if isa != "avx2":
                assert path_of(big, M, isa) == "direct"
    if "avx512" in ISAS:  # the small-layer shapes of issue #5 take the panel path
        assert path_of(small, 50, "avx512") == "panel"


def test_path_argument_validation():
    mw = make_weight(12, 40, torch.tensor([0, 1, 2, 3] * 3, dtype=torch.uint8))
    x = torch.randn(2, 40)
    with pytest.raises(ValueError, match="path: expected"):
        run_binding(x, mw, path="gemm")
    with pytest.raises(ValueError, match="M: expected"):
        _cpu.mp_linear_path(
            mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy(), mw.buckets, 40, -1
        )
    # forcing the panel path with int8 activations runs the int8 GEMM: the direct result, bit for bit
    assert torch.equal(run_binding(x, mw, act_bits=8, path="panel"), run_binding(x, mw, act_bits=8, path="direct"))


def test_panel_path_through_the_registered_op():
    # an issue #5 shape: the op (auto) takes the panel path and matches the reference
    N, K, M = 64, 64, 300
    mw = make_weight(N, K, torch.randint(0, 4, (N,), dtype=torch.uint8, generator=torch.Generator().manual_seed(9)))
    x, b = torch.randn(M, K), torch.randn(N)
    y = torch.ops.chord.mp_linear(x, mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, K, b, 0)
    assert rel_err(y, ref64(x, mw, b)) <= 1e-5
    assert torch.equal(y, run_binding(x, mw, b, path=path_of(mw, M), nthreads=torch.get_num_threads()))
    for dt in (torch.float16, torch.bfloat16):
        yh = torch.ops.chord.mp_linear(x.to(dt), mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, K, b, 0)
        assert yh.dtype == dt and rel_err(yh, ref64(x.to(dt), mw, b)) <= TOL[dt]
