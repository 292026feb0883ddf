# ruff: noqa: E402, UP031 (an experiment script: set-up before imports, printf-style rows)
import json
import time

import torch

torch.set_num_threads(1)
from chord.serve import app as A
from chord.serve.client import strategy_request_body
from chord.serve.service_loader import random_service

s = random_service("sasrec", 1682, seed=0)
fp = s.fingerprint.hex()
w = s.planner.widths
br = (float(w.min()), float(w.max()))
g = torch.Generator().manual_seed(1)
bodies = [strategy_request_body(torch.randn(64, generator=g), 3.0, fp) for _ in range(64)]
print(len(bodies[0]))


def t(f, n=3000):
    best = 1e9
    for _ in range(5):
        c0 = time.process_time()
        for i in range(n):
            f(i)
        best = min(best, (time.process_time() - c0) / n)
    return best * 1e6


print("parse", t(lambda i: A._parse(bodies[i % 64], 64, fp, br, s.num_items)))
print("json.loads", t(lambda i: json.loads(bodies[i % 64])))
import orjson

print("orjson.loads", t(lambda i: orjson.loads(bodies[i % 64])))
embs = [json.loads(b)["user_embedding"] for b in bodies]
print("torch.tensor", t(lambda i: torch.tensor(embs[i % 64], dtype=torch.float32)))
ts = [torch.tensor(e) for e in embs]
print("isfinite", t(lambda i: bool(torch.isfinite(ts[i % 64]).all())))
import numpy as np

print("np.array+isfinite", t(lambda i: np.isfinite(np.array(embs[i % 64], dtype=np.float32)).all()))
print("stack64", t(lambda i: torch.stack(ts), n=300))
