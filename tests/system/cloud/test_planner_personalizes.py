"""A trained planner gives different users different strategies when their losses differ, and the
budget-aware backward (implicit offset) does not ask for more bits everywhere."""

import torch
from torch import nn

from chord.experiments.personalization import personalization
from chord.system.cloud import CloudPlanner, codes_avg_bits, planned_layers

ERR = torch.tensor([1.0, 0.5, 0.1, 0.0])  # loss per code (pruned, 2, 4, 8 bits) of a channel that matters


def _planner(seed=0):
    torch.manual_seed(seed)
    specs = planned_layers(nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 16)))
    return CloudPlanner(specs, 6, hidden=32, element_rank=4)


def _users(n, gen):
    """Two kinds of users; kind 0 needs the first half of the channels, kind 1 the second half."""
    kind = torch.randint(0, 2, (n,), generator=gen)
    u = torch.nn.functional.one_hot(kind, 6).float() * 2 + 0.1 * torch.randn(n, 6, generator=gen)
    return kind, u


def _train(p, steps=150, implicit=True):
    gen = torch.Generator().manual_seed(1)
    N = p.num_channels
    need = torch.zeros(2, N)
    need[0, : N // 2] = 1
    need[1, N // 2 :] = 1
    opt = torch.optim.Adam(p.parameters(), lr=1e-2)
    p.train()
    for i in range(steps):
        kind, u = _users(32, gen)
        y, _, _ = p.relax(u, tau=1.0 - 0.7 * i / steps, noise=0.5, implicit_offset=implicit)
        loss = ((y * ERR).sum(-1) * (need[kind] + 0.05)).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return need


def test_trained_planner_gives_distinct_users_distinct_strategies():
    p = _planner()
    need = _train(p)
    p.eval()
    kind, u = _users(64, torch.Generator().manual_seed(2))
    codes = p.plan(u)
    assert (codes_avg_bits(codes, p.sizes, p.codebook) <= 3.0 + 1e-4).all()
    pers = personalization(codes, p.sizes)
    assert pers["varying_channels"] > 0.4, pers
    width = torch.tensor(p.codebook.bits, dtype=torch.float32)[codes]  # [U, N]
    # each kind of user gets more bits on the channels it needs than the other kind gets there
    for k in (0, 1):
        mine = width[kind == k][:, need[k] > 0].mean()
        theirs = width[kind != k][:, need[k] > 0].mean()
        assert mine > theirs + 3.0, (k, float(mine), float(theirs))  # without the implicit offset: <= 2.0
    # negative control: the same planner fed one embedding for everybody cannot personalize
    same = p.plan(u[:1].expand(64, -1))
    assert personalization(same, p.sizes)["varying_channels"] == 0


def test_implicit_offset_cancels_a_uniform_push_for_more_bits():
    p = _planner()
    N = p.num_channels
    t = torch.randn(3, N, requires_grad=True)
    x0 = (t + 0.5).detach()
    gi = torch.zeros(N, dtype=torch.long)
    corr = p._offset_correction(x0, t, gi, 1, 0.7)
    assert torch.equal(corr.detach(), torch.zeros(3, N))  # forward unchanged
    from chord.system.cloud.tiering import ordinal_probs

    soft = ordinal_probs(t + 0.5 + corr, p.thr, 0.7)  # as in relax()
    exp_bits = (soft * p.widths * p.sizes[:, None]).sum((-1, -2))
    (g,) = torch.autograd.grad(exp_bits.sum(), t)
    # raising every target by the same amount cannot buy bits: the budget takes them back
    torch.testing.assert_close(g.sum(-1), torch.zeros(3), atol=1e-3, rtol=0)
    # without the correction the same gradient is strictly positive (the drift this fixes)
    soft0 = ordinal_probs(t + 0.5, p.thr, 0.7)
    (g0,) = torch.autograd.grad((soft0 * p.widths * p.sizes[:, None]).sum(), t)
    assert (g0.sum(-1) > 1.0).all()
