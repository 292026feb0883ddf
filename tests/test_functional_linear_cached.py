"""``chord.mp_linear`` on a ``MixedWeight`` whose handle is cached takes the one-step call
(``backends.cpu.linear_cached``, as the swapped modules do): served for the common call,
bit-identical to the general path (``functional.linear_packed`` -> ``mp_linear_eager``) and to
the registered op on every ISA (act_bits = 8 is integer-exact: the same bits on scalar and
AVX2), and everything the general path refuses still refused with the same error, leaving the
weight and its cache as they were. A weight whose tensors, buckets or shape change never meets
a stale handle."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chord
from chord.backends import cpu as cpu_backend

pytestmark = pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built")


def _weight(N=48, K=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return chord.pack(torch.randn(N, K, generator=g), torch.randint(0, 4, (N,), dtype=torch.uint8, generator=g))


def _op(x, mw, bias=None, act_bits=0):
    y = torch.ops.chord.mp_linear(
        x.reshape(-1, mw.K), mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, mw.K, bias, act_bits
    )
    return y.reshape(*x.shape[:-1], mw.N)


class _Count:
    """The calls linear_cached served (returned a tensor) and declined (returned None)."""

    def __init__(self, monkeypatch):
        self.served = self.declined = 0
        real = cpu_backend.linear_cached

        def counted(*a, **k):
            y = real(*a, **k)
            if y is None:
                self.declined += 1
            else:
                self.served += 1
            return y

        monkeypatch.setattr(cpu_backend, "linear_cached", counted)


def _general(monkeypatch, *args, **kwargs):
    """chord.mp_linear on the general path (the one-step call declined)."""
    with monkeypatch.context() as mp:
        mp.setattr(cpu_backend, "linear_cached", lambda *a, **k: None)
        return chord.mp_linear(*args, **kwargs)


def _outcome(fn, *args, **kwargs):
    try:
        return ("ok", fn(*args, **kwargs))
    except Exception as e:  # noqa: BLE001 - the outcome compared is the exception itself
        return (type(e), str(e))


class _Sub(torch.Tensor):
    pass


def _never_zero(x):
    return torch.where(x == 0, torch.ones_like(x), x)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    N=st.integers(1, 96),
    K=st.integers(1, 300),
    M=st.sampled_from([1, 1, 2, 5, 16, 40]),
    act_bits=st.sampled_from([8, 8, 0]),
    dtype=st.sampled_from([torch.float32, torch.float16, torch.bfloat16]),
    bias=st.sampled_from([None, "f32", "f64"]),
    layout=st.sampled_from(["2d", "3d", "t", "cols"]),
    threads=st.sampled_from([1, 2]),
    seed=st.integers(0, 2**16),
)
def test_cached_call_bit_identical_on_every_isa(monkeypatch, N, K, M, act_bits, dtype, bias, layout, threads, seed):
    g = torch.Generator().manual_seed(seed)
    mw = _weight(N, K, seed)
    if layout == "t":  # transposed 2-D
        x = torch.randn(K, M, generator=g).to(dtype).t()
    elif layout == "cols":  # column stride 2
        x = torch.randn(M, 2 * K, generator=g).to(dtype)[:, ::2]
    else:
        x = torch.randn(M, K, generator=g).to(dtype)
        if layout == "3d":
            x = x.reshape(1, M, K)
    x = _never_zero(x)
    b = None if bias is None else torch.randn(N, generator=g, dtype=torch.float32 if bias == "f32" else torch.float64)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        outs = {}
        for isa in cpu_backend.supported_isas():
            monkeypatch.setenv("CHORD_CPU_ISA", isa)
            first = chord.mp_linear(x, mw, b, act_bits)  # (the first call on a fresh weight builds the handle)
            count = _Count(monkeypatch)
            got = chord.mp_linear(x, mw, b, act_bits)
            assert count.served == (1 if b is None or b.dtype == torch.float32 else 0), isa
            assert got.dtype == dtype and got.shape == (*x.shape[:-1], N)
            assert torch.equal(got, first), isa
            assert torch.equal(got, _general(monkeypatch, x, mw, b, act_bits)), isa
            assert torch.equal(got, _op(x, mw, b, act_bits)), isa
            outs[isa] = got
        if act_bits == 8:  # integer dot products: the same bits on every ISA
            ref = outs["scalar"]
            for isa, y in outs.items():
                assert torch.equal(y, ref), isa
    finally:
        torch.set_num_threads(old)


def test_cached_call_serves_the_m1_call_and_declines_what_it_does_not_handle(monkeypatch):
    mw = _weight()
    g = torch.Generator().manual_seed(1)
    x1 = torch.randn(1, 64, generator=g)
    chord.mp_linear(x1, mw, act_bits=8)
    count = _Count(monkeypatch)
    assert torch.equal(chord.mp_linear(x1, mw, act_bits=8), _op(x1, mw, act_bits=8))
    assert count.served == 1 and count.declined == 0
    bg = torch.randn(48, generator=g).requires_grad_()
    for args, kwargs in (
        ((torch.randn(64, generator=g), mw), {}),  # 1-D: the general path's reshape
        ((torch.randn(2, 3, 4, 64, generator=g), mw), {}),  # 4-D
        ((torch.randn(6, 4, 64, generator=g).transpose(0, 1), mw), {}),  # leading dims that do not merge
        ((x1, mw, torch.randn(48, generator=g).half()), {}),  # bias converted by the general path
        ((x1, mw, torch.randn(96, generator=g)[::2]), {}),  # strided bias
        ((x1, mw, torch._neg_view(torch.randn(48, generator=g))), {}),  # lazily negated bias
        ((x1, mw, _Sub(torch.randn(48, generator=g))), {}),  # a Tensor subclass (not Parameter)
        ((x1, mw), {"act_bits": torch.tensor(8).item() + 0.0}),  # not an int: the general path refuses
    ):
        before = count.declined
        got = _outcome(chord.mp_linear, *args, **kwargs)
        want = _outcome(_general, monkeypatch, *args, **kwargs)
        assert count.declined == before + 1
        assert got[0] == want[0]
        if got[0] == "ok":
            assert torch.equal(got[1], want[1])
        else:
            assert got[1] == want[1]
    with torch.no_grad():  # a bias that needs no gradient here: served
        y = chord.mp_linear(x1, mw, bg)
    assert count.served == 2 and not y.requires_grad
    bp = torch.nn.Parameter(torch.randn(48, generator=g), requires_grad=False)  # a module's bias
    assert torch.equal(chord.mp_linear(x1, mw, bp), _op(x1, mw, bp.detach())) and count.served == 3
    y = chord.mp_linear(x1, mw, bg)  # autograd through the registered op
    assert y.requires_grad and count.served == 3


def test_lazily_negated_bias_is_negated():
    # a _neg_view's memory holds the values un-negated: both eager routes resolve it
    mw = _weight()
    x = _never_zero(torch.randn(3, 64))
    b = torch.randn(48)
    for act_bits in (0, 8):
        want = _op(x, mw, -b, act_bits)
        for _ in range(2):  # the first call builds the handle, the second is the one-step call
            assert torch.equal(chord.mp_linear(x, mw, torch._neg_view(b), act_bits), want)


_BAD = [
    (lambda x: x.double(), None, 8),
    (lambda x: x.to(torch.int32), None, 8),
    (lambda x: x[:, :63].contiguous(), None, 8),
    (lambda x: x[0, 0], None, 8),  # 0-d
    (lambda x: x.tolist(), None, 8),  # not a tensor
    (lambda x: x.to("meta"), None, 8),  # another device
    (lambda x: x, torch.randn(47), 8),
    (lambda x: x, torch.randn(48).to(torch.int64), 8),
    (lambda x: x, [0.0] * 48, 8),  # bias not a tensor
    (lambda x: x, torch.randn(48).to("meta"), 8),
    (lambda x: x, torch.randn(2, 48), 8),
    (lambda x: x, None, 4),
    (lambda x: x, None, True),
    (lambda x: x, None, "8"),
    (lambda x: x, None, 8.0),
]


@pytest.mark.parametrize("case", range(len(_BAD)))
def test_bad_input_refused_as_the_general_path_refuses_it(monkeypatch, case):
    make_x, bias, act_bits = _BAD[case]
    mw = _weight()
    x0 = _never_zero(torch.randn(2, 64))
    chord.mp_linear(x0, mw, act_bits=8)  # the handle is cached: the one-step call is armed
    entry = mw.__dict__["_cpu_handle"].entry
    fields = (mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, mw.shape)
    x = make_x(x0)
    got = _outcome(chord.mp_linear, x, mw, bias, act_bits)
    want = _outcome(_general, monkeypatch, x, mw, bias, act_bits)
    assert got[0] is not "ok" and got == want  # noqa: F632
    assert issubclass(got[0], (TypeError, ValueError)), got
    # a failing call leaves the weight and its cache as they were
    assert mw.__dict__["_cpu_handle"].entry is entry
    assert all(a is b for a, b in zip((mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, mw.shape), fields))
    assert torch.equal(chord.mp_linear(x0, mw, act_bits=8), _op(x0, mw, act_bits=8))


@pytest.mark.parametrize("act_bits", [0, 8])
def test_reassigned_shape_never_meets_the_cached_handle(act_bits):
    # the handle was checked against N and K: a shape reassigned after it was built is checked
    # again, as a fresh weight of that shape would be (before, the cached handle read 64 elements
    # of a 63-element x, or left 2 columns of a 50-column y unwritten). K = 63 packs into the
    # same bytes as 64: a valid weight, computed over 63 columns.
    mw = _weight()
    x = _never_zero(torch.randn(2, 64))
    y = chord.mp_linear(x, mw, act_bits=act_bits)
    for shape, xs in (((50, 64), x), ((48, 63), x[:, :63].contiguous()), ((48, 200), torch.randn(2, 200))):
        mw.shape = shape
        fresh = chord.MixedWeight(mw.qweight, mw.scales, mw.zeros, mw.perm, mw.codes, mw.buckets, shape)
        got = _outcome(chord.mp_linear, xs, mw, act_bits=act_bits)
        want = _outcome(chord.mp_linear, xs, fresh, act_bits=act_bits)
        assert got[0] == want[0], shape
        if got[0] == "ok":
            assert torch.equal(got[1], want[1]) and torch.equal(got[1], _op(xs, fresh, act_bits=act_bits))
        else:
            assert got[1] == want[1] and issubclass(got[0], ValueError), shape
    mw.shape = (48, 64)
    assert torch.equal(chord.mp_linear(x, mw, act_bits=act_bits), y)


@pytest.mark.parametrize("act_bits", [0, 8])
def test_replaced_or_rewritten_weight_is_revalidated(monkeypatch, act_bits):
    mw = _weight()
    x = _never_zero(torch.randn(1, 64))
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
        assert torch.equal(chord.mp_linear(x, mw, act_bits=act_bits), _op(x, mw, act_bits=act_bits)), name
        assert mw.__dict__["_cpu_handle"].handle is not h, name
    h = mw.__dict__["_cpu_handle"].handle
    with torch.no_grad():
        mw.scales.mul_(2)  # in place: a version bump
    assert torch.equal(chord.mp_linear(x, mw, act_bits=act_bits), _op(x, mw, act_bits=act_bits))
    assert mw.__dict__["_cpu_handle"].handle is not h
    with torch.no_grad():
        mw.perm[0] = mw.perm[1]  # no longer a permutation: refused, the call leaves no handle for it
    h = mw.__dict__["_cpu_handle"].handle
    with pytest.raises(ValueError, match="perm: not a permutation"):
        chord.mp_linear(x, mw, act_bits=act_bits)
    assert mw.__dict__["_cpu_handle"].handle is h


def test_module_with_reassigned_k_is_revalidated():
    from torch import nn

    from chord.quantize.modules import MixedPrecisionLinear

    mod = MixedPrecisionLinear.from_float(nn.Linear(64, 40), torch.randint(0, 4, (40,), dtype=torch.uint8), act_bits=8)
    with torch.no_grad():
        mod(torch.randn(2, 64))
        mod.qweight_k = 200  # the handle was checked for K = 64 (before: read 64 of x's 200 columns)
        with pytest.raises(ValueError, match="qweight: expected"):
            mod(torch.randn(2, 200))
