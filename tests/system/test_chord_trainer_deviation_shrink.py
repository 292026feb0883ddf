"""The per-user deviation penalty (training) and the shrinkage toward one strategy (planning):
each changes what it claims to change, on a tiny model, and nothing else."""

import pytest
import torch

from chord.experiments.baseline_codes import mean_targets, population_codes
from chord.models import Caser
from chord.system import ChordConfig, build_system
from chord.system.chord_trainer import _Step, deviation_penalty
from tests.helpers import tiny_split


def _system(split, **kw):
    torch.manual_seed(0)
    cfg = ChordConfig(d_user=8, hidden=16, history=8, progress=False, threads=1, budget=1.5, **kw)
    bb = Caser(split.num_items, num_users=split.num_users, dim=16, L=8, n_v=2, n_h=4)
    return build_system(bb, cfg), cfg


def test_deviation_penalty_matches_formula_float64():
    torch.manual_seed(0)
    t = torch.randn(5, 7, dtype=torch.float64)
    sizes = torch.randint(1, 9, (7,)).double()
    ref = (
        sum(float(sizes[c] / sizes.sum()) * float((t[b, c] - t[:, c].mean()) ** 2) for b in range(5) for c in range(7))
        / 5
    )
    assert float(deviation_penalty(t, sizes)) == pytest.approx(ref, rel=1e-12)
    # one strategy for everybody costs nothing, whatever it is
    assert float(deviation_penalty(t[:1].expand(5, 7), sizes)) == 0.0


def test_deviation_penalty_pulls_rows_to_their_mean_without_moving_it():
    torch.manual_seed(1)
    t = torch.randn(6, 10, dtype=torch.float64, requires_grad=True)
    sizes = torch.arange(1, 11, dtype=torch.float64)
    deviation_penalty(t, sizes).backward()
    torch.testing.assert_close(t.grad.sum(0), torch.zeros(10, dtype=torch.float64))  # mean stays
    dev = (t - t.mean(0)).detach()
    assert float((t.grad * dev).sum()) > 0  # the gradient points away from the mean: descent shrinks
    t2 = (t - 0.1 * t.grad).detach()
    assert float(deviation_penalty(t2, sizes)) < float(deviation_penalty(t.detach(), sizes))


def test_trainer_objective_adds_exactly_the_weighted_penalty():
    """Same batch, same noise: the loss with ``deviation`` = the loss without it + weight *
    deviation_penalty(the planner's targets), and the planner's gradient changes."""
    split = tiny_split(users=10)
    system, cfg = _system(split)
    x = split.history("valid", 8)
    users = torch.arange(x.shape[0])
    pos = torch.randint(1, split.num_items + 1, (x.shape[0],))
    neg = torch.randint(1, split.num_items + 1, (x.shape[0], cfg.num_negatives))
    system.train()
    out = {}
    for w in (0.0, 0.7):
        system.zero_grad(set_to_none=True)
        torch.manual_seed(5)  # the same Gumbel noise in both runs
        loss, _ = _Step(system, ChordConfig(**{**cfg.__dict__, "deviation": w}))(x, users, pos, neg, 0.5, 1.5)
        loss.backward()
        grad = torch.cat([p.grad.flatten() for p in system.planner.hyper.parameters() if p.grad is not None])
        out[w] = (float(loss.detach()), grad)
    with torch.no_grad():
        t = system.planner.targets(system.profiler(x))
    pen = float(deviation_penalty(t, system.planner.sizes))
    assert pen > 0
    assert out[0.7][0] == pytest.approx(out[0.0][0] + 0.7 * pen, rel=1e-5)
    assert not torch.allclose(out[0.7][1], out[0.0][1])
    with pytest.raises(ValueError, match="deviation"):
        ChordConfig(deviation=-1.0)


def test_shrink_interpolates_between_population_and_per_user_codes():
    split = tiny_split(users=12)
    system, _ = _system(split)
    system.eval()
    # untrained heads give near-identical users: spread them so the two ends differ
    with torch.no_grad():
        for p in system.planner.hyper.parameters():
            p.mul_(30)
    seqs = split.history("test", 8)
    own = system.plan(seqs, 1.5)
    center = mean_targets(system, seqs)
    pop = population_codes(system, seqs, 1.5)
    assert not torch.equal(own, pop.expand_as(own))  # the check below can fail
    system.planner.set_shrink(center, 0.0)
    assert torch.equal(system.plan(seqs, 1.5), pop.expand_as(own))
    system.planner.set_shrink(center, 1.0)
    assert torch.equal(system.plan(seqs, 1.5), own)
    system.planner.set_shrink(center, 0.5)
    with torch.no_grad():
        t = system.planner.targets(system.profiler(seqs))
    expect = system.planner.plan_from_targets(center + 0.5 * (t - center), 1.5)
    assert torch.equal(system.plan(seqs, 1.5), expect)
    assert torch.equal(mean_targets(system, seqs), center)  # the population ignores the shrink
    with pytest.raises(ValueError, match="center"):
        system.planner.set_shrink(center[:-1], 0.25)
    with pytest.raises(ValueError, match="shrink"):
        system.planner.set_shrink(center, -0.1)
    assert system.planner.shrink == 0.5 and torch.equal(system.plan(seqs, 1.5), expect)  # failed calls changed nothing
    system.planner.set_shrink(None)
    assert torch.equal(system.plan(seqs, 1.5), own)


def test_layer_and_channel_parts_of_the_deviation_shrink_separately():
    split = tiny_split(users=12)
    system, _ = _system(split)
    p = system.planner
    torch.manual_seed(3)
    t = torch.randn(4, p.num_channels, dtype=torch.float64)
    center = torch.randn(p.num_channels, dtype=torch.float64)
    d = t - center
    ref = torch.empty_like(t)
    for g, c in ((1.0, 0.0), (0.0, 1.0), (0.3, 0.8)):
        p.set_shrink(center, g, c)
        off = 0
        for s in p.specs:  # float64 reference, layer by layer
            dl = d[:, off : off + s.channels]
            m = dl.mean(1, keepdim=True)
            ref[:, off : off + s.channels] = center[off : off + s.channels] + g * m + c * (dl - m)
            off += s.channels
        torch.testing.assert_close(p.shrunk(t), ref)
    p.set_shrink(center, 1.0, 1.0)
    assert torch.equal(p.shrunk(t), t)
    p.set_shrink(center, 0.4)  # channel None: the plain uniform shrinkage
    torch.testing.assert_close(p.shrunk(t), center + 0.4 * d)
    with pytest.raises(ValueError, match="channel"):
        p.set_shrink(center, 0.5, float("nan"))
