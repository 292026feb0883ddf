"""quantize_ / dequantize_: selection, errors, restore, torch.compile."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import chord
from chord.quantize import QUANTIZED_TYPES, MixedPrecisionLinear, QuantizedEmbedding
from tests.helpers import assert_close_to_reference, float64_reference, random_strategy


def _model():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Embedding(50, 16), nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8), nn.Conv2d(2, 4, 3, groups=2)
    )


@pytest.mark.parametrize("bits", [8, 4, 2])
def test_uniform_bits(bits):
    m = _model()
    chord.quantize_(m, bits=bits)
    assert isinstance(m[1], MixedPrecisionLinear) and isinstance(m[3], MixedPrecisionLinear)
    assert isinstance(m[0], nn.Embedding) and not isinstance(m[0], QUANTIZED_TYPES)  # tables float by default
    assert isinstance(m[4], nn.Conv2d)  # grouped conv left float
    assert set(m[1].mw.bits_per_row.tolist()) == {bits}
    chord.quantize_(m2 := _model(), bits=bits, embeddings=True)
    assert isinstance(m2[0], QuantizedEmbedding)


def test_filter_fn_and_mapping():
    m = _model()
    chord.quantize_(m, bits=4, filter_fn=lambda mod, name: name == "3")
    assert not isinstance(m[1], QUANTIZED_TYPES) and isinstance(m[3], MixedPrecisionLinear)
    m = _model()
    codes = torch.tensor([3, 0, 1, 2] * 2, dtype=torch.uint8)
    chord.quantize_(m, {"1": 2, "3": codes})
    assert set(m[1].mw.bits_per_row.tolist()) == {2}
    assert m[3].mw.bits_per_row.tolist() == [8, 0, 2, 4] * 2


def test_errors_name_the_argument():
    m = _model()
    with pytest.raises(ValueError, match="exactly one"):
        chord.quantize_(m)
    with pytest.raises(ValueError, match="exactly one"):
        chord.quantize_(m, {"1": 4}, bits=4)
    with pytest.raises(ValueError, match="bits"):
        chord.quantize_(m, bits=3)
    with pytest.raises(KeyError, match="nope"):
        chord.quantize_(m, {"nope": 4})
    with pytest.raises(KeyError, match="a Conv2d, not a quantizable"):
        chord.quantize_(m, {"4": 4})
    with pytest.raises(ValueError, match=r"strategy\[.3.\].*shape \[8\]"):
        chord.quantize_(m, {"3": torch.zeros(5, dtype=torch.uint8)})
    with pytest.raises(TypeError, match="strategy"):
        chord.quantize_(m, [1, 2])


def test_dequantize_restores_kept_float_exactly():
    m = _model()
    orig = {n: p.detach().clone() for n, p in m.named_parameters()}
    w1 = m[1].weight
    chord.quantize_(m, random_strategy(m, 1), keep_float=True)
    assert isinstance(m[0], QuantizedEmbedding)
    assert m[1].float_weight.data_ptr() == w1.data_ptr()  # a reference, not a copy
    chord.dequantize_(m)
    assert not any(isinstance(x, QUANTIZED_TYPES) for x in m.modules())
    for n, p in m.named_parameters():
        assert torch.equal(p, orig[n]), n


def test_dequantize_without_float_uses_dequantized_weights():
    m = _model()
    float_m = copy.deepcopy(m)
    chord.quantize_(m, random_strategy(m, 2))
    ref = float64_reference(float_m, m)
    deq = {n: mod.dequantized_weight() for n, mod in m.named_modules() if isinstance(mod, QUANTIZED_TYPES)}
    chord.dequantize_(m)
    for n, w in deq.items():
        assert torch.equal(m.get_submodule(n).weight, w)
    x = torch.randint(0, 50, (3, 4))
    assert_close_to_reference(m[3](torch.relu(m[1](m[0](x)))), ref[3](torch.relu(ref[1](ref[0](x)))))


def test_requantize_swapped_model_needs_kept_float():
    m = _model()
    chord.quantize_(m, bits=8)
    with pytest.raises(RuntimeError, match="keep_float"):
        chord.quantize_(m, bits=4)
    m = _model()
    chord.quantize_(m, bits=8, keep_float=True)
    chord.quantize_(m, bits=2)
    assert set(m[1].mw.bits_per_row.tolist()) == {2}


def test_torch_compile_fullgraph_no_graph_breaks():
    torch._dynamo.reset()
    m = _model()
    m[4] = nn.Conv2d(2, 4, 3)
    chord.quantize_(m, random_strategy(m, 4))
    ids = torch.randint(0, 50, (2, 6))

    def f(ids):
        h = m[3](torch.relu(m[1](m[0](ids))))  # [2, 6, 8]
        return m[4](h.view(2, 2, 3, 8))

    with torch.no_grad():  # inference: the packed kernels have no autograd formula
        want = f(ids)
        got = torch.compile(f, fullgraph=True, backend="aot_eager")(ids)
    assert torch.equal(got, want)
