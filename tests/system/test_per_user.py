"""The per-user batched forward equals the model's own forward (functional_call per user), and the
mixed-precision weights equal the reference quantizer per channel."""

import pytest
import torch
from torch.func import functional_call

from chord.backends.reference import fake_quantize
from chord.codebook import Codebook
from chord.models import Caser, SASRec
from chord.system import QuantizedCopies, per_user_weights
from chord.system.cloud import planned_layers


def _models():
    torch.manual_seed(0)
    return [
        SASRec(40, dim=16, blocks=2, heads=2, max_len=10, dropout=0.0).eval(),
        Caser(40, dim=16, L=4, n_v=2, n_h=3, dropout=0.0, num_users=7).eval(),
    ]


@pytest.mark.parametrize("model", _models(), ids=["sasrec", "caser"])
def test_per_user_forward_equals_functional_call_per_user(model):
    torch.manual_seed(1)
    B = 3
    seqs = torch.randint(0, 41, (B, 10))
    seqs[:, -1] = torch.randint(1, 41, (B,))
    users = torch.arange(B)
    specs = planned_layers(model)
    w = {s.name: model.get_submodule(s.name).weight.detach() + 0.1 * torch.randn(B, *s.shape) for s in specs}
    with per_user_weights(model, w):
        got = model(seqs, users=users)
    for b in range(B):
        params = {f"{s.name}.weight": w[s.name][b] for s in specs}
        ref = functional_call(model, params, (seqs[b : b + 1],), {"users": users[b : b + 1]})
        torch.testing.assert_close(got[b : b + 1], ref, rtol=1e-5, atol=1e-5)
    # leaving the context restores the model's own forward
    base = model(seqs, users=users)
    same = {s.name: model.get_submodule(s.name).weight.detach().expand(B, *s.shape) for s in specs}
    with per_user_weights(model, same):
        torch.testing.assert_close(model(seqs, users=users), base, rtol=1e-5, atol=1e-6)


def test_per_user_weights_rejects_bad_shapes():
    model = _models()[0]
    with pytest.raises(ValueError, match="weights"):
        with per_user_weights(model, {"blocks.0.attn.q_proj": torch.zeros(2, 3, 3)}):
            pass
    with pytest.raises(TypeError, match="weights"):
        with per_user_weights(model, {"blocks.0.attn_norm": torch.zeros(2, 16)}):
            pass
    assert "forward" not in vars(model.get_submodule("blocks.0.attn.q_proj"))


def test_quantized_copies_equal_reference_per_channel():
    model = _models()[1]
    specs = planned_layers(model)
    cb = Codebook.default()
    qc = QuantizedCopies(model, specs, cb)
    torch.manual_seed(2)
    N = sum(s.channels for s in specs)
    codes = torch.randint(0, 4, (2, N))
    w = qc.weights(qc.codes_to_onehot(codes))
    off = 0
    for s in specs:
        W = model.get_submodule(s.name).weight.detach().reshape(s.channels, -1).double()
        for b in range(2):
            for c in range(s.channels):
                bits = cb.bits[int(codes[b, off + c])]
                ref = fake_quantize(W[c : c + 1].float(), bits).double()
                torch.testing.assert_close(w[s.name][b].reshape(s.channels, -1)[c : c + 1].double(), ref)
        off += s.channels


@pytest.mark.parametrize("model", _models(), ids=["sasrec", "caser"])
def test_shared_codes_forward_equals_per_user_forward(model):
    """One strategy for everybody (1-D codes) takes the functional_call path; same result as the
    per-user path with the codes repeated per user."""
    from chord.system import CodesModel

    torch.manual_seed(2)
    B = 4
    seqs = torch.randint(1, 41, (B, 10))
    users = torch.arange(B)
    specs = planned_layers(model)
    codes = torch.randint(0, 4, (sum(s.channels for s in specs),))
    shared = CodesModel(model, lambda s, u: codes, specs)
    per_user = CodesModel(model, lambda s, u: codes.expand(s.shape[0], -1), specs)
    got = shared(seqs, users)
    torch.testing.assert_close(got, per_user(seqs, users), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(got, model(seqs, users=users), atol=1e-4)  # the codes did change the weights


@pytest.mark.parametrize("training", [False, True])
def test_codes_model_leaves_the_backbone_mode_as_it_found_it(training):
    """Evaluator.ranks restores the mode of the model it scores; a CodesModel wrapper starts in its
    backbone's mode, so scoring it never switches a frozen eval backbone's dropout on."""
    from chord.eval.evaluator import Evaluator
    from chord.system import CodesModel
    from tests.helpers import tiny_split

    split = tiny_split()
    torch.manual_seed(0)
    m = Caser(split.num_items, dim=8, L=4, n_v=2, n_h=3, dropout=0.4, num_users=split.num_users).train(training)
    specs = planned_layers(m)
    codes = torch.randint(0, 4, (sum(s.channels for s in specs),))
    wrapped = CodesModel(m, lambda s, u: codes, specs)
    assert wrapped.training is training
    Evaluator(split, 4).ranks(wrapped, "test", "full")
    assert m.training is training and all(mod.training is training for mod in m.modules())
