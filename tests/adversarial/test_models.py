"""quantize_, swapped modules, load_state_dict, DeviceModel, Strategy: all-or-nothing, never torn,
clear errors."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import chord
from chord import Codebook, Strategy
from chord.backends.reference import topk_reference
from chord.quantize import QuantizedEmbedding

from .helpers import clear_error, correct, packed


def _two_layer(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 8))


def _snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}, [type(m).__name__ for m in model.modules()]


def _same(model, snap):
    sd, kinds = snap
    now = model.state_dict()
    return (
        kinds == [type(m).__name__ for m in model.modules()]
        and set(now) == set(sd)
        and all(_equal(now[k], sd[k]) for k in sd)
    )


def _equal(a, b):
    """Bit-for-bit, NaN included."""
    return torch.equal(a, b) or (
        a.is_floating_point() and a.shape == b.shape and torch.allclose(a, b, rtol=0, atol=0, equal_nan=True)
    )


# -- mp_topk exact at every finite magnitude -----------------------------------------------------
@correct
def test_topk_issue_reproducer_large_x():
    w = torch.randn(3, 16, generator=torch.Generator().manual_seed(36))
    mw = chord.pack(w, torch.full((3,), 3, dtype=torch.uint8))
    x = torch.zeros(1, 16)
    x[0, 0] = 1e37
    v, i = chord.mp_topk(x, mw, 1)
    rv, ri = topk_reference(x, mw, 1)
    assert torch.equal(i, ri) and int(i) == 2
    assert torch.equal(v, rv.float())


@correct
@pytest.mark.parametrize("xe", [-140, -100, -30, 0, 30, 64, 65, 100, 120, 126])
@pytest.mark.parametrize("act_bits", [0, 8])
def test_topk_exact_across_magnitudes(xe, act_bits):
    g = torch.Generator().manual_seed(xe + 200)
    mw = chord.pack(torch.randn(60, 48, generator=g), torch.randint(0, 4, (60,), generator=g, dtype=torch.uint8))
    x = torch.randn(3, 48, generator=g) * 2.0**xe
    v, i = chord.mp_topk(x, mw, 7, act_bits=act_bits)
    rv, ri = topk_reference(x, mw, 7, act_bits=act_bits)
    assert torch.equal(i, ri)
    assert torch.equal(v, rv.float()) or torch.allclose(v.double(), rv, rtol=1e-6, atol=0)


@clear_error
def test_topk_too_wide_row_is_an_error():
    mw = packed(8, 16)
    x = torch.zeros(1, 16)
    x[0, 0], x[0, 1] = 3e38, 1e-44
    with pytest.raises(ValueError, match="row 0 spans magnitudes"):
        chord.mp_topk(x, mw, 2)


# -- quantize_: all or nothing ---------------------------------------------------------------------
@clear_error
def test_quantize_nan_in_second_layer_leaves_model_untouched():
    m = _two_layer()
    with torch.no_grad():
        m[2].weight[3, 4] = float("nan")
    snap = _snapshot(m)
    x = torch.randn(4, 32)
    with pytest.raises(ValueError, match="NaN or Inf"):
        chord.quantize_(m, bits=4)
    assert _same(m, snap)
    assert isinstance(m[0], nn.Linear) and isinstance(m[2], nn.Linear)
    assert torch.isnan(m(x)).any()


@clear_error
def test_requantize_failure_leaves_packing_untouched():
    m = _two_layer()
    chord.quantize_(m, bits=4, keep_float=True)
    x = torch.randn(4, 32)
    before, snap = m(x), _snapshot(m)
    with pytest.raises(ValueError, match=r"strategy\['2'\]"):
        chord.quantize_(m, {"0": 2, "2": torch.zeros(3, dtype=torch.uint8)})
    assert _same(m, snap) and torch.equal(m(x), before)


@correct
def test_module_shared_under_two_names_is_swapped_under_both():
    m = nn.Module()
    m.a = nn.Linear(16, 16)
    m.b = m.a
    chord.quantize_(m, bits=2)
    assert type(m.a).__name__ == "MixedPrecisionLinear" and m.b is m.a


@correct
def test_shared_submodule_in_sequential():
    lin = nn.Linear(8, 8)
    m = nn.Sequential(lin, nn.ReLU(), lin)
    chord.quantize_(m, bits=8)
    assert m[0] is m[2] and type(m[2]).__name__ == "MixedPrecisionLinear"


# -- load_state_dict ---------------------------------------------------------------------------------
def _pair():
    a, b = nn.Sequential(nn.Linear(64, 4, bias=False)), nn.Sequential(nn.Linear(64, 4, bias=False))
    b.load_state_dict(a.state_dict())
    chord.quantize_(a, {"0": torch.tensor([3, 0, 0, 0], dtype=torch.uint8)})
    chord.quantize_(b, {"0": torch.tensor([0, 2, 2, 0], dtype=torch.uint8)})
    return a, b


@clear_error
def test_load_state_dict_of_another_mix_is_rejected():
    a, b = _pair()
    x = torch.randn(2, 64)
    before, snap = a(x), _snapshot(a)
    with pytest.raises(RuntimeError, match="another bit mix"):
        a.load_state_dict(b.state_dict())
    assert _same(a, snap) and torch.equal(a(x), before)


@clear_error
def test_load_state_dict_into_submodule_of_another_mix():
    a, b = _pair()
    snap = _snapshot(a)
    with pytest.raises(RuntimeError, match="another bit mix"):
        a[0].load_state_dict(b[0].state_dict())
    assert _same(a, snap)


@clear_error
@pytest.mark.parametrize("strict", [True, False])
def test_failing_load_state_dict_loads_nothing(strict):
    """A float layer before the bad entry is not loaded either (checked before any copy)."""
    m = _two_layer()
    chord.quantize_(m, {"2": 4})
    src = _two_layer(seed=1)
    chord.quantize_(src, {"2": 4})
    sd = src.state_dict()
    sd["2.scales"] = sd["2.scales"][:-1]
    snap = _snapshot(m)
    with pytest.raises(RuntimeError, match="nothing loaded"):
        m.load_state_dict(sd, strict=strict)
    assert _same(m, snap)


@clear_error
def test_load_state_dict_corrupt_perm_rejected():
    a, _ = _pair()
    sd = a.state_dict()
    sd["0.perm"] = torch.zeros_like(sd["0.perm"])
    snap = _snapshot(a)
    with pytest.raises(RuntimeError, match="not a valid packed weight"):
        a.load_state_dict(sd)
    assert _same(a, snap)


@correct
def test_load_state_dict_same_mix_loads():
    a, _ = _pair()
    c = copy.deepcopy(a)
    with torch.no_grad():
        c[0].scales.mul_(2)
    a.load_state_dict(c.state_dict())
    x = torch.randn(3, 64)
    assert torch.equal(a(x), c(x))


@correct
def test_strict_missing_key_rejected_without_copy():
    m = _two_layer()
    chord.quantize_(m, bits=4)
    sd = _two_layer(seed=3)
    chord.quantize_(sd, bits=4)
    sd = sd.state_dict()
    del sd["2.bias"]
    snap = _snapshot(m)
    with pytest.raises(RuntimeError, match="missing key '2.bias'"):
        m.load_state_dict(sd)
    assert _same(m, snap)


# -- QuantizedEmbedding ids ---------------------------------------------------------------------------
def _emb():
    return QuantizedEmbedding.from_float(nn.Embedding(20, 16), torch.randint(1, 4, (20,), dtype=torch.uint8))


class _Mode(torch.overrides.TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


@clear_error
@pytest.mark.parametrize("path", ["eager", "function-mode", "no-grad-off"])
@pytest.mark.parametrize("bad", [-1, 20, -21, 2**40])
def test_embedding_id_out_of_range_on_every_path(path, bad):
    q = _emb()
    ids = torch.tensor([0, bad])
    with pytest.raises(IndexError):
        if path == "function-mode":
            with _Mode():
                q(ids)
        elif path == "no-grad-off":
            q(ids.to(torch.int32) if -(2**31) <= bad < 2**31 else ids)
        else:
            q(ids)


@correct
def test_embedding_paths_agree():
    q = _emb()
    ids = torch.randint(0, 20, (3, 5))
    fast = q(ids)
    with _Mode():
        slow = q(ids)
    assert torch.equal(fast, slow)


# -- Strategy ----------------------------------------------------------------------------------------
@correct
@pytest.mark.parametrize("names", [True, False])
def test_strategy_with_zero_layers_round_trips(names):
    s = Strategy({}, Codebook.default())
    fp = b"\x00" * 8
    data = s.to_bytes(fp, names=names)
    back = Strategy.from_bytes(data, expected_fingerprint=fp, layer_infos={} if not names else None)
    assert back == s and back.num_channels == 0


@clear_error
@pytest.mark.parametrize("cut", [0, 1, 5, 12, 20, -1, -5])
def test_strategy_truncated_bytes(cut):
    m = _two_layer()
    data = Strategy.uniform(chord.quantizable_layers(m), 4).to_bytes(m)
    with pytest.raises(chord.StrategyError):
        Strategy.from_bytes(data[:cut] if cut >= 0 else data[:cut])


# -- DeviceModel ---------------------------------------------------------------------------------------
@clear_error
def test_device_model_failed_apply_leaves_model_as_it_was():
    m = _two_layer()
    dm = chord.DeviceModel(m)
    x = torch.randn(4, 32)
    before, snap, strat = dm(x), _snapshot(dm.model), dm.strategy
    bad = Strategy({"0": torch.full((16,), 1, dtype=torch.uint8), "2": torch.full((9,), 2, dtype=torch.uint8)})
    with pytest.raises(ValueError, match="channels"):
        dm.apply(bad)
    with pytest.raises(chord.StrategyError):
        dm.apply(b"CHST" + bytes(30))
    assert _same(dm.model, snap) and torch.equal(dm(x), before) and dm.strategy is strat
