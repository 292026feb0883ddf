# ruff: noqa: E402, UP031 (an experiment script: set-up before imports, printf-style rows)
import time

import torch

torch.set_num_threads(1)
from chord.serve.service_loader import random_service

s = random_service("sasrec", 1682, seed=0)
res = {}
for B in (1, 64):
    g = torch.Generator().manual_seed(B)
    emb = torch.randn(B, 64, generator=g)
    b = torch.rand(B, generator=g) * 6 + 1
    out0 = s.respond(emb, b)
    with torch.inference_mode():
        assert s.respond(emb, b) == out0
    for _rep in range(40):
        for inf in (False, True):
            c0 = time.thread_time()
            if inf:
                with torch.inference_mode():
                    s.respond(emb, b)
            else:
                s.respond(emb, b)
            res.setdefault((B, inf), []).append(time.thread_time() - c0)
for k, v in res.items():
    v = sorted(v)
    print(k, "min %.2f med %.2f ms" % (v[0] * 1e3, v[len(v) // 2] * 1e3))
