"""Batched evaluator: full ranking (history masked) and 1 + n sampled, on any chord model.

Works with anything exposing ``model(seqs, users=...) -> [B, d]`` and
``model.score(repr, item_ids=None)``, so quantized/swapped models evaluate the same way.
"""

from __future__ import annotations

import time

import torch

from ..data.sampling import NegativeSampler
from ..data.split import LeaveOneOut
from .metrics import DEFAULT_KS, metrics_from_ranks, ranks_from_scores

MODES = ("full", "sampled")


def _trim(seqs: torch.Tensor) -> torch.Tensor:
    """Drop leading columns that are padding in every row (left-padded input): less work, same result."""
    nz = (seqs != 0).any(0).nonzero()
    return seqs[:, int(nz[0]) :] if nz.numel() else seqs[:, -1:]


class Evaluator:
    """Leave-one-out evaluation on ``split`` (valid or test stage).

    - full: score all items; mask the padding item and the user's input history. The target
      itself is not masked (default), which matters when a user repeats items (Yelp: 6.7 % of
      test targets are already in the history). ``mask_seen_target=True`` masks it too, as
      S3-Rec's full sort does (it masks every item of ``seq[:-1]``), so a repeated target always
      counts as a miss: the setting to compare with S3-Rec-protocol full-ranking numbers.
    - sampled: the target + ``num_negatives`` distinct items the user never interacted with
      (whole sequence), drawn once per stage with ``seed``.
    Ranks are pessimistic on ties (see :mod:`chord.eval.metrics`).
    """

    def __init__(
        self,
        split: LeaveOneOut,
        max_len: int,
        ks=DEFAULT_KS,
        num_negatives: int = 99,
        seed: int = 2024,
        batch_size: int = 1024,
        mask_seen_target: bool = False,
    ):
        self.split, self.max_len, self.ks = split, int(max_len), tuple(ks)
        self.mask_seen_target = bool(mask_seen_target)
        self.num_negatives, self.seed, self.batch_size = int(num_negatives), int(seed), int(batch_size)
        self.users = torch.from_numpy(split.eval_users)
        self._cache = {}

    def _stage(self, stage: str):
        if stage not in self._cache:
            s = self.split
            seqs = s.history(stage, self.max_len)
            targets = torch.from_numpy(s.targets(stage))
            hist_off, hist_items = s.history_csr(stage)
            # visit users shortest history first so each batch trims to little padding
            order = torch.argsort((seqs != 0).sum(1), stable=True)
            self._cache[stage] = dict(seqs=seqs, targets=targets, hist_off=hist_off, hist_items=hist_items, order=order)
        return self._cache[stage]

    def negatives(self, stage: str) -> torch.Tensor:
        """int64 [n_eval, num_negatives]: the fixed sampled negatives for ``stage``."""
        st = self._stage(stage)
        if "negs" not in st:
            ds = self.split.dataset
            sampler = NegativeSampler(ds.offsets, ds.items, ds.num_items)
            g = torch.Generator().manual_seed(self.seed + (0 if stage == "valid" else 1))
            st["negs"] = sampler.sample_unique(self.users, self.num_negatives, g)
        return st["negs"]

    @torch.no_grad()
    def ranks(self, model, stage: str = "test", mode: str = "full") -> torch.Tensor:
        """int64 [n_eval]: pessimistic 0-based rank of each eval user's target."""
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
        st = self._stage(stage)
        was_training = model.training
        model.eval()
        out = []
        negs = self.negatives(stage) if mode == "sampled" else None
        n = self.users.numel()
        order, off, hist = st["order"], st["hist_off"], st["hist_items"]
        try:
            for a in range(0, n, self.batch_size):
                sel = order[a : a + self.batch_size]
                seqs, users, tgt = _trim(st["seqs"][sel]), self.users[sel], st["targets"][sel]
                rep = model(seqs, users=users)
                if mode == "sampled":
                    cand = torch.cat([tgt.view(-1, 1), negs[sel]], 1)
                    out.append(ranks_from_scores(model.score(rep, cand).float(), 0))
                    continue
                scores = model.score(rep).float()
                pos = scores.gather(1, tgt.view(-1, 1))
                lens = off[sel + 1] - off[sel]
                rows = torch.repeat_interleave(torch.arange(sel.numel()), lens)
                cols = hist[
                    torch.repeat_interleave(off[sel] - torch.cumsum(lens, 0) + lens, lens)
                    + torch.arange(int(lens.sum()))
                ]
                scores[rows, cols] = float("-inf")
                scores[:, 0] = float("-inf")
                if not self.mask_seen_target:  # unmask a target that repeats a history item
                    scores.scatter_(1, tgt.view(-1, 1), pos)
                out.append(ranks_from_scores(scores, tgt))
        finally:
            model.train(was_training)
        ranks = torch.zeros(n, dtype=torch.int64)
        if out:
            ranks[order] = torch.cat(out)
        return ranks

    def evaluate(self, model, stage: str = "test", modes=MODES) -> dict:
        """-> {mode: {"HR@5": .., ..., "NDCG@20": .., "MRR": .., "seconds": .., "users": n}}."""
        res = {}
        for mode in modes:
            t0 = time.perf_counter()
            r = self.ranks(model, stage, mode)
            res[mode] = metrics_from_ranks(r, self.ks)
            res[mode]["seconds"] = time.perf_counter() - t0
            res[mode]["users"] = int(r.numel())
        return res


def format_table(results: dict, title: str = "") -> str:
    """Results dict of :meth:`Evaluator.evaluate` -> a fixed-width text table."""
    keys = [k for k in next(iter(results.values())) if k.startswith(("HR", "NDCG"))]
    lines = [title] if title else []
    lines.append(f"{'mode':<8} " + " ".join(f"{k:>8}" for k in keys) + f" {'users':>7} {'sec':>6}")
    for mode, m in results.items():
        lines.append(f"{mode:<8} " + " ".join(f"{m[k]:8.4f}" for k in keys) + f" {m['users']:7d} {m['seconds']:6.1f}")
    return "\n".join(lines)
