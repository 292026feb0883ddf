"""How much could *any* per-user precision strategy gain? The oracle-vs-population headroom.

For a sample of eval users, two strategies at the same average-bit budget are found by the same
search (:func:`local_search`), and both are scored on the users' **test** item, which the search
never reads:

- **population**: one strategy for all sampled users, minimizing their mean **validation** loss;
- **oracle**: one strategy per user, minimizing that user's own validation loss, starting from the
  population strategy and accepting only improvements (so on the search objective it is never worse
  than the population strategy, user by user).

Oracle minus population on test NDCG@10 (paired bootstrap over the sampled users,
:mod:`chord.experiments.significance`) bounds what a per-user planner fed that user's signal could
gain over one strategy for everybody: if the oracle, which sees the user's own next item, cannot
beat the population strategy on the following item, a planner that sees only the history cannot
either (up to the search's coarseness).

Granularity (the search's cost is one forward per candidate per user): channels are searched in
**groups**, ``blocks`` per layer. Within a layer, channels are ranked by their 2-bit quantization
error ``||W_c - Q_2(W_c)||^2`` (a data-free sensitivity statistic) and cut into ``blocks`` blocks of
(near) equal channel count; a group gets one code. The budget is CHORD's: average bits per weight
element of the planned layers, weighted by channel size (``chord.system.cloud.tiering``), never
above the budget.

Loss: softmax cross-entropy of the stage's target over all items, with padding and the user's input
history masked as the full-ranking evaluator masks them (the target itself is not masked).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from chord.backends.reference import fake_quantize
from chord.codebook import Codebook
from chord.data.split import pad_left
from chord.system.copies import QuantizedCopies
from chord.system.per_user import per_user_weights

#: integer bit units of the knapsack: coarser budgets are rounded conservatively (costs up, capacity down)
MAX_UNITS = 4096


@dataclass(frozen=True)
class Groups:
    """A partition of the planned channels (``specs`` order) into searchable groups.

    index long [N]: the group of each channel; elems float64 [G]: weight elements per group;
    names: ``"<layer>#<block>"`` per group (block 0 = the channels with the largest 2-bit error)."""

    index: torch.Tensor
    elems: np.ndarray
    names: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.names)

    def expand(self, codes: torch.Tensor) -> torch.Tensor:
        """group codes long [..., G] -> channel codes long [..., N]."""
        return codes[..., self.index]


def channel_groups(backbone, specs, blocks: int = 2, codebook: Codebook | None = None) -> Groups:
    """``blocks`` groups per layer (fewer where a layer has fewer channels), channels ranked by
    their quantization error at the narrowest non-zero width of ``codebook``."""
    if blocks < 1:
        raise ValueError(f"blocks: expected >= 1, got {blocks}")
    cb = codebook or Codebook.default()
    narrow = min(b for b in cb.bits if b > 0)
    index, elems, names, g = [], [], [], 0
    for s in specs:
        w = backbone.get_submodule(s.name).weight.detach().float().reshape(s.channels, s.elems)
        err = (w - fake_quantize(w, narrow, cb.scheme)).pow(2).sum(1)
        order = torch.argsort(err, descending=True, stable=True)
        idx = torch.empty(s.channels, dtype=torch.long)
        for b, part in enumerate(np.array_split(order.numpy(), min(blocks, s.channels))):
            idx[torch.from_numpy(part)] = g
            elems.append(float(len(part) * s.elems))
            names.append(f"{s.name}#{b}")
            g += 1
        index.append(idx)
    return Groups(torch.cat(index), np.asarray(elems), tuple(names))


def avg_bits(codes: torch.Tensor, groups: Groups, codebook: Codebook | None = None) -> torch.Tensor:
    """group codes long [U, G] -> float64 [U]: average bits per weight element (CHORD's budget)."""
    cb = codebook or Codebook.default()
    w = torch.tensor(cb.bits, dtype=torch.float64)[codes.long()]
    e = torch.from_numpy(groups.elems)
    return (w * e).sum(-1) / e.sum()


def fits(codes: torch.Tensor, groups: Groups, budget: float, codebook: Codebook | None = None) -> torch.Tensor:
    """bool [U]: within ``budget`` (the same 1e-6 bit-element slack as ``allocate_layerwise``)."""
    e = float(groups.elems.sum())
    return avg_bits(codes, groups, codebook) * e <= budget * e + 1e-6


def _units(groups: Groups, budget: float, widths: list[int]):
    """(integer cost [G, K] of each group at each width, integer capacity): exact when the bit
    counts share a divisor giving <= MAX_UNITS units, else costs rounded up and capacity down, so
    any solution within capacity is within the budget."""
    e = groups.elems.astype(np.int64)
    bitcounts = [int(w) * int(x) for x in e for w in widths if w > 0]
    total = float(e.sum()) * max(widths)
    unit = math.gcd(*bitcounts) if bitcounts else 1
    if total / unit > MAX_UNITS:
        unit = total / MAX_UNITS
    cost = np.ceil(np.outer(e, widths) / unit - 1e-9).astype(np.int64)
    cap = int(np.floor(budget * float(e.sum()) / unit + 1e-9))
    return cost, cap


def knapsack(delta: np.ndarray, cost: np.ndarray, cap: int):
    """Multiple-choice knapsack, exact, vectorized over rows.

    delta float [U, G, K] (inf = not allowed); cost int [G, K] >= 0; cap int. -> (choice long [U, G],
    value float [U]) minimizing sum_g delta[u, g, choice] subject to sum_g cost[g, choice] <= cap;
    value inf (and choice -1) where no choice fits."""
    U, G, K = delta.shape
    dp = np.zeros((U, cap + 1))  # best value using capacity <= w
    arg = np.zeros((G, U, cap + 1), dtype=np.int8)
    for g in range(G):
        new = np.full((U, cap + 1), np.inf)
        for k in range(K):
            c = int(cost[g, k])
            if c > cap:
                continue
            cand = np.full((U, cap + 1), np.inf)
            cand[:, c:] = dp[:, : cap + 1 - c] + delta[:, g, k][:, None]
            better = cand < new
            new = np.where(better, cand, new)
            arg[g] = np.where(better, k, arg[g])
        dp = new
    value = dp[:, cap]
    choice = np.full((U, G), -1, dtype=np.int64)
    w = np.full(U, cap)
    rows = np.arange(U)
    for g in range(G - 1, -1, -1):
        k = arg[g, rows, w].astype(np.int64)
        choice[:, g] = k
        w = np.maximum(w - cost[g, k], 0)  # rows with no solution (value inf) are discarded below
    choice[~np.isfinite(value)] = -1
    return choice, value


def start_codes(groups: Groups, budget: float, codebook: Codebook | None = None) -> torch.Tensor:
    """long [G]: every group at the widest code whose uniform strategy fits the budget."""
    cb = codebook or Codebook.default()
    ok = [c for c in range(len(cb.bits)) if cb.bits[c] <= budget + 1e-9]
    if not ok:
        raise ValueError(f"budget: {budget} is below the narrowest width {min(cb.bits)}")
    return torch.full((groups.size,), max(ok, key=lambda c: cb.bits[c]), dtype=torch.long)


def descend_start(evaluate, groups: Groups, budget: float, codebook: Codebook | None = None, log=None):
    """A start from above the budget, for one objective: (codes long [G], evaluations).

    :func:`start_codes` is the widest uniform code that fits. Below the narrowest non-zero width
    (1.5 bits with 0/2/4/8) that is everything pruned, a plateau the one-step search need not
    leave: with a layer's input pruned, widening any one group after it changes nothing (Yelp
    Caser at 1.5 bits stayed at 0.18 bits, reports/2026-12-06-headroom-2.md). Here every group
    starts at the narrowest width at or above the budget and, while over it, narrows the one group
    (one width step) whose step raises ``evaluate(codes [1, G], rows [1])`` least per bit-element
    saved (ties: the lowest group). Deterministic; a budget that is itself a width starts there."""
    cb = codebook or Codebook.default()
    uniform = start_codes(groups, budget, cb)  # refuses a budget below every width
    widths = sorted(set(cb.bits))
    code_of = [cb.bits.index(w) for w in widths]
    above = [i for i, w in enumerate(widths) if w >= budget - 1e-9]
    if not above:  # above the widest width: the widest uniform code fits
        return uniform, 0
    rank = np.full(groups.size, above[0])
    row = torch.zeros(1, dtype=torch.long)

    def value(r):
        return float(evaluate(torch.tensor(code_of)[torch.from_numpy(r)][None], row)[0])

    f, n_eval = value(rank), 1
    while not bool(fits(torch.tensor(code_of)[torch.from_numpy(rank)][None], groups, budget, cb)[0]):
        best = None
        for g in np.flatnonzero(rank > 0):
            cand = rank.copy()
            cand[g] -= 1
            fc = value(cand)
            n_eval += 1
            per_bit = (fc - f) / ((widths[rank[g]] - widths[cand[g]]) * groups.elems[g])
            if best is None or per_bit < best[0]:
                best = (per_bit, cand, fc)
        _, rank, f = best
        if log:
            log(
                f"  descend: {float(avg_bits(torch.tensor(code_of)[torch.from_numpy(rank)], groups, cb)):.3f} bits, "
                f"value {f:.5f}, {n_eval} evaluations"
            )
    return torch.tensor(code_of)[torch.from_numpy(rank)], n_eval


def local_search(
    evaluate,
    start: torch.Tensor,
    groups: Groups,
    budget: float,
    rounds: int = 4,
    codebook: Codebook | None = None,
    log=None,
    on_round=None,
):
    """Minimize U independent objectives over group codes within ``budget``, in lockstep:
    ``evaluate(codes long [R, G], rows long [R]) -> float [R]`` gives objective ``rows[i]`` at
    ``codes[i]`` (one call per candidate move evaluates it for every row that can make it).

    Each round measures every single-group move of one width step (up or down) from the current
    codes, exactly; then proposes (a) the best such move that fits the budget and (b) the exact
    multiple-choice knapsack optimum of the separable model ``f + sum_g delta_g`` inside that
    one-step trust region; a row moves to the better proposal only if its exact value is lower.
    So a row's value never increases, no row ever leaves the budget, and nothing is random.
    ``on_round(r, codes)`` (optional) sees the codes after each round r = 1, 2, ...
    Returns (codes long [U, G], value float [U], evaluations)."""
    cb = codebook or Codebook.default()
    widths = sorted(set(cb.bits))
    code_of = [cb.bits.index(w) for w in widths]  # width order -> code
    rank_of = {c: i for i, c in enumerate(code_of)}
    cur = start.clone().long()
    if cur.dim() == 1:
        cur = cur[None]
    if not bool(fits(cur, groups, budget, cb).all()):
        raise ValueError(f"start: exceeds the budget of {budget} average bits")
    U, G, K = cur.shape[0], groups.size, len(widths)
    cost, cap = _units(groups, budget, widths)
    t0 = time.perf_counter()
    f = torch.as_tensor(evaluate(cur, torch.arange(U)), dtype=torch.float64)
    n_eval = 1
    for r in range(rounds):
        rank = torch.tensor([[rank_of[int(c)] for c in row] for row in cur])  # [U, G] width index
        delta = np.full((U, G, K), np.inf)
        delta[np.arange(U)[:, None], np.arange(G)[None], rank.numpy()] = 0.0
        best_f, best = f.clone(), cur.clone()
        for g in range(G):
            for step in (-1, 1):
                nr = rank[:, g] + step
                rows = ((nr >= 0) & (nr < K)).nonzero().flatten()
                if rows.numel() == 0:
                    continue
                cand = cur[rows].clone()
                cand[:, g] = torch.tensor(code_of)[nr[rows]]
                fc = torch.as_tensor(evaluate(cand, rows), dtype=torch.float64)
                n_eval += 1
                delta[rows.numpy(), g, nr[rows].numpy()] = (fc - f[rows]).numpy()
                ok = fits(cand, groups, budget, cb) & (fc < best_f[rows])
                best_f[rows[ok]], best[rows[ok]] = fc[ok], cand[ok]
        choice, _ = knapsack(delta, cost, cap)
        has = (choice >= 0).all(1)
        if has.any():
            prop = cur.clone()
            prop[torch.from_numpy(has)] = torch.tensor(code_of)[torch.from_numpy(choice[has])]
            rows = (torch.from_numpy(has) & fits(prop, groups, budget, cb) & (prop != cur).any(1)).nonzero().flatten()
            if rows.numel():
                fp = torch.as_tensor(evaluate(prop[rows], rows), dtype=torch.float64)
                n_eval += 1
                ok = fp < best_f[rows]
                best_f[rows[ok]], best[rows[ok]] = fp[ok], prop[rows[ok]]
        moved = (best != cur).any(1)
        if log:
            log(
                f"  round {r + 1}: {int(moved.sum())}/{U} moved, mean value {float(best_f.mean()):.5f}, "
                f"{n_eval} evaluations, {time.perf_counter() - t0:.0f}s"
            )
        cur, f = best, best_f
        if on_round:
            on_round(r + 1, cur)
        if not bool(moved.any()):
            break
    return cur, f, n_eval


class StageLoss:
    """Per-user cross-entropy under group codes, over the frozen backbone.

    Every user has ``k`` search instances (row-major: user u's are rows ``u*k .. u*k+k-1`` of
    ``seqs`` / ``users`` / ``targets`` / ``mask``), weighted by ``weight`` float [U, k] (0 = absent);
    a user's loss is the weighted mean. The quantized copies of every planned layer are computed
    once (``QuantizedCopies``); a candidate's per-user weights are gathered from them.
    ``per_user(codes [R, G], rows)`` scores row i with user ``rows[i]``'s data;
    ``population(codes [G])`` -> the mean over all users (the backbone once, weights swapped)."""

    def __init__(self, backbone, specs, groups: Groups, seqs, users, targets, mask, weight=None, batch: int = 256):
        self.backbone, self.specs, self.groups = backbone.eval(), list(specs), groups
        self.copies = QuantizedCopies(backbone, self.specs)
        self.q = [getattr(self.copies, f"q_{i}") for i in range(len(self.specs))]
        self.seqs, self.users, self.targets = seqs, users, targets
        self.mask = mask  # bool [U*k, num_items + 1]: masked items (padding, history except target)
        self.weight = (torch.ones(seqs.shape[0], 1) if weight is None else weight).double()
        self.U, self.k = self.weight.shape
        if self.U * self.k != seqs.shape[0]:
            raise ValueError(f"weight: expected [users, k] with users * k = {seqs.shape[0]}, got {list(weight.shape)}")
        self.batch = batch

    def _weights(self, ch_codes: torch.Tensor) -> dict:
        out, off = {}, 0
        for s, q in zip(self.specs, self.q):
            c = ch_codes[:, off : off + s.channels]  # [B, C]
            out[s.name] = q[c, torch.arange(s.channels)].reshape(c.shape[0], *s.shape)
            off += s.channels
        return out

    def _loss(self, rep, sel):
        scores = self.backbone.score(rep).float().masked_fill(self.mask[sel], float("-inf"))
        return F.cross_entropy(scores, self.targets[sel], reduction="none").double()

    def _reduce(self, inst_loss: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        w = self.weight[rows]
        # weight-0 instances may carry an infinite loss (a masked target): 0 * inf would be nan; a
        # user without any weighted instance gets 0 under every strategy, so no search moves them
        inst = torch.where(w > 0, inst_loss.view(-1, self.k), 0.0)
        return (inst * w).sum(1) / w.sum(1).clamp_min(1e-12)

    def _frozen(self):
        # the objective must be a function of the codes alone: whoever used the backbone between
        # two calls (per-round test scoring) may have left it in training mode, with dropout on
        self.backbone.eval()

    @torch.no_grad()
    def per_user(self, codes: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """codes long [R, G] for users ``rows`` (default: all, R = U) -> loss float64 [R]."""
        self._frozen()
        rows = torch.arange(self.U) if rows is None else rows
        inst = (rows[:, None] * self.k + torch.arange(self.k)).flatten()
        ch = self.groups.expand(codes).repeat_interleave(self.k, 0)
        out = []
        for a in range(0, inst.numel(), self.batch):
            sel = inst[a : a + self.batch]
            with per_user_weights(self.backbone, self._weights(ch[a : a + self.batch])):
                rep = self.backbone(_trim(self.seqs[sel]), users=self.users[sel])
            out.append(self._loss(rep, sel))
        return self._reduce(torch.cat(out), rows)

    @torch.no_grad()
    def population(self, codes: torch.Tensor) -> torch.Tensor:
        """codes long [G] -> mean loss over all users (float64 scalar)."""
        self._frozen()
        w = self._weights(self.groups.expand(codes.view(1, -1)))
        params = {f"{n}.weight": v[0] for n, v in w.items()}
        n = self.seqs.shape[0]
        out = []
        for a in range(0, n, 4 * self.batch):
            sel = torch.arange(a, min(n, a + 4 * self.batch))
            rep = torch.func.functional_call(
                self.backbone, params, (_trim(self.seqs[sel]),), {"users": self.users[sel]}
            )
            out.append(self._loss(rep, sel))
        return self._reduce(torch.cat(out), torch.arange(self.U)).mean()


def _trim(seqs: torch.Tensor) -> torch.Tensor:
    from chord.eval.evaluator import _trim as trim

    return trim(seqs)


def search_instances(split, eval_rows: torch.Tensor, k: int, max_len: int, mask_seen_target: bool = False):
    """The search's data for eval users ``split.eval_users[eval_rows]``: instance 0 of a user is the
    validation stage (history = training part, target = validation item, masked as the full-ranking
    evaluator masks it); instances 1..k-1 are the user's last training targets, each with the
    history before it (absent, weight 0, where that history would be empty). With
    ``mask_seen_target``, an instance whose target repeats an item of its history weighs 0 as well
    (a miss whatever the strategy). Never the test item.
    -> (seqs long [U*k, max_len], users long [U*k], targets long [U*k], mask bool [U*k, I+1],
    weight float [U, k])."""
    if k < 1:
        raise ValueError(f"k: expected >= 1, got {k}")
    ds = split.dataset
    u = np.asarray(split.eval_users)[eval_rows.numpy()]
    start = split.starts[u]
    val_end = split.ends[u] - 2  # == train_end: the validation history's end, the validation item's offset
    ends = val_end[:, None] - np.arange(k)[None, :]  # [U, k]: history end = target offset
    weight = (ends - start[:, None] >= 1).astype(np.float64)
    weight[:, 0] = 1.0
    ends = np.where(weight > 0, ends, val_end[:, None])
    flat_s, flat_e = np.repeat(start, k), ends.reshape(-1)
    seqs = torch.from_numpy(pad_left(ds.items, flat_s, flat_e, max_len))
    targets = torch.from_numpy(ds.items[flat_e].astype(np.int64))
    mask = torch.zeros(flat_e.size, split.num_items + 1, dtype=torch.bool)
    for i, (a, b) in enumerate(zip(flat_s.tolist(), flat_e.tolist())):
        mask[i, torch.from_numpy(ds.items[a:b].astype(np.int64))] = True
    mask[:, 0] = True
    if mask_seen_target:
        # a target that repeats a history item is masked, so it is a miss under every strategy (the
        # evaluator counts it so): its loss is +inf and says nothing about the strategy, so it weighs 0
        weight.reshape(-1)[mask[torch.arange(flat_e.size), targets].numpy()] = 0.0
    else:
        mask[torch.arange(flat_e.size), targets] = False
    users = torch.from_numpy(np.repeat(u, k))
    return seqs, users, targets, mask, torch.from_numpy(weight)
