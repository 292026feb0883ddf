"""The ASGI app in process (no server): admission by requests in progress per worker."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
import torch

if os.environ.get("CI") != "true":
    pytest.importorskip("fastapi", reason="the serve extra (FastAPI + uvicorn) is not installed")

from chord.serve.app import create_app  # noqa: E402
from chord.serve.client import strategy_request_body  # noqa: E402
from chord.serve.service_loader import random_service  # noqa: E402


class _Request:
    """One ``POST /v1/strategy`` driven by hand: its body is handed over only once ``release``
    is set, so an admitted request stays in progress as long as the test wants; ``read`` says
    whether the app ever asked for the body."""

    def __init__(self, body: bytes):
        self.body, self.read, self.sent = body, False, []
        self.release = asyncio.Event()
        self.scope = {
            "type": "http",
            "path": "/v1/strategy",
            "method": "POST",
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }

    async def receive(self):
        self.read = True
        await self.release.wait()
        return {"type": "http.request", "body": self.body, "more_body": False}

    async def send(self, message):
        self.sent.append(message)

    @property
    def status(self) -> int:
        return self.sent[0]["status"]

    @property
    def headers(self) -> dict:
        return dict(self.sent[0]["headers"])


def test_past_max_inflight_a_request_gets_503_before_its_body_is_read():
    """max_inflight 2: two requests in progress (their bodies still arriving); a third is
    answered 503 + Retry-After at once and its body is never read; once the two are answered
    (each with its own strategy), the next request is admitted again."""
    torch.set_num_threads(1)
    svc = random_service("sasrec", 50, seed=3, dim=16, blocks=1)
    fp = svc.fingerprint
    emb = torch.randn(4, 64, generator=torch.Generator().manual_seed(5))
    bodies = [strategy_request_body(emb[i], 2.0 + i, fp) for i in range(4)]
    want = [svc.respond(emb[i : i + 1], 2.0 + i)[0] for i in range(4)]
    app = create_app(svc, max_batch=4, max_wait_ms=0, max_inflight=2, max_queue_ms=0)

    async def scenario():
        async with app.fastapi.router.lifespan_context(app.fastapi):
            first = [_Request(bodies[i]) for i in range(2)]
            tasks = [asyncio.ensure_future(app(r.scope, r.receive, r.send)) for r in first]
            await asyncio.sleep(0)  # both handlers run up to reading their bodies
            assert all(r.read for r in first) and not any(r.sent for r in first)
            assert app.fastapi.state.metrics.as_dict()["in_progress"] == 2

            third = _Request(bodies[2])
            await asyncio.wait_for(app(third.scope, third.receive, third.send), 5)
            assert third.status == 503 and not third.read
            assert third.headers[b"retry-after"] == b"1"
            assert "2 requests in progress" in json.loads(third.sent[1]["body"])["error"]

            for r in first:
                r.release.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
            assert [r.status for r in first] == [200, 200]
            assert [r.sent[1]["body"] for r in first] == want[:2]

            fourth = _Request(bodies[3])
            fourth.release.set()
            await asyncio.wait_for(app(fourth.scope, fourth.receive, fourth.send), 30)
            assert fourth.status == 200 and fourth.sent[1]["body"] == want[3]
        m = app.fastapi.state.metrics.as_dict()
        assert m["requests"]["200"] == 3 and m["requests"]["503"] == 1 and m["in_progress"] == 0

    asyncio.run(scenario())


def test_max_inflight_defaults_to_one_forward_and_refuses_negatives():
    svc = random_service("sasrec", 50, seed=3, dim=16, blocks=1)
    app = create_app(svc, max_batch=8)
    assert app.max_inflight == 8
    assert create_app(svc, max_batch=8, max_inflight=0).max_inflight == 0  # no limit
    with pytest.raises(ValueError, match="max_inflight"):
        create_app(svc, max_inflight=-1)
