"""Helpers shared by the test suite (one module; conftest.py keeps only pytest hooks/fixtures):
data-dir lookup, device list, output poisoning, random strategies, the float64 reference
model, a tiny synthetic dataset, hand-made layer descriptions, a packed weight as op arguments, and
the random weights and fuzz cases of the mp_linear tests."""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import strategies as st
from torch import nn

import chord
from chord.data import LeaveOneOut, SequenceDataset
from chord.quantize import QUANTIZED_TYPES
from chord.quantize.layers import LayerInfo, quantizable_layers
from chord.quantize.strategy import Strategy

DATA_DIR = Path(
    os.environ.get("CHORD_DATA_DIR", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
).resolve()


def missing(reason: str):
    """Something a test needs is absent: skip with ``reason`` outside CI, fail under CI=true (where
    tests/conftest.py also turns any unmarked skip into a failure)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required under CI=true)", pytrace=False)
    pytest.skip(reason)


def data_dir_or_skip(name: str | None = None) -> Path:
    """../shared/data (or $CHORD_DATA_DIR); skip when absent, but fail under CI=true."""
    path = DATA_DIR / name if name else DATA_DIR
    if not path.exists():
        missing(f"dataset directory {path} not found (set CHORD_DATA_DIR)")
    return path


def isa_param(isa: str, on_this_cpu) -> object:
    """``isa`` as a pytest parameter; where this CPU lacks it (``on_this_cpu`` = the ISAs it runs)
    the case skips, marked ``optional``: a platform fact, not a missing tool, so CI=true on an
    AVX2-only machine passes while an AVX-512 VNNI machine runs every case."""
    if isa in on_this_cpu:
        return isa
    return pytest.param(isa, marks=[pytest.mark.optional, pytest.mark.skip(reason=f"this CPU does not run {isa}")])


def needs_isa(isa: str, on_this_cpu):
    """Decorator: the test is about ``isa``'s kernel; skipped (``optional``, as :func:`isa_param`)
    on a CPU without it."""

    def deco(f):
        if isa in on_this_cpu:
            return f
        return pytest.mark.optional(pytest.mark.skip(reason=f"needs {isa} (the rule is for its kernel)")(f))

    return deco


def devices():
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def poison(t: torch.Tensor) -> torch.Tensor:
    """Fill with NaN so elements a kernel forgot to write fail every comparison."""
    return t.fill_(float("nan"))


def packed_args(mw: chord.MixedWeight, as_=lambda t: t) -> tuple:
    """``mw.packed`` (the ops' six packed-weight arguments, schema order) with each tensor through
    ``as_``: ``torch.Tensor.numpy`` for the C++ binding's flat arguments."""
    return tuple(as_(v) if isinstance(v, torch.Tensor) else v for v in mw.packed)


def make_weight(N: int, K: int, codes: torch.Tensor, codebook=None, seed: int = 0) -> chord.MixedWeight:
    """A random [N, K] weight (rows of different magnitudes) packed with ``codes``."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(N, K, generator=g) * (0.5 + torch.rand(N, 1, generator=g))
    return chord.pack(w, codes, codebook or chord.Codebook.default())


def random_codes(N: int, kind, g: torch.Generator) -> torch.Tensor:
    """Per-row codes: ``"mix"`` random codes 0..3, else ``kind`` for every row."""
    if kind == "mix":
        return torch.randint(0, 4, (N,), generator=g, dtype=torch.uint8)
    return torch.full((N,), kind, dtype=torch.uint8)


def linear_cases(M: int, N: int, K, dtypes: tuple = (torch.float32,)) -> st.SearchStrategy:
    """Hypothesis cases of an mp_linear fuzz test: M up to ``M``, N up to ``N``, K from ``K`` (an
    int: 1..K; or a strategy), codes (mixed, or one code for every row), scheme, a codebook with
    1-bit rows (all five widths get exercised), the activation dtype (from ``dtypes``), bias, a
    transposed x, a seed; :func:`linear_problem` makes one into (mw, x, bias)."""
    return st.fixed_dictionaries(
        dict(
            M=st.integers(1, M),
            N=st.integers(1, N),
            K=st.integers(1, K) if isinstance(K, int) else K,
            kind=st.sampled_from(["mix", "mix", 0, 1, 2, 3]),
            scheme=st.sampled_from(["sym", "asym"]),
            one_bit=st.booleans(),
            dtype=st.sampled_from(dtypes),
            with_bias=st.booleans(),
            transposed=st.booleans(),
            seed=st.integers(0, 2**31 - 1),
        )
    )


def linear_problem(case: dict) -> tuple:
    """(mw, x, bias or None) of a :func:`linear_cases` case."""
    M, N, K, seed = case["M"], case["N"], case["K"], case["seed"]
    g = torch.Generator().manual_seed(seed)
    cb = chord.Codebook((0, 1, 4, 8) if case["one_bit"] else (0, 2, 4, 8), case["scheme"])
    mw = make_weight(N, K, random_codes(N, case["kind"], g), cb, seed)
    x = torch.randn(K, M, generator=g).t() if case["transposed"] else torch.randn(M, K, generator=g)
    x = x.to(case["dtype"])
    bias = torch.randn(N, generator=g) if case["with_bias"] else None
    return mw, x, bias


def random_topk_problem(case: dict, scale_x: bool = False):
    """(mw, x, candidates or None, k) of an ``mp_topk`` fuzz case (keys N, K, M, bits, scheme,
    mode: all / shared / per-user candidates, seed); ``scale_x``: x scaled by a random factor in
    [1e-3, 10) (the integer scan's activation scales)."""
    g = torch.Generator().manual_seed(case["seed"])
    N, K, M = case["N"], case["K"], case["M"]
    mw = chord.pack(
        torch.randn(N, K, generator=g),
        torch.randint(0, 4, (N,), generator=g, dtype=torch.uint8),
        chord.Codebook(case["bits"], case["scheme"]),
    )
    x = torch.randn(M, K, generator=g)
    if scale_x:
        x = x * float(torch.rand(1, generator=g) * 10 + 1e-3)
    cand = None
    if case["mode"] != "all":
        C = int(torch.randint(1, 300, (1,), generator=g))
        cand = torch.randint(0, N, (C,) if case["mode"] == "shared" else (M, C), generator=g)
    n = N if cand is None else cand.shape[-1]
    return mw, x, cand, int(torch.randint(1, min(n, 30) + 1, (1,), generator=g))


def random_strategy(model: nn.Module, seed: int = 0, embeddings: bool = True, codebook=None) -> Strategy:
    """Uniformly random codes 0..3 for every quantizable layer (pruned rows included)."""
    g = torch.Generator().manual_seed(seed)
    layers = quantizable_layers(model, embeddings=embeddings)
    return Strategy(
        {n: torch.randint(0, 4, (li.channels,), generator=g, dtype=torch.uint8) for n, li in layers.items()}, codebook
    )


def float64_reference(float_model: nn.Module, swapped: nn.Module) -> nn.Module:
    """A float64 copy of ``float_model`` whose weights are the swapped model's dequantized
    weights (float64), i.e. exactly what the swapped model claims to compute."""
    ref = copy.deepcopy(float_model).double().eval()
    mods = dict(ref.named_modules())
    with torch.no_grad():
        for name, m in swapped.named_modules():
            if isinstance(m, QUANTIZED_TYPES):
                mods[name].weight.copy_(m.dequantized_weight(torch.float64))
    return ref


def assert_close_to_reference(out: torch.Tensor, ref: torch.Tensor, rtol: float = 2e-5):
    """fp32 kernel output vs float64 oracle: error within fp32 accumulation noise relative to
    the output's magnitude."""
    assert out.shape == ref.shape
    assert torch.isfinite(out).all()
    scale = ref.abs().max().clamp_min(1e-6)
    err = (out.double() - ref).abs().max()
    assert err <= rtol * scale, f"max error {float(err):.3e} > {rtol} x {float(scale):.3e}"


#: the probabilistic bound's lambda (chord.bench.checks.mp_linear_bound): a legitimate result
#: exceeds it with probability about 2 n exp(-32) (n = K + 2 terms)
BOUND_LAMBDA = 8.0


def assert_within_fp32_bound(y: torch.Tensor, x: torch.Tensor, mw, bias, ref: torch.Tensor, what=""):
    """An fp32 ``mp_linear(x, mw, bias)`` output ``y`` against its float64 reference ``ref`` (bias
    included), output by output: within the float32 dot-product bound
    (``chord.bench.checks.mp_linear_bound``: the smaller of the worst case and the probabilistic
    sqrt(K) bound at :data:`BOUND_LAMBDA`) plus the bias add's rounding. A fixed relative error
    of max|ref| fails on tiny M x N outputs whose sums cancel (M = N = 1 erred 1.05e-5 of |y|
    against 1e-5; commit 4b18aba); the bound scales with each output's own sum of |x||w|, and
    with sqrt(K), so a wrong or dropped term is caught at every K the tests draw."""
    from chord.bench.checks import mp_linear_bound  # the bench's own check: one bound for both

    device = y.device.type
    if mw.qweight.device.type != "cpu":
        mw = mw.to("cpu")
    _, bound = mp_linear_bound(x.cpu(), mw, 0, lam=BOUND_LAMBDA, unit_of=device)
    ref = ref.cpu().double()
    if bias is not None:
        bound = bound + 2.0**-24 * (bias.cpu().double().abs() + ref.abs())
    err = (y.detach().cpu().double() - ref).abs()
    assert (err <= bound).all(), (what, (err / bound).nan_to_num(nan=float("inf")).max().item())


def tiny_split(users: int = 24, items: int = 30, seed: int = 0) -> LeaveOneOut:
    """A tiny synthetic dataset for CHORD training tests (structured so there is something to learn)."""
    rng = np.random.default_rng(seed)
    seqs = []
    for u in range(users):
        start = int(rng.integers(1, items + 1))
        n = int(rng.integers(6, 12))
        seqs.append([(start + k * (1 + u % 2) - 1) % items + 1 for k in range(n)])
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in seqs])])
    return LeaveOneOut(SequenceDataset("tiny", items, np.concatenate(seqs), offsets))


def layer(name: str, kind: str, shape: tuple[int, ...]) -> LayerInfo:
    """A LayerInfo without a module (for planners and baselines that only read shapes)."""
    return LayerInfo(name, None, kind, shape[0], math.prod(shape[1:]), tuple(shape))


def near_tie_table(bits, groups, seed):
    """The adversarial top-k table shared by the CPU op's and the Triton kernel's exactness tests.

    Rows w = integer vectors (scale exactly 1) in groups of variants q + t (e_a - e_b) of a base
    row q aligned with x, where x_b is x_a plus one float32 ulp: inside a group the exact scores
    differ by t * ulp(x_a) (far below the float32 resolution of the scores, and identical with
    int8 activations), plus exact duplicates and random filler rows; ids shuffled."""
    g = torch.Generator().manual_seed(seed)
    K, qmax = 64, {2: 1, 4: 7, 8: 127}[bits]
    x = torch.randn(K, generator=g)
    a, b = 3, 40
    x[b] = torch.nextafter(x[a], torch.tensor(float("inf")))
    rows = []
    for gi in range(groups):
        q = torch.clamp(torch.round(x / x.abs().max() * qmax * (1 - 0.1 * gi)), -qmax, qmax)
        q[a] = q[b] = 0
        q[0] = qmax * (1 if x[0] > 0 else -1)  # one element at qmax: the row's scale is exactly 1
        for t in range(-min(qmax, 3), min(qmax, 3) + 1):
            v = q.clone()
            v[a], v[b] = t, -t
            rows += [v, v.clone()] if t == 0 else [v]  # t = 0 twice: an exact tie
    filler = torch.randint(-qmax, qmax + 1, (300, K), generator=g).float()
    filler[:, 0] = qmax
    w = torch.cat([torch.stack(rows), filler])
    w = w[torch.randperm(w.shape[0], generator=g)]
    mw = chord.pack(w, torch.ones(w.shape[0], dtype=torch.uint8), chord.Codebook((0, bits, 4, 8), "sym"))
    assert torch.equal(mw.dequantize(), w)
    return x, mw
