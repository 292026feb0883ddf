"""Hypernetworks, importance combination, planning, straight-through relaxation, wire output."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from chord.quantize.strategy import Strategy, StrategyError
from chord.system.cloud import CloudPlanner, Combination, codes_avg_bits, log_importance, planned_layers
from chord.system.cloud.service import CloudService


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 8), nn.Conv2d(1, 4, (3, 2)))


def test_planned_layers_match_modules():
    specs = planned_layers(_mlp())
    assert [(s.name, s.kind, s.channels, s.elems) for s in specs] == [
        ("0", "linear", 16, 12),
        ("2", "linear", 8, 16),
        ("3", "conv2d", 4, 6),
    ]


def test_default_combination_matches_formula_float64():
    torch.manual_seed(0)
    e = [torch.randn(2, 3, 5, dtype=torch.float64), torch.randn(2, 4, 2, dtype=torch.float64)]
    f = [torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)]
    g = torch.randn(2, 2, dtype=torch.float64)
    z = log_importance(e, f, g, Combination(), [3, 4])
    ref = torch.cat(
        [torch.sigmoid(e[i]).mean(-1) * torch.sigmoid(f[i]) * torch.sigmoid(g[:, i : i + 1]) for i in range(2)], 1
    )
    torch.testing.assert_close(z, torch.log2(ref))
    z2 = log_importance(e, f, g, Combination(element="none", layer="softmax"), [3, 4])
    lw = torch.softmax(g, -1) * 2
    ref2 = torch.cat([torch.sigmoid(f[i]) * lw[:, i : i + 1] for i in range(2)], 1)
    torch.testing.assert_close(z2, torch.log2(ref2))
    with pytest.raises(ValueError, match="Combination.element"):
        Combination(element="max")


@pytest.mark.parametrize("rank", [0, 3])
def test_plan_is_batched_and_meets_budget(rank):
    specs = planned_layers(_mlp())
    p = CloudPlanner(specs, 6, element_rank=rank).eval()
    with torch.no_grad():
        for prm in p.hyper.parameters():
            prm.normal_(0, 0.5)
    u = torch.randn(5, 6)
    codes = p.plan(u)
    assert codes.shape == (5, p.num_channels)
    assert (codes_avg_bits(codes, p.sizes, p.codebook) <= 3.0 + 1e-4).all()
    one = torch.cat([p.plan(u[i : i + 1]) for i in range(5)])
    assert torch.equal(codes, one)
    assert not torch.equal(codes[0], codes[1]), "different users should get different strategies"


def test_relax_is_hard_forward_soft_backward():
    specs = planned_layers(_mlp())
    p = CloudPlanner(specs, 6).train()
    u = torch.randn(4, 6)
    y, exp_bits, hard = p.relax(u, noise=0.5)
    assert torch.equal(y.detach(), F.one_hot(hard, 4).float())
    assert (codes_avg_bits(hard, p.sizes, p.codebook) <= 3.0 + 1e-4).all()
    # a loss that prefers wide codes pushes gradients into every hypernetwork level
    (y * torch.tensor([0.0, 1.0, 2.0, 3.0])).sum().backward()
    for net in (p.hyper.element, p.hyper.filter, p.hyper.layer):
        assert net.head.weight.grad is not None and net.head.weight.grad.abs().sum() > 0
    assert p.log_alpha.grad is not None


def test_penalty_mode_trains_the_offset():
    specs = planned_layers(_mlp())
    p = CloudPlanner(specs, 6).train()
    y, exp_bits, hard = p.relax(torch.randn(3, 6), mode="penalty")
    assert torch.equal(y.detach().argmax(-1), hard)
    F.relu(exp_bits - 3.0).pow(2).add(exp_bits).sum().backward()
    assert p.offset.grad is not None and p.offset.grad != 0
    with pytest.raises(ValueError, match="mode"):
        p.relax(torch.randn(1, 6), mode="nope")


def test_service_wire_bytes_decode_to_the_plan():
    model = _mlp()
    specs = planned_layers(model)
    p = CloudPlanner(specs, 6, scope="layer")
    svc = CloudService(p, model)
    u = torch.randn(3, 6)
    wires = svc.respond(u, torch.tensor([2.0, 3.0, 4.0]))
    codes = p.plan(u, torch.tensor([2.0, 3.0, 4.0]))
    sizes = {s.name: (s.channels, s.elems) for s in specs}
    for i, w in enumerate(wires):
        s = Strategy.from_bytes(w, expected_fingerprint=model, layer_infos=sizes)
        assert torch.equal(torch.cat([s.codes[x.name] for x in specs]).long(), codes[i])
        assert s.avg_bits(sizes) <= [2.0, 3.0, 4.0][i] + 1e-6
    other = nn.Sequential(nn.Linear(12, 16))
    with pytest.raises(StrategyError):
        Strategy.from_bytes(wires[0], expected_fingerprint=other)
    with pytest.raises(ValueError, match="scope"):
        CloudPlanner(specs, 6, scope="row")
    assert math.isfinite(float(p.log_importance(u).sum().detach()))


def test_warm_start_layers_reproduces_a_layer_allocation():
    specs = planned_layers(_mlp())
    alloc = {"0": 2, "2": 8, "3": 4}
    budget = sum(alloc[s.name] * s.channels * s.elems for s in specs) / sum(s.channels * s.elems for s in specs)
    want = torch.cat([torch.full((s.channels,), {0: 0, 2: 1, 4: 2, 8: 3}[alloc[s.name]]) for s in specs])
    u = torch.randn(4, 6, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    cold = CloudPlanner(specs, 6).eval()
    assert not torch.equal(cold.plan(u, budget + 1e-6), want.expand(4, -1))
    torch.manual_seed(0)
    warm = CloudPlanner(specs, 6).eval()
    warm.warm_start_layers(alloc)
    assert torch.equal(warm.plan(u, budget + 1e-6), want.expand(4, -1))
    with pytest.raises(ValueError, match="missing"):
        warm.warm_start_layers({"0": 2})
    with pytest.raises(ValueError, match="sigmoid"):
        CloudPlanner(specs, 6, combination=Combination(layer="softmax")).warm_start_layers(alloc)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"element_rank": 3, "combination": Combination(element="mean_logsigmoid")},
        {"scope": "layer", "codes": (0, 3)},
        {"element_rank": 0, "combination": Combination(layer="softmax")},
    ],
    ids=["default", "logsigmoid-rank3", "layer-scope-binary", "direct-head"],
)
def test_fast_planning_is_bit_identical_to_the_plain_computation(kw):
    """Planning (no autograd) reduces element scores layer by layer in a reused buffer and searches
    the budget offset on sorted targets; both must give exactly the plain path's bits: the same
    log-importance floats and the same codes, for single users and batches."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 9), nn.Linear(9, 7))  # 32 channels
        p = CloudPlanner(planned_layers(model), 6, **kw).eval()
        torch.manual_seed(5)
        with torch.no_grad():
            for prm in p.hyper.parameters():
                prm.normal_(0, 0.5)
        for B in (1, 7, 64):
            u = torch.randn(B, 6) * 2
            budget = torch.rand(B) * 5 + 3
            with torch.no_grad():
                fast = p.log_importance(u)
            with torch.enable_grad():  # autograd: the plain computation, as in training
                plain = p.log_importance(u).detach()
            assert torch.equal(fast, plain)
            fast_codes = p.plan(u, budget)
            p.fast_paths = False
            try:
                plain_codes = p.plan(u, budget)
            finally:
                p.fast_paths = True
            assert torch.equal(fast_codes, plain_codes)
    finally:
        torch.set_num_threads(threads)


def test_service_respond_is_to_bytes_of_each_strategy():
    """respond builds the whole batch's wire bytes at once (shared header, packed codes, CRC); they
    must be byte-identical to Strategy.to_bytes, with and without names, for a channel count that
    is not a multiple of 4 (padding bits)."""
    model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 9), nn.Linear(9, 7))
    p = CloudPlanner(planned_layers(model), 6)
    with torch.no_grad():
        for prm in p.hyper.parameters():
            prm.normal_(0, 0.5)
    svc = CloudService(p, model)
    odd = CloudService(CloudPlanner(planned_layers(nn.Sequential(nn.Linear(4, 5), nn.Linear(5, 6))), 6), model)
    assert odd.planner.num_channels == 11
    for s in (svc, odd):
        u = torch.randn(9, 6)
        b = torch.rand(9) * 5 + 2
        for names in (True, False):
            assert s.respond(u, b, names=names) == [x.to_bytes(s.fingerprint, names=names) for x in s.strategies(u, b)]
