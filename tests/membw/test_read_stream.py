"""C++ streaming-read probe ``_cpu.read_stream`` (csrc/membw/read_stream.cpp): it must really read
every byte (its checksum equals the numpy one for every ISA, thread count, prefetch setting and
odd length), and bad arguments are clear errors. Its speed is measured by chord bench only."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chord.backends import cpu as cpu_backend

pytestmark = pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built")
_cpu = cpu_backend._cpu
ISAS = cpu_backend.supported_isas()


def checksum(a: np.ndarray) -> int:
    """Wrapping sum of the little-endian 64-bit words of a, zero-padded to a multiple of 8."""
    pad = np.zeros((a.size + 7) // 8 * 8, np.uint8)
    pad[: a.size] = a
    return int(pad.view("<u8").sum(dtype=np.uint64))


@pytest.mark.parametrize("isa", ISAS)
@example(n=174337, offset=0, threads=2, prefetch=0, nta=False, streams=1, seed=0)  # a share's rounding lost a byte
@settings(max_examples=40, deadline=None)
@given(
    n=st.one_of(st.integers(0, 600), st.integers(60_000, 300_000)),
    offset=st.integers(0, 63),
    threads=st.integers(1, 3),
    prefetch=st.sampled_from([0, 64, 512, 4096]),
    nta=st.booleans(),
    streams=st.sampled_from([1, 2, 4, 8]),
    seed=st.integers(0, 2**31 - 1),
)
def test_checksum_is_every_byte(isa, n, offset, threads, prefetch, nta, streams, seed):
    a = np.random.default_rng(seed).integers(0, 256, n + offset, dtype=np.uint8)[offset:]  # unaligned starts too
    old = os.environ.get("CHORD_CPU_ISA")
    os.environ["CHORD_CPU_ISA"] = isa
    try:
        got = _cpu.read_stream(a, threads, prefetch, nta, streams)
    finally:
        if old is None:
            del os.environ["CHORD_CPU_ISA"]
        else:
            os.environ["CHORD_CPU_ISA"] = old
    assert got == checksum(a)


def test_large_buffer_all_ones():
    n = (3 << 20) + 13
    a = np.ones(n, np.uint8)
    assert _cpu.read_stream(a, 2, 512, False) == checksum(a)


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.zeros(8, np.float32), 1, 0, False), "buf: expected dtype uint8"),
        ((np.zeros((2, 8), np.uint8), 1, 0, False), "buf: expected a 1-D array"),
        ((np.zeros(8, np.uint8), 0, 0, False), "nthreads: expected >= 1, got 0"),
        ((np.zeros(8, np.uint8), 1, -64, False), "prefetch_bytes: expected >= 0, got -64"),
        ((np.zeros(8, np.uint8), 1, 0, False, 3), "streams: expected 1, 2, 4 or 8, got 3"),
    ],
)
def test_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        _cpu.read_stream(*args)


def test_noncontiguous_rejected():
    with pytest.raises(ValueError, match="buf: expected a C-contiguous array"):
        _cpu.read_stream(np.zeros(64, np.uint8)[::2], 1, 0, False)
