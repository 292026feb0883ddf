# ruff: noqa: E401, E402, E701, E702 (a measurement script, kept as run)
import sys
import time

import torch

from chord.backends import cpu as cb
from chord.bench.config import mix_codes, parse_mix
from chord.quantize.modules import MixedPrecisionLinear

M, K, N, ab, n = (int(v) for v in sys.argv[1:6])
torch.set_num_threads(1)
lin = torch.nn.Linear(K, N)
me = MixedPrecisionLinear.from_float(lin, mix_codes(parse_mix("mix3")[1], N, seed=1), act_bits=ab)
x = torch.randn(1, M, K)
with torch.no_grad():
    me(x)
    h = me.__dict__["_cpu_handle"].handle
    b = lin.bias.detach()
    y = torch.empty(M, N)
    xp, yp, bp = x.data_ptr(), y.data_ptr(), b.data_ptr()
    f = cb._cpu.mp_linear_ptr
    import os

    g = cb._cpu.mp_linear
    P = os.environ.get("P")
    mw = me.mw
    RAW = (
        None
        if not P
        else (
            x[0].numpy(),
            0,
            mw.qweight.numpy(),
            mw.scales.numpy(),
            mw.zeros.numpy(),
            mw.perm.numpy(),
            mw.buckets,
            K,
            b.numpy(),
            ab,
            y.numpy(),
            1,
            "auto",
            P,
        )
    )
    t0 = time.thread_time()
    for _ in range(n):
        f(h, xp, 0, M, K, 1, bp, ab, yp, N, 1) if not RAW else g(*RAW)
    print((time.thread_time() - t0) / n * 1e6, "us")
