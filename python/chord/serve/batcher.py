"""Dynamic batching: concurrent requests -> one planner forward.

Requests wait in a bounded ``asyncio.Queue``; one batcher task takes the first and everything
already queued, then waits up to ``max_wait_s`` for more, but only while the batch is smaller
than the recent batches (an EWMA of their sizes), or, when requests queued during the last
forward, than those plus the ones it just answered (their clients are the likeliest to send
again): under steady load the requests that arrived during the last forward already make a full
batch and go at once, clients do not split into groups that take turns at half-full forwards,
and a lone request at low load does not wait for company that a closed-loop client cannot send. The wait is woken by each
arrival (no polling). The batch runs ``CloudService.respond`` in a worker thread (torch releases
the GIL, so the event loop keeps accepting and parsing meanwhile). A request carries either a
user embedding or recent item ids; the batch's item-id requests are profiled in one profiler
call first.

Overload is signalled before latency grows: ``submit`` raises ``Overloaded`` at once when the
queue is full; when the oldest waiting request has waited longer than ``max_queue_s`` since it
arrived (the handler's arrival time, so time spent parsing on a busy event loop counts too); or
when the wait it predicts (requests ahead / the measured strategies per second) is over it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import torch

from chord.system.cloud.service import CloudService

from . import defaults
from .counters import Metrics


class Overloaded(Exception):
    """The request queue is full (the server answers 503 + Retry-After)."""


class Batcher:
    """service: the CloudService; max_batch: most requests per forward; max_wait_s: how long the
    first request of a batch waits for company; queue: most requests waiting (past it: Overloaded);
    max_queue_s: longest wait admitted, the oldest queued request's or the predicted one (None: only
    the queue bound)."""

    def __init__(
        self,
        service: CloudService,
        *,
        max_batch: int = defaults.MAX_BATCH,
        max_wait_s: float = defaults.MAX_WAIT_MS / 1e3,
        queue: int = defaults.QUEUE,
        max_queue_s: float | None = defaults.MAX_QUEUE_MS / 1e3,
        metrics: Metrics | None = None,
        names: bool = True,
    ):
        for name, v, lo in (("max_batch", max_batch, 1), ("queue", queue, 1)):
            if int(v) < lo:
                raise ValueError(f"{name}: expected >= {lo}, got {v}")
        if not max_wait_s >= 0:
            raise ValueError(f"max_wait_s: expected >= 0 seconds, got {max_wait_s}")
        self.service = service
        self.max_batch = int(max_batch)
        self.max_wait_s = float(max_wait_s)
        self.queue_size = int(queue)
        if max_queue_s is not None and not max_queue_s > 0:
            raise ValueError(f"max_queue_s: expected > 0 seconds or None, got {max_queue_s}")
        self.max_queue_s = max_queue_s
        self.rate = None  # strategies per second of recent forwards (EWMA), None until measured
        #: recent batch sizes (EWMA): a batch stops waiting for company once it is this large
        self.typical_batch = 1.0
        self.names = names
        self.metrics = metrics or Metrics(self.max_batch)
        self._arrived: asyncio.Event | None = None
        self._queue: asyncio.Queue | None = None
        # arrival times of the queued requests, oldest first (the queue is FIFO and only the
        # batcher takes from it, so this stays in step with it)
        self._arrivals: deque[float] = deque()
        self._task: asyncio.Task | None = None
        # one thread: forwards run one at a time (torch parallelizes inside each)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chord-planner")

    @property
    def depth(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    def oldest_wait(self, now: float | None = None) -> float:
        """Seconds the oldest queued request has waited since it arrived (0 when none waits)."""
        if not self._arrivals:
            return 0.0
        return (time.perf_counter() if now is None else now) - self._arrivals[0]

    def start(self) -> None:
        self._queue = asyncio.Queue(self.queue_size)
        self._arrived = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="chord-batcher")

    async def warm_up(self, d_user: int) -> None:
        """One full-size forward before serving: the first users do not pay for lazy set-up, and
        the predicted-wait shedding has a rate from the start (a burst may arrive all at once)."""
        emb = torch.randn(self.max_batch, d_user, generator=torch.Generator().manual_seed(0))
        budget = float(self.service.planner.budget)
        batch = [(e, None, budget, None) for e in emb]
        if self.service.profiler is not None:  # and the profiler, on half of the batch
            items = list(range(1, min(self.service.num_items, 20) + 1))
            batch[::2] = [(None, items, budget, None)] * len(batch[::2])
        t0 = time.perf_counter()
        await asyncio.get_running_loop().run_in_executor(self._pool, self._forward, batch)
        self.rate = self.max_batch / max(time.perf_counter() - t0, 1e-6)
        self.metrics.set_rate(self.rate)

    async def stop(self) -> None:
        """Finish every queued request, then stop (graceful shutdown)."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None
        self._pool.shutdown(wait=True)

    def overloaded(self, now: float | None = None) -> str | None:
        """Why a request arriving now would be shed (None: it would be queued, unless the queue
        fills first). Cheap: the handler asks before it reads and parses the body."""
        if self.max_queue_s is None:
            return None
        waited = self.oldest_wait(now)
        if waited > self.max_queue_s:
            return f"the oldest queued request has waited {waited * 1e3:.0f} ms (limit {self.max_queue_s * 1e3:.0f} ms)"
        depth = self._queue.qsize() if self._queue is not None else 0
        if self.rate is not None and depth >= self.max_batch and depth / self.rate > self.max_queue_s:
            return f"{depth} requests ahead, about {depth / self.rate * 1e3:.0f} ms of work (limit {self.max_queue_s * 1e3:.0f} ms)"
        return None

    async def submit(
        self, emb: torch.Tensor | None, budget: float, *, items=None, arrived: float | None = None
    ) -> bytes:
        """One user's request -> its strategy wire bytes. emb float32 [d_user], or None with
        ``items`` (recent item ids, most recent last; needs the service's profiler); budget:
        average bits; arrived: ``time.perf_counter()`` when the request arrived (default now)."""
        now = time.perf_counter()
        arrived = now if arrived is None else arrived
        reason = self.overloaded(now)
        if reason:
            raise Overloaded(reason)
        fut = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait((emb, items, budget, fut))
        except asyncio.QueueFull:
            raise Overloaded(f"{self.queue_size} requests already waiting") from None
        self._arrivals.append(arrived)
        self._arrived.set()
        self._publish()
        return await fut

    def _publish(self) -> None:
        """Queue depth and the oldest arrival into the metrics (other workers read them there)."""
        oldest = time.monotonic() - self.oldest_wait() if self._arrivals else None
        self.metrics.set_queue(len(self._arrivals), oldest)

    def _target(self, answered: int) -> int:
        """How many requests a batch waits for (up to ``max_wait_s``): as many as the recent
        batches held, and, when requests queued during the last forward, those plus the ``answered``
        requests that forward answered. Their clients are the likeliest company (a closed-loop client
        sends again at once); without them, clients split into groups that take turns (8 + 8 at 16
        clients), each forward half as full; the planner is the one busy core, and a forward's fixed
        cost is paid twice as often (reports/2026-12-07-serve-4.md)."""
        return min(self.max_batch, max(1, round(self.typical_batch), 1 + self._queue.qsize() + answered))

    async def _gather(self, answered: int) -> list:
        """The next batch: the first request, everything already queued, then each arrival until
        ``_target(answered)`` requests or ``max_wait_s`` after the first."""
        q = self._queue
        batch = [await q.get()]
        self._arrivals.popleft()
        deadline = time.perf_counter() + self.max_wait_s
        want = self._target(answered)
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
            # woken by the next arrival; waiting on an Event, not on q.get(): cancelling a
            # pending get at the timeout could drop an item
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                pass
        return batch

    async def _run(self) -> None:
        q = self._queue
        loop = asyncio.get_running_loop()
        answered = 0  # requests the last forward answered while others already waited for the next
        while True:
            batch = await self._gather(answered)
            answered = 0
            self._publish()
            self.typical_batch = 0.8 * self.typical_batch + 0.2 * len(batch)
            # a client that hung up still counts: its slot in the batch is cheap, and dropping it
            # here would race with the handler; its answer is simply never read
            t0 = time.perf_counter()
            try:
                out = await loop.run_in_executor(self._pool, self._forward, batch)
            except Exception as e:  # noqa: BLE001 - a failed forward fails its batch, not the server
                for *_, fut in batch:
                    if not fut.done():
                        fut.set_exception(e)
            else:
                r = len(batch) / max(time.perf_counter() - t0, 1e-6)
                self.rate = r if self.rate is None else 0.8 * self.rate + 0.2 * r
                self.metrics.set_rate(self.rate)
                self.metrics.batch_done(len(batch))
                for (*_, fut), wire in zip(batch, out):
                    if not fut.done():
                        fut.set_result(wire)
                if not q.empty():
                    answered = len(batch)
            for _ in batch:
                q.task_done()

    def _forward(self, batch) -> list[bytes]:
        """[(emb or None, item ids or None, budget, future)] -> wire bytes, in order."""
        budgets = torch.tensor([b[2] for b in batch], dtype=torch.float32)
        by_items = [i for i, b in enumerate(batch) if b[0] is None]
        if not by_items:
            emb = torch.stack([b[0] for b in batch])
        else:
            seqs = [batch[i][1] for i in by_items]
            width = max(len(x) for x in seqs)
            padded = torch.zeros(len(seqs), width, dtype=torch.int64)  # left padding with item 0
            for row, x in zip(padded, seqs):
                row[width - len(x) :] = torch.as_tensor(x, dtype=torch.int64)
            profiled = self.service.profile(padded)
            emb = torch.empty(len(batch), profiled.shape[1])
            emb[by_items] = profiled
            rest = [i for i, b in enumerate(batch) if b[0] is not None]
            if rest:
                emb[rest] = torch.stack([batch[i][0] for i in rest])
        return self.service.respond(emb, budgets, names=self.names)
