"""The batcher in process (no server): shedding by the oldest queued request's wait."""

from __future__ import annotations

import asyncio
import time

import torch

from chord.serve.batcher import Batcher, Overloaded


class _SlowService:
    """Stands in for CloudService: each forward takes ``seconds``; answers name their user."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.profiler = None
        self.batches: list[int] = []
        self.started: list[float] = []  # perf_counter() at the start of each forward

    def respond(self, emb, budgets, names=True):
        self.started.append(time.perf_counter())
        time.sleep(self.seconds)
        self.batches.append(len(emb))
        return [f"user {float(e[0]):g} budget {float(b):g}".encode() for e, b in zip(emb, budgets)]


def test_sheds_new_requests_while_the_oldest_queued_one_waits_too_long():
    """One forward takes 300 ms; while it runs, queued requests age. Past 50 ms of the oldest
    one's wait, new requests get Overloaded at once (no rate is known yet, so only the oldest-wait
    rule can shed); once the queue drains, requests are admitted again, and every admitted request
    gets its own answer."""

    async def scenario():
        svc = _SlowService(0.3)
        b = Batcher(svc, max_batch=4, max_wait_s=0.0, queue=100, max_queue_s=0.05)
        b.start()
        first = asyncio.ensure_future(b.submit(torch.tensor([0.0]), 3.0))
        await asyncio.sleep(0.02)  # the batcher took it: the forward runs for 300 ms
        queued = [asyncio.ensure_future(b.submit(torch.tensor([float(i)]), 3.0)) for i in (1, 2)]
        await asyncio.sleep(0.1)  # the queued ones have now waited 100 ms > 50 ms
        assert b.oldest_wait() > 0.05
        t = time.perf_counter()
        try:
            await b.submit(torch.tensor([9.0]), 3.0)
            raise AssertionError("admitted while the oldest queued request had waited 100 ms")
        except Overloaded as e:
            assert "oldest" in str(e)
        assert time.perf_counter() - t < 0.05  # shed at once, not after a wait
        answers = await asyncio.gather(first, *queued)
        assert answers == [f"user {i} budget 3".encode() for i in (0, 1, 2)]
        assert b.oldest_wait() == 0.0
        assert await b.submit(torch.tensor([5.0]), 2.0) == b"user 5 budget 2"  # admitted again
        await b.stop()

    asyncio.run(scenario())


def test_a_batch_waits_for_company_only_while_smaller_than_recent_batches():
    """max_wait is 1 s. A lone request after lone requests (recent batches of 1) goes at once;
    after batches of 4 it waits for company, and the wait ends as soon as 4 are in, not at the
    deadline; with nobody coming it ends at the deadline."""

    async def scenario():
        svc = _SlowService(0.0)
        b = Batcher(svc, max_batch=16, max_wait_s=1.0, queue=100, max_queue_s=None)
        b.start()
        t = time.perf_counter()
        assert await b.submit(torch.tensor([1.0]), 3.0) == b"user 1 budget 3"
        assert time.perf_counter() - t < 0.5  # did not wait the 1 s
        b.typical_batch = 4.0
        t = time.perf_counter()
        first = asyncio.ensure_future(b.submit(torch.tensor([2.0]), 3.0))
        await asyncio.sleep(0.05)
        assert not first.done()  # waiting for company
        rest = [asyncio.ensure_future(b.submit(torch.tensor([float(i)]), 3.0)) for i in (3, 4, 5)]
        await asyncio.gather(first, *rest)
        assert time.perf_counter() - t < 0.5  # the 4th arrival ended the wait
        assert svc.batches[-1] == 4
        b.typical_batch = 4.0
        t = time.perf_counter()
        await b.submit(torch.tensor([6.0]), 3.0)
        assert time.perf_counter() - t >= 0.99  # nobody came: the deadline
        assert svc.batches[-1] == 1
        await b.stop()

    asyncio.run(scenario())


def test_clients_that_queued_during_a_forward_wait_for_the_ones_it_answered():
    """Two closed-loop clients start together (one forward of 2, 50 ms), two more join while it
    runs. When it ends, the two queued ones wait (at most max_wait, 0.5 s) for the two just
    answered, which send again at once: one forward of 4 from then on, not two groups of 2
    taking turns at half-full forwards. Every answer is its own client's."""

    async def scenario():
        svc = _SlowService(0.05)
        b = Batcher(svc, max_batch=16, max_wait_s=0.5, queue=100, max_queue_s=None)
        b.start()

        async def client(i: int):
            for r in range(4):
                assert await b.submit(torch.tensor([float(i)]), float(r + 1)) == f"user {i} budget {r + 1}".encode()

        first = [asyncio.ensure_future(client(i)) for i in (1, 2)]
        await asyncio.sleep(0.02)  # the forward of the first two runs
        await asyncio.gather(*first, *(client(i) for i in (3, 4)))
        # the last 2 waited out the deadline: their company had finished its 4 requests
        assert svc.batches == [2, 4, 4, 4, 2], svc.batches
        gaps = [b - a for a, b in zip(svc.started, svc.started[1:])]
        assert max(gaps[:3]) < 0.3, gaps  # the answered ones joined at once, not at the deadline
        await b.stop()

    asyncio.run(scenario())
