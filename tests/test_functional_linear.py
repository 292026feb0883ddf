"""``chord.mp_linear`` (python/chord/functional.py): the eager fast path (plain CPU tensors call the
extension directly through a cached, once-validated ``PackedWeight``) against the registered
``torch.ops.chord.mp_linear``, which compile, tracing, dispatch modes and autograd still use."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import chord
from chord.backends import cpu as cpu_backend
from chord.backends import reference as R

pytestmark = pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built")


def _weight(N=48, K=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return chord.pack(torch.randn(N, K, generator=g), torch.randint(0, 4, (N,), dtype=torch.uint8, generator=g))


def _op(x, mw, bias=None, act_bits=0):
    y = torch.ops.chord.mp_linear(
        x.reshape(-1, mw.K), mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, mw.K, bias, act_bits
    )
    return y.reshape(*x.shape[:-1], mw.N)


def _ref(x, mw, bias=None):
    y = R.mp_linear(x.reshape(-1, mw.K), mw.packed, bias, compute_dtype=torch.float64)
    return y.reshape(*x.shape[:-1], mw.N)


class _CountEager:
    """Counts the calls served by the eager fast path: ``mp_linear_eager`` (the first call on a
    weight, and shapes the one-step call declines) or ``linear_cached`` (the one-step call on a
    cached handle, when it returns a tensor)."""

    def __init__(self, monkeypatch):
        self.n = 0
        real = cpu_backend.mp_linear_eager
        real_cached = cpu_backend.linear_cached

        def counted(*a, **k):
            self.n += 1
            return real(*a, **k)

        def counted_cached(*a, **k):
            y = real_cached(*a, **k)
            self.n += y is not None
            return y

        monkeypatch.setattr(cpu_backend, "mp_linear_eager", counted)
        monkeypatch.setattr(cpu_backend, "linear_cached", counted_cached)


@pytest.mark.parametrize("act_bits", [0, 8])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_eager_equals_registered_op_bit_for_bit(monkeypatch, act_bits, dtype):
    count = _CountEager(monkeypatch)
    mw = _weight()
    g = torch.Generator().manual_seed(1)
    base = torch.randn(3, 5, 64, generator=g).to(dtype)
    xs = [
        base[0, 0],
        base[0],
        base,
        base.transpose(0, 1),  # 1-D, 2-D, 3-D, non-contiguous 3-D
        torch.randn(64, 300, generator=g).to(dtype).t(),  # transposed 2-D, panel-sized batch
        base[:, 1:4],
        torch.randn(0, 64).to(dtype),
        torch.randn(2, 0, 64).to(dtype),
        torch.randn(4, 6, 128, generator=g).to(dtype)[:, :, 32:96],
    ]  # leading dims merge: a strided view
    biases = [
        None,
        torch.randn(48, generator=g),
        torch.randn(48, generator=g).half(),
        torch.randn(96, generator=g, dtype=torch.float64)[::2],
    ]
    for x in xs:
        for b in biases:
            got = chord.mp_linear(x, mw, b, act_bits)
            want = _op(x, mw, b, act_bits)
            assert got.dtype == dtype and got.shape == (*x.shape[:-1], 48)
            assert torch.equal(got, want)
    assert count.n == len(xs) * len(biases)


def test_eager_matches_float64_reference_on_the_issue5_shapes():
    for M, K, N in [(1, 64, 64), (50, 64, 64), (1280, 64, 256), (700, 256, 64)]:
        mw = _weight(N, K, seed=M)
        x, b = torch.randn(M, K), torch.randn(N)
        ref = _ref(x, mw, b)
        y = chord.mp_linear(x, mw, b)
        assert ((y.double() - ref).abs().max() / ref.abs().max()).item() <= 1e-5


def test_handle_is_cached_and_rebuilt_on_in_place_change():
    mw = _weight()
    x = torch.randn(4, 64)
    y0 = chord.mp_linear(x, mw)
    h = mw.__dict__["_cpu_handle"].handle
    chord.mp_linear(x, mw)
    assert mw.__dict__["_cpu_handle"].handle is h  # validated once, reused
    with torch.no_grad():
        mw.scales.mul_(2)  # in place: version bump
    y1 = chord.mp_linear(x, mw)
    assert mw.__dict__["_cpu_handle"].handle is not h
    assert torch.allclose(y1, 2 * y0, rtol=1e-5, atol=1e-5)
    assert torch.equal(y1, _op(x, mw))


@pytest.mark.parametrize("act_bits", [0, 8])
def test_handle_rebuilt_when_a_field_is_replaced(act_bits):
    # the fast path keys the cached handle on the identity of every packed field: a field
    # replaced by another object (an atomic swap, re-quantization) is never read through a
    # stale handle, and the new object is validated before use
    mw = _weight()
    x = torch.randn(1, 64)
    chord.mp_linear(x, mw, act_bits=act_bits)
    for name, new in (
        ("scales", lambda: mw.scales * 3),
        ("zeros", lambda: mw.zeros + 1),
        ("perm", lambda: mw.perm.flip(0).contiguous()),
        ("qweight", lambda: (255 - mw.qweight).contiguous()),
        ("buckets", lambda: list(mw.buckets)),
    ):
        h = mw.__dict__["_cpu_handle"].handle
        setattr(mw, name, new())
        got = chord.mp_linear(x, mw, act_bits=act_bits)
        assert mw.__dict__["_cpu_handle"].handle is not h, name
        assert torch.equal(got, _op(x, mw, act_bits=act_bits)), name
    mw.perm = torch.zeros_like(mw.perm)  # swapped for an invalid one: refused, nothing cached
    h = mw.__dict__["_cpu_handle"].handle
    with pytest.raises(ValueError, match="perm: not a permutation"):
        chord.mp_linear(x, mw, act_bits=act_bits)
    assert mw.__dict__["_cpu_handle"].handle is h


def test_subclass_fields_are_read_through_its_attributes():
    # the fast path reads a MixedWeight's fields from its instance dict; a subclass may override
    # them (here scales as a property), so it is read through its attributes
    class Doubled(chord.MixedWeight):
        @property
        def scales(self):
            return self._scales * 2

        @scales.setter
        def scales(self, value):
            self._scales = value

    mw = _weight()
    sub = Doubled(mw.qweight, mw.scales, mw.zeros, mw.perm, mw.codes, mw.buckets, mw.shape)
    x = torch.randn(2, 64)
    twice = chord.MixedWeight(mw.qweight, mw.scales * 2, mw.zeros, mw.perm, mw.codes, mw.buckets, mw.shape)
    for act_bits in (0, 8):
        assert torch.equal(chord.mp_linear(x, sub, act_bits=act_bits), _op(x, twice, act_bits=act_bits))


def test_rebuilt_handle_revalidates_the_weight():
    mw = _weight()
    x = torch.randn(2, 64)
    chord.mp_linear(x, mw)
    with torch.no_grad():
        mw.perm[0] = mw.perm[1]  # no longer a permutation
    with pytest.raises(ValueError, match="perm: not a permutation"):
        chord.mp_linear(x, mw)


def test_copies_and_pickles_drop_the_cache():
    mw = _weight()
    x = torch.randn(2, 64)
    y = chord.mp_linear(x, mw)
    for other in (copy.deepcopy(mw), pickle.loads(pickle.dumps(mw)), mw.to("cpu")):
        assert torch.equal(chord.mp_linear(x, other), y)
    assert copy.deepcopy(mw).__dict__["_cpu_handle"].handle is None


def test_dispatcher_kept_for_autograd_modes_and_compile(monkeypatch):
    count = _CountEager(monkeypatch)
    mw = _weight()
    x = torch.randn(3, 64)
    want = chord.mp_linear(x, mw)
    assert count.n == 1
    # autograd: the registered op (and its behaviour) is kept
    xg = x.clone().requires_grad_()
    assert torch.equal(chord.mp_linear(xg, mw).detach(), want)
    assert count.n == 1
    with torch.no_grad():
        assert torch.equal(chord.mp_linear(xg, mw), want)
    assert count.n == 2

    seen = []

    class Record(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen.append(str(func))
            return func(*args, **(kwargs or {}))

    with Record():
        assert torch.equal(chord.mp_linear(x, mw), want)
    assert any("chord.mp_linear" in s for s in seen) and count.n == 2

    # a lazily negated view: its memory is not its value
    xn = torch._neg_view(x)
    assert xn.is_neg() and torch.equal(chord.mp_linear(xn, mw), _op(-x, mw)) and count.n == 2

    torch._dynamo.reset()
    got = torch.compile(lambda t: chord.mp_linear(t, mw), fullgraph=True, backend="aot_eager")(x)
    assert torch.equal(got, want)
    assert count.n == 2


def test_bad_inputs_still_raise():
    mw = _weight()
    with pytest.raises(ValueError, match=r"x: expected shape \[..., 64\]"):
        chord.mp_linear(torch.randn(2, 63), mw)
    with pytest.raises(TypeError, match="x: expected dtype"):
        chord.mp_linear(torch.randn(2, 64).double(), mw)
    with pytest.raises(ValueError, match="bias: expected shape"):
        chord.mp_linear(torch.randn(2, 64), mw, torch.randn(47))
    with pytest.raises(ValueError, match="act_bits"):
        chord.mp_linear(torch.randn(2, 64), mw, act_bits=4)


def test_inference_mode_tensors_keep_perm_in_range():
    with torch.inference_mode():
        mw = _weight()  # inference tensors: no version counters
        x = torch.randn(3, 64)
        y = chord.mp_linear(x, mw)
        assert torch.equal(y, _op(x, mw))
        h = mw.__dict__["_cpu_handle"].handle
        assert torch.equal(chord.mp_linear(x, mw), y) and mw.__dict__["_cpu_handle"].handle is h
        mw.perm[0] = 48  # in place, invisible to a version check
        with pytest.raises(ValueError, match=r"perm: a value left 0..47 .*perm\[0\] = 48"):
            chord.mp_linear(x, mw)


@pytest.mark.parametrize("op", ["mp_linear", "mp_topk"])
def test_no_public_backend_entry_skips_the_perm_check(op):
    # the registered CPU impls trust the op's checks (C++ re-checks perm's range, not that it is a
    # permutation): called directly with a perm holding a repeated id they left rows unwritten
    # (reports/2026-12-07-review-2.md, finding 1), so they are private and the op refuses
    assert not hasattr(cpu_backend, op)
    mw = _weight()
    perm = mw.perm.clone()
    perm[0] = perm[1]
    packed = (mw.qweight, mw.scales, mw.zeros, perm, list(mw.buckets), mw.K)
    x = torch.randn(2, 64)
    args = (x, *packed, None, 0) if op == "mp_linear" else (x, *packed, 3, None, 0)
    with pytest.raises((ValueError, RuntimeError), match="perm: not a permutation"):
        getattr(torch.ops.chord, op)(*args)
