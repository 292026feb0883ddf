"""``SequenceDataset``: every user's chronological item sequence, stored as CSR arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SequenceDataset:
    """Users' interaction sequences in CSR form (no per-user python objects on the hot path).

    ``items`` int64 [nnz]: item ids in 1..num_items (0 is reserved for padding), user after user,
    each user's items oldest first. ``offsets`` int64 [num_users + 1]: user ``u`` (0-based dense
    index) owns ``items[offsets[u]:offsets[u+1]]``. ``user_ids`` [num_users]: the id each dense
    user had in the source file (for reporting only).
    """

    name: str
    num_items: int
    items: np.ndarray
    offsets: np.ndarray
    user_ids: np.ndarray = field(default=None)
    source: str = ""

    def __post_init__(self):
        self.items = np.ascontiguousarray(self.items, dtype=np.int64)
        self.offsets = np.ascontiguousarray(self.offsets, dtype=np.int64)
        if (
            self.offsets.ndim != 1
            or self.offsets.size < 1
            or self.offsets[0] != 0
            or self.offsets[-1] != self.items.size
            or np.any(np.diff(self.offsets) < 0)
        ):
            raise ValueError(
                "offsets: expected a non-decreasing int array from 0 to len(items), "
                f"got {self.offsets.size} entries ending at {self.offsets[-1] if self.offsets.size else None} "
                f"for {self.items.size} items"
            )
        if self.items.size and (self.items.min() < 1 or self.items.max() > self.num_items):
            raise ValueError(f"items: expected ids in 1..{self.num_items}, got {self.items.min()}..{self.items.max()}")
        if self.user_ids is None:
            self.user_ids = np.arange(1, self.num_users + 1, dtype=np.int64)

    @property
    def num_users(self) -> int:
        return int(self.offsets.size - 1)

    @property
    def num_interactions(self) -> int:
        return int(self.items.size)

    @property
    def lengths(self) -> np.ndarray:
        """int64 [num_users]: sequence length of each user."""
        return np.diff(self.offsets)

    def sequence(self, user: int) -> np.ndarray:
        """int64 [len]: user ``user``'s items (0-based dense user index), oldest first."""
        return self.items[self.offsets[user] : self.offsets[user + 1]]

    @property
    def sequences(self) -> list[np.ndarray]:
        """Every user's sequence as a list of int64 arrays (views; for inspection, not hot loops)."""
        return np.split(self.items, self.offsets[1:-1])

    def head(self, num_users: int) -> SequenceDataset:
        """The first ``num_users`` users (item ids unchanged) — for smoke tests on a slice."""
        n = min(num_users, self.num_users)
        end = int(self.offsets[n])
        return SequenceDataset(
            self.name + f"[:{n}]",
            self.num_items,
            self.items[:end].copy(),
            self.offsets[: n + 1].copy(),
            self.user_ids[:n].copy(),
            self.source,
        )

    def __repr__(self) -> str:
        return (
            f"SequenceDataset({self.name!r}, users={self.num_users}, items={self.num_items}, "
            f"interactions={self.num_interactions})"
        )

    @classmethod
    def from_pairs(
        cls, name: str, users: np.ndarray, items: np.ndarray, num_items: int | None = None, source: str = ""
    ) -> SequenceDataset:
        """Build from parallel (user, item) arrays already in chronological order within each user.

        Users are grouped with a stable sort, so the within-user order of the input is kept.
        """
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        order = np.argsort(users, kind="stable")
        users, items = users[order], items[order]
        uniq, counts = np.unique(users, return_counts=True)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        n_items = int(items.max()) if num_items is None and items.size else int(num_items or 0)
        return cls(name, n_items, items, offsets, uniq, source)
