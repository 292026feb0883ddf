"""No silent fallback: an op served by the pure-torch reference where a kernel was asked for warns
once per (op, device) and is counted (planted conditions: the extension or triton "missing")."""

from __future__ import annotations

import warnings

import pytest
import torch

import chord
from chord.backends import cpu, cuda, fallback, reference


@pytest.fixture(autouse=True)
def _clean():
    fallback.reset()
    yield
    fallback.reset()


def _args(seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(6, 16, generator=g)
    mw = chord.pack(w, torch.tensor([0, 1, 2, 3, 3, 1], dtype=torch.uint8))
    x = torch.randn(2, 16, generator=g)
    return x, mw, (mw.qweight, mw.scales, mw.zeros, mw.perm, list(mw.buckets), 16)


def _warnings(fn, *a, **kw):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = fn(*a, **kw)
    return out, [w for w in rec if issubclass(w.category, fallback.FallbackWarning)]


def test_cuda_topk_and_pack_without_triton_warn_once_and_are_counted(monkeypatch):
    x, mw, packed = _args()
    monkeypatch.setattr(cuda, "_kernels", False)  # planted: triton failed to import
    monkeypatch.setattr(cuda, "_triton_error", "triton unavailable: planted")
    k = cuda.kernels()
    before = fallback.counts()
    (vals, ids), w1 = _warnings(k["chord::mp_topk"], x, packed, 3)
    _, w2 = _warnings(k["chord::mp_topk"], x, packed, 3)
    assert len(w1) == 1 and not w2, "warns on the first call only"
    assert "chord::mp_topk on cuda" in str(w1[0].message) and "reference" in str(w1[0].message)
    rv, ri = reference.mp_topk(x, packed, 3)
    assert torch.equal(ids, ri) and torch.equal(vals, rv)  # the wrapper changes nothing but the report
    w = torch.randn(6, 16)
    _, wp = _warnings(k["chord::quantize_pack"], w, torch.arange(6, dtype=torch.int32), list(mw.buckets), "asym")
    assert len(wp) == 1 and "quantize_pack on cuda" in str(wp[0].message)
    assert fallback.since(before) == {
        "chord::mp_topk@cuda": "triton unavailable: planted",
        "chord::quantize_pack@cuda": "triton unavailable: planted",
    }
    assert fallback.counts()[("chord::mp_topk", "cuda")] == 2


def test_cuda_mp_linear_without_triton_warns(monkeypatch):
    x, mw, packed = _args(1)
    monkeypatch.setattr(cuda, "_kernels", False)
    monkeypatch.setattr(cuda, "_triton_error", "triton unavailable: planted")
    y, w1 = _warnings(cuda.mp_linear, x, packed)
    _, w2 = _warnings(cuda.mp_linear, x, packed)
    assert len(w1) == 1 and not w2 and "planted" in str(w1[0].message)
    assert torch.equal(y, reference.mp_linear(x, packed))


def test_cpu_without_extension_every_op_warns(monkeypatch):
    x, mw, packed = _args(2)
    monkeypatch.setattr(cpu, "HAVE_CPP", False)
    monkeypatch.setattr(cpu, "_IMPORT_ERROR", ImportError("planted: no _cpu"))
    k = cpu.kernels()
    _, w1 = _warnings(k["chord::mp_linear"], x, packed)
    _, w2 = _warnings(k["chord::mp_topk"], x, packed, 2)
    _, w3 = _warnings(
        k["chord::quantize_pack"], torch.randn(6, 16), torch.arange(6, dtype=torch.int32), list(mw.buckets), "asym"
    )
    assert [len(w) for w in (w1, w2, w3)] == [1, 1, 1]
    assert all("planted: no _cpu" in str(w[0].message) for w in (w1, w2, w3))


def test_cpu_with_extension_registers_kernels_not_the_reference():
    """The real registration: with the extension built, no op is a reference wrapper."""
    if not cpu.HAVE_CPP:
        pytest.skip("C++ extension not built")  # conftest turns this into a failure under CI=true
    k = cpu.kernels()
    assert k["chord::mp_linear"] is cpu._mp_linear_impl and k["chord::quantize_pack"] is cpu.quantize_pack
    x, mw, _ = _args(3)
    before = fallback.counts()
    chord.mp_linear(x, mw)
    assert fallback.since(before) == {}
