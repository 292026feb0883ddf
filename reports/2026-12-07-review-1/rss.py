"""Resident memory after one mp_linear act8 call (y freed): python rss.py PATH M (PYTHONPATH=<tree>/python:<tree>)."""

import gc
import sys

import torch

from tests.backends.test_cpu_mp_linear import make_weight, run_binding


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


N, K, M = 512, 128, int(sys.argv[2])
mw = make_weight(N, K, torch.full((N,), 3, dtype=torch.uint8))
x = torch.randn(1, K).expand(M, K)  # stride-0 rows: no memory of its own
print("path", sys.argv[1], "rss before MiB", round(rss()))
y = run_binding(x, mw, None, 8, "avx2", 1, sys.argv[1])
print("y MiB", y.numel() * 4 / 2**20)
del y
gc.collect()
print("rss after (y freed) MiB", round(rss()))
