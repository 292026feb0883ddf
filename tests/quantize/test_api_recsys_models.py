"""SASRec and Caser: the swapped model equals a float64 model built from its dequantized
weights, in the user representation, in full scoring and in candidate scoring."""

from __future__ import annotations

import copy

import pytest
import torch

import chord
from chord import models
from tests.helpers import assert_close_to_reference, float64_reference, random_strategy


def _sasrec():
    torch.manual_seed(0)
    return models.SASRec(num_items=150, dim=32, blocks=2, heads=2, dropout=0.2, max_len=12).eval()


def _caser():
    torch.manual_seed(0)
    return models.Caser(num_items=150, dim=32, L=5, n_v=4, n_h=8, num_users=20).eval()


def _caser_untied():
    torch.manual_seed(0)
    m = models.Caser(num_items=150, dim=32, L=5, n_v=4, n_h=8, num_users=20, head="untied").eval()
    with torch.no_grad():
        m.out_bias.weight.normal_()  # a non-zero item bias
    return m


@pytest.mark.parametrize("build", [_sasrec, _caser, _caser_untied], ids=["sasrec", "caser", "caser-untied"])
@pytest.mark.parametrize("seed", [0, 1])
def test_swapped_model_matches_float64_reference(build, seed):
    m = build()
    float_m = copy.deepcopy(m)
    s = random_strategy(m, seed)  # every Linear, Conv2d and Embedding
    chord.quantize_(m, s)
    assert isinstance(m.item_emb, chord.quantize.QuantizedEmbedding)
    ref = float64_reference(float_m, m)
    torch.manual_seed(seed)
    seqs = torch.randint(1, 151, (6, 12))
    seqs[0, :7] = 0  # left padding
    users = torch.randint(0, 20, (6,))
    with torch.no_grad():
        u, ur = m(seqs, users), ref(seqs, users)
        assert_close_to_reference(u, ur, rtol=1e-4)
        assert_close_to_reference(m.score(u), ref.score(ur), rtol=1e-4)  # quantized scoring path
        cand = torch.randint(1, 151, (6, 20))
        assert_close_to_reference(m.score(u, cand), ref.score(ur, cand), rtol=1e-4)
        if m.out_emb is not None:  # untied: scored through the output table, never the packed item table
            assert "score" not in m.__dict__
            return
        vals, ids = m.item_emb.topk(u, 10)
        rv, _ = torch.topk(ref.score(u.double()), 10)
        assert (vals.double() - rv).abs().max() <= 1e-5 * rv.abs().max()


@pytest.mark.parametrize("build", [_sasrec, _caser], ids=["sasrec", "caser"])
def test_uniform_bits_and_dequantize(build):
    m = build()
    orig = {n: p.detach().clone() for n, p in m.named_parameters()}
    chord.quantize_(m, bits=4, keep_float=True)
    kinds = {type(x).__name__ for x in m.modules()}
    assert "MixedPrecisionLinear" in kinds and "QuantizedEmbedding" not in kinds
    if build is _caser:
        assert "MixedPrecisionConv2d" in kinds
    seqs = torch.randint(1, 151, (3, 12))
    with torch.no_grad():
        assert m.score(m(seqs, torch.arange(3))).shape == (3, 151)
    chord.dequantize_(m)
    assert {n: p for n, p in m.named_parameters()}.keys() == orig.keys()
    assert all(torch.equal(p, orig[n]) for n, p in m.named_parameters())


@pytest.mark.parametrize("build", [_sasrec, _caser], ids=["sasrec", "caser"])
def test_torch_compile_fullgraph_swapped_recommender(build):
    """Representation + quantized full scoring of a swapped model compile as one graph."""
    torch._dynamo.reset()
    m = build()
    chord.quantize_(m, random_strategy(m, 5))
    seqs, users = torch.randint(1, 151, (4, 12)), torch.arange(4)

    def f(seqs, users):
        return m.score(m(seqs, users=users))

    with torch.no_grad():
        want = f(seqs, users)
        got = torch.compile(f, fullgraph=True, backend="aot_eager")(seqs, users)
    assert torch.equal(got, want)
