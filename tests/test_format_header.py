"""csrc/common/format.h (the C++ kernels' one copy of the format arithmetic) agrees with
python/chord/format.py, the contract: constants, per-row sizes, the planar field layout and the
bucket table, on random sizes up to the int64 edge; oversized tables are errors, never wraps."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from chord import format as fmt
from chord.backends import cpu as cpu_backend

pytestmark = pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built")
_cpu = cpu_backend._cpu
WIDTHS = (0, 1, 2, 4, 8)
INT64_MAX = 2**63 - 1


def test_constants():
    c = _cpu.format_constants
    assert c["FORMAT_VERSION"] == fmt.FORMAT_VERSION
    assert c["BLOCK_BYTES"] == fmt.BLOCK_BYTES
    assert tuple(c["BUCKET_ORDER"]) == tuple(fmt.BUCKET_ORDER)
    for b in WIDTHS[1:]:
        assert _cpu.format_block_elems(b) == fmt.block_elems(b)


@settings(max_examples=300, deadline=None)
@given(K=st.one_of(st.integers(0, 5000), st.integers(0, INT64_MAX - 1024)), bits=st.sampled_from(WIDTHS))
def test_row_sizes(K, bits):
    assert _cpu.format_padded_k(K, bits) == fmt.padded_k(K, bits)
    assert _cpu.format_row_bytes(K, bits) == fmt.row_bytes(K, bits)


@pytest.mark.parametrize("bits", WIDTHS[1:])
def test_row_sizes_at_the_int64_edge_are_errors(bits):
    K = INT64_MAX - 2  # padded_k would pass INT64_MAX
    with pytest.raises(OverflowError, match="row_bytes: size arithmetic overflows int64"):
        _cpu.format_row_bytes(K, bits)


@pytest.mark.parametrize("bits", WIDTHS[1:])
def test_planar_field_layout(bits):
    # pack_ints puts element plane_elem(blk, i, j) in bits [i*b, (i+1)*b) of byte j of block blk
    K = 3 * fmt.block_elems(bits) - 5
    u = torch.randint(0, 2**bits, (1, K), dtype=torch.uint8, generator=torch.Generator().manual_seed(bits))
    packed = fmt.pack_ints(u, bits)[0]
    for blk in range(fmt.padded_k(K, bits) // fmt.block_elems(bits)):
        for i in range(8 // bits):
            for j in range(fmt.BLOCK_BYTES):
                e = _cpu.format_plane_elem(blk, i, j, bits)
                want = int(u[0, e]) if e < K else 0
                assert (int(packed[blk * fmt.BLOCK_BYTES + j]) >> (i * bits)) & (2**bits - 1) == want


@settings(max_examples=300, deadline=None)
@given(
    spec=st.lists(st.tuples(st.sampled_from(WIDTHS), st.integers(0, 10**6)), max_size=8),
    K=st.one_of(st.integers(1, 5000), st.integers(1, 2**36)),
)
def test_bucket_spans(spec, K):
    buckets = [v for bn in spec for v in bn]
    N = sum(n for _, n in spec)
    spans, total = _cpu.format_bucket_spans(buckets, K, N)
    assert [tuple(s) for s in spans] == fmt.bucket_spans(buckets, K)
    assert total == fmt.total_bytes(buckets, K)


@pytest.mark.parametrize(
    "buckets, N, match, exc",
    [
        ([8, 2**62] * 3 + [8, 2**62 + 4], 4, "rows sum to more than N = 4", ValueError),
        ([0, 2**63 - 1, 0, 2**63 - 1, 8, 6], 4, "rows sum to more than N = 4", ValueError),
        ([8, 3, 2, 1], 5, "rows sum to 4, expected N = 5", ValueError),
        ([8, -1, 2, 5], 4, r"buckets\[1\]: expected a row count >= 0, got -1", ValueError),
        ([3, 4], 4, r"buckets\[0\]: expected a width in \{8, 4, 2, 1, 0\}, got 3", ValueError),
        ([8, 4, 2], 4, "odd length 3", ValueError),
        (
            [8, 2**61, 8, 2**61],
            2**62,
            r"bytes of the 8-bit bucket \(\d+ rows of 1024\): size arithmetic overflows",
            OverflowError,
        ),
    ],
)
def test_bad_bucket_tables(buckets, N, match, exc):
    with pytest.raises(exc, match=match):
        _cpu.format_bucket_spans(buckets, 2**10, N)
