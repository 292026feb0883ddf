"""The strategy service end to end on localhost: a real ``chord serve`` process, a short
concurrent load whose every answer is checked against the in-process ``CloudService``, the fault
cases, overload and a restart mid-load. Bounded: 3 server starts, a few hundred requests."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

if os.environ.get("CI") != "true":
    pytest.importorskip("fastapi", reason="the serve extra (FastAPI + uvicorn) is not installed")
    pytest.importorskip("uvicorn", reason="the serve extra (FastAPI + uvicorn) is not installed")

from chord.serve.client import ServeError, request_strategy, strategy_request_body  # noqa: E402
from chord.serve.service_loader import random_service  # noqa: E402

TINY = {"num_items": 50, "dim": 16, "blocks": 1, "seed": 3}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def reference():
    torch.set_num_threads(1)
    return random_service("sasrec", TINY["num_items"], seed=TINY["seed"], dim=TINY["dim"], blocks=TINY["blocks"])


#: the module server's settings; shedding by predicted wait and by requests in progress off: this
#: server's tests check answers, overload has its own
SERVER_ARGS = (
    *("--max-batch", "16", "--max-wait-ms", "2", "--max-body", "16384"),
    *("--max-queue-ms", "0", "--max-inflight", "0"),
)


@pytest.fixture(scope="module")
def server(servers):
    """The module's server; ``server["restart"]()`` replaces it (same port), and teardown stops
    whichever process is current, so a restarted server is never left behind."""
    port = _free_port()
    state = {"port": port, "url": f"http://127.0.0.1:{port}"}

    def start():
        state["proc"] = servers.start(port, *SERVER_ARGS)
        servers.owned.add(state["proc"].pid)

    def stop():
        servers.stop(state["proc"])
        servers.owned.discard(state["proc"].pid)

    def restart():
        stop()
        start()

    state["restart"] = restart
    start()
    yield state
    stop()


def _inputs(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(n, 64, generator=g)
    budgets = (torch.rand(n, generator=g) * 6 + 1).tolist()
    return emb, budgets


def _post(port: int, body: bytes, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", "/v1/strategy", body=body, headers={"Content-Type": "application/json", **(headers or {})})
    r = c.getresponse()
    out = (r.status, dict(r.getheaders()), r.read())
    c.close()
    return out


def _metrics(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return json.loads(r.read())


def test_concurrent_load_every_answer_is_the_in_process_one(server, reference):
    emb, budgets = _inputs(200, seed=11)
    fp = reference.fingerprint

    def one(i):
        return request_strategy(server["url"], emb[i], budgets[i], fp, timeout=10, retries=2)

    with ThreadPoolExecutor(32) as pool:
        got = list(pool.map(one, range(200)))
    want = [reference.respond(emb[i : i + 1], budgets[i])[0] for i in range(200)]
    wrong = [i for i in range(200) if got[i] != want[i]]
    assert not wrong, f"{len(wrong)} of 200 answers differ from the in-process CloudService (first: {wrong[:5]})"
    assert len(set(got)) > 150  # users really differ, so a mixed-up batch would show
    m = _metrics(server["port"])
    assert m["requests"]["200"] >= 200
    assert max(int(k) for k in m["batch_size"]) > 1, f"no request was ever batched: {m['batch_size']}"
    assert m["latency_ms"]["count"] >= 200


def test_bad_requests_get_clear_4xx(server, reference):
    port = server["port"]
    emb, budgets = _inputs(1, seed=5)
    good = json.loads(strategy_request_body(emb[0], budgets[0], reference.fingerprint))
    status, _, body = _post(port, b"{not json")
    assert status == 400 and b"JSON" in body
    status, _, body = _post(port, b"[1, 2]")
    assert status == 400
    status, _, body = _post(port, json.dumps({**good, "fingerprint": "00" * 8}).encode())
    assert status == 409 and b"fingerprint" in body
    status, _, body = _post(port, json.dumps({**good, "wire_version": 99}).encode())
    assert status == 409 and b"wire_version" in body
    status, _, body = _post(port, json.dumps({**good, "user_embedding": good["user_embedding"][:-1]}).encode())
    assert status == 422 and b"user_embedding" in body
    status, _, body = _post(port, json.dumps({**good, "user_embedding": [float("nan")] * 64}).encode())
    assert status == 422
    status, _, body = _post(port, json.dumps({**good, "budget": 99}).encode())
    assert status == 422 and b"budget" in body
    status, _, body = _post(port, json.dumps({**good, "extra": 1}).encode())
    assert status == 422 and b"extra" in body
    status, _, body = _post(port, json.dumps({**good, "user_embedding": [1e300] * 64}).encode())
    assert status == 422 and b"finite" in body  # finite as a double, not as float32
    status, _, body = _post(port, json.dumps({**good, "user_embedding": [10**400] + [0] * 63}).encode())
    assert status == 422 and b"user_embedding" in body
    status, _, body = _post(port, json.dumps({**good, "user_embedding": [True] * 64}).encode())
    assert status == 422 and b"user_embedding" in body
    status, _, body = _post(port, json.dumps({**good, "recent_items": [1, 2]}).encode())
    assert status == 422 and b"exactly one" in body
    no_emb = {k: v for k, v in good.items() if k != "user_embedding"}
    for bad in ([], [0, 1], [TINY["num_items"] + 1], [1.5], [True], "1 2", [1] * 2000):
        status, _, body = _post(port, json.dumps({**no_emb, "recent_items": bad}).encode())
        assert status == 422 and b"recent_items" in body, (bad, status, body)
    # the client does not retry a 4xx and says why
    with pytest.raises(ServeError, match="fingerprint") as e:
        request_strategy(server["url"], emb[0], budgets[0], b"\0" * 8, retries=3)
    assert e.value.status == 409


def test_huge_bodies_get_413(server):
    port = server["port"]
    status, _, _ = _post(port, b" " * 20000)  # Content-Length over the limit
    assert status == 413
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # chunked: no Content-Length
    c.request(
        "POST",
        "/v1/strategy",
        body=iter([b" " * 8192] * 4),
        encode_chunked=True,
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    assert c.getresponse().status == 413
    c.close()


def _raw(port: int, data: bytes, read: bool = False) -> bytes:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(data)
    out = b""
    if read:
        try:
            out = s.recv(65536)
        except TimeoutError:
            pass
    s.close()
    return out


def test_truncated_bodies_slow_clients_and_hangups_leave_the_server_serving(server, reference):
    port = server["port"]
    emb, budgets = _inputs(4, seed=7)
    body = strategy_request_body(emb[0], budgets[0], reference.fingerprint)
    head = (
        f"POST /v1/strategy HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    _raw(port, head + body[: len(body) // 2])  # truncated, then hang up
    _raw(port, head + body)  # hang up before the answer
    # a slow client: the body in pieces, still answered correctly
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(head)
    for i in range(0, len(body), 256):
        s.sendall(body[i : i + 256])
        time.sleep(0.01)
    reply = b""
    while b"\r\n\r\n" not in reply or len(reply.split(b"\r\n\r\n", 1)[1]) < len(
        reference.respond(emb[:1], budgets[0])[0]
    ):
        chunk = s.recv(65536)
        if not chunk:
            break
        reply += chunk
    s.close()
    assert reply.startswith(b"HTTP/1.1 200")
    assert reply.split(b"\r\n\r\n", 1)[1] == reference.respond(emb[:1], budgets[0])[0]
    # and the next users still get their own answers
    for i in range(1, 4):
        assert (
            request_strategy(server["url"], emb[i], budgets[i], reference.fingerprint, timeout=10)
            == reference.respond(emb[i : i + 1], budgets[i])[0]
        )
    m = _metrics(port)
    assert m["requests"].get("499", 0) >= 1  # the truncated body was seen as a hang-up


@pytest.mark.parametrize(
    "limit, reason",
    [
        (("--queue", "1", "--max-queue-ms", "0", "--max-inflight", "0"), "requests already waiting"),
        (("--queue", "1024", "--max-queue-ms", "1", "--max-inflight", "0"), "waited|ahead"),
        (("--queue", "1024", "--max-queue-ms", "0", "--max-inflight", "2"), "2 requests in progress"),
    ],
    ids=["queue-bound", "predicted-wait", "in-progress"],
)
def test_overload_answers_503_with_retry_after_fast(limit, reason, servers):
    """64 requests at once against a server that can hold few: the only errors are 503s, each
    with Retry-After and the rule that shed it, and every accepted answer is the in-process one."""
    port = _free_port()
    # full-size planner (slower forwards), one request per forward; shed by the queue bound, by
    # the predicted wait or by the requests in progress
    proc = servers.start(port, "--max-batch", "1", "--max-wait-ms", "0", *limit, tiny=False)
    try:
        ref_fp = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read())["fingerprint"]
        emb, budgets = _inputs(64, seed=13)

        def one(i):
            return _post(port, strategy_request_body(emb[i], budgets[i], ref_fp))

        with ThreadPoolExecutor(64) as pool:
            res = list(pool.map(one, range(64)))
        statuses = [s for s, _, _ in res]
        assert set(statuses) <= {200, 503}, statuses
        shed = [(h, b) for s, h, b in res if s == 503]
        assert shed, "64 concurrent requests against a server holding few were all accepted"
        assert all(h.get("retry-after", h.get("Retry-After")) == "1" for h, _ in shed)
        assert all(re.search(reason, json.loads(b)["error"]) for _, b in shed), shed[0][1]
        torch.set_num_threads(1)
        ref = random_service("sasrec", 1682, seed=0)
        ok = [i for i in range(64) if statuses[i] == 200]
        assert ok and [res[i][2] for i in ok] == [ref.respond(emb[i : i + 1], budgets[i])[0] for i in ok]
    finally:
        servers.stop(proc)


def test_restart_mid_load_client_retries_succeed(server, reference):
    """Last test on the module's server: SIGTERM it while requests flow, start a new one on the
    same port; every request ends with the right answer (in-flight ones finish, the rest retry)."""
    emb, budgets = _inputs(80, seed=17)
    fp = reference.fingerprint

    def one(i):
        time.sleep(0.02 * (i // 8))
        return request_strategy(server["url"], emb[i], budgets[i], fp, timeout=5, retries=12, backoff=0.1)

    with ThreadPoolExecutor(8) as pool:
        futs = [pool.submit(one, i) for i in range(80)]
        time.sleep(0.1)
        server["restart"]()
        got = [f.result() for f in futs]
    want = [reference.respond(emb[i : i + 1], budgets[i])[0] for i in range(80)]
    assert got == want


def test_recent_item_ids_are_profiled_in_the_cloud(server, reference):
    """A device may send its recent item ids instead of an embedding (the cloud holds the
    profiler): the answer is the in-process profile -> plan, for every user of a concurrent batch
    that mixes both kinds of request."""
    g = torch.Generator().manual_seed(23)
    seqs = [
        torch.randint(1, TINY["num_items"] + 1, (int(n),), generator=g).tolist()
        for n in torch.randint(1, 30, (48,), generator=g)
    ]
    emb, budgets = _inputs(48, seed=29)
    fp = reference.fingerprint.hex()

    def one(i):
        body = {"budget": budgets[i], "fingerprint": fp}
        body.update({"recent_items": seqs[i]} if i % 2 == 0 else {"user_embedding": emb[i].tolist()})
        return _post(server["port"], json.dumps(body).encode())

    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(one, range(48)))
    want = [
        reference.respond(reference.profile(torch.tensor([seqs[i]])) if i % 2 == 0 else emb[i : i + 1], budgets[i])[0]
        for i in range(48)
    ]
    assert [s for s, _, _ in got] == [200] * 48
    assert [b for _, _, b in got] == want
    health = json.loads(urllib.request.urlopen(server["url"] + "/healthz", timeout=5).read())
    assert health["num_items"] == TINY["num_items"]


_PROM_LINE = re.compile(r'^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+-]+$|^# (HELP|TYPE) [a-z_]+ .+$')


def _prometheus(url: str, **headers) -> dict[str, float]:
    """GET url -> {sample name with labels: value}, every line checked for the text format."""
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    bad = [line for line in text.splitlines() if not _PROM_LINE.match(line)]
    assert not bad, bad[:5]
    return {k: float(v) for k, v in (line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))}


def test_metrics_in_prometheus_text_format(server):
    """/metrics stays JSON by default; ?format=prometheus or a scraper's Accept header gives the
    Prometheus text format, every line well formed, counters agreeing with the JSON."""
    url = server["url"] + "/metrics"
    as_json = _metrics(server["port"])
    for samples in (
        _prometheus(url + "?format=prometheus"),
        _prometheus(url, Accept="text/plain;version=0.0.4;q=0.9,*/*;q=0.1"),
    ):
        assert samples['chord_serve_requests_total{status="200"}'] >= as_json["requests"]["200"]  # JSON read first
        assert samples['chord_serve_batch_size_bucket{le="+Inf"}'] == samples["chord_serve_batch_size_count"]
        assert samples["chord_serve_batch_size_sum"] == samples["chord_serve_strategies_total"]
        assert 'chord_serve_request_seconds_bucket{le="0.05"}' in samples
        assert samples["chord_serve_workers"] == 1
    with urllib.request.urlopen(url, timeout=5) as r:
        assert r.headers["Content-Type"] == "application/json"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url + "?format=xml", timeout=5)
    assert e.value.code == 422


def _health_pids(url: str, tries: int) -> set[int]:
    """Worker pids answering /healthz on ``tries`` fresh connections."""
    pids = set()
    for _ in range(tries):
        with urllib.request.urlopen(url + "/healthz", timeout=5) as r:
            pids.add(json.loads(r.read())["pid"])
    return pids


def test_two_workers_share_the_load_and_report_one_set_of_metrics(servers, reference, tmp_path):
    """``--workers 2``: one SO_REUSEPORT socket per worker spreads fresh connections over both;
    every answer is the in-process one; every scrape, whichever worker takes it, counts the
    whole server's requests and batches; SIGTERM stops both workers and removes the shared
    metrics directory."""
    port = _free_port()
    proc = servers.start(port, "--workers", "2", *SERVER_ARGS, env={"TMPDIR": str(tmp_path)})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        pids = set()
        while len(pids) < 2 and time.time() < deadline:  # the second worker may still be loading
            pids |= _health_pids(url, 4)
        assert len(pids) == 2, f"fresh connections reached only workers {pids}"
        assert len(list(tmp_path.glob("chord-serve-metrics-*/worker-*.f64"))) == 2
        emb, budgets = _inputs(60, seed=31)
        fp = reference.fingerprint

        def one(i):
            return request_strategy(url, emb[i], budgets[i], fp, timeout=10, retries=2)

        with ThreadPoolExecutor(12) as pool:
            got = list(pool.map(one, range(60)))
        assert got == [reference.respond(emb[i : i + 1], budgets[i])[0] for i in range(60)]
        scrapes = []
        while {m["pid"] for m in scrapes} != pids and len(scrapes) < 40:
            scrapes.append(_metrics(port))
        assert {m["pid"] for m in scrapes} == pids, "40 scrapes on fresh connections all reached one worker"
        for m in scrapes:
            assert m["workers"] == 2 and set(m["pids"]) == pids
            assert m["requests"] == {"200": 60}
            assert m["strategies"] == 60 == sum(int(k) * n for k, n in m["batch_size"].items())
            assert m["latency_ms"]["count"] == 60
        samples = _prometheus(url + "/metrics?format=prometheus")
        assert samples['chord_serve_requests_total{status="200"}'] == 60
        assert samples["chord_serve_workers"] == 2
    finally:
        servers.stop(proc)
    assert proc.returncode in (0, -signal.SIGTERM)
    assert not list(tmp_path.glob("chord-serve-metrics-*")), "the shared metrics directory outlived the server"


def test_workers_refuse_a_port_in_use():
    """With SO_REUSEPORT a second server could silently share the port with the first one (and
    split its connections): ``chord serve --workers 2`` refuses a port something listens on."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "chord", "serve", "--random", "--workers", "2", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
            start_new_session=True,
        )
    assert out.returncode == 2, out.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr


def test_device_fetch_then_adapt(server, reference):
    from chord.models import build_model
    from chord.system.device import Device, Profiler

    torch.manual_seed(0)
    backbone = build_model(
        {"model": "sasrec", "num_items": TINY["num_items"], "dim": TINY["dim"], "blocks": TINY["blocks"]}
    ).eval()
    phone = Device(backbone, Profiler(TINY["num_items"], 64, item_emb=backbone.item_emb), budget=3.0)
    recent = torch.tensor([3, 7, 11, 20])
    wire = phone.fetch(server["url"], recent, timeout=10)
    emb, budget = phone.request(recent)
    assert wire == reference.respond(emb, budget)[0]
    assert phone.adapt(wire).avg_bits <= 3.0 + 1e-6
    # the item ids themselves (left-padded as the device keeps them): the cloud's profiler
    # profiles them, so the answer is the in-process profile -> plan of the service
    padded = torch.tensor([[0, 0, 3, 7, 11, 20]])
    wire = phone.fetch(server["url"], padded, send="items", timeout=10)
    assert wire == reference.respond(reference.profile(recent[None]), budget)[0]
    assert wire != reference.respond(emb, budget)[0]  # the cloud's profiler is not the phone's
    with pytest.raises(ValueError, match="send"):
        phone.fetch(server["url"], recent, send="both")


def test_sigterm_finishes_queued_requests(servers):
    """Graceful shutdown: requests already queued when SIGTERM arrives are all answered, right."""
    port = _free_port()
    proc = servers.start(
        port,
        *("--max-batch", "1", "--max-wait-ms", "0", "--queue", "64", "--max-queue-ms", "0", "--max-inflight", "0"),
        tiny=False,
    )
    try:
        fp = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read())["fingerprint"]
        emb, budgets = _inputs(12, seed=19)
        with ThreadPoolExecutor(12) as pool:
            futs = [pool.submit(_post, port, strategy_request_body(emb[i], budgets[i], fp)) for i in range(12)]
            deadline = time.time() + 20
            while _metrics(port)["queue_depth"] < 4 and time.time() < deadline:
                time.sleep(0.005)
            assert _metrics(port)["queue_depth"] >= 4 or all(f.done() for f in futs)
            proc.send_signal(signal.SIGTERM)
            res = [f.result() for f in futs]
        assert proc.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a clean shutdown
        torch.set_num_threads(1)
        ref = random_service("sasrec", 1682, seed=0)
        assert [s for s, _, _ in res] == [200] * 12
        assert [b for _, _, b in res] == [ref.respond(emb[i : i + 1], budgets[i])[0] for i in range(12)]
    finally:
        servers.stop(proc)


def test_leak_check_sees_a_server_left_running(servers):
    """The per-test leak check (conftest.no_leaked_server) is not vacuous: a started server that
    nobody stopped is reported, and stopping it kills its whole process group."""
    proc = servers.start(_free_port())
    assert servers.leaked() == [proc]
    servers.stop(proc)
    assert servers.leaked() == [] and proc.poll() is not None
