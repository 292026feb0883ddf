"""Bounded-time fuzz of the binary parsers (hypothesis, a fixed example budget, derandomized so
CI runs the same inputs every time): strategy wire bytes, MixedWeight safetensors bytes, data set
lines, checkpoint configs. Each input must parse or raise the parser's own clear error class --
never crash, hang, allocate without bound, or leak another exception type.

Budget: ``CHORD_FUZZ_EXAMPLES`` examples per target (default 300; CI uses the default)."""

from __future__ import annotations

import json
import os
import struct
import zlib

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chord import FormatError, MixedWeight, Strategy, StrategyError
from chord.checkpoint import CheckpointError, read_config
from chord.data.formats import DataFormatError, read_file

from .helpers import correct, packed

EXAMPLES = int(os.environ.get("CHORD_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

_STRATEGY = Strategy(
    {"a": torch.tensor([0, 1, 2, 3, 3], dtype=torch.uint8), "b": torch.tensor([2, 2, 1], dtype=torch.uint8)}
).to_bytes(b"\x01" * 8)
_MW = packed(6, 40).to_bytes()


def _recrc(b: bytes) -> bytes:
    """Fix the trailing CRC32 so the mutation reaches the fields behind it."""
    return b[:-4] + struct.pack("<I", zlib.crc32(b[:-4])) if len(b) >= 4 else b


def _mutations(seed: bytes):
    return st.one_of(
        st.binary(max_size=400),
        st.tuples(st.integers(0, len(seed)), st.binary(max_size=16)).map(lambda t: seed[: t[0]] + t[1]),
        st.tuples(st.integers(0, len(seed) - 1), st.integers(0, 255)).map(
            lambda t: seed[: t[0]] + bytes([t[1]]) + seed[t[0] + 1 :]
        ),
        st.tuples(st.integers(0, len(seed)), st.integers(0, len(seed))).map(lambda t: seed[: t[0]] + seed[t[1] :]),
    )


@correct
@FUZZ
@given(data=_mutations(_STRATEGY), fix_crc=st.booleans())
def test_fuzz_strategy_bytes(data, fix_crc):
    if fix_crc:
        data = _recrc(data)
    try:
        s = Strategy.from_bytes(data)
    except StrategyError:
        return
    assert Strategy.from_bytes(s.to_bytes(data[11:19])) == s


@correct
@FUZZ
@given(data=_mutations(_MW))
def test_fuzz_mixed_weight_bytes(data):
    try:
        mw = MixedWeight.from_bytes(data)
    except FormatError:
        return
    mw.validate()
    assert torch.isfinite(mw.dequantize()).all()


def test_mixed_weight_bytes_with_a_width_outside_the_codebook():
    # the fuzzer's find (2026-12-07): one byte of the bucket table's JSON turned the width 8
    # into 14, which reached row_bytes before the width check and divided by zero there; 9 is
    # the same case without changing the header's length
    head = _MW[: 8 + struct.unpack("<Q", _MW[:8])[0]]
    i = head.index(b"[8,")
    data = _MW[: i + 1] + b"9" + _MW[i + 2 :]
    try:
        MixedWeight.from_bytes(data)
    except FormatError as e:
        assert "buckets" in str(e)
    else:
        raise AssertionError("a width outside the codebook was accepted")


_LINE = st.lists(st.sampled_from(list("0123456789 \t:-.eEnaif\u00e9x") + ["::", "\n"]), max_size=40).map("".join)


@correct
@FUZZ
@given(
    fmt=st.sampled_from(["sasrec", "s3rec", "atomic", "movielens"]),
    lines=st.lists(_LINE, max_size=12),
    raw=st.binary(max_size=40),
)
def test_fuzz_dataset_lines(tmp_path_factory, fmt, lines, raw):
    d = tmp_path_factory.mktemp("f")
    head = "user_id:token\titem_id:token\ttimestamp:float\n" if fmt == "atomic" else ""
    p = d / {"atomic": "x.inter", "movielens": "ratings.dat"}.get(fmt, "x.txt")
    p.write_bytes(head.encode() + "\n".join(lines).encode() + raw)
    try:
        ds = read_file(p, fmt)
    except DataFormatError as e:
        assert str(p) in str(e)
        return
    assert ds.num_interactions > 0 and ds.items.min() >= 1 and ds.items.max() <= ds.num_items


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
    max_leaves=12,
)


@correct
@FUZZ
@given(doc=_JSON, raw=st.binary(max_size=30), use_raw=st.booleans())
def test_fuzz_checkpoint_config(tmp_path_factory, doc, raw, use_raw):
    p = tmp_path_factory.mktemp("c") / "config.json"
    p.write_bytes(raw if use_raw else json.dumps(doc).encode())
    try:
        meta = read_config(p)
    except CheckpointError as e:
        assert str(p) in str(e)
        return
    assert isinstance(meta["model"], dict)
