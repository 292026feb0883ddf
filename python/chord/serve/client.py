"""Stdlib client of the strategy service (what a device runs): one POST, with a timeout and
retries for what a retry can fix (connection refused or reset, timeouts, 503, other 5xx).

A 4xx is never retried: the request itself is wrong (another model, a budget out of range).
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request

from chord.quantize.strategy import WIRE_VERSION

#: longest Retry-After the client honours (seconds): a device should not stall longer than this
MAX_RETRY_AFTER_S = 5.0
#: a 503's Retry-After is waited, plus up to this fraction of it more at random: devices shed in
#: the same instant come back spread out, not as one burst that is shed again
RETRY_AFTER_JITTER = 0.5


def retry_after_wait(value: str | bytes | None) -> float | None:
    """Seconds to wait before retrying after a 503 whose ``Retry-After`` header is ``value`` (the
    delay-seconds form): at least the header's, at most MAX_RETRY_AFTER_S before the jitter, plus
    up to RETRY_AFTER_JITTER of it at random. None: no header, or not a number of seconds."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if value is None or not value.strip().isdigit():
        return None
    return min(float(value), MAX_RETRY_AFTER_S) * (1.0 + RETRY_AFTER_JITTER * random.random())


class ServeError(RuntimeError):
    """The service refused the request (``status``: the HTTP status, None when unreachable)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def strategy_request_body(user_embedding, budget: float, fingerprint: bytes | str, *, recent_items=None) -> bytes:
    """The JSON body of ``POST /v1/strategy``. user_embedding: d_user floats (list, or a tensor of
    any shape holding d_user values); or None with recent_items: item ids, most recent last (list
    or tensor; 0s are left padding and are dropped), for a server that holds the profiler."""
    if (user_embedding is None) == (recent_items is None):
        raise ValueError("user_embedding, recent_items: expected exactly one of them")
    fp = fingerprint.hex() if isinstance(fingerprint, (bytes, bytearray)) else str(fingerprint)
    body = {"budget": float(budget), "fingerprint": fp, "wire_version": WIRE_VERSION}
    if recent_items is not None:
        if hasattr(recent_items, "detach"):
            recent_items = recent_items.detach().reshape(-1).tolist()
        items = [int(i) for i in recent_items if int(i) != 0]
        if not items:
            raise ValueError("recent_items: expected at least one item id besides the padding (0)")
        body["recent_items"] = items
    else:
        if hasattr(user_embedding, "detach"):
            user_embedding = user_embedding.detach().reshape(-1).tolist()
        body["user_embedding"] = [float(x) for x in user_embedding]
    return json.dumps(body).encode()


def request_strategy(
    url: str,
    user_embedding,
    budget: float,
    fingerprint: bytes | str,
    *,
    timeout: float = 2.0,
    retries: int = 3,
    backoff: float = 0.05,
    recent_items=None,
) -> bytes:
    """POST to ``url`` (the server's base URL or its ``/v1/strategy``) -> strategy wire bytes.

    user_embedding, or None with recent_items: see ``strategy_request_body``. timeout: seconds
    per attempt; retries: further attempts after the first; backoff: base of the exponential wait
    between attempts (jittered; a 503's Retry-After wins: ``retry_after_wait``). Raises
    ServeError (with the server's reason) on a 4xx or when every attempt failed.
    """
    endpoint = url.rstrip("/")
    if not endpoint.endswith("/v1/strategy"):
        endpoint += "/v1/strategy"
    body = strategy_request_body(user_embedding, budget, fingerprint, recent_items=recent_items)
    return _call(
        lambda: urllib.request.Request(
            endpoint, data=body, method="POST", headers={"Content-Type": "application/json"}
        ),
        endpoint,
        timeout=timeout,
        retries=retries,
        backoff=backoff,
    )


def request_population_strategy(
    url: str,
    budget: float,
    fingerprint: bytes | str,
    *,
    timeout: float = 2.0,
    retries: int = 3,
    backoff: float = 0.05,
) -> bytes:
    """GET the server's one strategy for everybody at ``budget`` bits -> wire bytes
    (``chord.system.cloud.population``): nothing about the user is sent. ``url``: the server's
    base URL. timeout / retries / backoff and errors as :func:`request_strategy`."""
    fp = fingerprint.hex() if isinstance(fingerprint, (bytes, bytearray)) else str(fingerprint)
    query = urllib.parse.urlencode({"budget": repr(float(budget)), "fingerprint": fp})
    endpoint = url.rstrip("/") + "/v1/strategy/population"
    return _call(
        lambda: urllib.request.Request(f"{endpoint}?{query}", method="GET"),
        endpoint,
        timeout=timeout,
        retries=retries,
        backoff=backoff,
    )


def _call(make_request, endpoint: str, *, timeout: float, retries: int, backoff: float) -> bytes:
    """Send ``make_request()`` until it answers 2xx: 4xx raises at once, connection errors / 503 /
    5xx are retried ``retries`` more times (a 503's Retry-After wins over the backoff)."""
    if retries < 0 or timeout <= 0:
        raise ValueError(f"retries, timeout: expected >= 0 and > 0, got {retries}, {timeout}")
    last = "no attempt"
    for attempt in range(retries + 1):
        wait = backoff * (2**attempt) * (0.5 + random.random())
        try:
            with urllib.request.urlopen(make_request(), timeout=timeout) as resp:
                return resp.read()
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            try:
                detail = json.loads(detail).get("error", detail)
            except (ValueError, AttributeError):
                pass
            if e.code < 500:
                raise ServeError(f"{endpoint}: {e.code}: {detail}", e.code) from None
            last = f"{e.code}: {detail}"
            if e.code == 503:
                wait = retry_after_wait(e.headers.get("Retry-After")) or wait
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
            last = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
        if attempt < retries:
            time.sleep(wait)
    raise ServeError(f"{endpoint}: no answer after {retries + 1} attempts (last: {last})")
