"""A tiny synthetic dataset for CHORD training tests (structured so there is something to learn)."""
import numpy as np

from chord.data import LeaveOneOut, SequenceDataset


def tiny_split(users: int = 24, items: int = 30, seed: int = 0) -> LeaveOneOut:
    rng = np.random.default_rng(seed)
    seqs = []
    for u in range(users):
        start = int(rng.integers(1, items + 1))
        n = int(rng.integers(6, 12))
        seqs.append([(start + k * (1 + u % 2) - 1) % items + 1 for k in range(n)])
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in seqs])])
    return LeaveOneOut(SequenceDataset("tiny", items, np.concatenate(seqs), offsets))
