"""chord.runtime fused Caser == the torch model (fp32 and chord.quantize_d, filters and tables)
and a float64 model built from the dequantized weights; top-k vs reference; errors."""

from __future__ import annotations

import copy

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chord
import chord.runtime as rt
from chord.models import Caser
from chord.quantize import QuantizedEmbedding
from chord.quantize.layers import quantizable_layers

TOL = dict(atol=2e-4, rtol=2e-4)


@pytest.fixture(autouse=True)
def one_torch_thread():
    nt = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(nt)


def make_model(num_items=50, dim=16, L=5, n_v=4, n_h=8, num_users=0, seed=0):
    torch.manual_seed(seed)
    m = Caser(num_items, dim=dim, L=L, n_v=n_v, n_h=n_h, num_users=num_users)
    with torch.no_grad():  # trained-like scale: embeddings O(1), biases non-zero
        m.item_emb.weight.normal_()
        m.item_emb.weight[0].zero_()
        if m.user_emb is not None:
            m.user_emb.weight.normal_()
        for name, p in m.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.1)
    return m.eval()


def quantize(model, kind, tables, gen):
    if kind == "fp32":
        return model
    q = copy.deepcopy(model)
    if kind.startswith("uniform"):
        chord.quantize_(q, bits=int(kind.split("-")[1]), embeddings=tables)
        return q
    spec = {}
    for i, (name, info) in enumerate(quantizable_layers(q, embeddings=tables).items()):
        codes = torch.randint(0, 4, (info.channels,), generator=gen).to(torch.uint8)
        if kind == "pruned" and i % 3 == 0 and "emb" not in name:
            codes.zero_()
        spec[name] = codes
    chord.quantize_(q, spec)
    return q


def random_seqs(B, l, num_items, gen):
    seqs = torch.randint(1, num_items + 1, (B, l), generator=gen)
    for b in range(B):
        seqs[b, : int(torch.randint(0, l + 1, (1,), generator=gen))] = 0
    return seqs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    B=st.integers(1, 5),
    l=st.integers(1, 8),
    L=st.integers(1, 6),
    n_v=st.sampled_from([0, 1, 4]),
    n_h=st.sampled_from([0, 3, 8]),
    dim=st.sampled_from([8, 16, 24]),
    users=st.sampled_from([0, 7]),
    kind=st.sampled_from(["fp32", "uniform-8", "uniform-4", "uniform-2", "random", "pruned"]),
    tables=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_represent_matches_model_and_float64(B, l, L, n_v, n_h, dim, users, kind, tables, seed):
    if n_v == 0 and n_h == 0:
        n_h = 3
    gen = torch.Generator().manual_seed(seed)
    m = make_model(dim=dim, L=L, n_v=n_v, n_h=n_h, num_users=users, seed=seed)
    q = quantize(m, kind, tables, gen)
    seqs = random_seqs(B, l, 50, gen)
    u = torch.randint(0, users, (B,), generator=gen) if users else None
    out = rt.compile(q).represent(seqs, u)
    with torch.no_grad():
        torch.testing.assert_close(out, q(seqs, u), **TOL)
        ref = copy.deepcopy(q)
        chord.dequantize_(ref)
        torch.testing.assert_close(out.double(), ref.double()(seqs, u), **TOL)


@pytest.mark.parametrize("tables", [False, True])
def test_topk_matches_reference(tables):
    gen = torch.Generator().manual_seed(1)
    q = quantize(make_model(num_items=200, num_users=5), "random", tables, gen)
    seqs, users = random_seqs(6, 7, 200, gen), torch.randint(0, 5, (6,), generator=gen)
    r = rt.compile(q)
    u = r.represent(seqs, users).double()
    emb = q.item_emb
    table = emb.mw.dequantize(torch.float64) if isinstance(emb, QuantizedEmbedding) else emb.weight.double()
    scores = u @ table.T
    scores[:, 0] = float("-inf")
    vals, ids = r.topk(seqs, 6, users=users)
    torch.testing.assert_close(vals.double(), scores.sort(dim=1, descending=True).values[:, :6], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(scores.gather(1, ids), vals.double(), atol=1e-5, rtol=1e-5)
    cand = torch.randint(0, 201, (6, 15), generator=gen)
    cv, ci = r.topk(seqs, 4, cand, users=users)
    full = u @ table.T
    torch.testing.assert_close(
        cv.double(), full.gather(1, cand).sort(dim=1, descending=True).values[:, :4], atol=1e-5, rtol=1e-5
    )
    torch.testing.assert_close(full.gather(1, ci), cv.double(), atol=1e-5, rtol=1e-5)


def test_errors_and_staleness():
    m = make_model(num_users=3)
    r = rt.compile(m)
    seqs = torch.ones(2, 5, dtype=torch.int64)
    with pytest.raises(ValueError, match="users: expected int64 \\[2\\] user indices"):
        r.represent(seqs)
    with pytest.raises(ValueError, match=r"users: expected indices in \[0, 3\), got 3 at \[1\]"):
        r.represent(seqs, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"seqs: item ids must be in \[0, 50\].*got 51"):
        r.represent(torch.tensor([[1, 51]]), torch.tensor([0]))
    with pytest.raises(rt.UnsupportedModelError, match="training mode"):
        rt.compile(copy.deepcopy(m).train())
    with pytest.raises(rt.UnsupportedModelError, match="head='untied'.*separate output table"):
        rt.compile(Caser(50, dim=16, L=5, num_users=3, head="untied").eval())
    g = copy.deepcopy(m)
    g.conv_h[0] = torch.nn.Conv2d(1, 8, (1, 16), padding=1)
    with pytest.raises(rt.UnsupportedModelError, match="conv_h.0: expected a stride-1, dilation-1, unpadded"):
        rt.compile(g)
    chord.quantize_(m, bits=4)
    with pytest.raises(rt.StaleRuntimeError):
        r.represent(seqs, torch.tensor([0, 1]))
    with torch.no_grad():
        torch.testing.assert_close(
            rt.compile(m).represent(seqs, torch.tensor([0, 1])), m(seqs, torch.tensor([0, 1])), **TOL
        )
