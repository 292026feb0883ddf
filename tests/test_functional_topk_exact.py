"""chord::mp_topk is exact: whatever scan runs (AVX-512 VNNI int8 rows, byte LUTs, float32 dots,
the mp_linear block kernels) and whatever the ISA or thread count, the returned ids are the
top-k of the float64 scores (ties: smaller id first) and every ISA returns bit-identical
outputs. Random floats (no ties), adversarial near-ties (scores closer than float32 can tell
and identical under int8 activations), degenerate tables (all pruned, one bucket, zero x)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from chord import Codebook, mp_topk, pack
from chord.backends import reference
from chord.backends.cpu import HAVE_CPP, _cpu, supported_isas
from tests.helpers import near_tie_table, packed_args, random_topk_problem

pytestmark = pytest.mark.skipif(not HAVE_CPP, reason="C++ extension not built")

ISAS = supported_isas()  # every ISA this CPU runs (csrc/common/isa.h), scalar first


def run(isa, x, mw, k, cand=None, act_bits=0, nthreads=2):
    """The C++ kernel with one ISA forced, outputs poisoned first (every entry must be written)."""
    M = x.shape[0]
    v = torch.full((M, k), float("nan"))
    i = torch.full((M, k), -7, dtype=torch.int64)
    _cpu.mp_topk(
        x.contiguous().numpy(),
        *packed_args(mw, torch.Tensor.numpy),
        k,
        None if cand is None else cand.long().contiguous().numpy(),
        act_bits,
        v.numpy(),
        i.numpy(),
        nthreads,
        isa,
    )
    assert not bool(v.isnan().any()) and bool((i >= 0).all()), "an output entry was not written"
    return v, i


def ref(x, mw, k, cand=None, act_bits=0):
    return reference.mp_topk(x, mw.packed, k, cand, act_bits, compute_dtype=torch.float64)


def check_all_isas(x, mw, k, cand=None, act_bits=0):
    """Every ISA: ids == the float64 oracle's exactly, values == its scores (to float32
    rounding), and all ISAs bit-identical."""
    rv, ri = ref(x, mw, k, cand, act_bits)
    first = None
    for isa in ISAS:
        v, i = run(isa, x, mw, k, cand, act_bits)
        assert torch.equal(i, ri), f"{isa}: ids differ from the float64 top-k"
        assert torch.allclose(v.double(), rv, rtol=1e-6, atol=1e-6 * float(rv.abs().max() + 1)), f"{isa}: values"
        if first is None:
            first = (v, i)
        else:
            assert torch.equal(v, first[0]) and torch.equal(i, first[1]), f"{isa} differs from {ISAS[0]}"
    return first


@st.composite
def fuzz_case(draw):
    return dict(
        N=draw(st.integers(1, 3000)),
        K=draw(st.sampled_from((1, 2, 15, 16, 17, 31, 48, 64, 65, 100, 128, 192, 200, 256, 257, 300))),
        M=draw(st.sampled_from((1, 2, 3, 4, 5, 7, 17))),
        bits=tuple(draw(st.sampled_from((0, 1, 2, 4, 8))) for _ in range(4)),
        scheme=draw(st.sampled_from(("sym", "asym"))),
        mode=draw(st.sampled_from(("all", "all", "shared", "rows"))),
        act_bits=draw(st.sampled_from((0, 8))),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


@given(fuzz_case())
@settings(max_examples=40, deadline=None)
def test_fuzz_ids_equal_float64(case):
    mw, x, cand, k = random_topk_problem(case, scale_x=True)
    check_all_isas(x, mw, k, cand, case["act_bits"])


@pytest.mark.parametrize("K", [1, 16, 48, 64, 100, 128, 192, 256])
@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_every_row_layout(bits, K):
    """The VNNI scan's layouts: 4 rows per register (one block), 2 rows (two blocks), one row
    over masked 64-byte chunks; 1-6 users per pass; a partial last group of 16 rows."""
    g = torch.Generator().manual_seed(bits * 1000 + K)
    N = 1000 + bits + K % 16
    mw = pack(torch.randn(N, K, generator=g), torch.ones(N, dtype=torch.uint8), Codebook((0, bits, 4, 8), "sym"))
    for M in (1, 3, 6):
        check_all_isas(torch.randn(M, K, generator=g), mw, 10)


@pytest.mark.parametrize("act_bits", [0, 8])
@pytest.mark.parametrize("bits", [2, 4, 8])
def test_adversarial_near_ties(bits, act_bits):
    x, mw = near_tie_table(bits, groups=3, seed=bits)
    x = x[None]
    group = 2 * min({2: 1, 4: 7, 8: 127}[bits], 3) + 2
    for k in (1, group // 2, group + 3, 2 * group + 1):  # boundaries that cut through a group
        v, i = check_all_isas(x, mw, k, act_bits=act_bits)
    if act_bits == 0:  # the test means something: float32 cannot separate the near-ties
        assert bool((v[0, 1:] == v[0, :-1]).any())


def test_all_pruned_and_zero_scores():
    mw = pack(torch.randn(50, 64), torch.zeros(50, dtype=torch.uint8))
    for isa in ISAS:
        v, i = run(isa, torch.randn(2, 64), mw, 7)
        assert torch.equal(i, torch.arange(7).expand(2, 7)) and not bool(v.any())
    # zero activations: every item scores 0 -> the k smallest ids
    mw = pack(
        torch.randn(300, 64), torch.randint(0, 4, (300,), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    )
    for isa in ISAS:
        v, i = run(isa, torch.zeros(1, 64), mw, 12)
        assert torch.equal(i[0], torch.arange(12)) and not bool(v.any())


def test_pruned_items_enter_when_the_rest_scores_below_zero():
    g = torch.Generator().manual_seed(0)
    N, K = 500, 64
    x = torch.rand(1, K, generator=g) + 0.1
    w = -torch.rand(N, K, generator=g) - 0.1  # every kept item scores < 0
    codes = torch.randint(1, 4, (N,), generator=g, dtype=torch.uint8)
    codes[torch.randperm(N, generator=g)[:40]] = 0  # 40 pruned items score exactly 0
    mw = pack(w, codes)
    v, i = check_all_isas(x, mw, 50)
    assert torch.equal(i[0, :40], torch.nonzero(codes == 0).flatten()) and not bool(v[0, :40].any())
    assert bool((v[0, 40:] < 0).all())


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_single_bucket_k_equals_n(bits):
    mw = pack(torch.randn(37, 64), torch.ones(37, dtype=torch.uint8), Codebook((0, bits, 4, 8), "sym"))
    check_all_isas(torch.randn(3, 64), mw, 37)


def test_bad_perm_and_nan_x_rejected_by_cpp():
    mw = pack(torch.randn(40, 64), torch.ones(40, dtype=torch.uint8))
    bad = mw.perm.clone()
    bad[:] = 40  # out of range everywhere: whichever entry the kernel uses
    v, i = torch.empty(1, 3), torch.empty(1, 3, dtype=torch.int64)
    args = [
        mw.qweight.numpy(),
        mw.scales.numpy(),
        mw.zeros.numpy(),
        bad.numpy(),
        mw.buckets,
        64,
        3,
        None,
        0,
        v.numpy(),
        i.numpy(),
    ]
    with pytest.raises(ValueError, match=r"perm\[\d+\]: expected an item id in 0..39, got 40"):
        _cpu.mp_topk(torch.randn(1, 64).numpy(), *args)
    with pytest.raises(ValueError, match=r"perm: expected 40 entries"):
        _cpu.mp_topk(torch.randn(1, 64).numpy(), *args[:3], bad[:5].numpy(), *args[4:])
    x = torch.randn(1, 64)
    x[0, 5] = float("inf")
    with pytest.raises(ValueError, match=r"x: contains NaN or Inf \(row 0\)"):
        _cpu.mp_topk(x.numpy(), *args[:3], mw.perm.numpy(), *args[4:])


def test_duplicate_perm_rejected_by_a_direct_binding_call():
    """A duplicate id in perm would rank one item twice and drop another: a direct call into the
    binding checks the whole permutation unless the caller says it did (chord's op layer)."""
    mw = pack(torch.randn(40, 64), torch.ones(40, dtype=torch.uint8))
    dup = mw.perm.clone()
    dup[1] = dup[0]
    x = torch.randn(1, 64)
    v, i = torch.empty(1, 3), torch.empty(1, 3, dtype=torch.int64)
    tail = [mw.buckets, 64, 3, None, 0, v.numpy(), i.numpy()]
    with pytest.raises(
        ValueError, match=rf"chord::mp_topk: perm: not a permutation \(item id {int(dup[0])} appears twice\)"
    ):
        _cpu.mp_topk(x.numpy(), mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), dup.numpy(), *tail)
    _cpu.mp_topk(x.numpy(), mw.qweight.numpy(), mw.scales.numpy(), mw.zeros.numpy(), mw.perm.numpy(), *tail)
    want_v, want_i = mp_topk(x, mw, 3)
    assert torch.equal(i, want_i) and torch.equal(v, want_v)
