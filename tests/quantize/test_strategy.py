"""Strategy: budgets, byte accounting, the wire codec, and fuzzed corruptions."""

from __future__ import annotations

import math
import random
import struct
import zlib

import pytest
import torch
from torch import nn

from chord import Codebook, FormatError
from chord import format as fmt
from chord.quantize.layers import quantizable_layers
from chord.quantize.strategy import FINGERPRINT_BYTES, MAGIC, WIRE_VERSION, Strategy, StrategyError, model_fingerprint


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(24, 37), nn.ReLU(), nn.Linear(37, 13), nn.Conv2d(3, 7, (2, 5)), nn.Embedding(50, 16))


def _random_codes(layers, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Strategy(
        {n: torch.randint(0, 4, (li.channels,), generator=g, dtype=torch.uint8) for n, li in layers.items()}
    )


def test_layer_enumeration_kinds_and_sizes():
    m = _model()
    L = quantizable_layers(m)
    assert list(L) == ["0", "2", "3"]  # embeddings excluded by default
    assert [(li.kind, li.channels, li.elems) for li in L.values()] == [
        ("linear", 37, 24),
        ("linear", 13, 37),
        ("conv2d", 7, 3 * 2 * 5),
    ]
    L2 = quantizable_layers(m, embeddings=True)
    assert list(L2)[-1] == "4" and L2["4"].kind == "embedding" and (L2["4"].channels, L2["4"].elems) == (50, 16)
    assert list(quantizable_layers(m, lambda mod, name: name != "2")) == ["0", "3"]


def test_avg_bits_weighted_by_channel_size():
    m = _model()
    L = quantizable_layers(m)
    codes = {
        "0": torch.full((37,), 3, dtype=torch.uint8),  # 8 bits x 37 x 24
        "2": torch.full((13,), 1, dtype=torch.uint8),  # 2 bits x 13 x 37
        "3": torch.zeros(7, dtype=torch.uint8),
    }  # pruned, 7 x 30
    s = Strategy(codes)
    want = (8 * 37 * 24 + 2 * 13 * 37) / (37 * 24 + 13 * 37 + 7 * 30)
    assert s.avg_bits(L) == pytest.approx(want, rel=1e-12)
    assert s.avg_bits({n: (li.channels, li.elems) for n, li in L.items()}) == pytest.approx(want, rel=1e-12)
    implied = 37 * fmt.row_bytes(24, 8) + 13 * fmt.row_bytes(37, 2) + 12 * (37 + 13 + 7)
    assert s.bytes_implied(L) == implied
    for b in (2, 4, 8):
        assert Strategy.uniform(L, b).avg_bits(L) == b


@pytest.mark.parametrize("target", [2.0, 2.5, 3.0, 4.0, 6.0])
def test_random_strategy_meets_budget(target):
    layers = {f"l{i}": (64 + 3 * i, 64) for i in range(8)}
    s = Strategy.random(layers, target, seed=3)
    # tiers are cut by element share: within one channel's worth of bits
    assert abs(s.avg_bits(layers) - target) <= 8 * 64 / sum(c * k for c, k in layers.values()) + 1e-9
    assert Strategy.random(layers, target, seed=3) == s
    assert Strategy.random(layers, target, seed=4) != s


def test_remap_weak_device():
    L = quantizable_layers(_model())
    s = _random_codes(L)
    weak = s.remap({8: 4})
    assert weak.codebook.bits == (0, 2, 4, 4)
    for n in L:
        b, wb = s.bits(n), weak.bits(n)
        assert torch.equal(wb, torch.where(b == 8, torch.full_like(b, 4), b))
    assert weak.avg_bits(L) <= s.avg_bits(L)


@pytest.mark.parametrize("names", [True, False])
def test_codec_round_trip_and_size(names):
    m = _model()
    L = quantizable_layers(m, embeddings=True)
    s = _random_codes(L, seed=1).remap(Codebook((0, 2, 4, 8), "asym"))
    data = s.to_bytes(m, names=names)
    C = sum(li.channels for li in L.values())
    header = len(data) - math.ceil(2 * C / 8)
    assert len(data) == Strategy.wire_size(L, names=names)
    assert header == 21 + 4 + sum((2 + len(n) if names else 0) + 4 for n in L)
    back = Strategy.from_bytes(data, expected_fingerprint=m, layer_infos=L)
    assert back == s and back.codebook.scheme == "asym"
    if names:
        assert Strategy.from_bytes(data) == s  # self-describing


@pytest.mark.parametrize("C", [1, 2, 3, 4, 5, 7, 8, 9])
def test_codec_odd_channel_counts(C):
    s = Strategy({"a": torch.tensor([3, 1, 2, 0, 1, 3, 2, 1, 3][:C], dtype=torch.uint8)})
    data = s.to_bytes(b"\1" * FINGERPRINT_BYTES)
    assert Strategy.from_bytes(data) == s


def _recrc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def test_codec_rejects_wrong_model_version_magic_and_padding():
    m = _model()
    L = quantizable_layers(m)
    s = _random_codes(L)
    data = s.to_bytes(m)
    other = nn.Sequential(nn.Linear(24, 38))
    with pytest.raises(StrategyError, match="another model"):
        Strategy.from_bytes(data, expected_fingerprint=other)
    with pytest.raises(StrategyError, match="does not fit"):
        Strategy.from_bytes(s.to_bytes(other), layer_infos=quantizable_layers(other))
    body = bytearray(data[:-4])
    body[4] = WIRE_VERSION + 1
    with pytest.raises(StrategyError, match="version"):
        Strategy.from_bytes(_recrc(bytes(body)))
    with pytest.raises(StrategyError, match="magic"):
        Strategy.from_bytes(b"XXXX" + data[4:])
    body = bytearray(data[:-4])
    body[-1] |= 0xC0  # 57 channels: last byte has 3 pad codes
    with pytest.raises(StrategyError, match="padding"):
        Strategy.from_bytes(_recrc(bytes(body)))
    body = bytearray(data[:-4])
    body[6] = 3  # codebook width 3: unsupported
    with pytest.raises(StrategyError, match="codebook"):
        Strategy.from_bytes(_recrc(bytes(body)))
    with pytest.raises(StrategyError, match="layer_infos"):
        Strategy.from_bytes(s.to_bytes(m, names=False))
    with pytest.raises(TypeError, match="bytes"):
        Strategy.from_bytes("not bytes")
    assert issubclass(StrategyError, FormatError)
    assert data[:4] == MAGIC


def test_codec_fuzzed_corruptions_never_crash():
    """>= 1,000 random flips / truncations / extensions: each is rejected with StrategyError
    or decodes to exactly the original (never another exception, never a different strategy)."""
    m = _model()
    L = quantizable_layers(m, embeddings=True)
    rng = random.Random(1234)
    cases = rejected = 0
    for k in range(6):
        s = _random_codes(L, seed=k)
        for names in (True, False):
            data = s.to_bytes(m, names=names)
            for _ in range(200):
                d = bytearray(data)
                op = rng.randrange(4)
                if op == 0:  # flip 1..8 random bits
                    for _ in range(rng.randint(1, 8)):
                        d[rng.randrange(len(d))] ^= 1 << rng.randrange(8)
                elif op == 1:  # truncate
                    d = d[: rng.randrange(len(d))]
                elif op == 2:  # append garbage
                    d += bytes(rng.randrange(256) for _ in range(rng.randint(1, 9)))
                else:  # overwrite a random byte
                    d[rng.randrange(len(d))] = rng.randrange(256)
                cases += 1
                try:
                    back = Strategy.from_bytes(bytes(d), expected_fingerprint=m, layer_infos=L)
                except StrategyError:
                    rejected += 1
                    continue
                assert back == s
    assert cases >= 1000 and rejected >= cases * 0.9


def test_fingerprint_is_structural_and_stable():
    a, b = _model(), _model()
    with torch.no_grad():
        b[0].weight.add_(1.0)
    assert model_fingerprint(a) == model_fingerprint(b)  # same architecture, other weights
    assert len(model_fingerprint(a)) == FINGERPRINT_BYTES
    c = nn.Sequential(nn.Linear(24, 37), nn.ReLU(), nn.Linear(37, 14), nn.Conv2d(3, 7, (2, 5)), nn.Embedding(50, 16))
    assert model_fingerprint(a) != model_fingerprint(c)


def test_strategy_rejects_bad_codes():
    with pytest.raises(ValueError, match="0..3"):
        Strategy({"a": torch.tensor([0, 4], dtype=torch.uint8)})
    with pytest.raises(TypeError, match="integer"):
        Strategy({"a": torch.tensor([0.0, 1.0])})
    with pytest.raises(ValueError, match="non-empty"):
        Strategy({"a": torch.empty(0, dtype=torch.uint8)})
    with pytest.raises(ValueError, match="channels"):
        Strategy({"0": torch.zeros(3, dtype=torch.uint8)}).avg_bits(quantizable_layers(_model()))


def test_model_as_layer_infos_covers_tables():
    m = _model()
    L = quantizable_layers(m, embeddings=True)
    s = _random_codes(L, seed=9)  # includes the embedding "4"
    assert s.avg_bits(m) == s.avg_bits(L)
    for names in (True, False):
        assert Strategy.from_bytes(s.to_bytes(m, names=names), m, m) == s
    dense = _random_codes(quantizable_layers(m), seed=9)
    assert Strategy.from_bytes(dense.to_bytes(m, names=False), m, m) == dense
