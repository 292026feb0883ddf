"""The int8 GEMM path of C++ ``chord::mp_linear`` (act_bits=8, ``path="panel"``;
csrc/mp_linear/mp_linear_gemm_i8*.cpp: activations quantized once per call, weight windows unpacked
to int8 once per call per thread, VNNI / AVX2 / scalar microkernels; up to 64 rows on AVX-512 VNNI,
no window: the microkernel unpacks the packed rows in registers; beyond, column-quad windows of
6 x 16 tiles) and the cost model that chooses it.

Integer dot products are exact and the epilogue is the direct path's, so every ISA and both paths
must agree bit for bit; against the float64 reference the int8 path is within the fp32 rounding
of its epilogue, and within the activation-rounding bound of the exact path. Outputs are
NaN-poisoned first.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
import time
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chord
from chord.backends import cpu as cpu_backend
from tests.backends.test_cpu_mp_linear import ISAS, pruned_columns_case, ref64, run_binding, run_emulated_avx_vnni_check
from tests.helpers import isa_param, linear_cases, linear_problem, make_weight, needs_isa, packed_args, random_codes

pytestmark = pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built")
_cpu = cpu_backend._cpu


def path_of(mw, M, isa="auto", act_bits=8):
    return _cpu.mp_linear_path(*packed_args(mw, torch.Tensor.numpy), M, act_bits, isa)


def all_runs(x, mw, bias, nthreads=2):
    """{(isa, path): y} for every ISA this CPU has and both paths."""
    return {
        (isa, path): run_binding(x, mw, bias, 8, isa, nthreads, path) for isa in ISAS for path in ("direct", "panel")
    }


def assert_all_equal(ys):
    """Every output equal to the first, which has no NaN left (finite inputs: poison overwritten)."""
    (k0, y0), *rest = ys.items()
    assert not torch.isnan(y0).any()
    for k, y in rest:
        assert torch.equal(y, y0), (k, k0, (y.double() - y0.double()).abs().max().item())


def assert_reference_bounds(y, x, mw, bias):
    # vs the reference int8 path in float64: the epilogue's fp32 rounding only
    ref8 = ref64(x, mw, bias, act_bits=8)
    assert ((y.double() - ref8).abs() <= 2e-7 * ref8.abs().max() + 1e-30).all()
    # vs exact activations: |y - y_exact| <= (sx / 2) * ||w_n||_1 (activation rounding only)
    ref0 = ref64(x.float(), mw, bias, act_bits=0)
    sx = x.float().abs().amax(1).double() / 127
    bound = (sx[:, None] / 2) * mw.dequantize(torch.float64).abs().sum(1)[None, :]
    assert ((y.double() - ref0).abs() <= bound * (1 + 1e-6) + 1e-6 * ref0.abs().max()).all()


# ---------------------------------------------------------------------------------------------
@given(case=linear_cases(70, 200, st.one_of(st.integers(1, 700), st.sampled_from([1, 2, 63, 64, 65]))))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_gemm_i8_bit_identical_to_direct_on_every_isa(case):
    mw, x, bias = linear_problem(case)
    ys = all_runs(x, mw, bias)
    assert_all_equal(ys)
    assert_reference_bounds(ys[("scalar", "panel")], x, mw, bias)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_gemm_i8_half_inputs_match_direct(dtype):
    g = torch.Generator().manual_seed(3)
    mw = make_weight(70, 300, random_codes(70, "mix", g))
    x, b = torch.randn(19, 300, generator=g).to(dtype), torch.randn(70, generator=g)
    ys = all_runs(x, mw, b)
    assert_all_equal(ys)
    assert ys[("scalar", "panel")].dtype == dtype


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("N", [1, 3, 4, 5, 17, 35])
@pytest.mark.parametrize("K", [1, 16, 48, 129, 500])
def test_gemm_i8_each_width_tiles_and_tails(bits, N, K):
    # N around the 4-column tile and quad, the 16-column quad tile; K around the 16-byte block and
    # 64-byte step (masked tails); M around the 6-row (VNNI) / 3- and 2-row (AVX2) tiles, the 24-row block,
    # the original-order windows beyond it and the VNNI quad windows beyond 64 rows
    cb = chord.Codebook((0, bits, bits, bits), "asym" if bits == 1 else "sym")
    mw = make_weight(N, K, torch.full((N,), 1, dtype=torch.uint8), cb, seed=bits)
    for M in (1, 5, 6, 7, 25, 31, 65):
        x, b = torch.randn(M, K), torch.randn(N)
        ys = all_runs(x, mw, b)
        assert_all_equal(ys)
        assert_reference_bounds(ys[("scalar", "direct")], x, mw, b)


@pytest.mark.parametrize("M", [23, 24, 25, 49, 64, 65])
def test_gemm_i8_packed_and_original_window_orders(M):
    # up to 24 rows (AVX-512 VNNI: 64) the windows follow the packed order (scattered epilogue
    # stores), beyond it the original column order (AVX2: rows sorted by width in each window);
    # mixed widths and pruned rows, windows straddling buckets, both must equal the direct path on
    # every ISA
    g = torch.Generator().manual_seed(M)
    mw = make_weight(1100, 1024, random_codes(1100, "mix", g))
    x, b = torch.randn(M, 1024, generator=g), torch.randn(1100, generator=g)
    assert_all_equal(all_runs(x, mw, b))


@pytest.mark.parametrize("M", [2, 9, 15, 16, 23, 24, 25, 47, 63, 64, 65])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_gemm_i8_thread_splits_of_the_packed_order(M, dtype):
    # up to 64 rows on AVX-512 VNNI (the register-unpacking kernel: blocks of 24 rows, tiles of
    # up to 6; 65: the quad windows in original order), several threads split the windows (each
    # window's outputs staged in packed order, then gathered row by row into y), or, from 8 rows
    # per thread on, the activation rows (each thread quantizes its own rows and streams every
    # window); mixed widths and pruned rows, 1-3 threads, float32 and float16 outputs: all equal
    # the one-thread direct result on every ISA
    g = torch.Generator().manual_seed(M)
    mw = make_weight(1100, 1024, random_codes(1100, "mix", g))
    x, b = torch.randn(M, 1024, generator=g).to(dtype), torch.randn(1100, generator=g)
    y0 = run_binding(x, mw, b, 8, "scalar", 1, "direct")
    assert not torch.isnan(y0).any()
    for isa in ISAS:
        for nt in (1, 2, 3):
            assert torch.equal(run_binding(x, mw, b, 8, isa, nt, "panel"), y0), (isa, nt)


def test_gemm_i8_thread_splits_when_the_pool_is_busy():
    # concurrent callers: while the pool runs one caller's job, another call runs its tasks alone,
    # one after the other in task order (so must every thread split: no task may wait for work a
    # later task would do); every result equals the one-thread result, and no call hangs
    g = torch.Generator().manual_seed(5)
    mw = make_weight(1100, 1024, random_codes(1100, "mix", g))
    b = torch.randn(1100, generator=g)
    xs = [torch.randn(M, 1024, generator=g) for M in (9, 16, 80)]  # staged, row split, column split
    y0 = [run_binding(x, mw, b, 8, "auto", 1, "panel") for x in xs]
    bad = []

    def caller():
        for _ in range(6):
            for x, y in zip(xs, y0):
                if not torch.equal(run_binding(x, mw, b, 8, "auto", 2, "panel"), y):
                    bad.append(x.shape[0])

    threads = [threading.Thread(target=caller, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "a call did not return"
    assert not bad, bad


@pytest.mark.parametrize("M", [8, 30])
def test_gemm_i8_extreme_activations_and_8bit_codes(M):
    # the largest products (|xq| = 127 against u = 255) and a row of zeros: exact on every ISA,
    # through the AVX2 packed-row kernel (8 rows; N = 13: column groups of 4 and a partial one)
    # and the windows (30 rows)
    N, K = 13, 1000
    mw = make_weight(N, K, torch.full((N,), 3, dtype=torch.uint8), chord.Codebook((0, 2, 4, 8), "asym"))
    x = torch.randn(M, K)
    x[0] = 1.0
    x[1] = -1.0
    x[2] = 0.0
    x[3, ::2] = 1e3
    assert_all_equal(all_runs(x, mw, torch.randn(N)))


@pytest.mark.parametrize("bits", [1, 2, 4])
@pytest.mark.parametrize("M", [7, 31])
def test_gemm_i8_int16_sums_at_their_bound(bits, M):
    # the AVX2 GEMM sums maddubs pairs of <= 4-bit fields in int16 lanes for 8 steps (4 bits) or
    # 32 (2 and 1 bits) before widening them: every field at its maximum against |xq| = 127 of one
    # sign is the largest such sum (4 bits: 8 * 2 * 15 * 127 = 30480 < 32767); rows of 2350 cross
    # several segments of either length and end in a partial one; rows 0..6 cover the 3- and
    # 2-row tiles and both signs. M = 7: the packed-row kernel (up to 24 rows on AVX2: column
    # groups of 3, N = 7 ends in a partial one); M = 31: the windows. Exact on every ISA and both
    # paths, and the reference's value.
    N, K = 7, 2350
    cb = chord.Codebook((0, bits, bits, bits), "asym" if bits == 1 else "sym")
    mw = make_weight(N, K, torch.full((N,), 1, dtype=torch.uint8), cb, seed=bits)
    mw.qweight.fill_(255)  # every field of every width at its maximum
    x = torch.ones(7, K)
    x[1] = -1.0
    x[4] = -1.0
    x[5, 1::2] = -1.0  # alternating pairs: no sum to its bound, a sign change every element
    x[6, : K // 2] = -1.0
    x = x.repeat(5, 1)[:M]
    b = torch.randn(N)
    ys = all_runs(x, mw, b)
    assert_all_equal(ys)
    assert_reference_bounds(ys[("scalar", "panel")], x, mw, b)


def test_gemm_i8_activation_rounding_ties_and_near_ties():
    # x / sx at and next to half-integers (sx = amax / 127 = 3 and 1): every activation
    # quantization (scalar, AVX2; direct and panel paths) rounds ties to even the same way and
    # must agree bit for bit
    K, N = 300, 40
    g = torch.Generator().manual_seed(5)
    mw = make_weight(N, K, random_codes(N, "mix", g))
    k = torch.arange(-126, 127, dtype=torch.float32)[:K]
    rows = []
    for s in (3.0, 1.0):
        t = torch.full((K,), 0.25) * s
        t[: k.numel()] = (k + 0.5) * s  # ties (exact quotient k + 1/2 where s is a power of 2)
        t[0] = 127 * s
        rows += [t, torch.nextafter(t, t + 1), torch.nextafter(t, t - 1)]
    x = torch.stack(rows + [torch.randn(K, generator=g) * 1e-3 for _ in range(3)])
    assert_all_equal(all_runs(x, mw, torch.randn(N, generator=g)))


def test_gemm_i8_pruned_columns_are_exactly_bias_even_for_non_finite_x():
    mw, x, b, pruned, allp = pruned_columns_case()
    for isa in ISAS:
        y = run_binding(x, mw, b, 8, isa, path="panel")
        assert torch.equal(y[:, pruned], b[pruned].expand(7, -1))
        assert torch.equal(run_binding(x, mw, None, 8, isa, path="panel")[:, pruned], torch.zeros(7, int(pruned.sum())))
        assert torch.isfinite(y[0]).all() and not torch.isfinite(y[4, ~pruned]).any()
        yd = run_binding(x, mw, b, 8, isa, path="direct")
        assert torch.equal(y.isnan(), yd.isnan()) and torch.equal(y.nan_to_num(), yd.nan_to_num())
    for isa in ISAS:
        assert torch.equal(run_binding(x, allp, b, 8, isa, path="panel"), b.expand(7, -1))


@pytest.mark.parametrize("M,N,K", [(100, 1100, 1024), (61, 900, 64), (5, 700, 300), (1100, 40, 70)])
def test_gemm_i8_many_windows_and_passes_deterministic_across_threads(M, N, K):
    # several weight windows per call (N x K beyond one L2 window), several row passes (M > 1024):
    # the result must not depend on how tasks fall on threads, nor on who unpacked which window
    mw = make_weight(N, K, torch.randint(0, 4, (N,), dtype=torch.uint8, generator=torch.Generator().manual_seed(K)))
    x, b = torch.randn(M, K), torch.randn(N)
    y0 = run_binding(x, mw, b, 8, "scalar", 1, "direct")
    for isa in ISAS:
        for nt in (1, 2, 3):
            assert torch.equal(run_binding(x, mw, b, 8, isa, nt, "panel"), y0), (isa, nt)


def test_gemm_i8_pinned_by_environment(monkeypatch):
    g = torch.Generator().manual_seed(11)
    mw = make_weight(33, 200, random_codes(33, "mix", g))
    x = torch.randn(9, 200, generator=g)
    ys = {}
    for isa in ISAS:
        monkeypatch.setenv("CHORD_CPU_ISA", isa)
        assert _cpu.cpu_isa("auto") == isa
        ys[isa] = run_binding(x, mw, None, 8, "auto", path="panel")
    assert_all_equal(ys)


def test_gemm_i8_long_rows_refused_on_the_panel_path():
    # beyond K = 65536 an int32 sum of 8-bit products could overflow: the panel path refuses
    # clearly; auto takes the direct kernels
    K = 65537
    mw = make_weight(3, K, torch.tensor([3, 1, 0], dtype=torch.uint8))
    x = torch.randn(2, K)
    with pytest.raises(ValueError, match="K <= 65536"):
        run_binding(x, mw, None, 8, path="panel")
    with pytest.raises(ValueError, match="K <= 65536"):  # an empty batch is refused alike
        run_binding(x[:0], mw, None, 8, path="panel")
    assert path_of(mw, 512) == "direct"
    y = run_binding(x, mw, None, 8)
    assert_reference_bounds(y, x, mw, None)


def test_avx_vnni_gemm_kernel_bit_identical_under_emulation(tmp_path):
    # this CPU may lack AVX-VNNI (then the cross-ISA tests above cannot pin avx_vnni): the real
    # microkernel file against the exact dot products of the packed format over widths x K x
    # tiles x tails (tests/backends/cpp/avxvnni_gemm_emulated.cpp)
    run_emulated_avx_vnni_check(tmp_path, "avxvnni_gemm_emulated.cpp", "mp_linear/mp_linear_gemm_i8_avx2.cpp")


# ---- the cost model --------------------------------------------------------------------------
def test_cost_model_int8_choices():
    g = torch.Generator().manual_seed(0)
    small = make_weight(64, 64, torch.randint(0, 4, (64,), dtype=torch.uint8, generator=g))
    big = make_weight(4096, 4096, torch.randint(0, 4, (4096,), dtype=torch.uint8, generator=g))
    for isa in ISAS:
        for mw in (small, big):
            seq = [path_of(mw, M, isa) for M in range(1, 300)]
            # monotone in M: the direct kernels, then the model's int8 panel path, then (on AVX2 where
            # it fits) the small layer's k-quad path, a rule from M = max(2, K/32) that takes over
            # from either (tests/backends/test_cpu_mp_linear_small_i8.py); never back
            rank = {"direct": 0, "panel": 1, "small": 2}
            assert seq == sorted(seq, key=rank.__getitem__), seq
            assert path_of(mw, 4096, isa) == ("small" if mw is small and isa == "avx2" else "panel")
    if "avx512_vnni" in ISAS:
        assert path_of(big, 1, "avx512_vnni") == "direct"  # a GEMV streams the packed weight once
        assert path_of(big, 16, "avx512_vnni") == "panel"
        # small layers take the GEMM (no 32-byte row padding) from M = 2; at M = 1 on 64 x 64 the
        # two paths are a measured tie (reports/2026-12-06-costfit-quiet.txt), so the fit decides
        assert path_of(small, 2, "avx512_vnni") == "panel"


def _tool():
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("mp_linear_i8_costfit", root / "tools" / "mp_linear_i8_costfit.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@functools.cache
def mix3_weight(n):
    """The cost fit's mix3 layer (tools/mp_linear_i8_costfit.py), n x n: 3/4 of the rows 2-bit,
    1/8 4-bit, 1/8 8-bit, placed at random (the model sees only the counts)."""
    g = torch.Generator().manual_seed(0)
    codes = torch.ones(n, dtype=torch.uint8)
    idx = torch.randperm(n, generator=g)
    codes[idx[: n // 8]] = 2
    codes[idx[n // 8 : n // 4]] = 3
    return make_weight(n, n, codes)


# The fit tool's model (tools/mp_linear_i8_costfit.py: the features, the monotone choice and the
# header it writes, csrc/mp_linear/mp_linear_costs_i8.h, with the crossovers its coefficients choose)
COSTFIT = _tool()
HEADER_COEFS, HEADER_CROSSOVERS = COSTFIT.read_header()


@pytest.mark.parametrize("isa", [isa_param(i, ISAS) for i in sorted(HEADER_CROSSOVERS)])
@pytest.mark.parametrize("n", [1024, 4096])
def test_cost_model_int8_at_the_fitted_crossover(isa, n):
    # the decision function, not a timing: direct kernels below the header's crossover, the GEMM
    # from it on, one switch over M = 1..512 (a stale header or a mistyped coefficient moves it)
    m_star = HEADER_CROSSOVERS[isa][n]
    seq = [path_of(mix3_weight(n), M, isa) for M in range(1, 513)]
    assert seq == ["direct"] * (m_star - 1) + ["panel"] * (513 - m_star)


@pytest.mark.parametrize("isa", [isa_param(i, ISAS) for i in sorted(HEADER_COEFS)])
@pytest.mark.parametrize(
    ("N", "K", "kind"),
    [(300, 1000, "mix"), (2048, 512, 1), (1024, 2048, 3), (512, 4096, "mix"), (3000, 64, "mix"), (1500, 200, 2)],
)
def test_cost_model_int8_is_the_fit_tools_model(isa, N, K, kind):
    # choose_path_i8 and the tool's choose() are one model (features, passes, the monotone scan):
    # the fit refines the coefficients for the choice the library then makes
    g = torch.Generator().manual_seed(N + K)
    mw = make_weight(N, K, random_codes(N, kind, g))
    per_width = {}
    for bits, rows in zip(mw.buckets[0::2], mw.buckets[1::2]):
        per_width[bits] = per_width.get(bits, 0) + rows
    s = COSTFIT.summary(N, K, per_width)
    for M in [*range(1, 70), 100, 300, 1000]:
        assert path_of(mw, M, isa) == COSTFIT.choose(s, M, isa, *HEADER_COEFS[isa]), M


@needs_isa("avx512_vnni", ISAS)
def test_cost_model_int8_short_row_rule():
    # AVX-512 VNNI: the direct path's 16-row kernel from N = 1024 on, up to 4 activation rows at
    # K <= 64 (item tables) and 2 beyond; small tables and longer rows at M = 3..4 go to the
    # model, which takes the GEMM there (measured 1.1-1.3x faster: reports/2026-12-07-gemm-4.md)
    g = torch.Generator().manual_seed(1)
    for (N, K), last_direct in {(4096, 64): 4, (4096, 128): 2, (1024, 256): 2, (256, 64): 0, (256, 256): 0}.items():
        mw = make_weight(N, K, torch.randint(0, 4, (N,), generator=g, dtype=torch.uint8))
        seq = [path_of(mw, M, "avx512_vnni") for M in range(1, 9)]
        assert seq == ["direct"] * last_direct + ["panel"] * (8 - last_direct), (N, K)


@given(
    N=st.integers(1, 300),
    K=st.integers(1, 1024),
    kind=st.sampled_from(["mix", 1, 2, 3]),
    isa=st.sampled_from(ISAS),
    M=st.integers(1, 80),
    seed=st.integers(0, 2**31 - 1),
)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_auto_is_the_path_it_reports(N, K, kind, isa, M, seed):
    g = torch.Generator().manual_seed(seed)
    mw = make_weight(N, K, random_codes(N, kind, g), seed=seed)
    x = torch.randn(M, K, generator=g)
    y = run_binding(x, mw, None, 8, isa)
    assert torch.equal(y, run_binding(x, mw, None, 8, isa, path=path_of(mw, M, isa)))
    assert torch.equal(y, run_binding(x, mw, None, 8, "scalar", path="direct"))
