"""Swapped modules equal their float counterparts built from the dequantized weights."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import chord
from chord import Codebook
from chord.quantize import MixedPrecisionConv2d, MixedPrecisionLinear, QuantizedEmbedding
from tests.helpers import assert_close_to_reference, float64_reference, random_strategy


def _mlp():
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(40, 96), nn.GELU(), nn.Linear(96, 72), nn.ReLU(), nn.Linear(72, 10)).eval()


class _CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 6, (2, 3), stride=(2, 1), dilation=(1, 2), bias=False)
        self.c3 = nn.Conv2d(6, 5, 3, padding="same", padding_mode="reflect")
        self.c4 = nn.Conv2d(5, 4, (4, 1))  # Caser-style vertical filter shape
        self.head = nn.Linear(4 * 1 * 3, 7)

    def forward(self, x):
        x = F.relu(self.c1(x))
        x = F.relu(self.c2(x))
        x = self.c3(x)
        x = self.c4(x)  # [B, 4, 1, 3]
        return self.head(x.flatten(1))


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("scheme", ["sym", "asym"])
def test_mlp_matches_float64_reference(seed, scheme):
    m = _mlp()
    float_m = copy.deepcopy(m)
    s = random_strategy(m, seed, codebook=Codebook(scheme=scheme))
    chord.quantize_(m, s)
    assert all(isinstance(m[i], MixedPrecisionLinear) for i in (0, 2, 4))
    ref = float64_reference(float_m, m)
    x = torch.randn(9, 40)
    assert_close_to_reference(m(x), ref(x.double()))
    assert_close_to_reference(m(x[0]), ref(x[0].double()))  # 1-D input


def test_cnn_matches_float64_reference():
    m = _CNN().eval()
    float_m = copy.deepcopy(m)
    x = torch.randn(3, 3, 9, 7)  # c2 -> 4 x 3, c4 -> 1 x 3
    assert float_m(x).shape == (3, 7)
    chord.quantize_(m, random_strategy(m, 3))
    assert isinstance(m.c3, MixedPrecisionConv2d) and isinstance(m.c4, MixedPrecisionConv2d)
    ref = float64_reference(float_m, m)
    assert_close_to_reference(m(x), ref(x.double()))


@settings(max_examples=25, deadline=None)
@given(
    cin=st.integers(1, 4),
    cout=st.integers(1, 9),
    kh=st.integers(1, 3),
    kw=st.integers(1, 3),
    stride=st.integers(1, 2),
    pad=st.integers(0, 2),
    h=st.integers(3, 8),
    w=st.integers(3, 8),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_conv2d_fuzzed_shapes(cin, cout, kh, kw, stride, pad, h, w, bias, seed):
    torch.manual_seed(seed)
    conv = nn.Conv2d(cin, cout, (kh, kw), stride=stride, padding=pad, bias=bias)
    codes = torch.randint(0, 4, (cout,), dtype=torch.uint8)
    q = MixedPrecisionConv2d.from_float(conv, codes)
    x = torch.randn(2, cin, h + kh, w + kw)
    w64 = q.dequantized_weight(torch.float64)
    b64 = None if conv.bias is None else conv.bias.detach().double()
    ref = F.conv2d(x.double(), w64, b64, stride=stride, padding=pad)
    assert_close_to_reference(q(x), ref)


@settings(max_examples=25, deadline=None)
@given(
    num=st.integers(1, 70),
    dim=st.integers(1, 70),
    n_ids=st.integers(1, 40),
    scheme=st.sampled_from(["sym", "asym"]),
    seed=st.integers(0, 2**16),
)
def test_embedding_lookup_equals_dequantized_rows(num, dim, n_ids, scheme, seed):
    torch.manual_seed(seed)
    emb = nn.Embedding(num, dim)
    codes = torch.randint(0, 4, (num,), dtype=torch.uint8)
    q = QuantizedEmbedding.from_float(emb, codes, Codebook(scheme=scheme))
    ids = torch.randint(0, num, (n_ids, 3))
    table = q.mw.dequantize(torch.float32)
    out = q(ids)
    assert out.shape == (n_ids, 3, dim)
    assert torch.equal(out, table[ids])  # bit-exact gather
    pruned = (codes == 0)[ids]
    assert (out[pruned] == 0).all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    num=st.integers(1, 90),
    dim=st.integers(1, 300),
    one_bit=st.booleans(),
    scheme=st.sampled_from(["sym", "asym"]),
    seed=st.integers(0, 2**16),
)
def test_embedding_cpp_lookup_equals_torch_path(monkeypatch, num, dim, one_bit, scheme, seed):
    """The eager CPU lookup (one C++ gather) is bit-identical to the torch ops it replaces, for
    every width (1-bit codebooks too), K not a block multiple, strided and int32 ids."""
    from chord.backends import cpu as cpu_backend

    assert cpu_backend.HAVE_CPP, "C++ embedding_lookup not built"
    torch.manual_seed(seed)
    emb = nn.Embedding(num, dim)
    cb = Codebook((0, 1, 4, 8) if one_bit else (0, 2, 4, 8), scheme)
    q = QuantizedEmbedding.from_float(emb, torch.randint(0, 4, (num,), dtype=torch.uint8), cb)
    ids = torch.randint(0, num, (7, 6))
    for x in (ids, ids[:, ::2], ids.t(), ids.to(torch.int32)):
        fast = q(x)
        with monkeypatch.context() as mp:
            mp.setattr(cpu_backend, "eager_ok", lambda x: False)  # the torch ops path
            slow = q(x)
        assert torch.equal(fast, slow) and torch.equal(fast, q.mw.dequantize(torch.float32)[x.long()])


def test_embedding_cpp_lookup_errors_and_cache():
    from chord_kernels import _cpu

    torch.manual_seed(0)
    emb = nn.Embedding(50, 24)
    q = QuantizedEmbedding.from_float(emb, torch.randint(1, 4, (50,), dtype=torch.uint8))
    with pytest.raises(IndexError, match=r"index 50 out of range \[0, 50\)"):
        q(torch.tensor([3, 50]))
    with pytest.raises(IndexError, match=r"index -1 out of range"):
        q(torch.tensor([-1]))
    before = q(torch.arange(50))
    # a re-pack replaces the buffers: the cached views must not serve the old table
    q.set_packed(chord.pack(emb.weight.detach() * 2, torch.full((50,), 3, dtype=torch.uint8)))
    after = q(torch.arange(50))
    assert torch.equal(after, q.mw.dequantize(torch.float32)) and not torch.equal(after, before)
    # copies and pickles do not carry the cache; they look up their own tensors
    q2 = copy.deepcopy(q)
    assert torch.equal(q2(torch.arange(50)), after)
    # the C++ side validates what Python hands it
    out = torch.empty(1, 24)
    args = [q.qweight.numpy(), q.row_bits.numpy(), q.row_slot.numpy(), q.row_scale.numpy(), q.row_zero.numpy()]
    with pytest.raises(ValueError, match="8-bit bucket overruns qweight"):
        _cpu.embedding_lookup(torch.tensor([0]).numpy(), *args, [[8, 0, 51]], 24, out.numpy())
    with pytest.raises(ValueError, match="does not match the buckets"):
        _cpu.embedding_lookup(torch.tensor([0]).numpy(), *args, [[8, 0, 0]], 24, out.numpy())
    with pytest.raises(ValueError, match=r"out: expected shape \[1, 24\]"):
        _cpu.embedding_lookup(torch.tensor([0]).numpy(), *args, q._lookup_buckets, 24, torch.empty(2, 24).numpy())


def test_embedding_scoring_matches_reference():
    torch.manual_seed(0)
    emb = nn.Embedding(300, 32)
    q = QuantizedEmbedding.from_float(emb, torch.randint(0, 4, (300,), dtype=torch.uint8))
    u = torch.randn(5, 32)
    table = q.mw.dequantize(torch.float64)
    assert_close_to_reference(q.score(u), u.double() @ table.T)
    cand = torch.randint(0, 300, (5, 17))
    assert_close_to_reference(q.score(u, cand), torch.einsum("bd,bcd->bc", u.double(), table[cand]))


def test_act_bits8_matches_int8_reference():
    from chord.backends.reference import quantize_activations_int8

    m = _mlp()
    chord.quantize_(m, random_strategy(m, 5), act_bits=8)
    x = torch.randn(4, 40)
    lin = m[0]
    xq, sx = quantize_activations_int8(x)
    ref = (xq.double() @ lin.dequantized_weight(torch.float64).T) * sx.double()[:, None] + lin.bias.double()
    assert_close_to_reference(lin(x), ref)


def test_state_dict_round_trip():
    m = _mlp()
    chord.quantize_(m, random_strategy(m, 2))
    m2 = _mlp()
    chord.quantize_(m2, random_strategy(m2, 2))
    sd = m.state_dict()
    assert "0.qweight" in sd and "0.float_weight" not in sd
    m2.load_state_dict(sd)
    x = torch.randn(3, 40)
    assert torch.equal(m(x), m2(x))


def test_tiny_weights_take_the_dense_path_and_match():
    """Caser's vertical filter (4 x 5): the dequantized fp32 copy is smaller than the packed rows,
    so the module computes with it; results equal the packed kernel's meaning either way."""
    torch.manual_seed(3)
    conv = nn.Conv2d(1, 4, (5, 1))
    q = MixedPrecisionConv2d.from_float(conv, torch.tensor([3, 2, 1, 0], dtype=torch.uint8))
    assert q.tiny_weight is not None and torch.equal(q.tiny_weight, q.mw.dequantize().reshape(4, 5))
    x = torch.randn(3, 1, 5, 64)
    ref = F.conv2d(x.double(), q.dequantized_weight(torch.float64), conv.bias.double())
    assert_close_to_reference(q(x), ref)
    big = MixedPrecisionLinear.from_float(nn.Linear(64, 32), torch.full((32,), 2, dtype=torch.uint8))
    assert big.tiny_weight is None
    q.set_packed(chord.pack(conv.weight.detach().reshape(4, 5), torch.zeros(4, dtype=torch.uint8)))
    assert q.tiny_weight is None  # all pruned: 48 packed bytes < 80 fp32 bytes
    with torch.no_grad():
        assert (q(x) == conv.bias.view(1, 4, 1, 1)).all()
