"""M = 16 (and M = 32), 4096^2, 1 thread, CPU time of this thread: chord act8 (GEMM forced, direct,
auto), torch dynamic int8 and llama.cpp Q2_K (the bench's ggml peer, one set) in one process,
alternated round by round (min over rounds of the min over repeats).

    python reports/2026-12-07-avx2-gemm/q2k.py
"""

import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ["TIMER"] = "cpu"
from bench import _cpu, wall_ms, weight  # noqa: E402

from chord.bench.peer_ggml import ggml_matmul  # noqa: E402

torch.set_num_threads(1)
N = K = 4096
args = weight(N, K, "mix3")
g = torch.Generator().manual_seed(0)
w = torch.randn(N, K, generator=g)
lin = torch.nn.Linear(K, N)
dyn = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(lin), {torch.nn.Linear}, torch.qint8)
for M in (16, 32):
    x, y = torch.randn(M, K, generator=g), torch.empty(M, N)
    q2k = ggml_matmul("ggml_q2_k", w, x, 1, 1)
    fns = {
        p: (lambda p=p: _cpu.mp_linear(x.numpy(), 0, *args[:5], K, None, 8, y.numpy(), 1, "avx2", p))
        for p in ("panel", "direct", "auto")
    }
    fns["dyn"] = lambda: dyn(x)
    fns["q2_k"] = lambda: q2k.fn(0)
    best = {}
    with torch.no_grad():
        for _ in range(3):
            for k, f in fns.items():
                best[k] = min(best.get(k, float("inf")), wall_ms(f, 0.3))
    print(f"M={M} t=1 " + " ".join(f"{k}={v:.3f}" for k, v in best.items()), time.strftime("%H:%M:%S"), flush=True)
