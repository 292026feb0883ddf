"""Run mp_linear act8 (M x 4096 x 4096 mix3, rotated weight copies) CALLS times at NT threads with
the .so at SO (built with -DCHORD_GEMM_PROF), then exit normally so the build dumps its events."""

import importlib.machinery
import importlib.util
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "reports", "2026-12-07-avx2-gemm"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from bench import weight  # noqa: E402


def load(path):
    d = tempfile.mkdtemp(prefix="prof")
    dst = os.path.join(d, "_cpu" + importlib.machinery.EXTENSION_SUFFIXES[0])
    shutil.copy(path, dst)
    spec = importlib.util.spec_from_file_location("_cpu", dst)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


m = load(os.environ["SO"])
M = int(os.environ.get("M", "16"))
nt = int(os.environ.get("NT", "2"))
calls = int(os.environ.get("CALLS", "400"))
nrot = int(os.environ.get("ROT", "12"))
gap = int(float(os.environ.get("GAP_US", "0")) * 1000)
args = weight(4096, 4096, "mix3")
copies = [(args[0].copy(),) + tuple(args[1:5]) for _ in range(nrot)]
x = torch.randn(M, 4096, generator=torch.Generator().manual_seed(M)).numpy()
y = np.empty((M, 4096), np.float32)
ts = []
for i in range(calls):
    a = copies[i % nrot]
    if gap:
        e = time.perf_counter_ns() + gap
        while time.perf_counter_ns() < e:
            pass
    t0 = time.perf_counter_ns()
    m.mp_linear(x, 0, *a, 4096, None, 8, y, nt, "avx2", "panel")
    ts.append(time.perf_counter_ns() - t0)
ts = np.array(ts[20:]) / 1e6
print(
    f"gap={gap / 1000:.0f}us M={M} nt={nt} min={ts.min():.3f} p10={np.percentile(ts, 10):.3f} med={np.median(ts):.3f} ms load={os.getloadavg()[0]:.2f}"
)
