"""chord.mp_topk (chord::mp_topk): fused quantized item scoring + top-k.

Exact checks on integer-exact tables (every score is an exactly representable integer, so the
kernel and the float64 reference agree bit for bit and ties are real ties: the documented rule
"equal scores -> smaller item id first" is checked exactly); tolerance checks on random floats
against the float64 oracle; argument errors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import chord  # noqa: F401  (registers the ops)
from chord import Codebook, MixedWeight, mp_topk, pack
from chord.backends import reference
from chord.backends.cpu import HAVE_CPP, _cpu, supported_isas
from tests.helpers import packed_args, random_topk_problem

ISAS = supported_isas()  # every ISA this CPU runs (csrc/common/isa.h), scalar first

QMAX = {1: 1, 2: 1, 4: 7, 8: 127}


def exact_table(N, K, codebook_bits, seed, dup_every=4):
    """A weight whose packed form dequantizes exactly to itself: each row holds integers in
    [-qmax, qmax] with one element = qmax (so scale = 1); 1-bit rows are +-1. Every
    `dup_every`-th row copies an earlier one (exact ties between different items)."""
    g = torch.Generator().manual_seed(seed)
    cb = Codebook(codebook_bits, "sym")
    codes = torch.randint(0, 4, (N,), generator=g, dtype=torch.uint8)
    w = torch.empty(N, K)
    for n in range(N):
        b = cb.bits[int(codes[n])]
        if b == 1:
            w[n] = torch.where(torch.rand(K, generator=g) < 0.5, -1.0, 1.0)
        elif b == 0:
            w[n] = torch.randn(K, generator=g)
        else:
            q = QMAX[b]
            w[n] = torch.randint(-q, q + 1, (K,), generator=g).float()
            w[n, int(torch.randint(0, K, (1,), generator=g))] = float(q)
        if dup_every and n % dup_every == dup_every - 1:
            src = int(torch.randint(0, n, (1,), generator=g))
            w[n], codes[n] = w[src], codes[src]
    mw = pack(w, codes, cb)
    assert torch.equal(mw.dequantize(), torch.where((torch.tensor(cb.bits)[codes.long()] == 0)[:, None], 0.0, w))
    return mw


def ref_topk(x, mw, k, cand=None, act_bits=0):
    return reference.mp_topk(x, mw.packed, k, cand, act_bits, compute_dtype=torch.float64)


def exact_x(M, K, seed, act_bits):
    g = torch.Generator().manual_seed(seed)
    if act_bits == 8:  # amax = 127: the int8 activation scale is exactly 1
        x = torch.randint(-127, 128, (M, K), generator=g).float()
        x[:, 0] = 127.0
        return x
    return torch.randint(-3, 4, (M, K), generator=g).float()


@pytest.mark.parametrize("act_bits", [0, 8])
@pytest.mark.parametrize(
    "bits, N, K",
    [
        ((0, 2, 4, 8), 300, 37),  # mixed widths, pruned rows (exact 0 ties), direct dots
        ((2, 2, 2, 2), 2100, 64),  # one 2-bit bucket large enough for the byte-LUT path
        ((4, 4, 4, 4), 1500, 64),  # 4-bit LUT
        ((1, 1, 1, 1), 2500, 64),  # 1-bit LUT
        ((0, 1, 2, 8), 700, 130),
    ],
)
@pytest.mark.parametrize("M", [1, 3, 20])  # M = 20 takes the mp_linear block-kernel path
def test_exact_ties_all_items(bits, N, K, M, act_bits):
    mw = exact_table(N, K, bits, seed=N + K + M)
    x = exact_x(M, K, seed=M, act_bits=act_bits)
    for k in (1, 7, N):
        v, i = mp_topk(x, mw, k, act_bits=act_bits)
        rv, ri = ref_topk(x, mw, k, act_bits=act_bits)
        assert v.dtype == torch.float32 and i.dtype == torch.int64 and v.shape == (M, k)
        assert torch.equal(i, ri), f"ids differ (k={k})"
        assert torch.equal(v.double(), rv)
    if k == N:  # every item exactly once
        assert torch.equal(i.sort(1).values, torch.arange(N).expand(M, N))


@pytest.mark.parametrize("act_bits", [0, 8])
@pytest.mark.parametrize("shared", [True, False])
def test_exact_ties_candidates(shared, act_bits):
    N, K, M, C = 400, 45, 5, 60
    mw = exact_table(N, K, (0, 2, 4, 8), seed=11)
    x = exact_x(M, K, seed=2, act_bits=act_bits)
    g = torch.Generator().manual_seed(3)
    cand = torch.randint(0, N, (C,) if shared else (M, C), generator=g)
    cand[..., 5] = cand[..., 4]  # a duplicated candidate
    for k in (1, 10, C):
        v, i = mp_topk(x, mw, k, candidates=cand, act_bits=act_bits)
        rv, ri = ref_topk(x, mw, k, cand, act_bits)
        assert torch.equal(i, ri) and torch.equal(v.double(), rv)
        full = cand.expand(M, C) if shared else cand
        assert bool((i.unsqueeze(2) == full.unsqueeze(1)).any(2).all()), "returned an id outside the candidate list"


@st.composite
def fuzz_case(draw):
    return dict(
        N=draw(st.integers(1, 2500)),
        K=draw(st.integers(1, 200)),
        M=draw(st.integers(1, 20)),
        bits=tuple(draw(st.sampled_from((0, 1, 2, 4, 8))) for _ in range(4)),
        scheme=draw(st.sampled_from(("sym", "asym"))),
        mode=draw(st.sampled_from(("all", "shared", "rows"))),
        act_bits=draw(st.sampled_from((0, 8))),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


@given(fuzz_case())
@settings(max_examples=25, deadline=None)
def test_fuzz_against_float64(case):
    """Random floats: the kernel's float32 scores may differ from the float64 oracle in the last
    bits, so check (1) each value is the oracle score of its id, (2) the ids are a valid top-k
    (no item left out scores clearly above the k-th), (3) order: descending, ties by id."""
    mw, x, cand, k = random_topk_problem(case)
    M = x.shape[0]
    v, i = mp_topk(x, mw, k, cand, case["act_bits"])
    s64 = reference.mp_linear(x, mw.packed, None, case["act_bits"], compute_dtype=torch.float64)
    pool = s64 if cand is None else s64.gather(1, cand.expand(M, -1) if cand.dim() == 1 else cand)
    tol = 1e-4 * (1 + pool.abs().amax(1, keepdim=True))
    got = s64.gather(1, i)
    assert bool(((v.double() - got).abs() <= tol).all()), "values are not the scores of the returned ids"
    kth = pool.topk(k, dim=1).values[:, -1:]
    assert bool((got >= kth - tol).all()), "an item scoring clearly higher was left out"
    assert bool((v[:, 1:] <= v[:, :-1]).all()), "values not descending"
    tie = v[:, 1:] == v[:, :-1]
    # (>=: a candidate list may repeat an id)
    assert bool((i[:, 1:][tie] >= i[:, :-1][tie]).all()), "equal scores not ordered by ascending id"


def test_one_dim_x_and_thread_independence():
    mw = exact_table(3000, 64, (0, 2, 4, 8), seed=5, dup_every=0)
    x = torch.randn(64)
    v, i = mp_topk(x, mw, 10)
    assert v.shape == (10,) and i.shape == (10,)
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        v1, i1 = mp_topk(x, mw, 10)
        torch.set_num_threads(2)
        v2, i2 = mp_topk(x, mw, 10)
    finally:
        torch.set_num_threads(old)
    assert torch.equal(v1, v2) and torch.equal(i1, i2) and torch.equal(v, v1)


@pytest.mark.skipif(not HAVE_CPP, reason="C++ extension not built")
def test_scalar_and_avx2_agree():
    mw = exact_table(2200, 64, (1, 2, 4, 8), seed=9)
    x = exact_x(2, 64, seed=4, act_bits=0)
    outs = []
    for isa in ISAS:
        v = torch.full((2, 15), float("nan"))
        i = torch.full((2, 15), -1, dtype=torch.int64)
        _cpu.mp_topk(
            x.numpy(),
            *packed_args(mw, torch.Tensor.numpy),
            15,
            None,
            0,
            v.numpy(),
            i.numpy(),
            2,
            isa,
        )
        outs.append((v, i))
    rv, ri = ref_topk(x, mw, 15)
    for v, i in outs:
        assert torch.equal(i, ri) and torch.equal(v.double(), rv)


def test_non_canonical_perm_still_scores_candidates():
    """A valid MixedWeight whose rows are not ascending inside a bucket (not what pack makes)."""
    mw = exact_table(200, 40, (8, 8, 8, 8), seed=1, dup_every=0)
    order = torch.randperm(200, generator=torch.Generator().manual_seed(0))
    rb = mw.qweight.numel() // 200
    q = mw.qweight.view(200, rb)[order].reshape(-1).contiguous()
    shuffled = MixedWeight(
        q,
        mw.scales[order].contiguous(),
        mw.zeros[order].contiguous(),
        mw.perm[order].contiguous(),
        mw.codes,
        list(mw.buckets),
        mw.shape,
        mw.codebook,
    )
    shuffled.validate()
    x = exact_x(2, 40, seed=1, act_bits=0)
    cand = torch.randint(0, 200, (2, 30), generator=torch.Generator().manual_seed(1))
    for c in (None, cand, cand[0]):
        v, i = mp_topk(x, shuffled, 8, c)
        rv, ri = mp_topk(x, mw, 8, c)
        assert torch.equal(i, ri) and torch.equal(v, rv)


def test_nan_scores_rank_last_in_op_and_reference():
    """NaN scores (a NaN scale or zero passed to the raw op; chord never makes one) rank below
    every number, -inf included, ties among them by smaller id: the C++ op, its ISAs and the
    reference agree (the reference used to put them first, torch.sort's descending order)."""
    mw = pack(torch.randn(12, 32, generator=torch.Generator().manual_seed(4)), torch.full((12,), 3, dtype=torch.uint8))
    scales = mw.scales.clone()
    scales[[2, 7]] = float("nan")  # packed rows 2, 7 score NaN for every x
    x = torch.randn(2, 32, generator=torch.Generator().manual_seed(5))
    args = (x, mw.qweight, scales, mw.zeros, mw.perm, mw.buckets, mw.K)
    nan_ids = sorted(int(mw.perm[r]) for r in (2, 7))
    for c in (None, torch.arange(12).flip(0)):
        rv, ri = reference.mp_topk(x, args[1:], 12, c)
        assert ri[:, -2:].tolist() == [nan_ids, nan_ids] and torch.isnan(rv[:, -2:]).all()
        assert not torch.isnan(rv[:, :-2]).any()
        v, i = torch.ops.chord.mp_topk(*args, 12, c)
        assert torch.equal(i, ri)
        for isa in supported_isas():
            vi, ii = torch.empty(2, 12), torch.empty(2, 12, dtype=torch.int64)
            cand = None if c is None else c.numpy()
            _cpu.mp_topk(
                x.numpy(),
                mw.qweight.numpy(),
                scales.numpy(),
                mw.zeros.numpy(),
                mw.perm.numpy(),
                mw.buckets,
                mw.K,
                12,
                cand,
                0,
                vi.numpy(),
                ii.numpy(),
                1,
                isa,
            )
            assert torch.equal(ii, ri), isa


def test_opcheck():
    mw = exact_table(50, 20, (0, 2, 4, 8), seed=2)
    x = torch.randn(3, 20)
    args = (x, mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, mw.K)
    torch.library.opcheck(torch.ops.chord.mp_topk, args + (5,))
    torch.library.opcheck(torch.ops.chord.mp_topk, args + (4, torch.randint(0, 50, (3, 9)), 8))


MW = None


def _mw():
    global MW
    if MW is None:
        MW = exact_table(30, 16, (0, 2, 4, 8), seed=0)
    return MW


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda mw: mp_topk(torch.randn(2, 16), mw, 31), ValueError, r"k: expected 1 <= k <= 30 \(item rows\), got 31"),
        (lambda mw: mp_topk(torch.randn(2, 16), mw, 0), ValueError, r"k: expected 1 <= k <= 30 .*got 0"),
        (lambda mw: mp_topk(torch.randn(2, 16), mw, 2.0), TypeError, r"k: expected an int, got float"),
        (
            lambda mw: mp_topk(torch.randn(2, 16), mw, 6, torch.tensor([1, 2, 3])),
            ValueError,
            r"k: expected 1 <= k <= 3 \(candidates per row\), got 6",
        ),
        (
            lambda mw: mp_topk(torch.randn(2, 16), mw, 1, torch.tensor([1, 30])),
            ValueError,
            r"candidates: item id 30 \(flat position 1\) is out of range \[0, 30\)",
        ),
        (
            lambda mw: mp_topk(torch.randn(2, 16), mw, 1, torch.tensor([[1, -1], [2, 3]])),
            ValueError,
            r"candidates: item id -1 \(flat position 1\) is out of range \[0, 30\)",
        ),
        (
            lambda mw: mp_topk(torch.randn(2, 16), mw, 1, torch.tensor([1.0, 2.0])),
            TypeError,
            r"candidates: expected an integer dtype \(int64 item ids\), got torch.float32",
        ),
        (
            lambda mw: mp_topk(torch.randn(2, 16), mw, 1, torch.zeros(3, 4, dtype=torch.long)),
            ValueError,
            r"candidates: expected \[C\] \(shared\) or \[2, C\] \(one list per row of x\), got \[3, 4\]",
        ),
        (lambda mw: mp_topk(torch.randn(2, 16), mw, 1, [1, 2]), TypeError, r"candidates: expected a torch.Tensor"),
        (
            lambda mw: mp_topk(torch.randn(2, 17), mw, 1),
            ValueError,
            r"x: expected shape \[16\] or \[M, 16\] .*got \[2, 17\]",
        ),
        (lambda mw: mp_topk(torch.randn(2, 3, 16), mw, 1), ValueError, r"x: expected shape \[16\] or \[M, 16\]"),
        (
            lambda mw: mp_topk(torch.randn(2, 16).double(), mw, 1),
            TypeError,
            r"x: expected dtype float32, float16 or bfloat16, got torch.float64",
        ),
        (
            lambda mw: mp_topk(torch.randn(2, 16, device="meta"), mw, 1),
            ValueError,
            r"x: expected device cpu .*got meta",
        ),
        (lambda mw: mp_topk(torch.full((2, 16), float("nan")), mw, 1), ValueError, r"x: contains NaN or Inf"),
        (lambda mw: mp_topk(torch.randn(2, 16), mw, 1, act_bits=4), ValueError, r"act_bits: expected 0 .* or 8"),
        (lambda mw: mp_topk(torch.randn(2, 16), "table", 1), TypeError, r"mw: expected chord.MixedWeight .*got str"),
    ],
)
def test_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call(_mw())


@pytest.mark.skipif(not HAVE_CPP, reason="C++ extension not built")
def test_cpp_validates_too():
    mw = _mw()
    x = torch.randn(2, 16)
    v, i = torch.empty(2, 3), torch.empty(2, 3, dtype=torch.int64)
    base = [
        x.numpy(),
        *packed_args(mw, torch.Tensor.numpy),
        3,
        None,
        0,
        v.numpy(),
        i.numpy(),
    ]
    with pytest.raises(ValueError, match=r"candidates: item id 99 \(flat position 1\) is out of range \[0, 30\)"):
        _cpu.mp_topk(*base[:8], torch.tensor([1, 99, 2]).numpy(), *base[9:])
    with pytest.raises(ValueError, match=r"k: expected 1 <= k <= 30 \(item rows\), got 31"):
        _cpu.mp_topk(*base[:7], 31, None, 0, torch.empty(2, 31).numpy(), torch.empty(2, 31, dtype=torch.int64).numpy())
    with pytest.raises(ValueError, match=r"x: expected dtype float32, got float64"):
        _cpu.mp_topk(x.double().numpy(), *base[1:])
    with pytest.raises(ValueError, match=r"act_bits: expected 0 or 8, got 2"):
        _cpu.mp_topk(*base[:9], 2, *base[10:])
    with pytest.raises(ValueError, match=r"outputs: expected \[2, 3\]"):
        _cpu.mp_topk(*base[:10], torch.empty(2, 4).numpy(), base[11])
    with pytest.raises(ValueError, match=r"candidates: expected \[C\] \(shared\) or \[2, C\] \(one list per row\)"):
        _cpu.mp_topk(*base[:8], torch.ones(3, 4, dtype=torch.int64).numpy(), *base[9:])


@pytest.mark.skipif(not HAVE_CPP, reason="C++ extension not built")
@pytest.mark.parametrize("isa", ISAS)
def test_candidate_lookup_both_branches(isa):
    """Few candidates look their packed rows up by binary search per bucket; many (>= N/8) go
    through one inverse permutation. Both must give the float64 reference's ids and reject an
    out-of-range id with its flat position."""
    N, K = 400, 64
    mw = exact_table(N, K, (0, 2, 4, 8), seed=3)
    g = torch.Generator().manual_seed(3)
    x = exact_x(3, K, seed=3, act_bits=0)
    for C in (7, 150):  # 3 x 7 = 21 < N/8 = 50 <= 3 x 150
        cand = torch.randint(0, N, (3, C), generator=g)
        rv, ri = ref_topk(x, mw, 5, cand)
        v = torch.full((3, 5), float("nan"))
        i = torch.full((3, 5), -7, dtype=torch.int64)
        _cpu.mp_topk(
            x.numpy(),
            *packed_args(mw, torch.Tensor.numpy),
            5,
            cand.numpy(),
            0,
            v.numpy(),
            i.numpy(),
            1,
            isa,
        )
        assert torch.equal(i, ri), C
        torch.testing.assert_close(v, rv.float(), rtol=0, atol=1e-5)
        bad = cand.clone()
        bad[2, C - 1] = N
        with pytest.raises(ValueError, match=rf"item id {N} \(flat position {2 * C + C - 1}\) is out of range"):
            _cpu.mp_topk(
                x.numpy(),
                *packed_args(mw, torch.Tensor.numpy),
                5,
                bad.numpy(),
                0,
                v.numpy(),
                i.numpy(),
                1,
                isa,
            )
