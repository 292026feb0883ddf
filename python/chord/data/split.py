"""Leave-one-out split and left-padded sequence matrices (vectorized, no per-user loops)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .dataset import SequenceDataset


def pad_left(items: np.ndarray, starts: np.ndarray, ends: np.ndarray, max_len: int) -> np.ndarray:
    """int64 [n, max_len]: row r = the last ``max_len`` of ``items[starts[r]:ends[r]]``, left-padded with 0."""
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    idx = ends[:, None] - max_len + np.arange(max_len, dtype=np.int64)[None, :]
    valid = idx >= starts[:, None]
    if items.size == 0:
        return np.zeros(idx.shape, dtype=np.int64)
    return np.where(valid, items[np.clip(idx, 0, items.size - 1)], 0)


@dataclass
class LeaveOneOut:
    """Leave-one-out split of a :class:`SequenceDataset` (kang205/SASRec, S3-Rec protocol).

    For a user with at least ``min_len`` interactions: test target = last item, valid target =
    second-to-last, training part = the rest. Shorter users are train-only (whole sequence).
    ``train_end[u]`` is the end offset (exclusive, into ``dataset.items``) of user u's training part;
    ``eval_users`` (int64) are the users with a valid/test target.
    """

    dataset: SequenceDataset
    min_len: int = 3

    def __post_init__(self):
        if self.min_len < 3:
            raise ValueError(f"min_len: expected >= 3 (train + valid + test), got {self.min_len}")
        ds = self.dataset
        lengths = ds.lengths
        self.eval_mask = lengths >= self.min_len
        self.eval_users = np.nonzero(self.eval_mask)[0].astype(np.int64)
        self.starts = ds.offsets[:-1]
        self.ends = ds.offsets[1:]
        self.train_end = np.where(self.eval_mask, self.ends - 2, self.ends)

    @property
    def num_users(self) -> int:
        return self.dataset.num_users

    @property
    def num_items(self) -> int:
        return self.dataset.num_items

    def targets(self, stage: str) -> np.ndarray:
        """int64 [len(eval_users)]: the valid or test target item of each eval user."""
        ends = self.ends[self.eval_users]
        if stage == "valid":
            return self.dataset.items[ends - 2]
        if stage == "test":
            return self.dataset.items[ends - 1]
        raise ValueError(f"stage: expected 'valid' or 'test', got {stage!r}")

    def history_end(self, stage: str) -> np.ndarray:
        """int64 [len(eval_users)]: end offset of the input history (valid: train part; test: train + valid)."""
        ends = self.ends[self.eval_users]
        return ends - 2 if stage == "valid" else ends - 1

    def history(self, stage: str, max_len: int) -> torch.Tensor:
        """int64 [len(eval_users), max_len]: model input for ``stage``, left-padded."""
        u = self.eval_users
        return torch.from_numpy(pad_left(self.dataset.items, self.starts[u], self.history_end(stage), max_len))

    def history_csr(self, stage: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(offsets int64 [len(eval_users)+1], items int64) of every eval user's full input history
        (not truncated to max_len) — the items masked in full ranking."""
        u = self.eval_users
        s, e = self.starts[u], self.history_end(stage)
        lens = e - s
        offsets = np.concatenate([[0], np.cumsum(lens)])
        idx = np.repeat(s - offsets[:-1], lens) + np.arange(offsets[-1])
        return torch.from_numpy(offsets), torch.from_numpy(self.dataset.items[idx])

    def train_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """(offsets [num_users+1], items) of each user's training part."""
        lens = self.train_end - self.starts
        offsets = np.concatenate([[0], np.cumsum(lens)])
        idx = np.repeat(self.starts - offsets[:-1], lens) + np.arange(offsets[-1])
        return offsets, self.dataset.items[idx]

    def sequence_matrices(
        self, max_len: int, all_positions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """SASRec-style training rows: (users [n], inputs [n, max_len], targets [n, max_len]).

        Row r: inputs = training part[:-1], targets = training part[1:], both the last
        ``max_len`` positions, left-padded with 0 (target 0 = no loss). Users whose training
        part has fewer than 2 items are dropped. ``all_positions``: a training part longer than
        ``max_len`` + 1 also yields rows for its earlier targets, in chunks of ``max_len``
        (kang205 keeps only the last chunk; long-sequence data such as ML-100K loses half its
        targets that way).
        """
        keep = np.nonzero(self.train_end - self.starts >= 2)[0]
        s, e = self.starts[keep], self.train_end[keep]
        if all_positions:
            n_chunks = (e - s - 1 + max_len - 1) // max_len
            row_user = np.repeat(np.arange(keep.size), n_chunks)
            k = np.arange(n_chunks.sum()) - np.repeat(np.cumsum(n_chunks) - n_chunks, n_chunks)
            keep, s, e = keep[row_user], s[row_user], e[row_user] - k * max_len
        x = pad_left(self.dataset.items, s, e - 1, max_len)
        y = pad_left(self.dataset.items, s + 1, e, max_len)
        return torch.from_numpy(keep), torch.from_numpy(x), torch.from_numpy(y)

    def window_matrices(self, window: int, targets: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Caser-style training instances: (users [n], inputs [n, window], targets [n, targets]).

        One instance per training position j >= 1 of a user: input = the ``window`` items before
        j (left-padded), targets = items j..j+targets-1 inside the training part (0 past its end).
        """
        lens = self.train_end - self.starts
        n_inst = np.maximum(lens - 1, 0)
        users = np.repeat(np.arange(self.num_users, dtype=np.int64), n_inst)
        first = np.repeat(self.starts + 1, n_inst)
        cum = np.concatenate([[0], np.cumsum(n_inst)])
        j = first + (np.arange(cum[-1]) - np.repeat(cum[:-1], n_inst))  # absolute offset of target 1
        x = pad_left(self.dataset.items, self.starts[users], j, window)
        tj = j[:, None] + np.arange(targets)[None, :]
        y = np.where(
            tj < self.train_end[users][:, None], self.dataset.items[np.clip(tj, 0, self.dataset.items.size - 1)], 0
        )
        return torch.from_numpy(users), torch.from_numpy(x), torch.from_numpy(y)
