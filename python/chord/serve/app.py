"""The strategy service: ``POST /v1/strategy``, ``GET /v1/strategy/population``, ``GET /healthz``,
``GET /metrics``.

Protocol (docs/serve.md): the request is a JSON object ``{"user_embedding": [d_user floats] or
"recent_items": [item ids, most recent last], "budget": average bits, "fingerprint": 16 hex
digits of the device's model_fingerprint, "wire_version": 1 (optional)}``; the answer is the
strategy's wire bytes (``application/octet-stream``, ``chord.quantize.strategy``). Errors are
JSON ``{"error": ...}``: 400 malformed body, 409 another model or wire version, 413 body too
large, 422 a field out of range, 503 + Retry-After when overloaded.

``GET /v1/strategy/population?budget=B&fingerprint=F`` answers the checkpoint's one strategy for
everybody at B bits (``chord.system.cloud.population``: the deployment where per-user codes do not
pay): the same cacheable bytes for every device of the backbone, no planner run, nothing about
the user sent; 404 when the checkpoint has none at B, 409 for another model.

Admission: a worker answers at most ``max_inflight`` strategy requests at a time; past that a
request gets a pre-built 503 before its body is read or parsed. Counting requests in progress
(not queued ones only) bounds the whole time an admitted request spends in the worker, and a
rejected one costs the event loop next to nothing, so the loop stays free to read, parse and
answer the admitted ones (reports/2026-12-07-serve-overload.md).

``POST /v1/strategy`` is a plain ASGI handler in front of the FastAPI app (which serves the rest
and runs the lifespan): FastAPI's request, dependency and response layers cost more CPU per
request than the whole planner does per user once batched (reports/2026-12-06-serve-2.md).
"""

from __future__ import annotations

import json
import math
import os
import time
import zlib
from contextlib import asynccontextmanager

import numpy as np
import orjson
import torch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from chord.quantize.strategy import WIRE_VERSION
from chord.system.cloud.service import CloudService

from . import defaults
from .batcher import Batcher, Overloaded
from .counters import Metrics
from .service_loader import d_user_of
from .workers import METRICS_DIR_ENV

FIELDS = {"user_embedding", "recent_items", "budget", "fingerprint", "wire_version"}
#: status recorded for a client that hung up before its answer (nginx's convention)
CLIENT_CLOSED = 499
#: most recent item ids a request may carry (the profiler reads only its own ``recent`` last ones)
MAX_ITEMS = 1024
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _parse(body: bytes, d_user: int, fingerprint: str, budget_range: tuple[float, float], num_items: int | None):
    """body -> (embedding float32 [d_user] or None, item ids list or None, budget); raises
    BadRequest with the reason."""
    try:
        # orjson: a tenth of the stdlib's time for a body of 64 floats, on the event loop that reads
        # every request (reports/2026-12-07-serve-4.md)
        req = orjson.loads(body)
    except orjson.JSONDecodeError:
        # what orjson refuses the stdlib may still read (NaN, Infinity, integers past 64 bits):
        # read so, such a request keeps its 422 naming the field; a malformed body gets 400
        try:
            req = json.loads(body)
        except (UnicodeDecodeError, ValueError) as e:
            raise BadRequest(400, f"body: expected a JSON object, could not parse it ({e})") from None
    if not isinstance(req, dict):
        raise BadRequest(400, f"body: expected a JSON object, got {type(req).__name__}")
    unknown = sorted(set(req) - FIELDS)
    if unknown:
        raise BadRequest(422, f"body: unknown fields {unknown}; expected {sorted(FIELDS)}")
    ver = req.get("wire_version", WIRE_VERSION)
    if ver != WIRE_VERSION:
        raise BadRequest(409, f"wire_version: this server speaks {WIRE_VERSION}, the device asked for {ver!r}")
    fp = req.get("fingerprint")
    if not isinstance(fp, str):
        raise BadRequest(422, f"fingerprint: expected the device model's fingerprint as 16 hex digits, got {fp!r}")
    if fp.lower() != fingerprint:
        raise BadRequest(
            409,
            f"fingerprint: this server plans for model {fingerprint}, the device holds {fp!r}: "
            "codes for another backbone would be wrong, none are sent",
        )
    b = req.get("budget")
    lo, hi = budget_range
    if not isinstance(b, (int, float)) or isinstance(b, bool) or not (lo <= b <= hi):
        raise BadRequest(422, f"budget: expected average bits in [{lo:g}, {hi:g}], got {b!r}")
    emb, items = req.get("user_embedding"), req.get("recent_items")
    if (emb is None) == (items is None):
        raise BadRequest(422, "user_embedding, recent_items: expected exactly one of them")
    if items is not None:
        if num_items is None:
            raise BadRequest(422, "recent_items: this server holds no profiler; send user_embedding")
        if (
            not isinstance(items, list)
            or not 1 <= len(items) <= MAX_ITEMS
            or not set(map(type, items)) <= {int}
            or not 1 <= min(items) <= max(items) <= num_items
        ):
            got = f"a list of {len(items)}" if isinstance(items, list) else type(items).__name__
            raise BadRequest(
                422, f"recent_items: expected a list of 1 to {MAX_ITEMS} item ids in [1, {num_items}], got {got}"
            )
        return None, items, float(b)
    # types first, at C speed (json gives bool, str, None, list or dict for anything else), then
    # finiteness after the float32 conversion (1e300 is a finite double but not a float32)
    if not isinstance(emb, list) or len(emb) != d_user or not set(map(type, emb)) <= {float, int}:
        got = f"a list of {len(emb)}" if isinstance(emb, list) else type(emb).__name__
        raise BadRequest(422, f"user_embedding: expected a list of {d_user} finite numbers, got {got}")
    try:
        with np.errstate(over="ignore"):  # past float32's range is inf, refused just below
            a = np.array(emb, dtype=np.float32)
    except OverflowError:  # an integer too large for any float
        a = np.full(1, np.inf, dtype=np.float32)
    if not np.isfinite(a).all():
        raise BadRequest(422, f"user_embedding: expected {d_user} finite float32 numbers, got inf or nan")
    return torch.from_numpy(a), None, float(b)


def _error(status: int, message: str, **headers) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def create_app(
    service: CloudService,
    *,
    max_batch: int = defaults.MAX_BATCH,
    max_wait_ms: float = defaults.MAX_WAIT_MS,
    queue: int = defaults.QUEUE,
    max_queue_ms: float | None = defaults.MAX_QUEUE_MS,
    max_inflight: int | None = None,
    max_body: int = defaults.MAX_BODY,
    retry_after_s: int = 1,
    names: bool = True,
    metrics_dir: str | None = None,
    population: dict[float, bytes] | None = None,
):
    """The ASGI app over ``service``; see ``Batcher`` for max_batch / max_wait_ms / queue /
    max_queue_ms (0 or None: only the queue bound sheds); max_inflight: most strategy requests
    this worker answers at a time (None: ``max_batch``, one forward's worth; 0: no limit), past
    it a request gets 503 before its body is read; max_body: largest request body in bytes (past
    it: 413); metrics_dir: the directory every worker of this server keeps its metrics in
    (``chord.serve.counters``; None: this process only); population: ``{budget: wire bytes}`` of
    the one strategy for everybody (``chord.system.cloud.population.load_population``; None or
    {}: none to serve). Returns an ASGI callable whose
    ``.fastapi`` is the FastAPI app."""
    if max_body < 1:
        raise ValueError(f"max_body: expected >= 1 byte, got {max_body}")
    if max_inflight is None:
        max_inflight = max_batch
    if max_inflight < 0:
        raise ValueError(f"max_inflight: expected >= 0 requests (0: no limit), got {max_inflight}")
    metrics = Metrics(max_batch, metrics_dir)
    batcher = Batcher(
        service,
        max_batch=max_batch,
        max_wait_s=max_wait_ms / 1e3,
        queue=queue,
        max_queue_s=max_queue_ms / 1e3 if max_queue_ms else None,
        metrics=metrics,
        names=names,
    )
    d_user = d_user_of(service)
    fingerprint = service.fingerprint.hex()
    widths = service.planner.widths
    budget_range = (float(widths.min()), float(widths.max()))
    num_items = service.num_items
    population = {float(b): bytes(w) for b, w in (population or {}).items()}
    service_fingerprint = fingerprint

    @asynccontextmanager
    async def lifespan(app):
        await batcher.warm_up(d_user)
        batcher.start()
        yield
        # uvicorn has stopped accepting and waited for in-flight requests; finish the queue too
        await batcher.stop()

    api = FastAPI(title="chord strategy service", lifespan=lifespan, docs_url=None, redoc_url=None)

    async def respond(send, status: int, body: bytes, content_type: bytes, extra=()) -> None:
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *extra]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def error(send, status: int, message: str, extra=()) -> None:
        metrics.request_done(status)
        await respond(send, status, json.dumps({"error": message}).encode(), b"application/json", extra)

    ok_headers = ((b"x-chord-fingerprint", fingerprint.encode()),)
    retry_headers = ((b"retry-after", str(retry_after_s).encode()),)
    busy_body = json.dumps(
        {"error": f"overloaded: {max_inflight} requests in progress in this worker; retry after {retry_after_s} s"}
    ).encode()
    busy_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(busy_body)).encode()),
        *retry_headers,
    ]
    inflight = 0  # strategy requests admitted by this worker and not answered yet

    async def strategy(scope, receive, send) -> None:
        """POST /v1/strategy (plain ASGI, see the module doc)."""
        t0 = time.perf_counter()
        # shed before reading and parsing: under overload a 503 must cost as little as possible
        reason = batcher.overloaded(t0)
        if reason:
            return await error(send, 503, f"overloaded: {reason}; retry after {retry_after_s} s", retry_headers)
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None and (not length.isdigit() or int(length) > max_body):
            return await error(send, 413, f"body: at most {max_body} bytes, Content-Length says {length.decode()}")
        body, more = b"", True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                metrics.request_done(CLIENT_CLOSED)
                return
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
            if len(body) > max_body:
                return await error(send, 413, f"body: at most {max_body} bytes")
        try:
            emb, items, budget = _parse(body, d_user, fingerprint, budget_range, num_items)
        except BadRequest as e:
            return await error(send, e.status, str(e))
        try:
            wire = await batcher.submit(emb, budget, items=items, arrived=t0)
        except Overloaded as e:
            return await error(send, 503, f"overloaded: {e}; retry after {retry_after_s} s", retry_headers)
        except Exception as e:  # noqa: BLE001 - the planner failed this batch; say so, keep serving
            return await error(send, 500, f"planner: {type(e).__name__}: {e}")
        metrics.request_done(200, time.perf_counter() - t0)
        await respond(send, 200, wire, b"application/octet-stream", ok_headers)

    @api.get("/healthz")
    async def healthz():
        return {
            "status": "ok",
            "fingerprint": fingerprint,
            "d_user": d_user,
            "wire_version": WIRE_VERSION,
            "budget_range": list(budget_range),
            "num_items": num_items,
            "population_budgets": sorted(population),
            "pid": os.getpid(),
        }

    @api.get("/v1/strategy/population")
    async def get_population(budget: float, fingerprint: str | None = None):
        """The one strategy for everybody at ``budget`` bits (see the module doc)."""
        if fingerprint is not None and fingerprint.lower() != service_fingerprint:
            return _error(
                409, f"fingerprint: this server's backbone is {service_fingerprint}, the device's {fingerprint}"
            )
        wire = population.get(budget) if math.isfinite(budget) else None
        if wire is None:
            have = ", ".join(f"{b:g}" for b in sorted(population)) or "none (its checkpoint holds no population/)"
            return _error(404, f"budget: no single strategy at {budget:g} bits; this server has: {have}")
        return Response(
            wire,
            media_type="application/octet-stream",
            headers={
                "x-chord-fingerprint": service_fingerprint,
                "cache-control": "public, max-age=86400",
                "etag": f'"{zlib.crc32(wire):08x}"',
            },
        )

    @api.get("/metrics")
    async def get_metrics(request: Request, format: str | None = None):  # noqa: A002 - the query name
        """The whole server's figures (every worker's, ``chord.serve.counters``). JSON by default;
        the Prometheus text format with ``?format=prometheus`` or when the Accept header asks for
        text/plain or OpenMetrics text (what a Prometheus scraper sends)."""
        accept = request.headers.get("accept", "")
        if format not in (None, "json", "prometheus"):
            return JSONResponse({"error": f"format: expected json or prometheus, got {format!r}"}, status_code=422)
        if format == "prometheus" or (
            format is None and ("text/plain" in accept or "openmetrics" in accept) and "json" not in accept
        ):
            gauges = {"chord_serve_max_batch": ("Most requests per planner forward.", batcher.max_batch)}
            return PlainTextResponse(metrics.prometheus(gauges), media_type=PROMETHEUS_TYPE)
        return metrics.as_dict(
            max_batch=batcher.max_batch,
            max_wait_ms=batcher.max_wait_s * 1e3,
            queue=batcher.queue_size,
            max_inflight=max_inflight,
            pid=os.getpid(),
        )

    async def app(scope, receive, send):
        nonlocal inflight
        if scope["type"] == "http" and scope["path"] == "/v1/strategy":
            if scope["method"] != "POST":
                return await respond(
                    send, 405, b'{"error": "method: expected POST"}', b"application/json", ((b"allow", b"POST"),)
                )
            if max_inflight and inflight >= max_inflight:
                # the cheapest answer there is: nothing read, parsed or formatted
                metrics.request_done(503)
                await send({"type": "http.response.start", "status": 503, "headers": busy_headers})
                return await send({"type": "http.response.body", "body": busy_body})
            inflight += 1
            metrics.set_in_progress(inflight)
            try:
                return await strategy(scope, receive, send)
            finally:
                inflight -= 1
                metrics.set_in_progress(inflight)
        return await api(scope, receive, send)

    api.state.batcher = batcher
    api.state.metrics = metrics
    app.fastapi = api
    app.max_inflight = max_inflight
    return app


#: environment variable carrying ``chord serve``'s settings to every uvicorn worker process
CONFIG_ENV = "CHORD_SERVE_CONFIG"


def app_from_env():
    """uvicorn factory (``chord serve`` with several workers): settings from ``$CHORD_SERVE_CONFIG``."""
    from chord.system.cloud.population import load_population

    from .service_loader import load_service, random_service

    cfg = json.loads(os.environ[CONFIG_ENV])
    torch.set_num_threads(int(cfg.get("threads", 1)))
    if cfg.get("random"):  # (settings absent from cfg: the callee's defaults)
        service = random_service(**{k: cfg[k] for k in ("model", "num_items", "seed", "dim", "blocks") if k in cfg})
        population = None
    else:
        service = load_service(cfg["checkpoint"])
        population = load_population(cfg["checkpoint"], service.fingerprint)
    settings = ("max_batch", "max_wait_ms", "queue", "max_queue_ms", "max_inflight", "max_body")
    return create_app(
        service,
        **{k: cfg[k] for k in settings if k in cfg},
        metrics_dir=os.environ.get(METRICS_DIR_ENV),
        population=population,
    )
