"""The small-layer int8 path's cached weight layout (``mp::WeightCache`` in csrc/mp_linear/mp_linear.h,
held by a ``_cpu.PackedWeight`` handle): built on the first call that takes the path, then read by
every call on that handle. Its results must equal the per-call layout's and the scalar direct
kernels' bit for bit on every call; a weight that changes (written in place, re-packed, swapped)
must never be computed with a stale layout; inference tensors (whose in-place writes the handle
cannot see) keep none; concurrent first calls build one whole layout; a failing call leaves the
handle, its cache and the module as they were. Outputs are NaN-poisoned first where a kernel
writes them (run_binding)."""

from __future__ import annotations

import threading

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from chord.backends import cpu as cpu_backend
from chord.quantize.modules import MixedPrecisionLinear
from tests.backends.test_cpu_mp_linear import ISAS, run_binding
from tests.backends.test_cpu_mp_linear_gemm_i8 import path_of
from tests.helpers import linear_cases, linear_problem, make_weight, needs_isa, poison, random_codes

pytestmark = pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built")

#: the most a layout holds (kMaxSmallI8Bytes) and a bound on its part table (<= 4 live widths)
MAX_LAYOUT, PART_TABLE = 128 << 10, 4 * 64


def layout_bytes(mw) -> int:
    """The k-quad layout of mw: every live bucket's rows in groups of 8, K in quads of 4 bytes, 32
    bytes a quad per group, 8-bit rows twice (two nibble planes)."""
    b = list(mw.buckets)
    kq = (mw.K + 3) // 4
    return sum((n + 7) // 8 * kq * 32 * (2 if w == 8 else 1) for w, n in zip(b[::2], b[1::2]) if w and n)


def handle_of(mw):
    return cpu_backend.packed_handle(cpu_backend.HandleCache(), mw.packed)[6]


def eager(x, handle, mw, bias):
    return cpu_backend.mp_linear_eager(x, handle, mw.N, mw.K, bias, 8)


@needs_isa("avx2", ISAS)
@given(case=linear_cases(70, 200, st.integers(1, 128), dtypes=(torch.float32, torch.float16, torch.bfloat16)))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_cached_layout_bit_identical_on_every_call(case):
    mw, x, bias = linear_problem(case)
    M = x.shape[0]
    ref = run_binding(x, mw, bias, 8, "scalar", 1, path="direct")
    h = handle_of(mw)
    assert h.caches and h.cache_bytes == 0
    for _ in range(3):  # the first call builds the layout (when it takes the path), the others read it
        assert torch.equal(eager(x, h, mw, bias), ref)
    if path_of(mw, M) == "small":
        assert layout_bytes(mw) <= h.cache_bytes <= min(MAX_LAYOUT, layout_bytes(mw)) + 64 + PART_TABLE
    else:
        assert h.cache_bytes == 0
    # another x, other rows: still the same layout, still the direct kernels' bits
    g = torch.Generator().manual_seed(case["seed"] + 1)
    x2 = torch.randn(M + 5, mw.K, generator=g).to(x.dtype)
    assert torch.equal(eager(x2, h, mw, None), run_binding(x2, mw, None, 8, "scalar", 1, path="direct"))


@needs_isa("avx2", ISAS)
def test_only_the_small_path_builds_a_layout(monkeypatch):
    mw = make_weight(64, 64, random_codes(64, "mix", torch.Generator().manual_seed(0)))
    h = handle_of(mw)
    eager(torch.randn(1, 64), h, mw, None)  # M = 1: the direct kernels
    cpu_backend.mp_linear_eager(torch.randn(50, 64), h, 64, 64, None, 0)  # exact activations: the fp32 panel
    monkeypatch.setenv("CHORD_CPU_ISA", "scalar")
    eager(torch.randn(50, 64), h, mw, None)  # no AVX2: not this path
    assert h.cache_bytes == 0
    monkeypatch.delenv("CHORD_CPU_ISA")
    eager(torch.randn(50, 64), h, mw, None)
    assert 0 < h.cache_bytes <= layout_bytes(mw) + 64 + PART_TABLE  # one SASRec-sized layer: a few KiB


def _module(seed=0, codes_seed=0, N=64, K=64):
    torch.manual_seed(seed)
    codes = random_codes(N, "mix", torch.Generator().manual_seed(codes_seed))
    return MixedPrecisionLinear.from_float(nn.Linear(K, N), codes, keep_float=True, act_bits=8)


def _op(mod, x):
    K, N = mod.qweight_k, mod.chord_weight_shape[0]
    y = torch.ops.chord.mp_linear(x.reshape(-1, K), mod.qweight, mod.scales, mod.zeros, mod.perm, mod.buckets, K,
                                  mod.bias, 8)  # fmt: skip
    return y.reshape(*x.shape[:-1], N)


@needs_isa("avx2", ISAS)
def test_weight_changes_never_meet_a_stale_layout():
    # SASRec's layer (50 positions x 64 x 64): every change of the weight gives a new handle with a
    # new cache (the old one is never refilled); the registered op (no cache) is the reference
    mod, other = _module(0), _module(1)  # (the same codes: the same bucket table)
    x = torch.randn(1, 50, 64)
    with torch.no_grad():
        y0 = mod(x)
        h0 = mod._cpu_handle.handle
        assert h0.cache_bytes > 0 and torch.equal(y0, _op(mod, x))
        changes = {
            "qweight written in place": lambda: mod.qweight.copy_(other.qweight),
            "repacked": lambda: mod.repack(random_codes(64, "mix", torch.Generator().manual_seed(7))),
            "swapped": lambda: mod.set_packed(other.mw),  # (back to the codes of seed 0)
            "state loaded": lambda: mod.load_state_dict(_module(2).state_dict()),  # (other's codes again)
        }
        for what, change in changes.items():
            before = mod(x)
            change()
            y = mod(x)
            h = mod._cpu_handle.handle
            assert h is not h0 and h.cache_bytes > 0, what
            assert torch.equal(y, _op(mod, x)) and not torch.equal(y, before), what
            assert torch.equal(mod(x), y), what  # the next call reads the new layout
            h0 = h


@needs_isa("avx2", ISAS)
def test_inference_tensors_keep_no_layout():
    # tensors made under inference_mode have no version counter: an in-place write goes unseen by
    # the handle, so it keeps no layout and every call reads the weight itself
    with torch.inference_mode():
        mod, other = _module(0), _module(1)
        x = torch.randn(1, 50, 64)
        mod(x)
        h = mod._cpu_handle.handle
        assert not h.caches and h.cache_bytes == 0
        mod.qweight.copy_(other.qweight)
        assert mod._cpu_handle.handle is h  # (unseen: the same handle)
        assert torch.equal(mod(x), _op(mod, x)) and h.cache_bytes == 0


@needs_isa("avx2", ISAS)
def test_failing_calls_leave_the_handle_and_its_layout_as_they_were():
    mod = _module(0)
    x = torch.randn(1, 50, 64)
    with torch.no_grad():
        want = mod(x)
        h, nbytes = mod._cpu_handle.handle, mod._cpu_handle.handle.cache_bytes
        bufs = dict(mod._buffers)
        for bad, msg in (
            (torch.randn(1, 50, 63), "x: expected shape"),
            (torch.randn(1, 50, 64).double(), "x: expected"),
        ):
            with pytest.raises((ValueError, TypeError), match=msg):
                mod(bad)
        with pytest.raises(ValueError, match="mw: expected shape"):
            mod.set_packed(_module(1, N=32).mw)  # a failing swap
        with pytest.raises(ValueError, match="y: row stride"):
            cpu_backend._cpu.mp_linear_ptr(h, x.data_ptr(), 0, 50, 64, 1, 0, 8, want.data_ptr(), 63, 1)
        assert mod._cpu_handle.handle is h and h.cache_bytes == nbytes
        assert all(mod._buffers[k] is v for k, v in bufs.items())
        assert torch.equal(mod(x), want)


@needs_isa("avx2", ISAS)
@pytest.mark.parametrize("nthreads", [1, 2])
def test_concurrent_first_calls_build_one_whole_layout(nthreads):
    # threads calling a fresh handle at once (the GIL is released in the kernel): one builds, the
    # others wait for a whole layout; every result is the direct kernels'
    g = torch.Generator().manual_seed(nthreads)
    mw = make_weight(96, 100, random_codes(96, "mix", g))
    xs = [torch.randn(40, 100, generator=g) for _ in range(4)]
    refs = [run_binding(x, mw, None, 8, "scalar", 1, path="direct") for x in xs]
    prev = torch.get_num_threads()
    torch.set_num_threads(nthreads)
    try:
        for _ in range(10):
            h = handle_of(mw)
            outs = [poison(torch.empty(40, 96)) for _ in xs]
            start = threading.Barrier(len(xs))

            def call(i, h=h, outs=outs, start=start):
                start.wait()
                outs[i] = eager(xs[i], h, mw, None)

            ts = [threading.Thread(target=call, args=(i,)) for i in range(len(xs))]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            assert all(torch.equal(o, r) for o, r in zip(outs, refs))
            assert 0 < h.cache_bytes <= layout_bytes(mw) + 64 + PART_TABLE
    finally:
        torch.set_num_threads(prev)
