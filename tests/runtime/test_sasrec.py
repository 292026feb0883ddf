"""chord.runtime fused SASRec == the torch model (fp32 and chord.quantize_d), a float64 model
built from the dequantized weights, and the reference top-k; bad inputs -> clear errors."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chord
import chord.runtime as rt
from chord import mp_topk
from chord.models import SASRec
from chord.quantize import QuantizedEmbedding
from chord.quantize.layers import quantizable_layers

TOL = dict(atol=2e-4, rtol=2e-4)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The torch reference models on one thread: tiny ops on a loaded 2-core machine otherwise
    wait on OpenMP barriers (hundreds of ms per forward)."""
    nt = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(nt)


def make_model(num_items=60, dim=16, blocks=2, heads=2, max_len=12, norm="query", ffn_hidden=24, seed=0):
    torch.manual_seed(seed)
    m = SASRec(num_items, dim=dim, blocks=blocks, heads=heads, max_len=max_len, norm=norm, ffn_hidden=ffn_hidden)
    with torch.no_grad():  # trained-like: non-trivial layer-norm affine parameters and biases
        for name, p in m.named_parameters():
            if p.dim() == 1:
                p.copy_(torch.randn_like(p) * 0.3 + (1.0 if name.endswith("norm.weight") else 0.0))
        m.item_emb.weight[0].zero_()
    return m.eval()


def random_seqs(B, L, num_items, gen):
    """Left padding of random length, a few zeros inside, some rows fully padded or ending in 0."""
    seqs = torch.randint(1, num_items + 1, (B, L), generator=gen)
    for b in range(B):
        pad = int(torch.randint(0, L + 1, (1,), generator=gen))
        seqs[b, :pad] = 0
        if L > 2 and torch.rand(1, generator=gen) < 0.3:
            seqs[b, int(torch.randint(0, L - 1, (1,), generator=gen))] = 0
        if torch.rand(1, generator=gen) < 0.15:
            seqs[b, -1] = 0
    return seqs


def quantize(model, kind: str, tables: bool, gen, act_bits=0):
    """kind: fp32 | uniform-{8,4,2} | random | pruned (one layer all pruned) | onebucket."""
    if kind == "fp32":
        return model
    q = copy.deepcopy(model)
    layers = quantizable_layers(q, embeddings=tables)
    if kind.startswith("uniform"):
        chord.quantize_(q, bits=int(kind.split("-")[1]), embeddings=tables, act_bits=act_bits)
        return q
    spec = {}
    for i, (name, info) in enumerate(layers.items()):
        C = info.channels
        if kind == "onebucket":
            spec[name] = torch.full((C,), int(torch.randint(1, 4, (1,), generator=gen)), dtype=torch.uint8)
        else:
            spec[name] = torch.randint(0, 4, (C,), generator=gen).to(torch.uint8)
            if kind == "pruned" and i % 3 == 0 and "emb" not in name:
                spec[name].zero_()
    chord.quantize_(q, spec, act_bits=act_bits)
    return q


def float64_reference(q):
    """The float model built from what q computes with (dequantized weights), in float64."""
    ref = copy.deepcopy(q)
    chord.dequantize_(ref)
    return ref.double().eval()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    B=st.integers(1, 5),
    L=st.integers(1, 12),
    dh=st.sampled_from([4, 8, 12]),
    heads=st.sampled_from([1, 2, 4]),
    blocks=st.integers(1, 3),
    norm=st.sampled_from(["query", "pre"]),
    ffn=st.sampled_from([8, 24, 40]),
    kind=st.sampled_from(["fp32", "uniform-8", "uniform-4", "uniform-2", "random", "pruned", "onebucket"]),
    tables=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_represent_matches_model_and_float64(B, L, dh, heads, blocks, norm, ffn, kind, tables, seed):
    gen = torch.Generator().manual_seed(seed)
    m = make_model(
        num_items=50, dim=dh * heads, blocks=blocks, heads=heads, max_len=12, norm=norm, ffn_hidden=ffn, seed=seed
    )
    q = quantize(m, kind, tables, gen)
    seqs = random_seqs(B, L, 50, gen)
    runner = rt.compile(q)
    out = runner.represent(seqs)
    with torch.no_grad():
        torch.testing.assert_close(out, q(seqs), **TOL)
        ref64 = float64_reference(q)(seqs)
    torch.testing.assert_close(out.double(), ref64, **TOL)


def test_unscaled_embedding_and_s3rec_training_options_match_model():
    """emb_scale=False (S3-Rec) runs with scale 1; init / ffn_dropout do not change eval."""
    gen = torch.Generator().manual_seed(7)
    torch.manual_seed(0)
    m = SASRec(
        60, dim=16, blocks=2, heads=2, max_len=12, ffn_hidden=24, init="normal", emb_scale=False, ffn_dropout="output"
    ).eval()
    seqs = random_seqs(6, 12, 60, gen)
    with torch.no_grad():
        out = rt.compile(m).represent(seqs)
        torch.testing.assert_close(out, m(seqs), **TOL)
        scaled = SASRec(60, dim=16, blocks=2, heads=2, max_len=12, ffn_hidden=24).eval()
        scaled.load_state_dict(m.state_dict())
        assert not torch.allclose(rt.compile(scaled).represent(seqs), out, **TOL)


@pytest.mark.parametrize("tables", [False, True])
def test_act_bits_8_matches_model(tables):
    gen = torch.Generator().manual_seed(1)
    m = make_model(dim=32, heads=2)
    q = quantize(m, "random", tables, gen, act_bits=8)
    seqs = random_seqs(6, 12, 60, gen)
    with torch.no_grad():
        torch.testing.assert_close(rt.compile(q).represent(seqs), q(seqs), **TOL)


def test_rows_do_not_depend_on_batch_threads_or_isa():
    gen = torch.Generator().manual_seed(2)
    q = quantize(make_model(dim=32, heads=2, norm="pre"), "random", True, gen)
    seqs = random_seqs(40, 12, 60, gen)
    r = rt.compile(q)
    full = r.represent(seqs)
    rows = torch.cat([r.represent(seqs[i : i + 1]) for i in range(seqs.shape[0])])
    # mp_linear may pick another (differently rounding) path for another number of rows
    torch.testing.assert_close(full, rows, atol=1e-5, rtol=1e-5)
    m = make_model(dim=32, heads=2)  # fp32 layers: one accumulation chain per output
    f = rt.compile(m)
    assert torch.equal(f.represent(seqs), torch.cat([f.represent(seqs[i : i + 1]) for i in range(seqs.shape[0])]))
    torch.set_num_threads(2)  # the runner's own task pool, 2 threads
    assert torch.equal(r.represent(seqs), full)
    torch.set_num_threads(1)
    torch.testing.assert_close(rt.compile(q, isa="scalar").represent(seqs), full, atol=1e-5, rtol=1e-5)
    # fp32 layers: the portable and the AVX2 (FMA-contracted) builds of the fp32 kernels
    torch.testing.assert_close(
        rt.compile(m, isa="scalar").represent(seqs), rt.compile(m).represent(seqs), atol=1e-5, rtol=1e-5
    )


def test_empty_batch_and_all_padding():
    r = rt.compile(make_model())
    assert r.represent(torch.zeros(0, 5, dtype=torch.int64)).shape == (0, 16)
    v, i = r.topk(torch.zeros(0, 5, dtype=torch.int64), 3)
    assert v.shape == i.shape == (0, 3)
    m = make_model()
    with torch.no_grad():
        torch.testing.assert_close(
            rt.compile(m).represent(torch.zeros(2, 4, dtype=torch.int64)),
            m(torch.zeros(2, 4, dtype=torch.int64)),
            atol=0,
            rtol=0,
        )


def _ref_scores(runner, q, seqs):
    """float64 scores of the runner's own user representation against q's item table [B, N]."""
    u = runner.represent(seqs).double()
    emb = q.item_emb
    table = emb.mw.dequantize(torch.float64) if isinstance(emb, QuantizedEmbedding) else emb.weight.double()
    return u @ table.T


@pytest.mark.parametrize(
    "kind, tables", [("fp32", False), ("random", False), ("random", True), ("uniform-4", False), ("uniform-4", True)]
)
def test_topk_matches_reference(kind, tables):
    gen = torch.Generator().manual_seed(3)
    q = quantize(make_model(num_items=300, dim=32, heads=2), kind, tables, gen)
    seqs = random_seqs(9, 12, 300, gen)
    r = rt.compile(q)
    k = 7
    vals, ids = r.topk(seqs, k)
    scores = _ref_scores(r, q, seqs)
    scores[:, 0] = float("-inf")  # the padding item is never returned
    assert (ids != 0).all()
    ref_vals = torch.sort(scores, dim=1, descending=True).values[:, :k]
    torch.testing.assert_close(vals.double(), ref_vals, atol=1e-5, rtol=1e-5)  # tie swaps allowed
    torch.testing.assert_close(scores.gather(1, ids), vals.double(), atol=1e-5, rtol=1e-5)
    if isinstance(q.item_emb, QuantizedEmbedding):  # exactly chord.mp_topk, minus item 0
        kv, ki = mp_topk(r.represent(seqs), q.item_emb.mw, k + 1)
        for b in range(seqs.shape[0]):
            keep = ki[b] != 0
            assert torch.equal(ids[b], ki[b][keep][:k]) and torch.equal(vals[b], kv[b][keep][:k])
    # candidates: per row (with repeats and the padding item) and shared
    for cand in (torch.randint(0, 301, (9, 20), generator=gen), torch.randint(0, 301, (20,), generator=gen)):
        cv, ci = r.topk(seqs, 5, cand)
        full = _ref_scores(r, q, seqs)
        c2 = cand.expand(9, -1)
        ref = torch.sort(full.gather(1, c2), dim=1, descending=True).values[:, :5]
        torch.testing.assert_close(cv.double(), ref, atol=1e-5, rtol=1e-5)
        assert all(set(ci[b].tolist()) <= set(c2[b].tolist()) for b in range(9))
        torch.testing.assert_close(full.gather(1, ci), cv.double(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("tables", [False, True])
def test_topk_ties_smaller_id_first(tables):
    m = make_model(num_items=40)
    with torch.no_grad():
        m.final_norm.weight.zero_()
        m.final_norm.bias.zero_()  # every user representation is 0: all scores tie
    q = quantize(m, "uniform-8", tables, torch.Generator().manual_seed(0))
    for B in (1, 5):  # fp32 table: per-row scan (B < 4) and the blocked GEMM scan
        seqs = random_seqs(B, 6, 40, torch.Generator().manual_seed(1))
        vals, ids = rt.compile(q).topk(seqs, 6)
        assert torch.equal(ids, torch.arange(1, 7).expand(B, -1)) and (vals == 0).all()
        _, ci = rt.compile(q).topk(seqs, 4, torch.tensor([9, 3, 3, 0, 7]))
        assert torch.equal(ci, torch.tensor([0, 3, 3, 7]).expand(B, -1))


@pytest.mark.parametrize("B", [1, 6])
def test_topk_large_k_fp32_table(B):
    """k above the sorted-insertion limit (128): collect-and-partial-sort path."""
    gen = torch.Generator().manual_seed(6)
    m = make_model(num_items=300, dim=32, heads=2)
    seqs = random_seqs(B, 12, 300, gen)
    r = rt.compile(m)
    vals, ids = r.topk(seqs, 200)
    scores = r.represent(seqs).double() @ m.item_emb.weight.double().T
    scores[:, 0] = float("-inf")
    torch.testing.assert_close(vals.double(), scores.sort(dim=1, descending=True).values[:, :200], atol=1e-5, rtol=1e-5)
    assert all(len(set(row.tolist())) == 200 for row in ids) and (ids != 0).all()


def test_bad_inputs_raise_clear_errors():
    r = rt.compile(make_model(num_items=60, max_len=12))
    good = torch.ones(2, 5, dtype=torch.int64)
    with pytest.raises(ValueError, match=r"seqs: item ids must be in \[0, 60\].*got 61 at \[1, 2\]"):
        r.represent(torch.tensor([[1, 2, 3], [4, 5, 61]]))
    with pytest.raises(ValueError, match=r"got -1"):
        r.represent(torch.tensor([[1, -1, 3]]))
    with pytest.raises(ValueError, match="seqs: expected an int64 tensor"):
        r.represent(good.int())
    with pytest.raises(ValueError, match="seqs: expected an int64 tensor"):
        r.represent(good[0])
    with pytest.raises(ValueError, match="max_len=12"):
        r.represent(torch.ones(1, 13, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"k: expected 1 <= k <= 60"):
        r.topk(good, 61)
    with pytest.raises(ValueError, match=r"k: expected 1 <= k <= 3"):
        r.topk(good, 4, torch.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="k: expected an int"):
        r.topk(good, 2.0)
    with pytest.raises(TypeError, match="candidates: expected an int64"):
        r.topk(good, 2, torch.tensor([1, 2, 3], dtype=torch.int32))
    with pytest.raises(ValueError, match=r"candidates: item ids must be in \[0, 61\)"):
        r.topk(good, 2, torch.tensor([1, 2, 61]))
    with pytest.raises(ValueError, match=r"candidates: expected \[C\] \(shared\) or \[2, C\]"):
        r.topk(good, 2, torch.ones(3, 4, dtype=torch.int64))


def test_native_runner_checks_candidates_and_outputs():
    """The C++ runner checks what the Python layer already did (csrc/bindings/topk_args.h, the
    checks chord::mp_topk's binding runs too): a caller of the binding gets a ValueError, not a
    wild read or write."""
    r = rt.compile(make_model(num_items=60, max_len=12))
    native = r._live[1]
    seqs = torch.ones(2, 5, dtype=torch.int64).numpy()
    vals, ids = torch.empty(2, 3).numpy(), torch.empty(2, 3, dtype=torch.int64).numpy()
    with pytest.raises(ValueError, match=r"chord.runtime: candidates: expected \[C\] \(shared\) or \[2, C\]"):
        native.topk(seqs, 3, torch.ones(3, 4, dtype=torch.int64).numpy(), vals, ids, 1)
    with pytest.raises(ValueError, match=r"chord.runtime: candidates: expected an int64 array or None"):
        native.topk(seqs, 3, [1, 2, 3], vals, ids, 1)
    with pytest.raises(ValueError, match=r"chord.runtime: outputs: expected \[2, 3\], got \[2, 4\] and \[2, 3\]"):
        native.topk(seqs, 3, None, torch.empty(2, 4).numpy(), ids, 1)
    with pytest.raises(ValueError, match=r"chord.runtime: ids: expected dtype int64"):
        native.topk(seqs, 3, None, vals, torch.empty(2, 3).numpy(), 1)
    native.topk(seqs, 3, torch.arange(1, 5).expand(2, 4).contiguous().numpy(), vals, ids, 1)
    assert set(ids.ravel().tolist()) <= {1, 2, 3, 4}


def test_native_runner_names_a_bad_config_field():
    """The spec's config ints are read by one table (read_ints in csrc/bindings/runtime.cpp): a
    missing or non-integer field is a ValueError naming it, and numpy ints are still accepted."""
    model = make_model()
    runner_cls = type(rt.compile(model)._live[1])
    spec = rt.model_spec(model)
    heads = spec["config"]["heads"]
    spec["config"]["heads"] = np.int64(heads)
    runner_cls(spec)
    spec["config"]["heads"] = str(heads)
    with pytest.raises(ValueError, match=r"chord.runtime: config.heads: expected an int, got str"):
        runner_cls(spec)
    spec["config"]["heads"] = heads
    del spec["config"]["ffn_hidden"]
    with pytest.raises(ValueError, match=r"chord.runtime: config: missing 'ffn_hidden'"):
        runner_cls(spec)


def test_unsupported_models_are_rejected():
    with pytest.raises(rt.UnsupportedModelError, match="expected a chord.models.SASRec or Caser"):
        rt.compile(torch.nn.Linear(2, 2))
    m = make_model()
    with pytest.raises(rt.UnsupportedModelError, match="training mode"):
        rt.compile(copy.deepcopy(m).train())
    h = copy.deepcopy(m)
    h.blocks[0].ffn.register_forward_hook(lambda *a: None)
    with pytest.raises(rt.UnsupportedModelError, match="blocks.0.ffn' has forward hooks"):
        rt.compile(h)
    g = copy.deepcopy(m)
    g.blocks[1].attn.q_proj = torch.nn.Sequential(torch.nn.Linear(16, 16))
    with pytest.raises(rt.UnsupportedModelError, match="blocks.1.attn.q_proj: expected nn.Linear"):
        rt.compile(g)

    class Sub(SASRec):
        def forward(self, seqs, users=None):
            return super().forward(seqs) * 2

    s = Sub(10, dim=8, heads=1, max_len=4).eval()
    with pytest.raises(rt.UnsupportedModelError, match="overrides SASRec.forward"):
        rt.compile(s)
    d = copy.deepcopy(m).double()
    with pytest.raises(rt.UnsupportedModelError, match="expected torch.float32"):
        rt.compile(d)
    with pytest.raises(rt.UnsupportedModelError, match="supports 'relu', got 'gelu'"):
        rt.compile(SASRec(10, dim=8, heads=1, max_len=4, act="gelu").eval())
    with pytest.raises(rt.UnsupportedModelError, match="'post'"):
        rt.compile(SASRec(10, dim=8, heads=1, max_len=4, norm="post").eval())


def test_stale_after_device_model_apply_and_in_place_update():
    gen = torch.Generator().manual_seed(4)
    dev = chord.DeviceModel(make_model(num_items=60, dim=32, heads=2), embeddings=True)
    seqs = random_seqs(4, 12, 60, gen)
    r = rt.compile(dev.model)
    assert r.is_stale() is None
    layers = quantizable_layers(dev.model, embeddings=True)
    dev.apply(chord.Strategy.random(layers, 3.0, seed=1).to_bytes(dev.fingerprint))
    assert r.is_stale()
    with pytest.raises(rt.StaleRuntimeError, match="compile again"):
        r.represent(seqs)
    r = rt.compile(dev.model)  # re-compiled: the new strategy's outputs
    with torch.no_grad():
        torch.testing.assert_close(r.represent(seqs), dev.model(seqs), **TOL)
        dev.model.blocks[0].attn_norm.weight.mul_(2)
    with pytest.raises(rt.StaleRuntimeError, match="modified in place"):
        r.topk(seqs, 3)
    m = make_model()
    r = rt.compile(m)
    chord.quantize_(m, bits=4)
    with pytest.raises(rt.StaleRuntimeError, match="replaced"):
        r.represent(seqs)


def test_runner_keeps_borrowed_tensors_alive():
    gen = torch.Generator().manual_seed(5)
    q = quantize(make_model(), "random", True, gen)
    seqs = random_seqs(3, 12, 60, gen)
    r = rt.compile(q, check_stale=False)
    want = r.represent(seqs)
    del q
    import gc

    gc.collect()
    assert torch.equal(r.represent(seqs), want)
