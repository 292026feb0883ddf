"""The op layer (``chord.ops``): every tensor argument of every ``chord::`` op checked for device,
dtype, rank and length; the bucket table, sizes, k, act_bits, scheme and perm values checked
before any kernel runs -- through ``torch.ops.chord.*`` (the dispatcher path every backend
shares) and through the functional API."""

from __future__ import annotations

import pytest
import torch

import chord
from chord import MixedWeight
from tests.helpers import packed_args

from .helpers import clear_error, correct, error_cases, packed

MW = packed(8, 64)
X = torch.randn(2, 64)
W = torch.randn(8, 64)
PERM, BUCKETS = MW.perm, list(MW.buckets)


#: MW as the ops' packed-weight keyword arguments, in schema order
PACKED = dict(zip(("qweight", "scales", "zeros", "perm", "buckets", "K"), packed_args(MW)))


def _call(op, defaults: dict, kw: dict):
    """``op`` called with ``defaults`` (schema order) where ``kw`` overrides some."""
    assert set(kw) <= set(defaults), f"unknown arguments {set(kw) - set(defaults)}"
    a = {**defaults, **kw}
    return lambda: op(*a.values())


def _lin(**kw):
    return _call(torch.ops.chord.mp_linear, dict(x=X, **PACKED, bias=None, act_bits=0), kw)


def _topk(**kw):
    return _call(torch.ops.chord.mp_topk, dict(x=X, **PACKED, k=3, candidates=None, act_bits=0), kw)


def _pack(**kw):
    return _call(torch.ops.chord.quantize_pack, dict(weight=W, perm=PERM, buckets=BUCKETS, scheme="sym"), kw)


CASES = []
# -- a tensor on another device (meta): an error, never uninitialized memory ---------------------
for name in ("x", "qweight", "scales", "zeros", "perm"):
    for op, mk in (("mp_linear", _lin), ("mp_topk", _topk)):
        t = {"x": X, "qweight": MW.qweight, "scales": MW.scales, "zeros": MW.zeros, "perm": MW.perm}[name]
        CASES.append(
            (f"{op}-{name}-meta", mk(**{name: t.to("meta")}), ValueError, rf"{name if name == 'x' else ''}.*device")
        )
CASES += [
    ("mp_linear-bias-meta", _lin(bias=torch.zeros(8, device="meta")), ValueError, "bias: expected device cpu"),
    (
        "mp_topk-candidates-meta",
        _topk(candidates=torch.arange(5, device="meta")),
        ValueError,
        "candidates: expected device",
    ),
    ("quantize_pack-weight-meta", _pack(weight=W.to("meta")), ValueError, "perm: expected device meta"),
    ("quantize_pack-perm-meta", _pack(perm=PERM.to("meta")), ValueError, "perm: expected device cpu"),
]
# -- wrong dtypes -------------------------------------------------------------------------------
for op, mk in (("mp_linear", _lin), ("mp_topk", _topk)):
    CASES += [
        (f"{op}-x-float64", mk(x=X.double()), TypeError, "x: expected dtype float32, float16 or bfloat16"),
        (f"{op}-x-int", mk(x=X.long()), TypeError, "x: expected dtype"),
        (f"{op}-qweight-int8", mk(qweight=MW.qweight.to(torch.int8)), TypeError, "qweight: expected dtype uint8"),
        (f"{op}-scales-f64", mk(scales=MW.scales.double()), TypeError, "scales: expected dtype float32"),
        (f"{op}-zeros-f16", mk(zeros=MW.zeros.half()), TypeError, "zeros: expected dtype float32"),
        (f"{op}-perm-int64", mk(perm=MW.perm.long()), TypeError, "perm: expected dtype int32"),
        (f"{op}-x-1d", mk(x=X[0]), ValueError, r"x: expected shape \[M, 64\]"),
        (f"{op}-x-wrong-K", mk(x=torch.randn(2, 63)), ValueError, r"x: expected shape \[M, 64\]"),
        (f"{op}-qweight-2d", mk(qweight=MW.qweight.view(1, -1)), ValueError, "qweight: expected a 1-D tensor"),
        (f"{op}-qweight-short", mk(qweight=MW.qweight[:-1]), ValueError, "qweight: expected .* bytes"),
        (
            f"{op}-scales-short",
            mk(scales=MW.scales[:-1]),
            ValueError,
            "zeros, perm: expected 7 entries each .as scales.",
        ),
        (f"{op}-zeros-short", mk(zeros=MW.zeros[:-1]), ValueError, "zeros, perm: expected 8 entries"),
        (f"{op}-perm-short", mk(perm=MW.perm[:-1]), ValueError, "zeros, perm: expected 8 entries"),
        (f"{op}-perm-dup", mk(perm=torch.zeros(8, dtype=torch.int32)), ValueError, "perm: not a permutation"),
        (f"{op}-perm-range", mk(perm=MW.perm + 1), ValueError, r"perm: values must be rows in 0..7"),
        (f"{op}-perm-negative", mk(perm=MW.perm - 1), ValueError, r"perm: values must be rows in 0..7"),
        (f"{op}-K-zero", mk(K=0), ValueError, "K: expected 1 <= K"),
        (f"{op}-K-2**62", mk(K=2**62), ValueError, "K: expected 1 <= K"),
        (f"{op}-K-negative", mk(K=-64), ValueError, "K: expected 1 <= K"),
        (f"{op}-buckets-odd", mk(buckets=BUCKETS + [8]), ValueError, "buckets: expected a flat"),
        (f"{op}-buckets-width3", mk(buckets=[3, 8]), ValueError, r"buckets\[0\]: expected a width"),
        (f"{op}-buckets-negative", mk(buckets=[8, -1, 8, 9]), ValueError, r"buckets\[1\]: expected a row count"),
        (
            f"{op}-buckets-wrap",
            mk(buckets=[8, 2**62] * 3 + [8, 2**62 + 4]),
            ValueError,
            r"buckets\[1\]: expected a row count",
        ),
        (f"{op}-buckets-2**63-1", mk(buckets=[0, 2**63 - 1, 0, 2**63 - 1, 8, 6]), ValueError, r"buckets\[1\]"),
        (f"{op}-buckets-sum", mk(buckets=[8, 7]), ValueError, "buckets: rows sum to 7, expected N = 8"),
        (f"{op}-act_bits-4", mk(act_bits=4), ValueError, "act_bits: expected 0"),
        (f"{op}-act_bits-16", mk(act_bits=16), ValueError, "act_bits: expected 0"),
        (f"{op}-act_bits--8", mk(act_bits=-8), ValueError, "act_bits: expected 0"),
    ]
CASES += [
    ("mp_linear-bias-short", _lin(bias=torch.zeros(7)), ValueError, r"bias: expected shape \[8\]"),
    ("mp_linear-bias-int", _lin(bias=torch.zeros(8, dtype=torch.long)), TypeError, "bias: expected a float dtype"),
    ("mp_linear-bias-2d", _lin(bias=torch.zeros(1, 8)), ValueError, r"bias: expected shape \[8\]"),
    ("mp_topk-k-zero", _topk(k=0), ValueError, r"k: expected 1 <= k <= 8"),
    ("mp_topk-k-negative", _topk(k=-1), ValueError, r"k: expected 1 <= k <= 8"),
    ("mp_topk-k-2**40", _topk(k=2**40), ValueError, r"k: expected 1 <= k <= 8 \(item rows\), got 1099511627776"),
    ("mp_topk-k-N+1", _topk(k=9), ValueError, r"k: expected 1 <= k <= 8"),
    ("mp_topk-k-above-C", _topk(k=4, candidates=torch.arange(3)), ValueError, r"k: expected 1 <= k <= 3 \(candidates"),
    (
        "mp_topk-candidates-int32",
        _topk(candidates=torch.arange(3, dtype=torch.int32)),
        TypeError,
        "candidates: expected an integer dtype",
    ),
    (
        "mp_topk-candidates-range",
        _topk(k=1, candidates=torch.tensor([0, 8])),
        ValueError,
        r"candidates: item id 8 \(flat position 1\)",
    ),
    (
        "mp_topk-candidates-negative",
        _topk(k=1, candidates=torch.tensor([-1, 2])),
        ValueError,
        r"candidates: item id -1",
    ),
    (
        "mp_topk-candidates-rows",
        _topk(candidates=torch.zeros(3, 4, dtype=torch.long)),
        ValueError,
        r"candidates: expected \[C\]",
    ),
    ("mp_topk-x-nan", _topk(x=torch.full((2, 64), float("nan"))), ValueError, "x: contains NaN or Inf"),
    ("mp_topk-x-inf", _topk(x=torch.full((2, 64), float("inf"))), ValueError, "x: contains NaN or Inf"),
    (
        "quantize_pack-perm-int64-2**32",
        _pack(weight=torch.ones(4, 16), perm=torch.tensor([2**32, 1, 2, 3]), buckets=[8, 4]),
        ValueError,
        r"perm: values must be rows in 0..3, got range \[1, 4294967296\]",
    ),
    ("quantize_pack-perm-dup", _pack(perm=torch.zeros(8, dtype=torch.int32)), ValueError, "perm: not a permutation"),
    ("quantize_pack-perm-float", _pack(perm=PERM.float()), TypeError, "perm: expected dtype int32 or int64"),
    ("quantize_pack-weight-int", _pack(weight=W.long()), TypeError, "weight: expected a float dtype"),
    ("quantize_pack-weight-1d", _pack(weight=W[0]), ValueError, r"weight: expected 2-D"),
    (
        "quantize_pack-weight-empty",
        _pack(weight=torch.empty(0, 4), perm=torch.empty(0, dtype=torch.int32), buckets=[]),
        ValueError,
        "N .weight rows.: expected 1 <= ",
    ),
    ("quantize_pack-scheme", _pack(scheme="int4"), ValueError, "scheme: expected one of"),
    (
        "quantize_pack-buckets-wrap1",
        _pack(
            weight=torch.randn(4, 64), perm=torch.arange(4, dtype=torch.int32), buckets=[8, 2**62] * 3 + [8, 2**62 + 4]
        ),
        ValueError,
        r"buckets\[1\]",
    ),
    (
        "quantize_pack-buckets-wrap2",
        _pack(
            weight=torch.randn(4, 64),
            perm=torch.arange(4, dtype=torch.int32),
            buckets=[0, 2**63 - 1, 0, 2**63 - 1, 8, 6],
        ),
        ValueError,
        r"buckets\[1\]",
    ),
    ("quantize_pack-buckets-sum", _pack(buckets=[8, 9]), ValueError, "buckets: rows sum to 9, expected N = 8"),
    ("quantize_pack-nan", _pack(weight=torch.full((8, 64), float("nan"))), ValueError, "NaN|Inf|finite"),
    (
        "quantize_pack-asym-overflow",
        _pack(
            weight=torch.tensor([[3e38, -3e38] + [0.0] * 14]),
            perm=torch.zeros(1, dtype=torch.int32),
            buckets=[8, 1],
            scheme="asym",
        ),
        ValueError,
        "row 0 cannot be quantized with finite asym scale",
    ),
]


@pytest.mark.parametrize("call, exc, rx", error_cases(CASES))
def test_op_rejects(call, exc, rx):
    with pytest.raises(exc, match=rx):
        call()


@pytest.mark.parametrize("op", ["mp_linear", "mp_topk"])
@pytest.mark.parametrize("arg", ["x", "qweight", "scales", "zeros", "perm"])
@clear_error
def test_fake_checks_device_too(op, arg):
    """Under FakeTensorMode (torch.compile's tracing) the fake runs the same checks."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode() as mode:
        t = dict(
            x=mode.from_tensor(X),
            qweight=mode.from_tensor(MW.qweight),
            scales=mode.from_tensor(MW.scales),
            zeros=mode.from_tensor(MW.zeros),
            perm=mode.from_tensor(MW.perm),
        )
        t[arg] = torch.empty(t[arg].shape, dtype=t[arg].dtype, device="meta")
        args = [t["x"], t["qweight"], t["scales"], t["zeros"], t["perm"], list(MW.buckets), 64]
        with pytest.raises(ValueError, match="device"):
            (torch.ops.chord.mp_linear(*args) if op == "mp_linear" else torch.ops.chord.mp_topk(*args, 3))


# -- the reproducers through the functional API ------------------------------------------
@clear_error
def test_shape_disagreeing_with_packing_is_rejected():
    mw = chord.pack(torch.randn(4, 64), torch.tensor([3, 2, 1, 0], dtype=torch.uint8))
    bad = MixedWeight(mw.qweight, mw.scales, mw.zeros, mw.perm, mw.codes, mw.buckets, (8, 64))
    with pytest.raises(ValueError, match="claims N = 8 rows, its packing holds 4"):
        chord.mp_linear(torch.randn(2, 64), bad)
    with pytest.raises(ValueError, match="claims N = 8 rows"):
        chord.mp_topk(torch.randn(2, 64), bad, 2)
    with pytest.raises(chord.FormatError):
        bad.validate()


@clear_error
def test_all_pruned_huge_K_is_rejected_before_any_kernel():
    mw = MixedWeight(
        torch.empty(0, dtype=torch.uint8),
        torch.zeros(2),
        torch.zeros(2),
        torch.arange(2, dtype=torch.int32),
        torch.zeros(2, dtype=torch.uint8),
        [0, 2],
        (2, 2**62),
    )
    with pytest.raises(chord.FormatError, match=r"MixedWeight.shape: expected 1 <= N, K <= 2147483647"):
        mw.validate()
    with pytest.raises(ValueError, match="K: expected 1 <= K"):
        chord.mp_linear(torch.zeros(1, 1).expand(1, 2**62), mw)


@clear_error
def test_meta_weight_through_mp_linear_and_topk():
    mw = packed(8, 64)
    meta = MixedWeight(mw.qweight.to("meta"), mw.scales, mw.zeros, mw.perm, mw.codes, mw.buckets, mw.shape)
    with pytest.raises(ValueError, match="device"):
        chord.mp_linear(torch.randn(2, 64), meta)
    with pytest.raises(ValueError, match="device"):
        chord.mp_topk(torch.randn(2, 64), meta, 2)


@clear_error
@pytest.mark.parametrize("path", ["eager", "dispatcher"])
def test_duplicate_perm_in_mp_topk(path):
    mw = packed(6, 32, codes=torch.full((6,), 3, dtype=torch.uint8))
    p = mw.perm.clone()
    p[1] = p[0]
    bad = MixedWeight(mw.qweight, mw.scales, mw.zeros, p, mw.codes, mw.buckets, mw.shape)
    x = torch.randn(1, 32)
    with pytest.raises(ValueError, match="not a permutation"):
        if path == "eager":
            chord.mp_topk(x, bad, 6)
        else:
            torch.ops.chord.mp_topk(x, *packed_args(bad), 6)


@clear_error
def test_perm_checked_again_after_in_place_edit():
    """The permutation check is cached per tensor and version: an in-place edit re-checks."""
    mw = packed(8, 64)
    perm = mw.perm.clone()
    torch.ops.chord.mp_linear(X, mw.qweight, mw.scales, mw.zeros, perm, list(mw.buckets), 64)
    perm[0] = perm[1]
    with pytest.raises(ValueError, match="not a permutation"):
        torch.ops.chord.mp_linear(X, mw.qweight, mw.scales, mw.zeros, perm, list(mw.buckets), 64)


@clear_error
def test_asym_pack_of_float32_range_row():
    w = torch.zeros(1, 16)
    w[0, :2] = torch.tensor([3e38, -3e38])
    with pytest.raises(ValueError, match="row 0 cannot be quantized with finite asym scale"):
        chord.pack(w, torch.tensor([3], dtype=torch.uint8), chord.Codebook((0, 2, 4, 8), "asym"))


@correct
@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("scheme", ["sym", "asym"])
def test_pack_near_float32_limits_is_finite_or_refused(bits, scheme):
    """Rows up to +-1e38: every pack either succeeds with finite scales (a MixedWeight its own
    validate() accepts) or names the row."""
    w = torch.tensor([[1e38, -1e38, 5e37, 0.0] * 4, [1e38] * 16, [-3.4e38] * 16, [1e-45, -1e-45] * 8])
    cb = chord.Codebook((0, bits, bits, bits), scheme)
    try:
        mw = chord.pack(w, torch.full((4,), 3, dtype=torch.uint8), cb)
    except ValueError as e:
        assert "cannot be quantized with finite" in str(e)
        return
    mw.validate()
    assert torch.isfinite(mw.dequantize()).all()


class _AtenLog(torch.utils._python_dispatch.TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(str(func))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64])
def test_permutation_check_runs_no_torch_computation(dtype):
    """The perm check of every op (quantize_pack re-checks a fresh perm on each adaptation) runs
    in numpy: a torch min/max/index_put/all over a 100k-row perm is a parallel region of torch's
    OpenMP pool, whose barrier beside a busy core waits for a descheduled worker. Same answers."""
    from chord import ops  # noqa: PLC0415

    N = 100_001
    good = torch.randperm(N, generator=torch.Generator().manual_seed(0)).to(dtype)
    bad = good.clone()
    bad[7] = bad[8]
    missing = f"row {int(good[7])} is missing"
    for p in (good, bad):
        with _AtenLog() as log:
            try:
                ops.check_permutation("chord::quantize_pack", p, N)
            except ValueError as e:
                assert p is bad and missing in str(e)
            else:
                assert p is good
        assert set(log.ops) <= {"aten.detach.default"}, log.ops
