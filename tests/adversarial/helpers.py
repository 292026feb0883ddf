"""Shared pieces of the adversarial suite (issue 16): every case is marked ``clear_error`` (the
call must raise the given exception with a message naming the argument / file / field) or
``correct`` (the call must return the right result); ``pytest tests/adversarial -m clear_error
--collect-only -q`` counts them."""

from __future__ import annotations

import pytest
import torch

import chord

clear_error = pytest.mark.clear_error
correct = pytest.mark.correct


def error_cases(cases):
    """[(id, thunk, exc, regex)] -> pytest params marked clear_error."""
    return [pytest.param(f, exc, rx, id=i, marks=clear_error) for i, f, exc, rx in cases]


def packed(N=8, K=64, seed=0, codes=None, codebook=None):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(N, K, generator=g)
    if codes is None:
        codes = torch.randint(0, 4, (N,), generator=g, dtype=torch.uint8)
        codes[0] = 3
    return chord.pack(w, codes, codebook)
