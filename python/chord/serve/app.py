"""The strategy service (FastAPI app): ``POST /v1/strategy``, ``GET /healthz``, ``GET /metrics``.

Protocol (docs/serve.md): the request is a JSON object ``{"user_embedding": [d_user floats],
"budget": average bits, "fingerprint": 16 hex digits of the device's model_fingerprint,
"wire_version": 1 (optional)}``; the answer is the strategy's wire bytes
(``application/octet-stream``, ``chord.quantize.strategy``). Errors are JSON ``{"error": ...}``:
400 malformed body, 409 another model or wire version, 413 body too large, 422 a field out of
range, 503 + Retry-After when the queue is full.
"""

from __future__ import annotations

import json
import math
import os
import time
from contextlib import asynccontextmanager

import torch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from chord.quantize.strategy import WIRE_VERSION
from chord.system.cloud.service import CloudService

from .batcher import Batcher, Overloaded
from .metrics import Metrics
from .model import d_user_of

FIELDS = {"user_embedding", "budget", "fingerprint", "wire_version"}
#: status recorded for a client that hung up before its answer (nginx's convention)
CLIENT_CLOSED = 499


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _parse(body: bytes, d_user: int, fingerprint: str, budget_range: tuple[float, float]):
    """body -> (embedding float32 [d_user], budget); raises BadRequest with the reason."""
    try:
        req = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
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
    emb = req.get("user_embedding")
    if (
        not isinstance(emb, list)
        or len(emb) != d_user
        or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in emb)
    ):
        got = f"a list of {len(emb)}" if isinstance(emb, list) else type(emb).__name__
        raise BadRequest(422, f"user_embedding: expected a list of {d_user} finite numbers, got {got}")
    b = req.get("budget")
    lo, hi = budget_range
    if not isinstance(b, (int, float)) or isinstance(b, bool) or not (lo <= b <= hi):
        raise BadRequest(422, f"budget: expected average bits in [{lo:g}, {hi:g}], got {b!r}")
    return torch.tensor(emb, dtype=torch.float32), float(b)


def _error(status: int, message: str, **headers) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def create_app(
    service: CloudService,
    *,
    max_batch: int = 64,
    max_wait_ms: float = 2.0,
    queue: int = 1024,
    max_queue_ms: float | None = 200.0,
    max_body: int = 64 * 1024,
    retry_after_s: int = 1,
    names: bool = True,
) -> FastAPI:
    """The app over ``service``; see ``Batcher`` for max_batch / max_wait_ms / queue / max_queue_ms
    (0 or None: only the queue bound sheds); max_body:
    largest request body in bytes (past it: 413)."""
    if max_body < 1:
        raise ValueError(f"max_body: expected >= 1 byte, got {max_body}")
    metrics = Metrics()
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

    @asynccontextmanager
    async def lifespan(app):
        await batcher.warm_up(d_user)
        batcher.start()
        yield
        # uvicorn has stopped accepting and waited for in-flight requests; finish the queue too
        await batcher.stop()

    app = FastAPI(title="chord strategy service", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.post("/v1/strategy")
    async def strategy(request: Request):
        t0 = time.perf_counter()
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_body):
            metrics.request_done(413)
            return _error(413, f"body: at most {max_body} bytes, Content-Length says {length}")
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > max_body:
                    metrics.request_done(413)
                    return _error(413, f"body: at most {max_body} bytes")
        except ClientDisconnect:
            metrics.request_done(CLIENT_CLOSED)
            return Response(status_code=400)  # nobody reads it
        try:
            emb, budget = _parse(bytes(body), d_user, fingerprint, budget_range)
        except BadRequest as e:
            metrics.request_done(e.status)
            return _error(e.status, str(e))
        try:
            wire = await batcher.submit(emb, budget)
        except Overloaded as e:
            metrics.request_done(503)
            return _error(503, f"overloaded: {e}; retry after {retry_after_s} s", **{"Retry-After": str(retry_after_s)})
        except Exception as e:  # noqa: BLE001 - the planner failed this batch; say so, keep serving
            metrics.request_done(500)
            return _error(500, f"planner: {type(e).__name__}: {e}")
        metrics.request_done(200, time.perf_counter() - t0)
        return Response(wire, media_type="application/octet-stream", headers={"X-Chord-Fingerprint": fingerprint})

    @app.get("/healthz")
    async def healthz():
        return {
            "status": "ok",
            "fingerprint": fingerprint,
            "d_user": d_user,
            "wire_version": WIRE_VERSION,
            "budget_range": list(budget_range),
            "pid": os.getpid(),
        }

    @app.get("/metrics")
    async def get_metrics():
        return metrics.as_dict(
            queue_depth=batcher.depth,
            strategies_per_s=batcher.rate,
            max_batch=batcher.max_batch,
            max_wait_ms=batcher.max_wait_s * 1e3,
            queue=batcher.queue_size,
            pid=os.getpid(),
        )

    app.state.batcher = batcher
    app.state.metrics = metrics
    return app


#: environment variable carrying ``chord serve``'s settings to every uvicorn worker process
CONFIG_ENV = "CHORD_SERVE_CONFIG"


def app_from_env() -> FastAPI:
    """uvicorn factory (``chord serve`` with several workers): settings from ``$CHORD_SERVE_CONFIG``."""
    from .model import load_service, random_service

    cfg = json.loads(os.environ[CONFIG_ENV])
    torch.set_num_threads(int(cfg.get("threads", 1)))
    if cfg.get("random"):
        service = random_service(
            cfg.get("model", "sasrec"),
            int(cfg.get("num_items", 1682)),
            seed=int(cfg.get("seed", 0)),
            dim=int(cfg.get("dim", 64)),
            blocks=int(cfg.get("blocks", 2)),
        )
    else:
        service = load_service(cfg["checkpoint"])
    return create_app(
        service,
        max_batch=int(cfg.get("max_batch", 64)),
        max_wait_ms=float(cfg.get("max_wait_ms", 2.0)),
        queue=int(cfg.get("queue", 1024)),
        max_queue_ms=float(cfg.get("max_queue_ms", 200.0)),
        max_body=int(cfg.get("max_body", 64 * 1024)),
    )
