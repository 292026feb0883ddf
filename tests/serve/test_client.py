"""The device client: its request body (an embedding or recent item ids, never both or neither)
and how long it waits after a 503."""

from __future__ import annotations

import json

import pytest
import torch

from chord.quantize.strategy import WIRE_VERSION
from chord.serve.client import (
    MAX_RETRY_AFTER_S,
    RETRY_AFTER_JITTER,
    retry_after_wait,
    strategy_request_body,
)


def test_body_carries_an_embedding_or_item_ids():
    fp = bytes(range(8))
    body = json.loads(strategy_request_body(torch.tensor([[0.5, -1.0]]), 3, fp))
    assert body == {"user_embedding": [0.5, -1.0], "budget": 3.0, "fingerprint": fp.hex(), "wire_version": WIRE_VERSION}
    body = json.loads(strategy_request_body(None, 2.5, fp.hex(), recent_items=torch.tensor([[0, 0, 9, 4]])))
    assert body["recent_items"] == [9, 4] and "user_embedding" not in body  # left padding dropped
    for emb, items in ((None, None), ([0.5], [1])):
        with pytest.raises(ValueError, match="exactly one"):
            strategy_request_body(emb, 3.0, fp, recent_items=items)
    with pytest.raises(ValueError, match="recent_items"):
        strategy_request_body(None, 3.0, fp, recent_items=[0, 0])


def test_retry_after_is_waited_capped_and_spread():
    """A 503's Retry-After is waited at least (capped at MAX_RETRY_AFTER_S) plus up to
    RETRY_AFTER_JITTER more at random, so devices shed together do not come back together."""
    waits = [retry_after_wait(b"1") for _ in range(200)]
    assert all(1.0 <= w <= 1.0 + RETRY_AFTER_JITTER for w in waits)
    assert max(waits) - min(waits) > RETRY_AFTER_JITTER / 4  # spread, not one instant
    assert MAX_RETRY_AFTER_S <= retry_after_wait("3600") <= MAX_RETRY_AFTER_S * (1 + RETRY_AFTER_JITTER)
    for bad in (None, "", "soon", "Wed, 21 Oct 2026 07:28:00 GMT", "-1"):
        assert retry_after_wait(bad) is None
