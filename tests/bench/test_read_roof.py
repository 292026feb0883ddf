"""chord bench's read roof (``chord.bench.read_roof`` and ``machine.copy_bandwidth``): every probe
variant is measured on every page size the OS offers, and the roof is the best figure."""

from __future__ import annotations

import pytest
import torch

from chord import host_memory
from chord.backends import cpu as cpu_backend
from chord.bench import machine, read_roof

pytestmark = pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built")


def test_every_variant_on_every_page_size():
    got = read_roof.stream_read(host_memory.MIN_BYTES, threads=2, repeats=2, chunk_bytes=1 << 20)
    pages = ["4k"] + (["2m"] if host_memory.hugepages_available() else [])
    assert sorted(got) == sorted(f"{p}/{v[0]}" for p in pages for v in read_roof.VARIANTS)
    assert all(g > 0 and g == g for g in got.values())


def test_roof_is_the_best_reader():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        bw = machine.copy_bandwidth(nbytes=8 << 20, repeats=2, chunk_bytes=2 << 20)
    finally:
        torch.set_num_threads(old)
    assert bw["read_GBps"] == max([bw["read_sum_GBps"], *bw["read_stream_GBps"].values()])
    assert bw["read_stream_GBps"] and bw["copy_GBps"] > 0
