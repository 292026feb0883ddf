# ruff: noqa: E402, UP031 (an experiment script: set-up before imports, printf-style rows)
"""In-process chord serve --random with an event timeline (experiment, not shipped).

Traces the batching policy as it stood before a1b46f6: today's ``Batcher`` with its ``_target``
hook set back to that policy (wait for as many as the recent batches held, no more: not for the
clients the last forward answered), and a "fire" event per gathered batch. The loop is the
batcher's own. Until the hook existed this script carried a copy of the old ``Batcher._run``; that
copy differed from today's loop only in the target and in lacking per-batch error handling, which a
trace without failing forwards never enters."""

import json
import sys
import time

import torch

port, mi, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
extra = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
torch.set_num_threads(1)
if "switch" in extra:
    sys.setswitchinterval(extra.pop("switch"))
from chord.serve import app as A
from chord.serve import batcher as B
from chord.serve.service_loader import random_service

ev = []  # (kind, t, a)
pc = time.perf_counter
orig_fwd = B.Batcher._forward


def fwd(self, batch):
    t0, c0 = pc(), time.thread_time()
    r = orig_fwd(self, batch)
    ev.append(("fwd", t0, pc(), time.thread_time() - c0, len(batch)))
    return r


B.Batcher._forward = fwd
orig_sub = B.Batcher.submit


async def sub(self, emb, budget, *, items=None, arrived=None):
    ev.append(("q", pc(), time.thread_time()))
    return await orig_sub(self, emb, budget, items=items, arrived=arrived)


B.Batcher.submit = sub


fire = []  # (t_first, want) of the batch being gathered


def target(self, answered):  # the policy before a1b46f6: ignores ``answered``
    want = min(self.max_batch, max(1, round(self.typical_batch)))
    fire.append((pc(), want))  # called once per batch, right after its first request
    return want


orig_gather = B.Batcher._gather


async def gather(self, answered):
    batch = await orig_gather(self, answered)
    t_first, want = fire.pop()
    ev.append(("fire", t_first, pc(), len(batch), want))
    return batch


B.Batcher._target = target
B.Batcher._gather = gather
svc = random_service("sasrec", 1682, seed=0)
inner = A.create_app(svc, max_inflight=None if mi == "none" else int(mi), **extra)


async def app(scope, receive, send):
    if scope["type"] != "http" or scope["path"] != "/v1/strategy":
        return await inner(scope, receive, send)
    t0 = pc()
    st = []

    async def send2(msg):
        if msg["type"] == "http.response.start":
            st.append(msg["status"])
        await send(msg)

    await inner(scope, receive, send2)
    ev.append(("req", t0, pc(), st[0] if st else 0))


import atexit

import uvicorn


def dump():
    with open(out, "w") as f:
        json.dump(ev, f)


atexit.register(dump)
uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)).run()
