"""Atomic adaptation: forwards running while ``DeviceModel.apply`` / re-``quantize_`` swap weights
see all the old or all the new weights -- never a mix, never an error (issue 16: 222 of 450
forwards were torn before)."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

import chord
from chord import Strategy

from .helpers import correct


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 96), nn.ReLU(), nn.Linear(96, 96), nn.ReLU(), nn.Linear(96, 32))


def _run_concurrently(forward, swap, n_forwards=450, threads=3):
    outs, errors = [], []
    stop = threading.Event()

    def worker(n):
        try:
            for _ in range(n):
                outs.append(forward())
        except Exception as e:  # noqa: BLE001 - any error is a failure of the test
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(n_forwards // threads,)) for _ in range(threads)]
    for t in ts:
        t.start()
    swaps = 0
    while any(t.is_alive() for t in ts) and not stop.is_set():
        swap(swaps)
        swaps += 1
    for t in ts:
        t.join()
    return outs, errors, swaps


@correct
@pytest.mark.parametrize("wire", [True, False])
def test_device_model_apply_while_serving(wire):
    dm = chord.DeviceModel(_model())
    layers = chord.quantizable_layers(dm.model)
    s_a = Strategy.random(layers, 2.5, seed=1)
    s_b = Strategy.random(layers, 6.0, seed=2)
    x = torch.randn(5, 64)
    with torch.no_grad():
        dm.apply(s_a)
        out_a = dm(x)
        dm.apply(s_b)
        out_b = dm(x)
    assert not torch.equal(out_a, out_b)
    payloads = [s.to_bytes(dm.fingerprint) if wire else s for s in (s_a, s_b)]

    def fwd():
        with torch.no_grad():
            return dm(x)

    outs, errors, swaps = _run_concurrently(fwd, lambda i: dm.apply(payloads[i % 2]))
    assert not errors, errors[:3]
    assert swaps >= 2 and len(outs) == 450
    torn = sum(not (torch.equal(o, out_a) or torch.equal(o, out_b)) for o in outs)
    assert torn == 0, f"{torn} of {len(outs)} forwards saw a mix of two strategies"


@correct
def test_requantize_while_serving():
    m = _model()
    chord.quantize_(m, bits=4, keep_float=True)
    x = torch.randn(5, 64)
    with torch.no_grad():
        out_4 = m(x)
        chord.quantize_(m, bits=8)
        out_8 = m(x)

    def fwd():
        with torch.no_grad():
            return m(x)

    outs, errors, _ = _run_concurrently(fwd, lambda i: chord.quantize_(m, bits=(4, 8)[i % 2]), n_forwards=240)
    assert not errors, errors[:3]
    assert all(torch.equal(o, out_4) or torch.equal(o, out_8) for o in outs)


@correct
def test_lock_survives_deepcopy_and_exceptions():
    import copy

    m = _model()
    chord.quantize_(m, bits=4, keep_float=True)
    with pytest.raises(ValueError, match="x: expected shape"):
        m(torch.randn(2, 63))  # a failing forward must release the shared lock
    done = threading.Event()
    t = threading.Thread(target=lambda: (chord.quantize_(m, bits=8), done.set()), daemon=True)
    t.start()
    t.join(60)
    assert done.is_set(), "re-quantize_ blocked: a failed forward kept the model's lock"
    c = copy.deepcopy(m)
    assert torch.equal(c(torch.ones(1, 64)), m(torch.ones(1, 64)))
