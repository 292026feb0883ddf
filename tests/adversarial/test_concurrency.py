"""Atomic adaptation: forwards running while ``DeviceModel.apply`` / re-``quantize_`` swap weights
see all the old or all the new weights -- never a mix, never an error (issue 16: 222 of 450
forwards were torn before)."""

from __future__ import annotations

import threading
import time

import pytest
import torch
from torch import nn

import chord
from chord import Strategy

from .helpers import clear_error, correct


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 96), nn.ReLU(), nn.Linear(96, 96), nn.ReLU(), nn.Linear(96, 32))


def _run_concurrently(forward, swap, n_forwards=450, threads=3, min_swaps=4):
    """Forwards in ``threads`` threads while this thread swaps. The forwards go on past their count
    until ``min_swaps`` swaps have happened, so a slow (busy) machine cannot end the run before the
    swaps it is meant to race against."""
    outs, errors = [], []
    swaps = [0]

    def worker(n):
        try:
            done = 0
            while done < n or swaps[0] < min_swaps:
                outs.append(forward())
                done += 1
        except Exception as e:  # noqa: BLE001 - any error is a failure of the test
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(n_forwards // threads,)) for _ in range(threads)]
    for t in ts:
        t.start()
    while any(t.is_alive() for t in ts):
        seen = len(outs) + len(errors)
        swap(swaps[0])
        swaps[0] += 1
        # the lock prefers writers, so back-to-back swaps would hold every forward out: let at
        # least one forward finish between two swaps (they still overlap the swaps' build phase)
        while len(outs) + len(errors) == seen and any(t.is_alive() for t in ts):
            time.sleep(0.0005)
    for t in ts:
        t.join()
    swaps = swaps[0]
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
    assert swaps >= 4 and len(outs) >= 450
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


@correct
def test_load_state_dict_while_serving():
    """``load_state_dict`` copies layer by layer: under the model's lock a concurrent forward
    computes with the state before or after the load, never some layers of each."""
    m, other = _model(), _model()
    with torch.no_grad():
        for p in other.parameters():
            p.mul_(-1.5)
    chord.quantize_(m, bits=4, keep_float=True)
    chord.quantize_(other, bits=4, keep_float=True)
    states = [{k: v.clone() for k, v in s.state_dict().items()} for s in (m, other)]
    x = torch.randn(5, 64)
    with torch.no_grad():
        out_a = m(x)
        m.load_state_dict(states[1])
        out_b = m(x)
        m.load_state_dict(states[0])
        assert torch.equal(m(x), out_a)
    assert not torch.equal(out_a, out_b)

    def fwd():
        with torch.no_grad():
            return m(x)

    outs, errors, loads = _run_concurrently(fwd, lambda i: m.load_state_dict(states[(i + 1) % 2]), n_forwards=300)
    assert not errors, errors[:3]
    assert loads >= 4 and len(outs) >= 300
    torn = sum(not (torch.equal(o, out_a) or torch.equal(o, out_b)) for o in outs)
    assert torn == 0, f"{torn} of {len(outs)} forwards saw a mix of two loaded states"


@correct
def test_load_state_dict_lock_released_on_error_and_copied():
    import copy

    m = _model()
    chord.quantize_(m, bits=4, keep_float=True)
    with pytest.raises(RuntimeError, match="nothing loaded"):
        m.load_state_dict({"bogus": torch.zeros(1)})
    done = threading.Event()
    t = threading.Thread(target=lambda: (m(torch.ones(1, 64)), done.set()), daemon=True)
    t.start()
    t.join(60)
    assert done.is_set(), "forward blocked: a failed load_state_dict kept the model's lock"
    c = copy.deepcopy(m)
    sd = {k: v.clone() for k, v in m.state_dict().items()}
    c.load_state_dict(sd)  # the copy's load targets the copy, under the copy's own lock
    assert c.load_state_dict.args[0] is c and c.__dict__["_chord_model_lock"] is not m.__dict__["_chord_model_lock"]


@pytest.fixture
def one_torch_thread():
    """The torch side (packing, reference forwards) on one thread: on a loaded 2-core machine
    tiny ops otherwise wait on OpenMP barriers."""
    nt = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(nt)


def _sasrec(seed):
    from chord.models import SASRec

    torch.manual_seed(seed)
    m = SASRec(60, dim=32, blocks=2, heads=2, max_len=12)
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() == 1:
                p.add_(torch.randn_like(p) * 0.3)
    return m.eval()


@correct
def test_fused_runtime_rebuilds_atomically_during_apply(one_torch_thread):
    """A fused runner with ``on_stale="rebuild"`` calls under the model's lock: every call while
    ``DeviceModel.apply`` alternates two strategies gives one strategy's exact output."""
    import chord.runtime as rt

    dm = chord.DeviceModel(_sasrec(0), embeddings=True)
    layers = chord.quantizable_layers(dm.model, embeddings=True)
    s_a, s_b = Strategy.random(layers, 3.0, seed=1), Strategy.random(layers, 6.0, seed=2)
    seqs = torch.randint(1, 61, (4, 12), generator=torch.Generator().manual_seed(3))
    r = rt.compile(dm.model, on_stale="rebuild")
    dm.apply(s_a)
    out_a = r.represent(seqs)  # rebuilt once: the new strategy
    assert torch.equal(out_a, rt.compile(dm.model).represent(seqs))
    dm.apply(s_b)
    out_b = r.represent(seqs)
    assert not torch.equal(out_a, out_b)
    outs, errors, swaps = _run_concurrently(lambda: r.represent(seqs), lambda i: dm.apply((s_a, s_b)[i % 2]), 150)
    assert not errors, errors[:3]
    assert swaps >= 4 and len(outs) >= 150
    assert all(torch.equal(o, out_a) or torch.equal(o, out_b) for o in outs)


@correct
def test_fused_runtime_during_in_place_load_state_dict(one_torch_thread):
    """``load_state_dict`` writes the borrowed tensors in place: a fused call holds the model's
    lock shared, so it computes with the state before the load (then finds itself stale) or
    after it -- never a half-copied model."""
    import chord.runtime as rt

    dms = [chord.DeviceModel(_sasrec(seed), embeddings=True, initial_bits=4) for seed in (0, 1)]
    m = dms[0].model
    states = [{k: v.clone() for k, v in d.model.state_dict().items()} for d in dms]
    seqs = torch.randint(1, 61, (4, 12), generator=torch.Generator().manual_seed(3))
    outs_ref = [rt.compile(d.model).represent(seqs) for d in dms]
    assert not torch.equal(*outs_ref)
    for mode in ("rebuild", "raise"):
        m.load_state_dict(states[0])
        r = rt.compile(m, on_stale=mode)
        assert torch.equal(r.represent(seqs), outs_ref[0])

        def call(r=r):
            try:
                return r.represent(seqs)
            except rt.StaleRuntimeError:
                return None

        outs, errors, _ = _run_concurrently(call, lambda i: m.load_state_dict(states[(i + 1) % 2]), 120)
        assert not errors, errors[:3]
        got = [o for o in outs if o is not None]
        assert mode == "raise" or len(got) == len(outs)
        assert all(torch.equal(o, outs_ref[0]) or torch.equal(o, outs_ref[1]) for o in got), mode


@clear_error
def test_fused_runtime_on_stale_argument():
    import chord.runtime as rt

    with pytest.raises(ValueError, match="on_stale: expected 'raise' or 'rebuild', got 'ignore'"):
        rt.compile(_sasrec(0), on_stale="ignore")
