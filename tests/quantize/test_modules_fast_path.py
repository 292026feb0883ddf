"""The swapped modules' one-step eager call (``backends.cpu.linear_cached``, taken by
``quantize.modules._linear`` once a layer's handle is cached): bit-identical to the general path
(``functional.linear_packed``) and to ``torch.ops.chord.mp_linear``, declined whenever a check
would need the general path, and bad input still raising an error that names the argument,
leaving the module as it was."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from chord.backends import cpu as cpu_backend
from chord.quantize.modules import MixedPrecisionConv2d, MixedPrecisionLinear

pytestmark = pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built")


def _codes(n, seed):
    return torch.randint(0, 4, (n,), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _op(mod, x, bias="module"):
    K, N = mod.qweight_k, mod.chord_weight_shape[0]
    b = mod.bias if bias == "module" else bias
    y = torch.ops.chord.mp_linear(
        x.reshape(-1, K), mod.qweight, mod.scales, mod.zeros, mod.perm, mod.buckets, K, b, mod.act_bits
    )
    return y.reshape(*x.shape[:-1], N)


class _Count:
    """Counts the calls linear_cached served (returned a tensor) and declined (returned None)."""

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


def _general(monkeypatch, mod, x):
    """mod(x) on the general path (linear_packed -> mp_linear_eager)."""
    with monkeypatch.context() as mp:
        mp.setattr(cpu_backend, "linear_cached", lambda *a, **k: None)
        return mod(x)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    N=st.integers(1, 80),
    K=st.integers(1, 160),
    B=st.integers(0, 3),
    L=st.integers(1, 60),
    three_d=st.booleans(),
    act_bits=st.sampled_from([0, 8]),
    dtype=st.sampled_from([torch.float32, torch.float16, torch.bfloat16]),
    bias=st.booleans(),
    mode=st.sampled_from(["no_grad", "inference"]),
    seed=st.integers(0, 2**16),
)
def test_fast_path_bit_identical_to_general_path_and_op(
    monkeypatch, N, K, B, L, three_d, act_bits, dtype, bias, mode, seed
):
    torch.manual_seed(seed)
    ctx = torch.no_grad if mode == "no_grad" else torch.inference_mode
    with ctx():  # inference: tensors without version counters (the bench builds models so)
        mod = MixedPrecisionLinear.from_float(nn.Linear(K, N, bias=bias), _codes(N, seed), act_bits=act_bits)
        shape = (B, L, K) if three_d else (B * L, K)
        x = torch.randn(shape).to(dtype)
        x = torch.where(x == 0, torch.ones_like(x), x)  # never zeros
        first = mod(x)  # builds the handle (general path)
        count = _Count(monkeypatch)
        got = mod(x)
        tiny_exact = mod.tiny_weight is not None and act_bits == 0  # F.linear on the kept fp32 weight
        assert count.served == (0 if tiny_exact else 1)
        assert got.shape == (*shape[:-1], N) and got.dtype == dtype
        assert torch.equal(got, first)
        assert torch.equal(got, _general(monkeypatch, mod, x))
        if not tiny_exact and B:
            assert torch.equal(got, _op(mod, x))


def test_fast_path_declines_what_it_does_not_handle(monkeypatch):
    torch.manual_seed(0)
    mod = MixedPrecisionLinear.from_float(nn.Linear(64, 40), _codes(40, 1))
    base = torch.randn(4, 6, 128)
    with torch.no_grad():
        mod(base[0, :, :64])
        count = _Count(monkeypatch)
        for x, served in (
            (base[:, :, 32:96], True),  # leading dims merge: one row stride
            (torch.randn(64, 9).t(), True),  # 2-D, any strides
            (torch.randn(1, 50, 128)[:, :, ::2], True),  # column stride 2
            (torch.randn(64), False),  # 1-D
            (torch.randn(2, 3, 5, 64), False),  # 4-D
            (torch.randn(6, 4, 64).transpose(0, 1), False),  # leading dims that do not merge
        ):
            before = count.served
            assert torch.equal(mod(x), _op(mod, x))
            assert count.served == before + served
        assert count.declined == 3 and count.served == 3
        x = torch.randn(5, 64)
        for b in (
            torch.randn(40).half(),
            torch.randn(80, dtype=torch.float64)[::2],
            nn.Parameter(torch.randn(80)[::2]),
        ):
            mod.bias = b if isinstance(b, nn.Parameter) else nn.Parameter(b, requires_grad=False)
            assert torch.equal(mod(x), _op(mod, x))
        assert count.declined == 6 and count.served == 3
    # a bias that needs autograd: the registered op (autograd) computes the same values
    mod.bias = nn.Parameter(torch.randn(40))
    got = mod(x)
    assert got.requires_grad and count.declined == 7
    with torch.no_grad():
        assert torch.equal(got.detach(), _op(mod, x))
        assert torch.equal(mod(x), got.detach()) and count.served == 4


def test_fast_path_follows_in_place_writes_and_replaced_buffers(monkeypatch):
    torch.manual_seed(0)
    lin = nn.Linear(64, 32)
    mod = MixedPrecisionLinear.from_float(lin, _codes(32, 1), keep_float=True, act_bits=8)
    x = torch.randn(2, 7, 64)
    with torch.no_grad():
        y0 = mod(x)
        count = _Count(monkeypatch)
        mod.scales.mul_(2)  # in place: a version bump, the handle is rebuilt
        y1 = mod(x)
        assert count.declined == 1
        assert torch.equal(y1, _op(mod, x)) and not torch.equal(y1, y0)
        mod(x)
        assert count.served == 1  # rebuilt once, then served again
        mod.repack(_codes(32, 2))  # new buffers and bucket list
        y2 = mod(x)
        assert count.declined == 2 and torch.equal(y2, _op(mod, x))
        mod.act_bits = 0  # a plain attribute: read per call
        assert torch.equal(mod(x), _op(mod, x)) and count.served == 2


@pytest.mark.parametrize("act_bits", [0, 8])
def test_bad_input_after_the_handle_is_cached_raises_naming_the_argument(act_bits):
    torch.manual_seed(0)
    mod = MixedPrecisionLinear.from_float(nn.Linear(64, 40), _codes(40, 1), act_bits=act_bits)
    x = torch.randn(1, 50, 64)
    with torch.no_grad():
        want = mod(x)  # the handle is cached: the next calls try the fast path first
        bufs = dict(mod._buffers)
        for bad, exc, msg in (
            (torch.randn(1, 50, 63), ValueError, r"x: expected shape \[\.\.\., 64\]"),
            (torch.randn(50, 65), ValueError, r"x: expected shape \[\.\.\., 64\]"),
            (torch.randint(0, 3, (1, 50, 64)), TypeError, "x: expected dtype"),
            (torch.randn(1, 50, 64, dtype=torch.float64), TypeError, "x: expected dtype"),
            (torch.randn(1, 50, 64, device="meta"), ValueError, "x: expected device"),
        ):
            with pytest.raises(exc, match=msg):
                mod(bad)
        for value, exc in ((3, ValueError), (8.0, ValueError), (None, ValueError)):
            mod.act_bits = value
            with pytest.raises(exc, match="act_bits"):
                mod(x)
        mod.act_bits = act_bits
        bias = mod.bias
        for b, exc in ((torch.randn(39), ValueError), (torch.randn(40, 1), ValueError), (torch.arange(40), TypeError)):
            mod.bias = nn.Parameter(b, requires_grad=False)
            with pytest.raises(exc, match="bias: expected"):
                mod(x)
        mod.bias = bias
        assert all(mod._buffers[k] is v for k, v in bufs.items())  # nothing changed
        assert torch.equal(mod(x), want)


def test_conv2d_horizontal_filters_take_the_fast_path(monkeypatch):
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 16, (3, 64))  # Caser's horizontal filter: cols are overlapping windows [1, Ho, 192]
    mod = MixedPrecisionConv2d.from_float(conv, _codes(16, 3), act_bits=8)
    x = torch.randn(1, 1, 50, 64)
    with torch.no_grad():
        first = mod(x)
        count = _Count(monkeypatch)
        assert torch.equal(mod(x), first) and count.served == 1
        assert torch.equal(first, _general(monkeypatch, mod, x))


@settings(max_examples=30, deadline=None)
@given(
    C=st.integers(1, 3),
    out=st.integers(1, 9),
    kh=st.integers(1, 5),
    W=st.integers(1, 70),
    H=st.integers(1, 12),
    B=st.integers(1, 3),
    stride=st.integers(1, 2),
    pad=st.integers(0, 2),
    act_bits=st.sampled_from([0, 8]),
    unbatched=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_conv2d_full_width_filters_equal_unfold_and_the_op(C, out, kh, W, H, B, stride, pad, act_bits, unbatched, seed):
    """Full-width filters (Caser's horizontal ones) take windows as strided views and return the
    output as a view of the kernel's [B, Ho, out] result: bit for bit what F.unfold's windows give
    through the registered op, and (exact) F.conv2d in float64 within fp32 rounding."""
    torch.manual_seed(seed)
    H = max(H, kh - 2 * pad)  # at least one window
    conv = nn.Conv2d(C, out, (kh, W), stride=(stride, 1), padding=(pad, 0))
    mod = MixedPrecisionConv2d.from_float(conv, _codes(out, seed), act_bits=act_bits)
    x = torch.randn(C, H, W) if unbatched else torch.randn(B, C, H, W)
    with torch.no_grad():
        got = mod(x)
        got2 = mod(x)  # handle cached: the one-step call where the windows allow it
        xb = x.unsqueeze(0) if unbatched else x
        cols = nn.functional.unfold(xb, (kh, W), padding=(pad, 0), stride=(stride, 1)).transpose(1, 2)
        want = _op(mod, cols).transpose(1, 2).reshape(xb.shape[0], out, -1, 1)
        want = want[0] if unbatched else want
        tiny_exact = mod.tiny_weight is not None and act_bits == 0  # F.conv2d on the kept fp32 filter
        assert got.shape == want.shape and torch.equal(got2, got)
        assert tiny_exact or torch.equal(got, want)
        if act_bits == 0:
            ref = nn.functional.conv2d(
                xb.double(),
                mod.dequantized_weight(torch.float64),
                conv.bias.double(),
                stride=(stride, 1),
                padding=(pad, 0),
            )
            ref = ref[0] if unbatched else ref
            assert ((got.double() - ref).abs().max() <= 1e-5 * ref.abs().max().clamp_min(1e-6)).item()
