"""C++ ``chord::mp_linear`` on short rows (item tables: K <= 256, a 2-bit row of K = 64 is one
16-byte block), the scoring call of a quantized recommender's whole catalogue:

- act_bits=8 on AVX-512 VNNI: the 16-row kernel (csrc/mp_linear/mp_linear_rows16_avx512vnni.cpp,
  the core shared with mp_topk's scan) at up to 4 activation rows. Integer dots are exact, so it
  must equal every other ISA and path bit for bit, and the float64 reference within the epilogue's
  rounding; the cost model sends item-table shapes to it.
- act_bits=8 on AVX2 (no dot-product units): the 8-row kernel
  (csrc/mp_linear/mp_linear_rows8_avx2.cpp: one-block rows two to a register, longer rows 32 bytes
  a step, an odd last block alone) at up to 4 activation rows; the same bit-for-bit contract.
- act_bits=0 on AVX2: rows of one block run two to a 32-byte load (tile_f32_pairs in
  mp_linear_avx2.cpp), each row's chain step for step the lone-block kernel's: a row gives the
  same bits whether it is scored beside a neighbour or alone.

Outputs are NaN-poisoned first (run_binding).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import chord
from chord.backends import cpu as cpu_backend
from tests.backends.test_cpu_mp_linear import ISAS, make_weight, ref64, rel_err, run_binding
from tests.helpers import assert_within_fp32_bound, needs_isa, packed_args

pytestmark = pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built")
_cpu = cpu_backend._cpu

#: K at which a row of each width is exactly one 16-byte block, and a few either side
ONE_BLOCK_K = {1: 128, 2: 64, 4: 32, 8: 16}
SHORT_K = st.one_of(
    st.sampled_from([1, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 127, 128, 129, 192, 255, 256]), st.integers(1, 256)
)


def _weight(N, K, widths, scheme, g, seed):
    cb = chord.Codebook((0,) + tuple(widths), scheme)
    codes = torch.randint(0, 4, (N,), generator=g, dtype=torch.uint8)
    return make_weight(N, K, codes, cb, seed)


def _score_rows(x, mw, r0, r1, act_bits, isa):
    K = mw.K
    return torch.from_numpy(
        _cpu.mp_linear_score_rows(
            x.numpy(), 0, mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.buckets, K, r0, r1, act_bits, isa
        )
    )


@given(
    M=st.integers(1, 6),
    N=st.integers(1, 300),
    K=SHORT_K,
    widths=st.sampled_from([(2, 4, 8), (1, 4, 8), (2, 2, 2), (8, 8, 8), (1, 1, 1), (4, 4, 4)]),
    scheme=st.sampled_from(["sym", "asym"]),
    with_bias=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# the AVX2 8-row kernel's odd block counts (8-bit K = 48, 4-bit K = 96: three blocks) with tails
@example(M=1, N=9, K=48, widths=(8, 8, 8), scheme="asym", with_bias=False, seed=1)
@example(M=4, N=17, K=96, widths=(4, 4, 4), scheme="sym", with_bias=True, seed=2)
def test_int8_short_rows_bit_identical_across_isas_and_paths(M, N, K, widths, scheme, with_bias, seed):
    # N around the 16-row group (tails copied zero-padded), K around every width's block and
    # register layouts (4 rows, 2 rows, transposed 4k blocks, masked chunks), M across the
    # kernel's limit (4) and its 4/3/2/1-row passes
    g = torch.Generator().manual_seed(seed)
    mw = _weight(N, K, widths, scheme, g, seed)
    x = torch.randn(M, K, generator=g)
    bias = torch.randn(N, generator=g) if with_bias else None
    ys = {(isa, path): run_binding(x, mw, bias, 8, isa, 2, path) for isa in ISAS for path in ("direct", "panel")}
    (k0, y0), *rest = ys.items()
    assert not torch.isnan(y0).any()
    for k, y in rest:
        assert torch.equal(y, y0), (k, k0)
    ref8 = ref64(x, mw, bias, act_bits=8)
    assert ((y0.double() - ref8).abs() <= 2e-7 * ref8.abs().max() + 1e-30).all()


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("act_bits", [0, 8])
@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_short_rows_each_row_alone_equals_its_row_in_a_range(isa, act_bits, bits):
    # a row scored alone (a lone block / a 1-row group) gives the bits it gets inside any range
    # (paired with a neighbour, in a full 16-row group or a tail), at odd and even offsets
    K = ONE_BLOCK_K[bits]
    N = 37
    g = torch.Generator().manual_seed(bits)
    mw = make_weight(N, K, torch.ones(N, dtype=torch.uint8), chord.Codebook((0, bits, bits, bits), "asym"), bits)
    for M in (1, 2, 3, 5):
        x = torch.randn(M, K, generator=g)
        full = _score_rows(x, mw, 0, N, act_bits, isa)
        for r0, r1 in [(1, N), (3, 20), (0, 2)]:
            assert torch.equal(_score_rows(x, mw, r0, r1, act_bits, isa), full[:, r0:r1])
        for r in range(N):
            assert torch.equal(_score_rows(x, mw, r, r + 1, act_bits, isa), full[:, r : r + 1])
        ref = ref64(x, mw, None, act_bits)[:, mw.perm.long()]  # packed order
        assert rel_err(full, ref) <= 1e-5


@given(
    M=st.integers(1, 6),
    N=st.integers(1, 300),
    bits=st.sampled_from([1, 2, 4, 8]),
    dk=st.integers(-15, 0),
    with_bias=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(M=1, N=1, bits=2, dk=0, with_bias=False, seed=2539)  # a cancelling sum (see below)
def test_fp32_one_block_rows_against_float64_on_every_isa(M, N, bits, dk, with_bias, seed):
    # one-block rows (paired loads on AVX2) at K up to the block, odd and even N, every M tile
    K = max(1, ONE_BLOCK_K[bits] + dk)
    g = torch.Generator().manual_seed(seed)
    mw = make_weight(N, K, torch.randint(0, 4, (N,), generator=g, dtype=torch.uint8), chord.Codebook((0, bits, 2, 8)))
    x = torch.randn(M, K, generator=g)
    bias = torch.randn(N, generator=g) if with_bias else None
    ref = ref64(x, mw, bias, 0)
    # elementwise float32 dot-product bound (a fixed relative error fails on cancelling sums: M = N = 1,
    # bits=2, seed=2539 erred 1.05e-5 of |y| against 1e-5)
    for isa in ISAS:
        assert_within_fp32_bound(run_binding(x, mw, bias, 0, isa, 2, "direct"), x, mw, bias, ref, isa)


@needs_isa("avx512_vnni", ISAS)
def test_item_table_shapes_take_the_direct_path_on_vnni():
    # the cost model's rule for short rows (the 16-row kernel is on the direct path): item
    # tables at up to 4 activation rows (tiny layers and larger batches are left to the fit)
    g = torch.Generator().manual_seed(0)
    mw = make_weight(4096, 64, torch.randint(0, 4, (4096,), generator=g, dtype=torch.uint8))
    args = packed_args(mw, torch.Tensor.numpy)
    for M in (1, 2, 3, 4):
        assert _cpu.mp_linear_path(*args, M, 8, "avx512_vnni") == "direct"
