"""C++ CPU ``chord::mp_linear`` (csrc/mp_linear/*.cpp): every ISA's path against the float64
reference, the int8-activation path's exactness and error bound, determinism, concurrency,
and input validation at the binding level.

Error metric, against ``ref`` the float64 reference from ``dequantize()``: the fuzzed fp32 outputs
each within the float32 dot-product bound (``tests.helpers.assert_within_fp32_bound``: a fixed
relative error fails on tiny outputs whose sums cancel); fixed shapes and fp16 / bf16 outputs
``rel = max|y - ref| / max(max|ref|, 1e-30)`` over the whole output, fp32 ``rel <= 1e-5``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chord
from chord import format as fmt
from chord.backends import cpu as cpu_backend
from chord.backends import reference as R
from tests.helpers import (
    assert_within_fp32_bound,
    linear_cases,
    linear_problem,
    make_weight,
    packed_args,
    poison,
    random_codes,
)

pytestmark = pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built")
_cpu = cpu_backend._cpu


ISAS = cpu_backend.supported_isas()  # every ISA this CPU runs (csrc/common/isa.h), scalar first
CODE = {torch.float32: 0, torch.float16: 1, torch.bfloat16: 2}
TOL = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1.6e-2}


def ref64(x, mw, bias=None, act_bits=0):
    return R.mp_linear(x, mw.packed, bias, act_bits=act_bits, compute_dtype=torch.float64)


def rel_err(y, ref):
    return ((y.double() - ref).abs().max() / ref.abs().max().clamp_min(1e-30)).item()


def assert_close_to_float64(y, x, mw, bias, ref, what=""):
    """A fuzzed exact-path output against the float64 reference: fp32 output by output within the
    float32 dot-product bound, fp16 / bf16 within :data:`TOL` of max|ref| (their output rounding,
    far above any cancellation)."""
    assert y.dtype == x.dtype and not torch.isnan(y).any(), what
    if x.dtype == torch.float32:
        assert_within_fp32_bound(y, x, mw, bias, ref, what)
    else:
        assert rel_err(y, ref) <= TOL[x.dtype], (what, rel_err(y, ref))


def run_binding(x, mw, bias=None, act_bits=0, isa="auto", nthreads=2, path="auto"):
    """The C++ kernel straight through the binding, into a NaN-poisoned output. path: "auto"
    (the cost model), "direct" or "panel" (csrc/mp_linear/mp_linear_panel.cpp)."""
    y = poison(torch.empty(x.shape[0], mw.N, dtype=x.dtype))
    _cpu.mp_linear(
        cpu_backend._np(x),
        CODE[x.dtype],
        *packed_args(mw, torch.Tensor.numpy),
        None if bias is None else bias.float().numpy(),
        act_bits,
        cpu_backend._np(y),
        nthreads,
        isa,
        path,
    )
    return y


def raw_weight(u, bits, K, scales, zeros):
    """A MixedWeight of one width from raw fields u (uint8 [N, >= K]; fields beyond K are the row
    padding, kept as given), identity perm, every row code 1."""
    N = u.shape[0]
    return chord.MixedWeight(
        fmt.pack_ints(u, bits).reshape(-1),
        scales,
        zeros,
        torch.arange(N, dtype=torch.int32),
        torch.ones(N, dtype=torch.uint8),
        [bits, N],
        (N, K),
        chord.Codebook((0, bits, 4, 8)),
    )


def saturated_weight(N, K, bits):
    """Every field at 2^bits - 1 (scale 0.5, zero point 0): the integer dots at their largest."""
    return raw_weight(
        torch.full((N, K), 2**bits - 1, dtype=torch.uint8), bits, K, torch.full((N,), 0.5), torch.zeros(N)
    )


# ---------------------------------------------------------------------------------------------
def pruned_columns_case():
    """(mw, x, bias, pruned, all_pruned): a weight with 2 of 3 rows pruned (code 0), x with an inf
    and a NaN (rows 2 and 4), and a weight with every row pruned. Pruned columns must come out as
    exactly the bias whatever x holds."""
    N, K = 40, 96
    codes = torch.zeros(N, dtype=torch.uint8)
    codes[::3] = 2
    x, b = torch.randn(7, K), torch.randn(N)
    x[2, 5], x[4, 0] = float("inf"), float("nan")
    return make_weight(N, K, codes), x, b, codes == 0, make_weight(N, K, torch.zeros(N, dtype=torch.uint8))


def fuzz_cases(M: int, N: int, K: int):
    """Hypothesis cases for an mp_linear fuzz test (``tests.helpers.linear_cases``, every activation
    dtype); :func:`fuzz_problem` turns one into (mw, x, bias, ref)."""
    return linear_cases(M, N, K, dtypes=(torch.float32, torch.float32, torch.float16, torch.bfloat16))


def fuzz_problem(case: dict):
    """(mw, x, bias or None, float64 reference output) of a :func:`fuzz_cases` case."""
    mw, x, bias = linear_problem(case)
    return mw, x, bias, ref64(x, mw, bias)


@given(fuzz_cases(300, 600, 1100))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_against_float64_reference(case):
    mw, x, bias, ref = fuzz_problem(case)
    M, N, K = case["M"], case["N"], case["K"]
    for isa in ISAS:
        if isa == "scalar" and M * N * K > 30_000_000:
            continue  # the scalar path is correct but slow; keep the suite within budget
        assert_close_to_float64(run_binding(x, mw, bias, isa=isa), x, mw, bias, ref, isa)
    assert_close_to_float64(chord.mp_linear(x, mw, bias), x, mw, bias, ref, "op")  # the registered op


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("M", [1, 2, 3, 5, 16, 33])
def test_each_width(isa, bits, M):
    N, K = 29, 777
    cb = chord.Codebook((0, bits, bits, bits), "asym" if bits == 1 else "sym")
    mw = make_weight(N, K, torch.full((N,), 1, dtype=torch.uint8), cb, seed=bits)
    x = torch.randn(M, K)
    b = torch.randn(N)
    assert rel_err(run_binding(x, mw, b, isa=isa), ref64(x, mw, b)) <= 1e-5


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("act_bits", [0, 8])
def test_pruned_rows_give_exactly_bias_and_read_no_weights(isa, act_bits):
    N, K = 50, 300
    codes = torch.zeros(N, dtype=torch.uint8)
    codes[::3] = 2
    mw = make_weight(N, K, codes)
    x, b = torch.randn(4, K), torch.randn(N)
    y = run_binding(x, mw, b, act_bits, isa)
    pruned = codes == 0
    assert torch.equal(y[:, pruned], b[pruned].expand(4, -1))
    allp = make_weight(N, K, torch.zeros(N, dtype=torch.uint8))
    assert allp.qweight.numel() == 0
    assert torch.equal(run_binding(x, allp, b, act_bits, isa), b.expand(4, -1))
    assert torch.equal(run_binding(x, allp, None, act_bits, isa), torch.zeros(4, N))


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("act_bits", [0, 8])
@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_padding_beyond_K_never_contributes(isa, act_bits, bits):
    # fill the padding elements (k >= K) of every row with non-zero garbage
    N, K = 7, 100
    g = torch.Generator().manual_seed(bits)
    kp = fmt.padded_k(K, bits)
    u = torch.randint(0, 2**bits, (N, kp), generator=g, dtype=torch.int32).to(torch.uint8)
    u[:, K:] = 2**bits - 1
    mw = raw_weight(u, bits, K, torch.rand(N) + 0.1, torch.full((N,), float(2 ** (bits - 1)) if bits > 1 else 0.5))
    x = torch.randn(3, K)
    ref = ref64(x, mw, None, act_bits)
    assert rel_err(run_binding(x, mw, None, act_bits, isa), ref) <= (1e-5 if act_bits == 0 else 1e-6)


# ---- act_bits = 8 ---------------------------------------------------------------------------
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("K", [1, 31, 32, 100, 1000])
def test_int8_activations_match_reference_bit_for_bit(isa, K):
    g = torch.Generator().manual_seed(K)
    x = torch.randn(6, K, generator=g) * torch.tensor([1.0, 1e-3, 1e3, 0.0, 1.0, 7.0])[:, None]
    x[4, 0] = x[4].abs().amax() / 2  # x / sx = 63.5: a tie, rounds half to even
    xq, sx = _cpu.quantize_activations_int8(x.numpy(), 0, isa)
    rq, rs = R.quantize_activations_int8(x)
    assert torch.equal(torch.from_numpy(sx), rs)
    assert torch.equal(torch.from_numpy(xq).float(), rq)


@given(
    M=st.integers(1, 40),
    N=st.integers(1, 300),
    K=st.integers(1, 1100),
    scheme=st.sampled_from(["sym", "asym"]),
    one_bit=st.booleans(),
    with_bias=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
@settings(max_examples=25, deadline=None)
def test_int8_path_exact_integers_and_error_bound(M, N, K, scheme, one_bit, with_bias, seed):
    g = torch.Generator().manual_seed(seed)
    cb = chord.Codebook((0, 1, 4, 8) if one_bit else (0, 2, 4, 8), scheme)
    mw = make_weight(N, K, random_codes(N, "mix", g), cb, seed)
    x = torch.randn(M, K, generator=g)
    bias = torch.randn(N, generator=g) if with_bias else None
    ys = [run_binding(x, mw, bias, 8, isa) for isa in ISAS]
    # integer dot products are exact and the epilogue is the same: every ISA agrees bit for bit
    for y in ys[1:]:
        assert torch.equal(y, ys[0])
    # vs the reference int8 path in float64: fp32 rounding of the epilogue only
    ref8 = ref64(x, mw, bias, act_bits=8)
    assert ((ys[0].double() - ref8).abs() <= 2e-7 * ref8.abs().max() + 1e-30).all()
    # vs exact activations: |y - y_exact| <= (sx / 2) * ||w_n||_1 (activation rounding only)
    ref0 = ref64(x, mw, bias, act_bits=0)
    sx = x.abs().amax(1).double() / 127
    bound = (sx[:, None] / 2) * mw.dequantize(torch.float64).abs().sum(1)[None, :]
    assert ((ys[0].double() - ref0).abs() <= bound * (1 + 1e-6) + 1e-6 * ref0.abs().max()).all()


@pytest.mark.parametrize("M", [1, 2, 3, 4, 5, 6, 7, 8, 9])
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize(("N", "K"), [(301, 700), (61, 8200)])
def test_int8_gemv_same_on_every_isa_and_thread_count(M, with_bias, N, K):
    # the direct (GEMV) kernels on long rows (several tasks per bucket; at M = 1 the AVX-512
    # epilogue collects the rows in packed order and scatters them to the permuted columns at the
    # end), every width with pruned rows between them; K = 8200: 4- and 8-bit rows of >= 4 KiB
    # (the VNNI kernel's 8-row tiles at M = 1) with tail rows; M = 2..9: the VNNI kernel's
    # multi-row tiles, one pass or several (5 and 9 = 4 + 5: the 4 x 5 tiles of 4- and 8-bit rows,
    # 2-bit rows in 4 + 1; 6 = 4 + 2, 7 = 4 + 3, 8 = 4 + 4), forced: the model may pick the GEMM
    codes = torch.arange(N, dtype=torch.uint8) % 4  # pruned, 2, 4, 8 bits
    mw = make_weight(N, K, codes)
    x, b = torch.randn(M, K), torch.randn(N)
    bias = b if with_bias else None
    ys = [run_binding(x, mw, bias, 8, isa, nthreads, path="direct") for isa in ISAS for nthreads in (1, 2)]
    for y in ys[1:]:
        assert torch.equal(y, ys[0])
    pruned = codes == 0
    expect = b[pruned] if with_bias else torch.zeros(int(pruned.sum()))
    assert torch.equal(ys[0][:, pruned], expect.expand(M, -1))
    ref8 = ref64(x, mw, bias, act_bits=8)
    assert ((ys[0].double() - ref8).abs() <= 2e-7 * ref8.abs().max()).all()
    # vs exact activations: within the activation rounding bound (sx / 2) * ||w_n||_1
    ref0 = ref64(x, mw, bias, act_bits=0)
    bound = (x.abs().amax(1).double()[:, None] / 254) * mw.dequantize(torch.float64).abs().sum(1)[None, :]
    assert ((ys[0].double() - ref0).abs() <= bound * (1 + 1e-6) + 1e-6 * ref0.abs().max()).all()


@contextlib.contextmanager
def pinned_isa(isa):
    """CHORD_CPU_ISA=isa for the block (hypothesis tests cannot take monkeypatch)."""
    old = os.environ.get("CHORD_CPU_ISA")
    os.environ["CHORD_CPU_ISA"] = isa
    try:
        yield
    finally:
        if old is None:
            del os.environ["CHORD_CPU_ISA"]
        else:
            os.environ["CHORD_CPU_ISA"] = old


@given(
    M=st.integers(1, 40),
    N=st.integers(1, 200),
    K=st.one_of(
        st.sampled_from([1, 2, 15, 16, 17, 63, 64, 65, 127, 129, 255, 257, 511, 513, 1025]), st.integers(1, 2100)
    ),
    widths=st.lists(st.sampled_from([0, 1, 2, 4, 8]), min_size=4, max_size=4),
    used=st.sets(st.integers(0, 3), min_size=1),
    scheme=st.sampled_from(["sym", "asym"]),
    with_bias=st.booleans(),
    x_scale=st.sampled_from([1.0, 1e-3, 1e3]),
    seed=st.integers(0, 2**31 - 1),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_int8_bit_identical_across_pinned_isas(M, N, K, widths, used, scheme, with_bias, x_scale, seed):
    # every bucket mix: the codebook draws 4 widths (repeats and pruned allowed) and the rows
    # use a drawn subset of its codes, so any set of widths, all-pruned included, comes up
    g = torch.Generator().manual_seed(seed)
    cb = chord.Codebook(tuple(widths), scheme)
    pick = torch.tensor(sorted(used), dtype=torch.uint8)
    mw = make_weight(N, K, pick[torch.randint(0, len(pick), (N,), generator=g)], cb, seed)
    x = torch.randn(M, K, generator=g) * x_scale
    bias = torch.randn(N, generator=g) if with_bias else None
    ys = {}
    for isa in ISAS:
        with pinned_isa(isa):  # the binding's isa="auto" resolves through CHORD_CPU_ISA
            assert _cpu.cpu_isa("auto") == isa
            ys[isa] = run_binding(x, mw, bias, 8, "auto")  # into a NaN-poisoned output
            assert torch.equal(chord.mp_linear(x, mw, bias, act_bits=8), ys[isa])  # the registered op
    y0 = ys["scalar"]
    for isa, y in ys.items():
        assert torch.equal(y, y0), isa  # exact integer dot products, the same epilogue
    ref8 = ref64(x, mw, bias, act_bits=8)
    assert ((y0.double() - ref8).abs() <= 2e-7 * ref8.abs().max() + 1e-30).all()
    ref0 = ref64(x, mw, bias, act_bits=0)
    sx = x.abs().amax(1).double() / 127
    bound = (sx[:, None] / 2) * mw.dequantize(torch.float64).abs().sum(1)[None, :]
    assert ((y0.double() - ref0).abs() <= bound * (1 + 1e-6) + 1e-6 * ref0.abs().max()).all()


@pytest.mark.parametrize("bits", [2, 4])
@pytest.mark.parametrize("tail", ["none", "1 group", "3 groups", "half block", "3 groups + half block"])
@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize("N", [1, 4, 9])
def test_int8_m1_int16_sums_at_their_bound(bits, tail, sign, N):
    # M = 1 on AVX2 (tile_i8_m1): 2- and 4-bit fields summed in int16 over chunks of 4 groups
    # (32 bytes of a row each) before widening; every u = 2^b - 1 against every xq = +-127 puts
    # the sums at their bound (2-bit 4x sums 24384, 4-bit 30480). The K's leave a chunk whole or
    # cut (1 or 3 groups), with or without a lone 16-byte block; N = 4 and 9 take the 4-row
    # streams (9: two rows a stream and a tail row), N = 1 the single row
    epb = 8 // bits
    group = 32 * epb
    extra = {"none": 0, "1 group": group, "3 groups": 3 * group, "half block": group // 2}
    extra["3 groups + half block"] = 3 * group + group // 2
    K = 8 * 4 * group + extra[tail]
    mw = saturated_weight(N, K, bits)
    x = torch.full((1, K), 2.0 * sign)
    sx = (torch.tensor(2.0) / 127).item()
    expect = torch.tensor(float(sign * K * (2**bits - 1) * 127) * (sx * 0.5), dtype=torch.float32)
    for isa in ISAS:
        for nthreads in (1, 2):
            y = run_binding(x, mw, None, 8, isa, nthreads=nthreads, path="direct")
            assert torch.equal(y, expect.expand(1, N)), (isa, nthreads)


@pytest.mark.parametrize(("N", "K"), [(3000, 1024), (2100, 300)])
@pytest.mark.parametrize("with_bias", [False, True])
def test_int8_m1_long_tasks_same_on_every_isa_and_thread_count(N, K, with_bias):
    # one activation row on the AVX2 stream tiles takes tasks of up to 1 MiB / 1024 rows
    # (mp_linear.cpp kTaskBytesI8M1; at one thread 4 MiB / 1008 rows, kTaskBytesI8M1Alone):
    # ~1900 short 2-bit rows give two tasks of more rows than the other paths' 240 at one
    # thread, ~220-row tasks at two; other widths and pruned rows between
    g = torch.Generator().manual_seed(N)
    codes = torch.tensor([1, 1, 1, 1, 1, 2, 3, 0], dtype=torch.uint8)[torch.randint(0, 8, (N,), generator=g)]
    mw = make_weight(N, K, codes)
    x, b = torch.randn(1, K, generator=g), torch.randn(N, generator=g)
    bias = b if with_bias else None
    ys = [run_binding(x, mw, bias, 8, isa, nthreads, path="direct") for isa in ISAS for nthreads in (1, 2)]
    for y in ys[1:]:
        assert torch.equal(y, ys[0])
    ref8 = ref64(x, mw, bias, act_bits=8)
    assert ((ys[0].double() - ref8).abs() <= 2e-7 * ref8.abs().max()).all()


_SPAN_ROWS = st.one_of(st.sampled_from([0, 1, 23, 24, 25, 1007, 1008, 1009, 2016, 2017]), st.integers(0, 2100))


@given(
    rows=st.tuples(st.integers(0, 40), _SPAN_ROWS, _SPAN_ROWS, st.integers(0, 600)),
    K=st.one_of(st.sampled_from([257, 300, 512, 513, 1024]), st.integers(257, 1100)),
    with_bias=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_int8_m1_one_thread_whole_buckets_same_as_every_isa_and_two_threads(rows, K, with_bias, seed):
    # one activation row on the AVX2 stream tiles at one thread takes tasks of up to 4 MiB /
    # 1008 rows, never cut for balance (mp_linear.cpp kTaskBytesI8M1Alone): buckets around and
    # past the row cap (several tasks, tail tasks, one-row buckets), pruned rows among them, K
    # past the short-row kernels; bit-identical to the scalar kernels and to two threads (the
    # balanced split), into NaN-poisoned outputs, and within the float64 act8 reference
    n0, n2, n4, n8 = rows
    if n0 + n2 + n4 + n8 == 0:
        n2 = 1
    g = torch.Generator().manual_seed(seed)
    codes = torch.cat([torch.full((n,), c, dtype=torch.uint8) for c, n in zip(range(4), (n0, n2, n4, n8))])
    codes = codes[torch.randperm(len(codes), generator=g)]
    mw = make_weight(len(codes), K, codes, seed=seed)
    x = torch.randn(1, K, generator=g)
    bias = torch.randn(len(codes), generator=g) if with_bias else None
    y1 = run_binding(x, mw, bias, 8, ISAS[-1], nthreads=1, path="direct")
    for isa in ISAS:
        for nthreads in (1, 2):
            assert torch.equal(run_binding(x, mw, bias, 8, isa, nthreads, path="direct"), y1), (isa, nthreads)
    ref8 = ref64(x, mw, bias, act_bits=8)
    assert ((y1.double() - ref8).abs() <= 2e-7 * ref8.abs().max() + 1e-30).all()


@given(
    N=st.integers(1, 70),
    K=st.one_of(st.sampled_from([1, 63, 64, 65, 127, 128, 129, 448, 511, 512, 513, 640, 1088]), st.integers(1, 3000)),
    bits=st.sampled_from([2, 4]),
    x_scale=st.sampled_from([1.0, 1e-3, 1e3]),
    nthreads=st.sampled_from([1, 2]),
    seed=st.integers(0, 2**31 - 1),
)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_int8_m1_rows_bit_identical_across_isas(N, K, bits, x_scale, nthreads, seed):
    # one activation row on one width (the M = 1 stream tiles and their tail rows, every K
    # remainder): every ISA the same bits (into NaN-poisoned outputs), within the float64 bound
    g = torch.Generator().manual_seed(seed)
    mw = make_weight(N, K, torch.full((N,), {2: 1, 4: 2}[bits], dtype=torch.uint8), seed=seed)
    x = torch.randn(1, K, generator=g) * x_scale
    ys = [run_binding(x, mw, None, 8, isa, nthreads=nthreads, path="direct") for isa in ISAS]
    for isa, y in zip(ISAS, ys):
        assert torch.equal(y, ys[0]), isa
    ref8 = ref64(x, mw, None, act_bits=8)
    assert ((ys[0].double() - ref8).abs() <= 2e-7 * ref8.abs().max() + 1e-30).all()


@pytest.mark.parametrize("M", [1, 3, 5])
@pytest.mark.parametrize("bits, K", [(1, 1 << 19), (2, 1 << 19), (4, 1 << 19), (8, 1 << 19), (8, 65792), (8, 65808)])
def test_int8_largest_k_accumulates_exactly(bits, K, M):
    # the worst case for the int32 lanes: every u = 2^b - 1 and every xq = 127 at K = kMaxKInt8
    # (2^19): the dot is K * u * 127 exactly, on every ISA. 8-bit rows also at the largest K whose
    # row total the VNNI kernels sum in int32 (65792) and the next padded K (int64 sums)
    N = 3
    mw = saturated_weight(N, K, bits)
    x = torch.full((M, K), 2.0)  # M = 3, 5: the VNNI kernel's multi-row tiles (one accumulator per pair)
    sx = (torch.tensor(2.0) / 127).item()  # float32 amax / 127, as the kernels compute it
    expect = torch.tensor(float(K * (2**bits - 1) * 127) * (sx * 0.5), dtype=torch.float32)
    for isa in ISAS:
        y = run_binding(x, mw, None, 8, isa, nthreads=1, path="direct")
        assert torch.equal(y, expect.expand(M, N)), isa
    if K < 1 << 19 or M > 1:
        return
    with pytest.raises(ValueError, match="K must be <="):
        run_binding(torch.ones(1, K + 1), chord.pack(torch.randn(2, K + 1), torch.ones(2, dtype=torch.uint8)), None, 8)


def test_isa_gating_names_the_missing_feature(monkeypatch):
    # a VNNI ISA this CPU lacks is an error (the argument or CHORD_CPU_ISA), never a silent fallback
    mw = make_weight(20, 50, torch.full((20,), 1, dtype=torch.uint8))
    x = torch.randn(2, 50)
    for isa in ("avx512_vnni", "avx_vnni"):
        if isa in ISAS:
            assert torch.equal(run_binding(x, mw, None, 8, isa), run_binding(x, mw, None, 8, "scalar"))
            continue
        with pytest.raises(ValueError, match=f"isa={isa}: this CPU lacks"):
            run_binding(x, mw, None, 8, isa)
        monkeypatch.setenv("CHORD_CPU_ISA", isa)
        with pytest.raises(ValueError, match=f"CHORD_CPU_ISA={isa}: this CPU lacks"):
            chord.mp_linear(x, mw, act_bits=8)
        monkeypatch.delenv("CHORD_CPU_ISA")


def run_emulated_avx_vnni_check(tmp_path, source, *extra_sources):
    """Build tests/backends/cpp/<source> (a real AVX-VNNI kernel file with its one VNNI
    instruction emulated in scalar code, emulated_dpbusd.h) with csrc/<extra_sources>, run it and
    require its "ok <cases>" (every case bit-identical to the exact integers)."""
    root = Path(__file__).resolve().parents[2]
    cxx = os.environ.get("CXX", "c++")
    if shutil.which(cxx) is None or "avx2" not in ISAS:
        msg = f"needs a C++ compiler ({cxx}) and an AVX2 CPU"
        if os.environ.get("CI") == "true" and shutil.which(cxx) is None:
            pytest.fail(msg + " (under CI=true the compiler that builds the extension is present)")
        pytest.skip(msg)
    exe = tmp_path / Path(source).stem
    srcs = [str(root / "tests/backends/cpp" / source)] + [str(root / "csrc" / f) for f in extra_sources]
    subprocess.run(
        [cxx, "-O1", "-std=c++17", f"-I{root / 'csrc'}", *srcs, "-o", str(exe)], check=True, capture_output=True
    )
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.startswith("ok "), r.stdout + r.stderr


def test_avx_vnni_kernel_bit_identical_under_emulation(tmp_path):
    # this machine may lack AVX-VNNI (then the cross-ISA tests above cannot pin it): the real
    # kernel file against dot_i8_ref over widths x K x rows x activation rows
    run_emulated_avx_vnni_check(tmp_path, "avxvnni_emulated.cpp", "mp_linear/mp_linear_ref.cpp")


# ---- row-range entry (used by the fused top-k scorer) ----------------------------------------
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("act_bits", [0, 8])
def test_score_rows_packed_order_no_bias(isa, act_bits):
    N, K = 90, 250
    g = torch.Generator().manual_seed(3)
    mw = make_weight(N, K, random_codes(N, "mix", g))
    x = torch.randn(3, K, generator=g)
    full = ref64(x, mw, None, act_bits)[:, mw.perm.long()]  # packed order
    for r0, r1 in [(0, N), (5, 61), (40, 41), (N, N)]:
        s = _cpu.mp_linear_score_rows(
            x.numpy(), 0, mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.buckets, K, r0, r1, act_bits, isa
        )
        assert s.shape == (3, r1 - r0)
        if r1 > r0:
            assert rel_err(torch.from_numpy(s), full[:, r0:r1]) <= 1e-5


@pytest.mark.parametrize("isa", ISAS)
def test_dequantize_rows_matches_reference(isa, monkeypatch):
    monkeypatch.setenv("CHORD_CPU_ISA", isa)
    N, K = 77, 301
    mw = make_weight(N, K, torch.randint(0, 4, (N,), dtype=torch.uint8, generator=torch.Generator().manual_seed(6)))
    ref = mw.dequantize()
    for n0, n1 in [(0, N), (10, 40), (76, 77)]:
        out = poison(torch.empty(n1 - n0, K))
        _cpu.mp_linear_dequantize_rows(
            *packed_args(mw, torch.Tensor.numpy),
            n0,
            n1,
            out.numpy(),
            2,
        )
        assert torch.equal(out, ref[n0:n1])  # (u - zero) * scale in fp32, as the reference


# ---- op-level properties --------------------------------------------------------------------
@pytest.mark.parametrize("M", [1, 7, 300])
@pytest.mark.parametrize("act_bits", [0, 8])
def test_opcheck(M, act_bits):
    N, K = 40, 130
    mw = make_weight(N, K, torch.randint(0, 4, (N,), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)))
    x, b = torch.randn(M, K), torch.randn(N)
    for bias in (None, b):
        torch.library.opcheck(
            torch.ops.chord.mp_linear.default,
            (x, mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, K, bias, act_bits),
        )


@pytest.mark.parametrize("M", [1, 16, 257])
@pytest.mark.parametrize("act_bits", [0, 8])
def test_deterministic_across_runs_and_thread_counts(M, act_bits):
    N, K = 300, 1000
    mw = make_weight(N, K, torch.randint(0, 4, (N,), dtype=torch.uint8, generator=torch.Generator().manual_seed(2)))
    x, b = torch.randn(M, K), torch.randn(N)
    old = torch.get_num_threads()
    try:
        outs = []
        for nt in (1, 2, 2, 1):
            torch.set_num_threads(nt)
            outs.append(chord.mp_linear(x, mw, b, act_bits=act_bits))
    finally:
        torch.set_num_threads(old)
    for y in outs[1:]:
        assert torch.equal(y, outs[0])


@given(
    M=st.integers(1, 3),
    N=st.integers(1, 2500),
    K=st.sampled_from([16, 64, 100, 256, 513, 1024]),
    nthreads=st.sampled_from([2, 3, 5, 8]),
    with_bias=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_int8_direct_path_equal_at_every_thread_count(M, N, K, nthreads, with_bias, seed):
    # the act8 direct path hands each thread one contiguous run of tasks of about equal bytes
    # (parallel_for_blocked), steals from the others' runs when its own is done, and its VNNI
    # kernels prefetch on past a task's rows into the next task's and bucket's: with more threads
    # than cores (late workers, stolen runs) every output still equals the 1-thread one, on every ISA
    g = torch.Generator().manual_seed(seed)
    mw = make_weight(N, K, random_codes(N, "mix", g), seed=seed)
    x = torch.randn(M, K, generator=g)
    bias = torch.randn(N, generator=g) if with_bias else None
    for isa in ISAS:
        y1 = run_binding(x, mw, bias, 8, isa, nthreads=1, path="direct")
        assert torch.equal(run_binding(x, mw, bias, 8, isa, nthreads=nthreads, path="direct"), y1), isa
        if isa == ISAS[-1]:
            ref8 = ref64(x, mw, bias, act_bits=8)
            assert ((y1.double() - ref8).abs() <= 2e-7 * ref8.abs().max() + 1e-30).all()


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("path", ["direct", "panel"])
def test_batch_rows_are_independent_of_batch_size(isa, path):
    # each output is one accumulation chain whatever the tile shape: row m of a batch equals
    # the same row computed alone, per path (the auto choice may differ between batch sizes)
    N, K = 70, 333
    mw = make_weight(N, K, torch.randint(0, 4, (N,), dtype=torch.uint8, generator=torch.Generator().manual_seed(4)))
    # (direct avx512 runs M < 4 on the AVX2 kernel: its property holds from 4 rows up)
    x = torch.randn(11, K)
    for act_bits in (0, 8):
        yb = run_binding(x, mw, None, act_bits, isa, path=path)
        for m in (0, 5, 7):
            assert torch.equal(run_binding(x[m : m + 4], mw, None, act_bits, isa, path=path)[0], yb[m])
            if not isa.startswith("avx512") or act_bits or path == "panel":
                assert torch.equal(run_binding(x[m : m + 1], mw, None, act_bits, isa, path=path)[0], yb[m])


def test_concurrent_python_threads_equal_serial():
    N, K = 400, 700
    mw = make_weight(N, K, torch.randint(0, 4, (N,), dtype=torch.uint8, generator=torch.Generator().manual_seed(5)))
    xs = [torch.randn(m, K) for m in (1, 3, 16, 1, 5, 2, 9, 1)]
    serial = [chord.mp_linear(x, mw, act_bits=i % 2 * 8) for i, x in enumerate(xs)]
    got = [None] * len(xs)
    errors = []

    def work(i):
        try:
            for _ in range(5):
                got[i] = chord.mp_linear(xs[i], mw, act_bits=i % 2 * 8)
        except Exception as e:  # noqa: BLE001 - any error in a thread is reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for a, b in zip(got, serial):
        assert torch.equal(a, b)


def test_isa_env_override(monkeypatch):
    mw = make_weight(20, 50, torch.full((20,), 1, dtype=torch.uint8))
    x = torch.randn(2, 50)
    monkeypatch.setenv("CHORD_CPU_ISA", "scalar")
    assert _cpu.cpu_isa("auto") == "scalar"
    assert torch.equal(chord.mp_linear(x, mw), run_binding(x, mw, isa="scalar"))
    monkeypatch.setenv("CHORD_CPU_ISA", "sse9")
    with pytest.raises(ValueError, match="CHORD_CPU_ISA"):
        chord.mp_linear(x, mw)


# ---- validation at the binding level ---------------------------------------------------------
def _args(mw, x_, **over):
    x = x_
    a = dict(
        x=x.numpy(),
        xdtype=0,
        qweight=mw.qweight.numpy(),
        scales=mw.scales.numpy(),
        zeros=mw.zeros.numpy(),
        perm=mw.perm.numpy(),
        buckets=list(mw.buckets),
        K=mw.K,
        bias=None,
        act_bits=0,
        y=torch.empty(x.shape[0], mw.N).numpy(),
        nthreads=1,
    )
    a.update(over)
    return a


def _bad_cases(mw, x):
    N, K = mw.N, mw.K
    return {
        "qweight: expected dtype uint8": dict(qweight=mw.qweight.to(torch.int8).numpy()),
        "qweight: expected": dict(qweight=mw.qweight[:-1].numpy()),
        "scales: expected dtype float32": dict(scales=mw.scales.double().numpy()),
        "zeros: expected 12 entries": dict(zeros=mw.zeros[:-1].numpy()),
        "perm: expected 12 entries": dict(perm=mw.perm[:-1].numpy()),
        "perm: expected dtype int32": dict(perm=mw.perm.long().numpy()),
        "perm\\[0\\]: expected a row": dict(
            perm=torch.cat([torch.tensor([N], dtype=torch.int32), mw.perm[1:]]).numpy()
        ),
        "perm: not a permutation": dict(perm=torch.zeros(N, dtype=torch.int32).numpy()),
        "buckets: expected a flat": dict(buckets=list(mw.buckets) + [2]),
        "buckets\\[0\\]: expected a width": dict(buckets=[3] + list(mw.buckets)[1:]),
        "buckets: rows sum": dict(buckets=list(mw.buckets[:-1]) + [mw.buckets[-1] + 1]),
        "K: expected >= 1": dict(K=0),
        "x: expected shape": dict(x=torch.randn(2, K + 1).numpy()),
        "x: expected a 2-D": dict(x=torch.randn(K).numpy()),
        "x: expected float32": dict(x=torch.randn(2, K).double().numpy()),
        "y: expected": dict(y=torch.empty(2, N + 1).numpy()),
        "bias: expected 12 entries": dict(bias=torch.zeros(N - 1).numpy()),
        "bias: expected dtype float32": dict(bias=torch.zeros(N).double().numpy()),
        "act_bits: expected 0 or 8": dict(act_bits=4),
        "isa: expected one of auto, scalar, avx2": dict(isa="sse9"),
        "dtype: expected 0": dict(xdtype=7),
    }


@pytest.mark.parametrize(
    "case",
    list(_bad_cases(make_weight(12, 40, torch.tensor([0, 1, 2, 3] * 3, dtype=torch.uint8)), torch.randn(2, 40)).keys()),
)
def test_bad_input_raises_value_error(case):
    mw = make_weight(12, 40, torch.tensor([0, 1, 2, 3] * 3, dtype=torch.uint8))
    x = torch.randn(2, 40)
    with pytest.raises(ValueError, match=case):
        _cpu.mp_linear(**_args(mw, x, **_bad_cases(mw, x)[case]))


def test_op_level_bad_inputs():
    """The op layer (chord.ops checks, run before every registered kernel) rejects first."""
    mw = make_weight(12, 40, torch.tensor([0, 1, 2, 3] * 3, dtype=torch.uint8))
    op = torch.ops.chord.mp_linear
    with pytest.raises(TypeError, match="x: expected dtype float32"):
        op(torch.randn(2, 40).double(), mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, 40)
    with pytest.raises(ValueError, match="bias: expected shape"):
        op(torch.randn(2, 40), mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, 40, torch.zeros(3))
    with pytest.raises(ValueError, match="act_bits"):
        op(torch.randn(2, 40), mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, 40, None, 2)
