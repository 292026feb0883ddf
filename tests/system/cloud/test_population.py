"""One strategy for everybody: saved beside a checkpoint, served by ``GET /v1/strategy/population``,
fetched by the device client (``chord.system.cloud.population``)."""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import threading
import urllib.parse

import pytest
import torch

if os.environ.get("CI") != "true":
    pytest.importorskip("fastapi", reason="the serve extra (FastAPI + uvicorn) is not installed")

from chord.quantize.strategy import Strategy  # noqa: E402
from chord.serve.app import create_app  # noqa: E402
from chord.serve.client import ServeError, request_population_strategy  # noqa: E402
from chord.serve.service_loader import random_service  # noqa: E402
from chord.system.cloud.population import load_population, save_population  # noqa: E402


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny planner, its fingerprint, and one strategy per budget saved under a checkpoint dir."""
    torch.set_num_threads(1)
    svc = random_service("sasrec", 50, seed=3, dim=16, blocks=1)
    u = torch.randn(1, 64, generator=torch.Generator().manual_seed(7))
    codes = {2.0: svc.planner.plan(u, 2.0)[0], 2.5: svc.planner.plan(u, 2.5)[0]}
    d = tmp_path_factory.mktemp("ckpt")
    paths = save_population(d, svc.planner, svc.fingerprint, codes)
    return svc, codes, d, paths


def test_saved_strategies_load_back_and_decode_to_the_codes(saved):
    svc, codes, d, paths = saved
    assert [p.name for p in paths] == ["2.strategy", "2.5.strategy"]
    assert not list((d / "population").glob("*.tmp"))
    got = load_population(d, svc.fingerprint)
    assert sorted(got) == [2.0, 2.5]
    for b, c in codes.items():
        s = Strategy.from_bytes(got[b], svc.fingerprint)
        want = svc.planner.split(c)
        assert set(s.codes) == set(want)
        assert all(torch.equal(s.codes[n], want[n].to(torch.uint8)) for n in want)
    assert got[2.0] != got[2.5]


def test_load_refuses_another_model_a_corrupt_file_and_a_bad_name(saved, tmp_path):
    svc, codes, d, _ = saved
    assert load_population(tmp_path, svc.fingerprint) == {}  # no population/: nothing to serve
    with pytest.raises(
        ValueError, match=r"/2(\.5)?\.strategy: not a strategy for this checkpoint's backbone: .*another model"
    ):
        load_population(d, b"\x00" * 8)
    bad = tmp_path / "population"
    bad.mkdir()
    data = (d / "population" / "2.strategy").read_bytes()
    (bad / "3.strategy").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ValueError, match=r"3\.strategy: not a strategy"):
        load_population(tmp_path, svc.fingerprint)
    (bad / "3.strategy").unlink()
    (bad / "two.strategy").write_bytes(data)
    with pytest.raises(ValueError, match="expected a file named <budget bits>.strategy"):
        load_population(tmp_path, svc.fingerprint)


async def _get(app, path: str, query: dict) -> tuple[int, dict, bytes]:
    sent = []
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": urllib.parse.urlencode(query).encode(),
        "headers": [],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("test", 80),
        "client": ("test", 1),
        "root_path": "",
    }

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def test_the_route_answers_the_saved_bytes_cacheable_and_refuses_other_models_and_budgets(saved):
    svc, _, d, _ = saved
    pop = load_population(d, svc.fingerprint)
    app = create_app(svc, population=pop)
    fp = svc.fingerprint.hex()

    async def scenario():
        path = "/v1/strategy/population"
        status, headers, body = await _get(app, path, {"budget": "2.5", "fingerprint": fp})
        assert status == 200 and body == pop[2.5]
        assert headers[b"content-type"] == b"application/octet-stream"
        assert headers[b"x-chord-fingerprint"] == fp.encode() and b"public" in headers[b"cache-control"]
        assert (await _get(app, path, {"budget": "2"}))[2] == pop[2.0]  # the fingerprint is optional
        status, _, body = await _get(app, path, {"budget": "3", "fingerprint": fp})
        assert status == 404 and "no single strategy at 3 bits; this server has: 2, 2.5" in json.loads(body)["error"]
        status, _, body = await _get(app, path, {"budget": "2", "fingerprint": "00" * 8})
        assert status == 409 and "fingerprint" in json.loads(body)["error"]
        assert (await _get(app, path, {"budget": "nan"}))[0] == 404
        assert (await _get(app, path, {"budget": "two"}))[0] == 422
        assert (await _get(app, path, {}))[0] == 422
        # a server without a population says so
        status, _, body = await _get(create_app(svc), path, {"budget": "2"})
        assert status == 404 and "none (its checkpoint holds no population/)" in json.loads(body)["error"]
        status, _, body = await _get(app, "/healthz", {})
        assert status == 200 and json.loads(body)["population_budgets"] == [2.0, 2.5]

    asyncio.run(scenario())


class _Stub(http.server.BaseHTTPRequestHandler):
    """Answers GET /v1/strategy/population like the service: 200 with the bytes at budget 2, 404
    at any other budget, 409 for another fingerprint; ``hits`` counts requests."""

    wire, fingerprint, hits = b"", "", 0

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).hits += 1
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        if url.path != "/v1/strategy/population":
            code, body = 404, json.dumps({"error": "path"}).encode()
        elif q.get("fingerprint") != self.fingerprint:
            code, body = 409, json.dumps({"error": "fingerprint: another model"}).encode()
        elif float(q["budget"]) != 2.0:
            code, body = 404, json.dumps({"error": "budget: no single strategy"}).encode()
        else:
            code, body = 200, self.wire
        self.send_response(code)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_client_fetches_the_bytes_and_never_retries_a_4xx(saved):
    svc, _, d, _ = saved
    _Stub.wire = load_population(d, svc.fingerprint)[2.0]
    _Stub.fingerprint = svc.fingerprint.hex()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        assert request_population_strategy(url, 2.0, svc.fingerprint, timeout=5) == _Stub.wire
        _Stub.hits = 0
        with pytest.raises(ServeError, match="404: budget"):
            request_population_strategy(url, 3.0, svc.fingerprint, timeout=5, retries=3)
        with pytest.raises(ServeError, match="409: fingerprint"):
            request_population_strategy(url, 2.0, b"\x01" * 8, timeout=5, retries=3)
        assert _Stub.hits == 2  # a 4xx is final
    finally:
        server.shutdown()
        server.server_close()
