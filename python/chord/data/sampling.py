"""Seeded negative sampling that excludes each user's items, vectorized over users.

Membership is tested with one ``searchsorted`` over sorted keys ``user * (num_items + 1) + item``,
so sampling a [batch, n] block costs a few tensor ops, not a python loop per user.
"""

from __future__ import annotations

import numpy as np
import torch


class NegativeSampler:
    """Uniform negatives over items 1..num_items that the user never interacted with.

    ``offsets`` int64 [num_users + 1] / ``items`` int64: the items to exclude per user (CSR).
    """

    def __init__(self, offsets, items, num_items: int):
        offsets = torch.as_tensor(np.asarray(offsets), dtype=torch.int64)
        items = torch.as_tensor(np.asarray(items), dtype=torch.int64)
        self.num_items = int(num_items)
        self.num_users = int(offsets.numel() - 1)
        lens = offsets[1:] - offsets[:-1]
        users = torch.repeat_interleave(torch.arange(self.num_users), lens)
        self.keys = torch.unique(users * (self.num_items + 1) + items)  # sorted
        self.counts = torch.zeros(self.num_users, dtype=torch.int64).index_add_(0, users, torch.ones_like(users))
        # distinct items per user (sequences may repeat items, e.g. Yelp)
        ku = self.keys // (self.num_items + 1)
        self.distinct = torch.bincount(ku, minlength=self.num_users)

    def contains(self, users: torch.Tensor, cand: torch.Tensor) -> torch.Tensor:
        """bool, shape of ``cand``: whether item cand[r, ...] is in user users[r]'s items."""
        key = users.view(-1, *([1] * (cand.dim() - 1))) * (self.num_items + 1) + cand
        pos = torch.searchsorted(self.keys, key).clamp_(max=max(self.keys.numel() - 1, 0))
        if self.keys.numel() == 0:
            return torch.zeros_like(cand, dtype=torch.bool)
        return self.keys[pos] == key

    def sample(self, users: torch.Tensor, shape, generator: torch.Generator | None = None) -> torch.Tensor:
        """int64 [len(users), *shape]: independent negatives (duplicates allowed) — for training."""
        users = torch.as_tensor(users, dtype=torch.int64)
        out = torch.randint(1, self.num_items + 1, (users.numel(), *shape), generator=generator)
        bad = self.contains(users, out)
        while bad.any():  # redraw only collisions; expected few rounds
            out[bad] = torch.randint(1, self.num_items + 1, (int(bad.sum()),), generator=generator)
            bad = self.contains(users, out)
        return out

    def sample_unique(
        self, users: torch.Tensor, n: int, generator: torch.Generator | None = None, exclude: torch.Tensor | None = None
    ) -> torch.Tensor:
        """int64 [len(users), n]: n distinct negatives per user, none in the user's items (nor in
        ``exclude`` [len(users)] if given) — for the 1 + n sampled evaluation."""
        users = torch.as_tensor(users, dtype=torch.int64)
        free = self.num_items - self.distinct[users]
        if exclude is not None:
            free = free - (~self.contains(users, exclude.view(-1, 1)).view(-1)).long()
        if users.numel() and int(free.min()) < n:
            r = int(torch.argmin(free))
            raise ValueError(f"n: user {int(users[r])} has only {int(free[r])} items left to sample, need {n}")
        out = torch.zeros(users.numel(), n, dtype=torch.int64)
        filled = torch.zeros(users.numel(), dtype=torch.int64)
        todo = torch.arange(users.numel())
        draw = n * 2 + 8
        while todo.numel():
            u = users[todo]
            cand = torch.randint(1, self.num_items + 1, (todo.numel(), draw), generator=generator)
            ok = ~self.contains(u, cand)
            if exclude is not None:
                ok &= cand != exclude[todo].view(-1, 1)
            # merge with what is already filled, keep first occurrences of distinct values in draw order
            prev = out[todo]
            prev_ok = torch.arange(n).view(1, -1) < filled[todo].view(-1, 1)
            allc = torch.cat([prev, cand], 1)
            allok = torch.cat([prev_ok, ok], 1)
            sv, si = torch.sort(torch.where(allok, allc, 0), dim=1, stable=True)
            dup = torch.zeros_like(allok)
            dup_sorted = torch.cat([torch.zeros(sv.shape[0], 1, dtype=torch.bool), sv[:, 1:] == sv[:, :-1]], 1)
            dup.scatter_(1, si, dup_sorted)
            keep = allok & ~dup
            # order kept entries by original column, take the first n
            col = torch.arange(allc.shape[1]).expand_as(allc)
            rank_key = torch.where(keep, col, allc.shape[1] + col)
            order = torch.argsort(rank_key, dim=1)[:, :n]
            got = keep.sum(1).clamp(max=n)
            out[todo] = torch.gather(allc, 1, order) * (torch.arange(n).view(1, -1) < got.view(-1, 1))
            filled[todo] = got
            todo = todo[got < n]
        return out
