"""The device client's request body: an embedding or recent item ids, never both or neither."""

from __future__ import annotations

import json

import pytest
import torch

from chord.quantize.strategy import WIRE_VERSION
from chord.serve.client import strategy_request_body


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
