"""DeviceModel: strategy bytes -> packed frozen weights, swapped in; no leaks across applies."""

from __future__ import annotations

import copy
import gc
import warnings

import pytest
import torch
from torch import nn

import chord
from chord import DeviceModel, Strategy, StrategyError
from chord.quantize.layers import quantizable_layers
from tests.helpers import random_strategy


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Embedding(120, 32), nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 32))


def test_apply_equals_quantize_with_the_same_strategy():
    m = _model()
    ref = copy.deepcopy(m)
    dev = DeviceModel(m, embeddings=True)
    s = random_strategy(ref, 3)
    stats = dev.apply(s.to_bytes(dev.fingerprint))
    chord.quantize_(ref, s)
    for name in ("0", "1", "3"):
        a, b = dev.model.get_submodule(name).mw, ref.get_submodule(name).mw
        for t in ("qweight", "scales", "zeros", "perm", "codes"):
            assert torch.equal(getattr(a, t), getattr(b, t)), (name, t)
    ids = torch.randint(0, 120, (4, 5))
    assert torch.equal(dev(ids), ref(ids))
    assert set(stats.pack_s) == {"0", "1", "3"} and stats.total_s >= sum(stats.pack_s.values())
    assert stats.wire_bytes == Strategy.wire_size(quantizable_layers(ref, embeddings=True))
    assert stats.avg_bits == pytest.approx(s.avg_bits(dev.layer_sizes))
    assert stats.packed_bytes == s.bytes_implied(dev.layer_sizes)


def test_remap_weak_device_and_partial_strategy():
    m = _model()
    dev = DeviceModel(m, remap={8: 4})
    assert list(dev.modules) == ["1", "3"]  # embeddings excluded by default
    s = Strategy({"3": torch.full((32,), 3, dtype=torch.uint8)})
    dev.apply(s.to_bytes(dev.fingerprint))
    assert set(dev.modules["3"].mw.bits_per_row.tolist()) == {4}  # 8 -> 4 on this device
    assert set(dev.modules["1"].mw.bits_per_row.tolist()) == {4}  # initial 8-bit, remapped


def test_rejects_foreign_or_corrupt_bytes_and_keeps_state():
    m = _model()
    dev = DeviceModel(m)
    before = dev.modules["1"].qweight.clone()
    other = nn.Sequential(nn.Embedding(120, 32), nn.Linear(32, 65), nn.ReLU(), nn.Linear(65, 32))
    with pytest.raises(StrategyError, match="another model"):
        dev.apply(random_strategy(other, 0, embeddings=False).to_bytes(other))
    good = random_strategy(m, 1, embeddings=False).to_bytes(dev.fingerprint)
    with pytest.raises(StrategyError, match="CRC32"):
        dev.apply(good[:-5] + bytes([good[-5] ^ 1]) + good[-4:])
    assert torch.equal(dev.modules["1"].qweight, before)


def test_fifty_applies_do_not_leak():
    m = _model()
    frozen_ptrs = {n: p.data_ptr() for n, p in m.named_parameters() if n.endswith("weight")}
    dev = DeviceModel(m, embeddings=True)
    blobs = [random_strategy(m, i).to_bytes(dev.fingerprint) for i in range(50)]
    ids = torch.randint(0, 120, (2, 3))

    def tensors():
        gc.collect()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sum(1 for o in gc.get_objects() if type(o) is torch.Tensor or type(o) is nn.Parameter)

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    for b in blobs[:5]:
        dev.apply(b)
        dev(ids)
    n0, r0 = tensors(), rss()
    for b in blobs:
        dev.apply(b)
        dev(ids)
    assert tensors() == n0
    assert rss() - r0 < 8 * 2**20
    for name, ptr in frozen_ptrs.items():  # frozen weights kept once, by reference
        mod = name.rsplit(".", 1)[0]
        assert dev.frozen[mod].data_ptr() == ptr
        assert dev.modules[mod].float_weight.data_ptr() == ptr


class _ComputeLog(torch.utils._python_dispatch.TorchDispatchMode):
    """Records every aten op that computes (beyond views, conversions that return their input,
    and chord's own kernels)."""

    FREE = ("aten.detach.", "aten.alias.", "aten.view.", "aten.reshape.", "aten._reshape_alias.", "aten.lift_fresh.")
    FREE += ("aten.resolve_conj.", "aten.resolve_neg.")

    def __init__(self):
        super().__init__()
        self.computed = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = str(func)
        no_copy = name.startswith("aten.to.") and out is args[0]
        if not (no_copy or name.startswith(self.FREE) or name.startswith("chord.")):
            self.computed.append(name)
        return out


def test_apply_runs_no_torch_computation_beside_the_kernels():
    """Every step of an adaptation besides the C++ kernel (codes check, bucket plan, permutation
    check, row tables, stats) runs in numpy: a torch op on a table past torch's grain size
    (32768 elements) is a parallel region of torch's OpenMP pool, and beside a busy core its
    barrier waits for a descheduled worker (reports/2026-12-06-contended.md)."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Embedding(40_000, 8), nn.Linear(8, 16))
    dev = DeviceModel(m, embeddings=True)
    s = random_strategy(m, 1)
    dev.apply(s)
    s2 = random_strategy(m, 2)
    with torch.inference_mode(), _ComputeLog() as log:
        stats = dev.apply(s2)
    assert log.computed == []
    assert stats.avg_bits == pytest.approx(s2.avg_bits(dev.layer_sizes))
