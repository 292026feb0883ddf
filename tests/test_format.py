import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from chord import format as fmt


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@given(n=st.integers(1, 5), K=st.integers(1, 300), seed=st.integers(0, 2**31 - 1))
@settings(max_examples=25, deadline=None)
def test_pack_unpack_roundtrip(bits, n, K, seed):
    g = torch.Generator().manual_seed(seed)
    u = torch.randint(0, 2**bits, (n, K), generator=g, dtype=torch.int32).to(torch.uint8)
    p = fmt.pack_ints(u, bits)
    assert p.shape == (n, fmt.row_bytes(K, bits))
    assert torch.equal(fmt.unpack_ints(p, bits, K), u)


def test_planar_block_layout_2bit():
    # byte j of a 16-byte block holds elements j, j+16, j+32, j+48 at bits 0,2,4,6
    u = torch.zeros(1, 64, dtype=torch.uint8)
    u[0, 3], u[0, 19], u[0, 35], u[0, 51] = 1, 2, 3, 1
    p = fmt.pack_ints(u, 2)
    assert p.shape == (1, 16)
    assert int(p[0, 3]) == 1 | (2 << 2) | (3 << 4) | (1 << 6)
    assert int(p.sum()) == int(p[0, 3])


def test_padding_and_spans():
    assert fmt.padded_k(1, 2) == 64 and fmt.row_bytes(1, 2) == 16
    assert fmt.row_bytes(100, 4) == 64 and fmt.row_bytes(100, 8) == 112 and fmt.row_bytes(7, 0) == 0
    spans = fmt.bucket_spans([8, 3, 2, 5, 0, 2], 100)
    assert spans == [(8, 0, 3, 0), (2, 3, 5, 3 * 112), (0, 8, 2, 3 * 112 + 5 * 32)]
    with pytest.raises(ValueError, match="odd length"):
        fmt.bucket_spans([8, 3, 2], 100)


@pytest.mark.parametrize("buckets", [[14, 3], [8, 2, 3, 1], [4, -1], [0, 2, 16, 1]])
def test_bucket_spans_refuses_widths_outside_the_codebook(buckets):
    # a corrupt file's bucket table (the fuzzer found bits = 14) must name the entry, not divide
    # by zero inside row_bytes
    with pytest.raises(ValueError, match=r"buckets\[\d+:\d+\]: expected a width in"):
        fmt.bucket_spans(buckets, 40)
