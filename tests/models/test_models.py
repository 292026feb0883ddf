"""SASRec / Caser: shapes, interface, swappable layers, functional_call, padding invariance."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call

from chord.models import Caser, SASRec, build_model

N_ITEMS = 57


def models():
    return [
        SASRec(N_ITEMS, 16, 2, 2, 0.0, 10, norm="query"),
        SASRec(N_ITEMS, 16, 1, 4, 0.0, 10, norm="pre", ffn_hidden=32),
        SASRec(N_ITEMS, 16, 2, 2, 0.0, 10, norm="post", ffn_hidden=64, act="gelu"),
        Caser(N_ITEMS, 16, L=4, T=2, n_v=3, n_h=2, dropout=0.0, num_users=9),
        Caser(N_ITEMS, 16, L=3, n_v=0, n_h=4, dropout=0.0),
        Caser(N_ITEMS, 16, L=4, n_v=2, n_h=2, dropout=0.0, head="untied", dropout_pos="before_fc1"),
    ]


def seqs(B=5, l=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = torch.randint(1, N_ITEMS + 1, (B, l), generator=g)
    s[1, :6] = 0  # left padding
    s[2, :9] = 0
    return s


@pytest.mark.parametrize("model", models(), ids=lambda m: m.config["model"])
def test_forward_and_score_shapes(model):
    model.eval()
    x, users = seqs(), torch.arange(5)
    rep = model(x, users=users)
    assert rep.shape == (5, 16) and rep.dtype == torch.float32 and torch.isfinite(rep).all()
    full = model.score(rep)
    assert full.shape == (5, N_ITEMS + 1)
    cand = torch.randint(1, N_ITEMS + 1, (5, 7))
    torch.testing.assert_close(model.score(rep, cand), full.gather(1, cand))


@pytest.mark.parametrize("model", models(), ids=lambda m: m.config["model"])
def test_only_swappable_dense_layers(model):
    assert not any(isinstance(m, nn.MultiheadAttention) for m in model.modules())
    dense = [n for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert dense
    embs = [n for n, m in model.named_modules() if isinstance(m, nn.Embedding)]
    assert "item_emb" in embs and model.item_emb.num_embeddings == N_ITEMS + 1
    # every parameter belongs to a Linear/Conv2d/Embedding/LayerNorm
    owners = (nn.Linear, nn.Conv2d, nn.Embedding, nn.LayerNorm)
    for n, m in model.named_modules():
        if list(m.parameters(recurse=False)):
            assert isinstance(m, owners), n


@pytest.mark.parametrize("model", models(), ids=lambda m: m.config["model"])
def test_functional_call_with_substituted_weights(model):
    model.eval()
    x, users = seqs(), torch.arange(5)
    params = {k: v.detach() * 0.5 for k, v in model.named_parameters()}
    out = functional_call(model, params, (x,), {"users": users})
    ref = build_model(model.config).eval()
    ref.load_state_dict({**model.state_dict(), **params})
    torch.testing.assert_close(out, ref(x, users=users))
    # gradients flow to the substituted weights (what CLOUD trains through)
    params = {k: v.detach().clone().requires_grad_() for k, v in model.named_parameters()}
    functional_call(model, params, (x,), {"users": users}).sum().backward()
    assert all(p.grad is not None for k, p in params.items() if "fc1" in k or "q_proj" in k)


@pytest.mark.parametrize("norm", ["query", "pre", "post"])
def test_sasrec_left_padding_and_trimming_do_not_change_output(norm):
    m = SASRec(N_ITEMS, 16, 2, 2, 0.0, 12, norm=norm).eval()
    x = seqs(l=8)
    padded = torch.nn.functional.pad(x, (4, 0))
    torch.testing.assert_close(m(x), m(padded), atol=1e-5, rtol=1e-5)
    enc = m.encode(x)
    assert enc.shape == (5, 8, 16) and (enc[1, :6] == 0).all()
    # causal: changing a later item never changes earlier positions
    x2 = x.clone()
    x2[:, -1] = (x2[:, -1] % N_ITEMS) + 1
    torch.testing.assert_close(m.encode(x2)[:, :-1], enc[:, :-1])


def test_sasrec_variants_differ_and_reject_bad_config():
    torch.manual_seed(0)
    a = SASRec(N_ITEMS, 16, 1, 1, 0.0, 10, norm="query")
    b = SASRec(N_ITEMS, 16, 1, 1, 0.0, 10, norm="pre")
    b.load_state_dict(a.state_dict())
    assert not torch.allclose(a.eval()(seqs()), b.eval()(seqs()))
    c = SASRec(N_ITEMS, 16, 1, 1, 0.0, 10, norm="post")
    c.load_state_dict(a.state_dict())
    assert not torch.allclose(a(seqs()), c.eval()(seqs())) and not torch.allclose(b(seqs()), c(seqs()))
    g = SASRec(N_ITEMS, 16, 1, 1, 0.0, 10, norm="query", act="gelu")
    g.load_state_dict(a.state_dict())
    assert not torch.allclose(a(seqs()), g.eval()(seqs()))
    assert "act" not in a.config and g.config["act"] == "gelu"  # old checkpoints' configs unchanged
    with pytest.raises(ValueError, match="norm"):
        SASRec(N_ITEMS, norm="bogus")
    with pytest.raises(ValueError, match="act"):
        SASRec(N_ITEMS, act="tanh")
    with pytest.raises(ValueError, match="heads"):
        SASRec(N_ITEMS, 16, heads=3)
    with pytest.raises(ValueError, match="max_len"):
        SASRec(N_ITEMS, 16, max_len=4)(seqs(l=10))
    with pytest.raises(ValueError, match="seqs"):
        SASRec(N_ITEMS, 16)(seqs().float())


def test_caser_needs_users_when_it_has_user_embeddings():
    m = Caser(N_ITEMS, 16, num_users=9)
    with pytest.raises(ValueError, match="users"):
        m(seqs())
    assert m.conv_v.weight.shape == (4, 1, 5, 1)
    assert [c.weight.shape[2:] for c in m.conv_h] == [(h, 16) for h in range(1, 6)]
    # windows longer than L use the last L items; shorter ones are left-padded
    m.eval()
    x = seqs()
    torch.testing.assert_close(m(x, users=torch.arange(5)), m(x[:, -5:], users=torch.arange(5)))


def test_build_model_round_trip_and_errors():
    for m in models():
        assert build_model(m.config).config == m.config
    with pytest.raises(ValueError, match="config"):
        build_model({"model": "gru4rec"})


@pytest.mark.parametrize("emb_scale", [True, False])
def test_sasrec_post_ln_gelu_matches_a_float64_reference(emb_scale):
    """norm="post", act="gelu" (S3-Rec's SASRec): LN(item*sqrt(d) + pos), then per block
    x = LN(x + Attn(x)), x = LN(x + FFN(x)), no final LN; written out by hand in float64."""
    torch.manual_seed(3)
    m = (
        SASRec(
            N_ITEMS,
            16,
            2,
            2,
            0.0,
            10,
            norm="post",
            ffn_hidden=64,
            act="gelu",
            emb_scale=emb_scale,
            init="normal",
            ffn_dropout="output",
        )
        .double()
        .eval()
    )
    with torch.no_grad():  # non-trivial layer-norm affine parameters and biases
        for name, p in m.named_parameters():
            if p.dim() == 1:
                p.copy_(torch.randn_like(p) * 0.3 + (1.0 if name.endswith("norm.weight") else 0.0))
    x_ids = seqs(l=7)
    F = torch.nn.functional

    def ln(mod, t):
        return F.layer_norm(t, (16,), mod.weight, mod.bias, 1e-8)

    B, l = x_ids.shape
    keep = (x_ids != 0).unsqueeze(-1).double()
    x = m.item_emb.weight[x_ids] * (4.0 if emb_scale else 1.0) + m.pos_emb.weight[10 - l :]
    x = ln(m.final_norm, x) * keep
    allowed = torch.ones(l, l, dtype=torch.bool).tril() & ((x_ids != 0).unsqueeze(1) | torch.eye(l, dtype=torch.bool))
    for blk in m.blocks:
        a = blk.attn
        q, k, v = (lin(x).view(B, l, 2, 8).transpose(1, 2) for lin in (a.q_proj, a.k_proj, a.v_proj))
        w = (q @ k.transpose(-1, -2) / 8**0.5).masked_fill(~allowed.unsqueeze(1), float("-inf")).softmax(-1)
        x = ln(blk.attn_norm, x + a.out_proj((w @ v).transpose(1, 2).reshape(B, l, 16)))
        h = blk.ffn.fc1(x)
        h = 0.5 * h * (1 + torch.erf(h / 2**0.5))
        x = ln(blk.ffn_norm, x + blk.ffn.fc2(h)) * keep
    torch.testing.assert_close(m.encode(x_ids), x, rtol=1e-10, atol=1e-10)


def _caser_reference(m, x_ids, users, drop_mask=None):
    """Caser written out by hand (float64): filters -> [dropout] -> fc1 -> ReLU -> [dropout] ->
    head; ``drop_mask`` (already scaled by 1/(1-p)) multiplies where ``m.dropout_pos`` says."""
    F = torch.nn.functional
    E = m.item_emb.weight[x_ids[:, -m.L :]]  # [B, L, d]
    parts = [
        torch.einsum("bld,vl->bvd", E, m.conv_v.weight[:, 0, :, 0]).flatten(1) + m.conv_v.bias.repeat_interleave(m.dim)
    ]
    for h, conv in enumerate(m.conv_h, start=1):
        win = E.unfold(1, h, 1)  # [B, L-h+1, d, h]
        a = torch.einsum("btdh,nhd->bnt", win, conv.weight[:, 0]) + conv.bias[:, None]
        parts.append(F.relu(a).amax(2))
    h = torch.cat(parts, 1)
    if drop_mask is not None and m.dropout_pos == "before_fc1":
        h = h * drop_mask
    z = F.relu(h @ m.fc1.weight.t() + m.fc1.bias)
    if drop_mask is not None and m.dropout_pos == "after_fc1":
        z = z * drop_mask
    x = torch.cat([z, m.user_emb.weight[users]], 1) if m.user_emb is not None else z
    if m.fc2 is not None:
        x = F.relu(x @ m.fc2.weight.t() + m.fc2.bias)
    table, bias = (m.out_emb.weight, m.out_bias.weight[:, 0]) if m.out_emb is not None else (m.item_emb.weight, 0.0)
    return x, x @ table.t() + bias


@pytest.mark.parametrize("head", ["fc2", "untied"])
@pytest.mark.parametrize("num_users", [0, 9])
def test_caser_heads_match_a_float64_reference(head, num_users):
    """head="untied" (original Caser): [z; P_u] against out_emb + out_bias, no fc2."""
    torch.manual_seed(4)
    m = Caser(N_ITEMS, 16, L=4, n_v=3, n_h=2, dropout=0.0, num_users=num_users, head=head).double().eval()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "bias" in name:  # non-zero biases, item bias included
                p.copy_(torch.randn_like(p) * 0.3)
    x, users = seqs(), torch.arange(5)
    rep_ref, full_ref = _caser_reference(m, x, users)
    rep = m(x, users=users)
    assert rep.shape == (5, m.repr_dim)
    assert m.repr_dim == (32 if head == "untied" and num_users else 16)
    torch.testing.assert_close(rep, rep_ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(m.score(rep), full_ref, rtol=1e-10, atol=1e-10)
    cand = torch.randint(1, N_ITEMS + 1, (5, 7))
    torch.testing.assert_close(m.score(rep, cand), full_ref.gather(1, cand), rtol=1e-10, atol=1e-10)
    assert (m.out_emb is None) == (head == "fc2") and (m.fc2 is None) == (head == "untied" or not num_users)


@pytest.mark.parametrize("dropout_pos", ["after_fc1", "before_fc1"])
def test_caser_dropout_position_matches_a_float64_reference(dropout_pos):
    torch.manual_seed(5)
    m = Caser(N_ITEMS, 16, L=4, n_v=3, n_h=2, dropout=0.5, num_users=9, dropout_pos=dropout_pos).double().train()
    x, users = seqs(), torch.arange(5)
    width = 3 * 16 + 2 * 4 if dropout_pos == "before_fc1" else 16
    torch.manual_seed(11)
    rep = m(x, users=users)
    torch.manual_seed(11)  # the forward's only random draw is its dropout mask
    mask = torch.nn.functional.dropout(torch.ones(5, width, dtype=torch.float64), 0.5, True)
    torch.testing.assert_close(rep, _caser_reference(m, x, users, mask)[0], rtol=1e-10, atol=1e-10)
    m.eval()  # eval: both positions are the same function
    torch.testing.assert_close(m(x, users=users), _caser_reference(m, x, users)[0], rtol=1e-10, atol=1e-10)


def test_caser_options_config_round_trip_and_errors():
    a = Caser(N_ITEMS, 16, num_users=9)
    assert "head" not in a.config and "dropout_pos" not in a.config  # old checkpoints' configs unchanged
    b = Caser(N_ITEMS, 16, num_users=9, head="untied", dropout_pos="before_fc1")
    c = build_model(b.config)
    assert (c.head, c.dropout_pos) == ("untied", "before_fc1") and c.config == b.config
    assert set(c.state_dict()) == set(b.state_dict()) and "out_emb.weight" in b.state_dict()
    assert "fc2.weight" not in b.state_dict() and "out_emb.weight" not in a.state_dict()
    with pytest.raises(ValueError, match="head"):
        Caser(N_ITEMS, head="bogus")
    with pytest.raises(ValueError, match="dropout_pos"):
        Caser(N_ITEMS, dropout_pos="bogus")


def test_sasrec_ffn_dropout_output_only_matches_a_float64_reference():
    """ffn_dropout="output" (S3-Rec): fc2(act(fc1 x)) then one dropout; "both" also drops after act."""
    from chord.models.sasrec import FeedForward

    F = torch.nn.functional
    x = torch.randn(4, 3, 8, dtype=torch.float64)
    for at in ("output", "both"):
        torch.manual_seed(0)
        ffn = FeedForward(8, 16, 0.5, "gelu", at).double().train()
        torch.manual_seed(9)
        out = ffn(x)
        torch.manual_seed(9)  # the same masks, in the forward's order
        h = F.gelu(x @ ffn.fc1.weight.t() + ffn.fc1.bias)
        if at == "both":
            h = F.dropout(h, 0.5, True)
        ref = F.dropout(h @ ffn.fc2.weight.t() + ffn.fc2.bias, 0.5, True)
        torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)


def test_sasrec_s3rec_options_init_and_config_round_trip():
    torch.manual_seed(0)
    a = SASRec(500, 64, 2, 2, 0.5, 50)
    assert not {"init", "emb_scale", "ffn_dropout"} & set(a.config)  # old checkpoints' configs unchanged
    b = SASRec(500, 64, 2, 2, 0.5, 50, norm="post", init="normal", emb_scale=False, ffn_dropout="output")
    assert (b.config["init"], b.config["emb_scale"], b.config["ffn_dropout"]) == ("normal", False, "output")
    c = build_model(b.config)
    assert c.config == b.config and not c.emb_scale and c.blocks[0].ffn.dropout_at == "output"
    for name, p in b.named_parameters():  # BERT init: N(0, 0.02) weights, zero Linear biases, LN 1/0
        if "norm" in name:
            assert torch.equal(p, torch.ones_like(p) if name.endswith("weight") else torch.zeros_like(p)), name
        elif p.dim() == 1:
            assert torch.equal(p, torch.zeros_like(p)), name
        elif p.numel() > 2000:
            assert abs(float(p.detach().std()) - 0.02) < 0.002, name
    assert float(b.item_emb.weight.detach().std()) < 0.03 < float(a.item_emb.weight.detach().std())  # xavier: 0.06
    assert torch.equal(b.item_emb.weight[0], torch.zeros(64))
    with pytest.raises(ValueError, match="init"):
        SASRec(N_ITEMS, init="kaiming")
    with pytest.raises(ValueError, match="ffn_dropout"):
        SASRec(N_ITEMS, ffn_dropout="inner")
