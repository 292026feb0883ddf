"""Codes for the non-CHORD rows of the table, all evaluated through the same per-user forward
(``chord.system.CodesModel``) as CHORD itself.

- uniform PTQ: every channel at one width;
- random: per-user random codes at the budget (``Strategy.random``: max-entropy tier mix,
  random ranking; seeded by the user index);
- layer-wise mixed precision: one width per layer, chosen from a sensitivity measure (validation
  loss increase when only that layer is quantized) under the average-bit budget;
- population: the CHORD pipeline's mean bit targets over training users, tiered once: the same
  strategy for everybody (isolates the gain from personalization).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from chord.codebook import Codebook
from chord.quantize.layers import LayerInfo
from chord.quantize.strategy import Strategy


def flat_codes(strategy: Strategy, specs: list[LayerInfo]) -> torch.Tensor:
    """Strategy -> long [N] in ``specs`` order."""
    return torch.cat([strategy.codes[s.name].long() for s in specs])


def uniform_codes(specs: list[LayerInfo], bits: int, codebook: Codebook | None = None) -> torch.Tensor:
    cb = codebook or Codebook.default()
    return flat_codes(Strategy.uniform({s.name: (s.channels, s.elems) for s in specs}, bits, cb), specs)


class RandomCodes:
    """codes_fn giving each user (by dense user index) its own random strategy at ``budget``.

    User u's codes are exactly ``Strategy.random(sizes, budget, seed=seed * 1_000_003 + u)``
    (tests/experiments/test_baseline_codes.py checks it), computed here with tensor ops per user: the
    ``Strategy`` path, one object per user, is too slow for datasets with tens of thousands of users.
    """

    def __init__(
        self, specs: list[LayerInfo], budget: float, num_users: int, seed: int = 0, codebook: Codebook | None = None
    ):
        from chord.quantize.strategy import _maxent

        cb = codebook or Codebook.default()
        widths = sorted(set(cb.bits))
        if not widths[0] <= budget <= widths[-1]:
            raise ValueError(f"budget: expected within the codebook's widths [{widths[0]}, {widths[-1]}], got {budget}")
        probs = _maxent(widths, float(budget))
        elems = torch.cat([torch.full((s.channels,), float(s.elems), dtype=torch.float64) for s in specs])
        total = elems.sum()
        bounds = torch.cumsum(torch.tensor([probs[w] for w in reversed(widths)], dtype=torch.float64), 0)
        code_of_tier = torch.tensor([cb.bits.index(w) for w in reversed(widths)], dtype=torch.uint8)
        N = elems.numel()
        self.table = torch.empty(num_users, N, dtype=torch.uint8)
        for u in range(num_users):
            order = torch.randperm(N, generator=torch.Generator().manual_seed(int(seed * 1_000_003 + u)))
            e = elems[order]
            mids = torch.cumsum(e, 0) / total - e / total / 2  # tier by a channel's midpoint share
            tier = torch.bucketize(mids, bounds).clamp(max=len(widths) - 1)
            self.table[u, order] = code_of_tier[tier]
        self.table = self.table.long()

    def __call__(self, seqs, users):
        return self.table[users]


@torch.no_grad()
def sampled_loss(
    model, seqs: torch.Tensor, users: torch.Tensor, targets: torch.Tensor, negs: torch.Tensor, batch: int = 512
) -> float:
    """Mean softmax cross-entropy of the target against its sampled negatives (column 0 = target)."""
    model.eval()
    tot = 0.0
    for a in range(0, seqs.shape[0], batch):
        rep = model(seqs[a : a + batch], users=users[a : a + batch])
        cand = torch.cat([targets[a : a + batch, None], negs[a : a + batch]], 1)
        logits = model.score(rep, cand)
        tot += float(F.cross_entropy(logits, torch.zeros(logits.shape[0], dtype=torch.long), reduction="sum"))
    return tot / seqs.shape[0]


def layer_sensitivity(
    make_model, specs: list[LayerInfo], data, widths=(0, 2, 4, 8), codebook: Codebook | None = None
) -> dict[str, dict[int, float]]:
    """{layer: {width: loss increase}} when only that layer is quantized to that width (the rest
    stays at the widest code). ``make_model(codes long [N]) -> model``; ``data`` = (seqs, users,
    targets, negs) of the validation stage."""
    cb = codebook or Codebook.default()
    top = max(cb.bits)
    base_codes = uniform_codes(specs, top, cb)
    base = sampled_loss(make_model(base_codes), *data)
    out, off = {}, 0
    for s in specs:
        out[s.name] = {}
        for w in widths:
            codes = base_codes.clone()
            codes[off : off + s.channels] = cb.bits.index(w)
            out[s.name][w] = (sampled_loss(make_model(codes), *data) - base) if w != top else 0.0
        off += s.channels
    return out


def allocate_layerwise(
    specs: list[LayerInfo], sens: dict[str, dict[int, float]], budget: float, codebook: Codebook | None = None
) -> torch.Tensor:
    """Greedy knapsack: start every layer at the narrowest width, repeatedly take the upgrade with
    the largest loss decrease per extra bit that still fits the budget. -> codes long [N]."""
    cb = codebook or Codebook.default()
    widths = sorted(set(cb.bits))
    total = sum(s.numel for s in specs)
    cap = budget * total + 1e-6
    cur = {s.name: widths[0] for s in specs}
    used = widths[0] * total
    while True:
        best, best_gain = None, 0.0
        for s in specs:
            i = widths.index(cur[s.name])
            for w in widths[i + 1 :]:
                extra = (w - cur[s.name]) * s.numel
                if used + extra > cap:
                    continue
                gain = (sens[s.name][cur[s.name]] - sens[s.name][w]) / extra
                if best is None or gain > best_gain:
                    best, best_gain = (s, w, extra), gain
        if best is None:
            break
        s, w, extra = best
        cur[s.name] = w
        used += extra
    return torch.cat([torch.full((s.channels,), cb.bits.index(cur[s.name]), dtype=torch.long) for s in specs])


@torch.no_grad()
def mean_targets(system, seqs: torch.Tensor, batch: int = 1024) -> torch.Tensor:
    """The planner's bit targets averaged over ``seqs``' users (no shrinkage). -> float [N]."""
    system.eval()
    acc = None
    for a in range(0, seqs.shape[0], batch):
        t = system.planner.targets(system.profiler(seqs[a : a + batch])).sum(0)
        acc = t if acc is None else acc + t
    return acc / seqs.shape[0]


@torch.no_grad()
def population_codes(system, seqs: torch.Tensor, budget: float, batch: int = 1024) -> torch.Tensor:
    """One strategy for all users: tier the mean bit targets of ``seqs``' users. -> long [N]."""
    return system.planner.plan_from_targets(mean_targets(system, seqs, batch)[None], budget)[0]
