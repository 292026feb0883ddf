"""The small-layer int8 path of C++ ``chord::mp_linear`` (act_bits=8, ``path="small"``;
csrc/mp_linear/mp_linear_small_i8*.cpp: the whole weight in k-quads, a 4-row x 16-column maddubs
tile summing in int16, 8-bit rows as two nibble planes) and the rule that chooses it.

Its dots are exact integers and its epilogue is the direct path's float64 expression, so it must
equal the scalar direct kernels bit for bit; against the float64 reference it is within the fp32
rounding of that epilogue. Outputs are NaN-poisoned first (run_binding).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chord
from chord.backends import cpu as cpu_backend
from tests.backends.test_cpu_mp_linear import ISAS, _args, _bad_cases, pruned_columns_case, run_binding
from tests.backends.test_cpu_mp_linear_gemm_i8 import assert_reference_bounds, path_of
from tests.helpers import linear_cases, linear_problem, make_weight, needs_isa, random_codes

pytestmark = pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built")
_cpu = cpu_backend._cpu


def assert_small_equals_direct(x, mw, bias, nthreads=1):
    y = run_binding(x, mw, bias, 8, "avx2", nthreads, path="small")
    ref = run_binding(x, mw, bias, 8, "scalar", 1, path="direct")
    assert not torch.isnan(ref).any()
    assert torch.equal(y, ref), (y.double() - ref.double()).abs().max().item()
    return y


@needs_isa("avx2", ISAS)
@given(case=linear_cases(70, 200, st.one_of(st.integers(1, 128), st.sampled_from([1, 3, 4, 5, 63, 64, 65, 127, 128]))))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_small_i8_bit_identical_to_direct(case):
    mw, x, bias = linear_problem(case)
    y = assert_small_equals_direct(x, mw, bias)
    assert_reference_bounds(y, x, mw, bias)
    # what auto runs is what it reports, and the same bits
    assert torch.equal(y, run_binding(x, mw, bias, 8, "avx2", path=path_of(mw, x.shape[0], "avx2")))


@needs_isa("avx2", ISAS)
@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("N", [1, 7, 8, 9, 16, 17, 33])
@pytest.mark.parametrize("K", [1, 4, 5, 32, 33, 100, 128])
def test_small_i8_each_width_tiles_and_tails(bits, N, K):
    # N around the 8-column group and the 2-group tile; K around the 4-byte quad, the 8-quad layout
    # block and the int16 flushes (every 8 quads at 4 and 8 bits); M around the 4-row tile
    cb = chord.Codebook((0, bits, bits, bits), "asym" if bits == 1 else "sym")
    mw = make_weight(N, K, torch.full((N,), 1, dtype=torch.uint8), cb, seed=bits)
    for M in (1, 3, 4, 5, 9, 33):
        x, b = torch.randn(M, K), torch.randn(N)
        assert_small_equals_direct(x, mw, b)


@needs_isa("avx2", ISAS)
@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_small_i8_int16_sums_at_their_largest(bits, sign):
    # every field at its maximum and every activation at +-127: the int16 lanes reach their largest
    # sums (4-bit: 8 quads x 2 x 15 x 127 = 30480); one more quad per flush would wrap (8-bit rows:
    # both nibble planes at 15)
    N, K = 16, 128
    cb = chord.Codebook((0, bits, bits, bits), "asym")
    mw = make_weight(N, K, torch.full((N,), 1, dtype=torch.uint8), cb)
    mw.qweight.fill_(255)
    x = torch.full((5, K), sign)
    y = assert_small_equals_direct(x, mw, None)
    assert_reference_bounds(y, x, mw, None)


@needs_isa("avx2", ISAS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_small_i8_half_inputs(dtype):
    g = torch.Generator().manual_seed(3)
    mw = make_weight(70, 100, random_codes(70, "mix", g))
    x, b = torch.randn(19, 100, generator=g).to(dtype), torch.randn(70, generator=g)
    y = assert_small_equals_direct(x, mw, b)
    assert y.dtype == dtype


@needs_isa("avx2", ISAS)
def test_small_i8_pruned_rows_give_exactly_bias():
    mw, x, b, pruned, all_pruned = pruned_columns_case()
    x = x.nan_to_num(posinf=1.0, nan=0.0)  # (the live columns' values are then defined)
    y = assert_small_equals_direct(x, mw, b)
    assert torch.equal(y[:, pruned], b[pruned].expand(x.shape[0], -1))
    y = run_binding(x, all_pruned, b, 8, "avx2", path="small")
    assert torch.equal(y, b.expand(x.shape[0], -1))


@needs_isa("avx2", ISAS)
def test_small_i8_threads_split_rows_equal_one_thread():
    # above the parallel threshold (2^21 multiply-adds) the rows are split between the threads
    g = torch.Generator().manual_seed(5)
    mw = make_weight(256, 128, random_codes(256, "mix", g))
    x, b = torch.randn(200, 128, generator=g), torch.randn(256, generator=g)
    y1 = assert_small_equals_direct(x, mw, b, nthreads=1)
    assert torch.equal(y1, run_binding(x, mw, b, 8, "avx2", 2, path="small"))


def test_small_i8_refusals_name_what_it_takes():
    mw = make_weight(16, 64, torch.full((16,), 1, dtype=torch.uint8))
    x = torch.randn(4, 64)
    for rows in (x, x[:0]):  # an empty batch is refused as a full one
        with pytest.raises(ValueError, match="'small' is the act_bits=8 small-layer path"):
            run_binding(rows, mw, None, 0, path="small")
        with pytest.raises(ValueError, match="AVX2 without VNNI, K <= 128"):
            run_binding(rows, mw, None, 8, "scalar", path="small")
    long_rows = make_weight(4, 129, torch.full((4,), 1, dtype=torch.uint8))
    with pytest.raises(ValueError, match="K <= 128"):
        run_binding(torch.randn(4, 129), long_rows, None, 8, path="small")
    with pytest.raises(ValueError, match="'auto', 'direct', 'panel' or 'small'"):
        run_binding(x, mw, None, 8, path="gemm")


_MW12 = make_weight(12, 40, torch.tensor([0, 1, 2, 3] * 3, dtype=torch.uint8))


@needs_isa("avx2", ISAS)
@pytest.mark.parametrize("case", list(_bad_cases(_MW12, torch.randn(2, 40))))
@pytest.mark.parametrize("perm_checked", [False, True])
def test_small_i8_bad_input_names_the_argument(case, perm_checked):
    # every bad argument of the binding, on the small path (forced): a ValueError naming it, raised
    # before any kernel runs. perm_checked (the registered op's call: Python has checked the
    # permutation) still range-checks perm; a repeated row is then the caller's word
    x = torch.randn(2, 40)
    args = _args(
        _MW12, x, **{"act_bits": 8, "path": "small", "perm_checked": perm_checked, **_bad_cases(_MW12, x)[case]}
    )
    if perm_checked and case == "perm: not a permutation":
        _cpu.mp_linear(**args)
        return
    with pytest.raises(ValueError, match=case):
        _cpu.mp_linear(**args)


@needs_isa("avx2", ISAS)
def test_small_i8_strided_and_broadcast_rows():
    # x rows read through their strides (a stride-0 broadcast row included); a y whose rows overlap
    # (row stride 0) is refused, never written over itself
    mw = make_weight(24, 64, random_codes(24, "mix", torch.Generator().manual_seed(1)))
    row = torch.randn(1, 64)
    y = assert_small_equals_direct(row.expand(37, 64), mw, None)
    assert torch.equal(y, y[:1].expand(37, -1))
    with pytest.raises(ValueError, match="y: row stride 0 < N = 24"):
        _cpu.mp_linear(
            **_args(mw, row.expand(3, 64), act_bits=8, path="small", y=torch.empty(1, 24).expand(3, 24).numpy())
        )


@needs_isa("avx2", ISAS)
def test_small_i8_many_rows_in_blocks():
    # rows run 32 at a time in each thread's scratch (bounded whatever M is): M across the blocks
    g = torch.Generator().manual_seed(2)
    mw = make_weight(40, 128, random_codes(40, "mix", g))
    for M in (31, 32, 33, 1000):
        x, b = torch.randn(M, 128, generator=g), torch.randn(40, generator=g)
        y = assert_small_equals_direct(x, mw, b)
        assert torch.equal(y, run_binding(x, mw, b, 8, "avx2", 2, path="small"))  # (M = 1000: split between threads)


@needs_isa("avx2", ISAS)
def test_small_i8_choice():
    # auto takes the small path on AVX2 for layers it fits, from M = max(2, K / 32) rows: the direct
    # short-row kernel at M = 1, the fitted model below the row threshold and for larger layers
    g = torch.Generator().manual_seed(0)
    for (N, K), first in {(64, 64): 2, (1024, 64): 2, (100, 96): 3, (128, 128): 4}.items():
        mw = make_weight(N, K, random_codes(N, "mix", g))
        seq = [path_of(mw, M, "avx2") for M in range(1, 65)]
        assert seq[first - 1 :] == ["small"] * (65 - first) and "small" not in seq[: first - 1], (N, K, seq)
        assert path_of(mw, 4096, "avx2") == "small"
        assert "small" not in {path_of(mw, M, "scalar") for M in (1, 2, 16, 4096)}
    for N, K in ((3000, 64), (64, 129), (256, 256)):  # beyond the layout's 128 KiB / K = 128
        mw = make_weight(N, K, random_codes(N, "mix", g))
        assert "small" not in {path_of(mw, M, "avx2") for M in (2, 16, 64, 4096)}
