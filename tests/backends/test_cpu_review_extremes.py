"""Adversarial extremes for the act_bits=8 kernels of C++ ``chord::mp_linear`` (a review of the AVX2
M = 1 stream tiles ``tile_i8_m1``, the AVX2 packed-row GEMM ``gemm_i8_avx2_packed``, the
small-layer k-quad path and the vectorized epilogues).

Every act_bits=8 path computes exact integer dots and the same float64 epilogue, so every path,
ISA and thread count must give the same bits as the scalar direct kernels. The cases here push what
the other tests leave at typical values: every byte of the packed weight random (padding fields
past K included: they must never contribute), activations that quantize to +-127 everywhere, to a
single non-zero, or to alternating signs, and the int32 limit of the GEMM path (K = 65536, every
8-bit field 255 against xq = +-127: K * 255 * 127 = 2122383360 < 2^31).
"""

from __future__ import annotations

import gc
import os
import types

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chord
from chord import format as fmt
from chord import ops
from chord.backends import cpu as cpu_backend
from chord_kernels import _cpu
from tests.backends.test_cpu_mp_linear import ISAS, ref64, run_binding
from tests.helpers import make_weight, needs_isa

pytestmark = pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built")

KMAX_GEMM_I8 = 65536  # csrc/mp_linear/mp_linear_kernels.h kMaxKGemmI8
KMAX_SMALL_I8 = 128  # csrc/mp_linear/mp_linear_small_i8.h kMaxKSmallI8


def runs(x, mw, bias, paths):
    """{(isa, path, nthreads): y} for every ISA this CPU has, the given paths that serve it, 1 and
    2 threads. 'small' runs only where it serves (AVX2 without VNNI, small layers)."""
    out = {}
    for isa in ISAS:
        for path in paths:
            for nt in (1, 2):
                try:
                    out[(isa, path, nt)] = run_binding(x, mw, bias, 8, isa, nt, path)
                except ValueError as e:  # the small path refuses what it does not serve
                    assert path == "small" and "'small' takes act_bits=8" in str(e), (isa, path, e)
    return out


def assert_all_same_bits(ys):
    (k0, y0), *rest = ys.items()
    for k, y in rest:
        same = (y == y0) | (torch.isnan(y) & torch.isnan(y0))
        assert same.all(), (k, k0, (y.double() - y0.double()).abs().nan_to_num(0).max().item())


def extreme_x(kind, M, K, g):
    if kind == "randn":
        return torch.randn(M, K, generator=g)
    if kind == "plus_minus_max":  # every xq = +-127 (row signs alternate)
        return torch.ones(M, K) * torch.tensor([1.0, -1.0]).repeat(M)[:M, None]
    if kind == "alternating":  # xq = +127, -127, +127, ... along k
        return torch.tensor([1.0, -1.0]).repeat(K)[:K].expand(M, K).clone()
    if kind == "one_spike":  # one huge element: the rest quantize to 0
        x = torch.randn(M, K, generator=g) * 1e-3
        x[:, int(torch.randint(0, K, (1,), generator=g))] = 1e6
        return x
    if kind == "nonfinite":  # rows with an inf, a -inf, a NaN (sx inf or NaN: every column inf/NaN)
        x = torch.randn(M, K, generator=g)
        x[0, K // 2] = float("inf")
        x[1:2, 0] = float("nan")
        x[2:3, K - 1] = -float("inf")
        return x
    if kind == "sparse_max":  # random +-1 and 0: many xq = +-127, some 0
        return torch.randint(-1, 2, (M, K), generator=g).float()
    raise AssertionError(kind)


def garbage_weight(N, K, codes, g):
    """A packed weight whose every byte is random (the padding fields past K too), with random
    scales, zeros and permutation."""
    mw = make_weight(N, K, codes, chord.Codebook((0, 2, 4, 8), "asym"), int(torch.randint(0, 2**31, (1,), generator=g)))
    mw.qweight.copy_(torch.randint(0, 256, mw.qweight.shape, generator=g, dtype=torch.int32).to(torch.uint8))
    mw.zeros.copy_(torch.randn(N, generator=g) * 4)
    return mw


@given(
    M=st.sampled_from([1, 1, 2, 3, 4, 5, 7, 8, 23, 24, 25, 31]),
    N=st.one_of(st.sampled_from([1, 3, 4, 7, 8, 9, 13, 16, 17]), st.integers(1, 90)),
    K=st.one_of(
        st.sampled_from([1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 513, 1025, 2049]),
        st.integers(1, 2600),
    ),
    codes=st.sampled_from(["mix", "pruned_mix", 1, 2, 3]),
    xkind=st.sampled_from(["randn", "plus_minus_max", "alternating", "one_spike", "sparse_max", "nonfinite"]),
    with_bias=st.booleans(),
    half=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_garbage_bytes_and_extreme_activations_same_bits_everywhere(M, N, K, codes, xkind, with_bias, half, seed):
    g = torch.Generator().manual_seed(seed)
    if codes == "mix":
        c = torch.randint(1, 4, (N,), generator=g, dtype=torch.uint8)
    elif codes == "pruned_mix":
        c = torch.randint(0, 4, (N,), generator=g, dtype=torch.uint8)
    else:
        c = torch.full((N,), codes, dtype=torch.uint8)
    mw = garbage_weight(N, K, c, g)
    x = extreme_x(xkind, M, K, g)
    if half:  # float16 in and out: the staged GEMM's float32 stage, then the half store
        x = x.clamp(-6e4, 6e4).half()
    bias = torch.randn(N, generator=g) * 10 if with_bias else None
    paths = ["direct", "small"] + (["panel"] if K <= KMAX_GEMM_I8 else [])
    ys = runs(x, mw, bias, paths)
    assert_all_same_bits(ys)
    y = ys[(ISAS[0], "direct", 1)]
    if xkind == "nonfinite":  # the finite rows as the reference (the others: inf / NaN on every path alike)
        keep = torch.isfinite(x).all(1)
        y, x = y[keep], x[keep]
        if not keep.any():
            return
    assert not torch.isnan(y).any()
    ref = ref64(x, mw, bias, act_bits=8)
    scale = ref.abs().max().item() + 1e-30
    tol = (1e-3 if half else 2e-7) * scale
    ok = (y.double() - ref).abs() <= tol
    if half:  # beyond float16's range the store gives +-inf (every path alike, checked above)
        ok |= (ref.abs() > 65504) & torch.isinf(y)
    assert ok.all()


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("M", [1, 7, 24, 25])
def test_gemm_i8_at_its_int32_limit(bits, sign, M):
    # the GEMM path's largest K with every field at 2^b - 1 and every xq = +-127: the dot is
    # K * u * 127 exactly (8 bits: 2122383360, just inside int32; the AVX2 kernel sums x * (u - 128)
    # and 128 * sum(x) apart). M <= 24: the AVX2 packed-row kernel; 25: the windows. N = 5: a full
    # column group and a partial one at every width.
    N, K = 5, KMAX_GEMM_I8
    u = torch.full((N, K), 2**bits - 1, dtype=torch.uint8)
    mw = chord.MixedWeight(
        fmt.pack_ints(u, bits).reshape(-1),
        torch.full((N,), 0.5),
        torch.zeros(N),
        torch.tensor([3, 0, 4, 1, 2], dtype=torch.int32),
        torch.ones(N, dtype=torch.uint8),
        [bits, N],
        (N, K),
        chord.Codebook((0, bits, 4, 8)),
    )
    x = torch.full((M, K), 2.0 * sign)
    sx = (torch.tensor(2.0) / 127).item()
    expect = torch.tensor(sign * float(K * (2**bits - 1) * 127) * (sx * 0.5), dtype=torch.float32)
    for isa in ISAS:
        for nt in (1, 2):
            y = run_binding(x, mw, None, 8, isa, nt, path="panel")
            assert torch.equal(y, expect.expand(M, N)), (isa, nt)


@pytest.mark.parametrize("M", [1, 8, 25])
def test_gemm_i8_8bit_sign_trick_cancels_at_its_limit(M):
    # u = 0 everywhere (q = u - 128 = -128 on AVX2) against xq = +-127 at K = 65536: the two int32
    # halves (sum x * q and 128 * sum x) are each ~1.07e9 and cancel to exactly 0; u = 128 (q = 0)
    # beside it gives 128 * sum x alone
    N, K = 2, KMAX_GEMM_I8
    u = torch.zeros((N, K), dtype=torch.uint8)
    u[1] = 128
    mw = chord.MixedWeight(
        fmt.pack_ints(u, 8).reshape(-1),
        torch.ones(N),
        torch.zeros(N),
        torch.arange(N, dtype=torch.int32),
        torch.ones(N, dtype=torch.uint8),
        [8, N],
        (N, K),
        chord.Codebook((0, 8, 4, 8)),
    )
    x = torch.ones(M, K) * torch.tensor([1.0, -1.0]).repeat(M)[:M, None]
    sx = (torch.tensor(1.0) / 127).item()
    sgn = torch.tensor([1.0, -1.0], dtype=torch.float64).repeat(M)[:M]
    expect = torch.stack([torch.zeros(M, dtype=torch.float64), sgn * float(128 * 127 * K) * sx], 1).float()
    for isa in ISAS:
        for path in ("panel", "direct"):
            y = run_binding(x, mw, None, 8, isa, 2, path)
            assert torch.equal(y, expect), (isa, path)


@pytest.mark.parametrize("K", [1, 3, 17, 33, 64, 100, 127, 128])
@pytest.mark.parametrize("M", [1, 4, 5, 33])
def test_small_path_garbage_padding_and_max_fields(K, M):
    # every byte 255 (every field at its maximum, the padding fields past K too) against xq = +-127:
    # the k-quad layout must zero what lies past K (the activations there are 0 as well, so both
    # would have to fail), the int16 flushes hold at every K remainder
    g = torch.Generator().manual_seed(K * 100 + M)
    N = 19
    mw = make_weight(N, K, torch.randint(1, 4, (N,), generator=g, dtype=torch.uint8), chord.Codebook((0, 1, 4, 8)))
    mw.qweight.fill_(255)
    x = extreme_x("plus_minus_max", M, K, g)
    ys = runs(x, mw, torch.randn(N, generator=g), ["direct", "small", "panel"])
    assert any(k[1] == "small" for k in ys) or "avx2" not in ISAS
    assert_all_same_bits(ys)


@pytest.mark.parametrize("K", [1, 7, 8, 40, 300])
def test_nonfinite_activations_quantize_alike_on_every_isa(K):
    # an inf makes sx = inf and every inf element's quotient inf / inf = NaN; a NaN makes sx NaN.
    # Every ISA must map such a quotient to the same integer (0, as the scalar and NEON kernels
    # do): with sx = inf the output's signs (inf, -inf or NaN) are decided by those integers. The
    # AVX2 quantizer gave -127 (SIMD lanes and scalar tail alike) and the outputs differed.
    x = torch.randn(5, K, generator=torch.Generator().manual_seed(K))
    x[0, K // 2] = float("inf")
    x[1, 0] = -float("inf")
    x[2, K - 1] = float("nan")
    x[3, :] = float("inf")
    qs = {isa: _cpu.quantize_activations_int8(x.numpy(), 0, isa) for isa in ISAS}
    xq0, sx0 = qs[ISAS[0]]
    for isa, (xq, sx) in qs.items():
        assert (xq == xq0).all(), (isa, xq, xq0)
        assert ((sx == sx0) | (torch.from_numpy(sx).isnan() & torch.from_numpy(sx0).isnan()).numpy()).all(), isa
    mw = garbage_weight(9, K, torch.tensor([1, 2, 3, 0, 1, 2, 3, 3, 1], dtype=torch.uint8), torch.Generator())
    assert_all_same_bits(runs(x, mw, torch.randn(9), ["direct", "panel", "small"]))


@given(
    table=st.lists(st.tuples(st.sampled_from([0, 1, 2, 4, 8]), st.integers(0, 13)), min_size=1, max_size=7),
    M=st.sampled_from([1, 2, 5, 8, 24, 25]),
    K=st.one_of(st.sampled_from([1, 16, 64, 100, 128, 257, 513, 1030]), st.integers(1, 1500)),
    xkind=st.sampled_from(["randn", "plus_minus_max", "sparse_max"]),
    with_bias=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_bucket_table_same_bits_everywhere(table, M, K, xkind, with_bias, seed):
    # the binding takes any valid bucket table, not only what chord.pack writes: widths in any
    # order, a width in several buckets (consecutive in memory across a pruned bucket between
    # them: the AVX2 packed-row GEMM merges such runs), empty buckets, pruned buckets anywhere
    N = sum(n for _, n in table)
    if N == 0:
        table, N = table + [(2, 1)], 1
    g = torch.Generator().manual_seed(seed)
    buckets = [v for b, n in table for v in (b, n)]
    nbytes = sum(n * fmt.row_bytes(K, b) for b, n in table)
    packed = ops.Packed(
        torch.randint(0, 256, (nbytes,), generator=g, dtype=torch.int32).to(torch.uint8),
        torch.rand(N, generator=g) + 0.1,
        torch.randn(N, generator=g) * 3,
        torch.randperm(N, generator=g).to(torch.int32),
        buckets,
        K,
    )
    mw = types.SimpleNamespace(packed=packed, N=N)
    x = extreme_x(xkind, M, K, g)
    bias = torch.randn(N, generator=g) if with_bias else None
    ys = runs(x, mw, bias, ["direct", "panel", "small"])
    assert_all_same_bits(ys)
    y = ys[(ISAS[0], "direct", 1)]
    ref = ref64(x, mw, bias, act_bits=8)
    assert ((y.double() - ref).abs() <= 2e-7 * (ref.abs().max() + 1e-30)).all()
    pruned = torch.cat([torch.full((n,), b == 0) for b, n in table])
    cols = packed.perm[pruned].long()
    assert torch.equal(y[:, cols], (bias[cols] if with_bias else torch.zeros(len(cols))).expand(M, -1))


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads the resident set from /proc")
@needs_isa("avx2", ISAS)
def test_small_path_scratch_does_not_grow_with_m():
    # the small path's per-thread scratch (kept between calls) must not scale with M: on
    # 1720f80 it held M x (K + 8 N) bytes after the call (~420 MiB kept here at M = 100000)
    N, K = 512, 128
    mw = make_weight(N, K, torch.full((N,), 3, dtype=torch.uint8))

    def rss_mib():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    x = torch.randn(1, K).expand(100_000, K)  # stride-0 rows: x holds no memory of its own
    run_binding(x[:64], mw, None, 8, "avx2", 1, path="small")  # the scratch at M = 64
    gc.collect()
    before = rss_mib()
    y = run_binding(x, mw, None, 8, "avx2", 1, path="small")
    del y
    gc.collect()
    assert rss_mib() - before < 64
