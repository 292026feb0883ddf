"""The eager fast path of the mixed-precision modules (python/chord/quantize/modules.py::_linear):
same results as ``torch.ops.chord.mp_linear``, a cached weight handle that follows re-packing,
``load_state_dict`` and ``.to()``, and modules that still deep-copy, pickle and compile."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from torch import nn

from chord.backends import cpu as cpu_backend
from chord.quantize.modules import MixedPrecisionConv2d, MixedPrecisionLinear

pytestmark = pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built")


def _codes(n, seed):
    return torch.randint(0, 4, (n,), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _op(mod, x):
    K = mod.qweight_k
    y = torch.ops.chord.mp_linear(
        x.reshape(-1, K), mod.qweight, mod.scales, mod.zeros, mod.perm, mod.buckets, K, mod.bias, mod.act_bits
    )
    return y.reshape(*x.shape[:-1], mod.chord_weight_shape[0])


@pytest.mark.parametrize("act_bits", [0, 8])
def test_linear_forward_equals_registered_op(act_bits):
    torch.manual_seed(0)
    mod = MixedPrecisionLinear.from_float(nn.Linear(64, 40), _codes(40, 1), act_bits=act_bits)
    with torch.no_grad():
        for x in (
            torch.randn(64),
            torch.randn(1, 64),
            torch.randn(300, 64),
            torch.randn(4, 50, 64),
            torch.randn(64, 7).t(),
            torch.randn(3, 5, 64).transpose(0, 1),
            torch.randn(2, 64).half(),
            torch.randn(4, 6, 128)[:, :, 10:74],
        ):
            y = mod(x)
            assert y.shape == (*x.shape[:-1], 40) and y.dtype == x.dtype
            assert torch.equal(y, _op(mod, x))
        assert mod.__dict__["_cpu_handle"].handle is not None


def test_handle_follows_repacking_state_dict_and_to():
    torch.manual_seed(0)
    lin = nn.Linear(64, 32)
    codes = _codes(32, 1)
    a = MixedPrecisionLinear.from_float(lin, codes, keep_float=True)
    # same widths, other rows: same buffer sizes, so load_state_dict copies in place
    b = MixedPrecisionLinear.from_float(lin, codes[torch.randperm(32, generator=torch.Generator().manual_seed(2))])
    x = torch.randn(5, 64)
    with torch.no_grad():
        ya, yb = a(x), b(x)
        assert not torch.equal(ya, yb)
        a.load_state_dict(b.state_dict())  # in-place copy into a's buffers
        assert torch.equal(a(x), yb)
        a.repack(codes)  # new buffers
        assert torch.equal(a(x), ya)
        a.to("cpu")
        assert torch.equal(a(x), ya)


def test_modules_deepcopy_pickle_and_compile_after_eager_calls():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 16))
    model[0] = MixedPrecisionLinear.from_float(model[0], _codes(64, 3))
    model[2] = MixedPrecisionLinear.from_float(model[2], _codes(16, 4))
    x = torch.randn(7, 64)
    with torch.no_grad():
        want = model(x)  # fills the handle caches
        for other in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
            assert torch.equal(other(x), want)
        torch._dynamo.reset()
        got = torch.compile(model, fullgraph=True, backend="aot_eager")(x)
    assert torch.equal(got, want)


def test_conv2d_forward_equals_registered_op_path():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 8, (2, 3), padding=1)
    mod = MixedPrecisionConv2d.from_float(conv, _codes(8, 5))
    x = torch.randn(2, 3, 6, 7)
    with torch.no_grad():
        got = mod(x)
        want = nn.functional.conv2d(x.double(), mod.dequantized_weight(torch.float64), conv.bias.double(), padding=1)
        assert ((got.double() - want).abs().max() / want.abs().max()).item() <= 1e-5
        cols = nn.functional.unfold(x, (2, 3), padding=1).transpose(1, 2)
        assert torch.equal(got, _op(mod, cols).transpose(1, 2).reshape(got.shape))


def test_conv2d_tiny_filter_runs_torch_conv_with_the_dequantized_weight():
    torch.manual_seed(1)
    conv = nn.Conv2d(1, 3, (5, 1), stride=(1, 2), padding=(1, 1), dilation=(1, 1))
    mod = MixedPrecisionConv2d.from_float(conv, torch.tensor([3, 0, 2], dtype=torch.uint8))
    assert mod.tiny_weight is not None  # 5 fp32 per filter < its packed row
    with torch.no_grad():
        for x in (torch.randn(2, 1, 6, 9), torch.randn(1, 6, 9)):
            want = nn.functional.conv2d(
                x.double(), mod.dequantized_weight(torch.float64), conv.bias.double(), stride=(1, 2), padding=(1, 1)
            )
            got = mod(x)
            assert got.shape == want.shape
            assert ((got.double() - want).abs().max() / want.abs().max()).item() <= 1e-5
            assert torch.equal(got[..., 1, :, :], conv.bias[1].expand_as(got[..., 1, :, :]))  # pruned filter
