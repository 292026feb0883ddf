# ruff: noqa: E402, UP031 (an experiment script: set-up before imports, printf-style rows)
"""In-process chord serve --random with an event timeline (experiment, not shipped).

``_run`` below is a copy of ``Batcher._run`` as it stood before a1b46f6 (no wait for the clients
a forward just answered; no per-batch error handling) with a "fire" event added. It stays a copy:
importing today's loop would trace another batching policy than the one the report describes."""

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
import asyncio


async def _run(self):
    q = self._queue
    loop = asyncio.get_running_loop()
    while True:
        batch = [await q.get()]
        self._arrivals.popleft()
        t_first = pc()
        deadline = time.perf_counter() + self.max_wait_s
        want = min(self.max_batch, max(1, round(self.typical_batch)))
        while len(batch) < self.max_batch:
            try:
                batch.append(q.get_nowait())
                self._arrivals.popleft()
                continue
            except asyncio.QueueEmpty:
                pass
            left = deadline - time.perf_counter()
            if left <= 0 or len(batch) >= want:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                pass
        ev.append(("fire", t_first, pc(), len(batch), want))
        self._publish()
        self.typical_batch = 0.8 * self.typical_batch + 0.2 * len(batch)
        t0 = time.perf_counter()
        out = await loop.run_in_executor(self._pool, self._forward, batch)
        r = len(batch) / max(time.perf_counter() - t0, 1e-6)
        self.rate = r if self.rate is None else 0.8 * self.rate + 0.2 * r
        self.metrics.set_rate(self.rate)
        self.metrics.batch_done(len(batch))
        for (*_, fut), wire in zip(batch, out):
            if not fut.done():
                fut.set_result(wire)
        for _ in batch:
            q.task_done()


B.Batcher._run = _run
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
