"""``chord.host_memory``: packed-weight buffers on 2 MiB pages where the OS offers them, plain
``torch.empty`` elsewhere; either way an ordinary, independent CPU uint8 tensor."""

from __future__ import annotations

import gc
import re

import pytest
import torch

import chord
from chord import host_memory


def _vm_flags(addr: int) -> str | None:
    """VmFlags of the mapping holding addr (Linux), else None."""
    try:
        text = open("/proc/self/smaps").read()
    except OSError:
        return None
    inside = False
    for line in text.splitlines():
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) ", line)
        if m:
            inside = int(m.group(1), 16) <= addr < int(m.group(2), 16)
        elif inside and line.startswith("VmFlags:"):
            return line
    return None


@pytest.mark.parametrize(
    "n", [0, 1, 4095, host_memory.MIN_BYTES - 1, host_memory.MIN_BYTES, 3 * host_memory.HUGE_PAGE + 5]
)
def test_empty_uint8_is_a_usable_tensor(n):
    t = host_memory.empty_uint8(n)
    assert t.dtype == torch.uint8 and t.shape == (n,) and t.device.type == "cpu" and t.is_contiguous()
    src = torch.randint(0, 256, (n,), dtype=torch.uint8)
    t.copy_(src)
    assert torch.equal(t, src) and torch.equal(t.clone(), src)


def test_large_buffer_is_advised_and_aligned():
    if not host_memory.hugepages_available():
        pytest.skip(f"transparent huge pages not offered here (mode {host_memory.thp_mode()!r})")
    t = host_memory.empty_uint8(host_memory.MIN_BYTES + 7)
    assert t.data_ptr() % host_memory.HUGE_PAGE == 0
    flags = _vm_flags(t.data_ptr())
    assert flags is None or " hg" in flags, flags  # madvise(MADV_HUGEPAGE) reached the kernel


def test_small_or_refused_is_torch_empty():
    t = host_memory.empty_uint8(4096)
    assert t.numel() == 4096
    t2 = host_memory.empty_uint8(host_memory.MIN_BYTES, hugepages=False)
    assert t2.numel() == host_memory.MIN_BYTES


def test_buffer_outlives_its_helpers():
    t = host_memory.empty_uint8(host_memory.MIN_BYTES).fill_(7)
    view = t[10:20]
    del t
    gc.collect()
    assert view.tolist() == [7] * 10  # the mapping lives as long as any view of it


def test_to_hugepages_copies_or_returns():
    big = torch.randint(0, 256, (host_memory.MIN_BYTES + 3,), dtype=torch.uint8)
    out = host_memory.to_hugepages(big)
    assert torch.equal(out, big)
    if host_memory.hugepages_available():
        assert out.data_ptr() != big.data_ptr()
    small = torch.zeros(10, dtype=torch.uint8)
    assert host_memory.to_hugepages(small) is small


def test_bad_arguments():
    with pytest.raises(ValueError, match="nbytes: expected >= 0, got -1"):
        host_memory.empty_uint8(-1)
    with pytest.raises(ValueError, match="t: expected a CPU uint8 tensor, got torch.float32"):
        host_memory.to_hugepages(torch.zeros(4))


def test_packed_and_loaded_weights_land_on_huge_pages():
    if not host_memory.hugepages_available():
        pytest.skip(f"transparent huge pages not offered here (mode {host_memory.thp_mode()!r})")
    g = torch.Generator().manual_seed(0)
    w = torch.randn(2048, 4096, generator=g)
    codes = torch.full((2048,), 3, dtype=torch.uint8)  # 8-bit rows: 8 MiB of qweight
    mw = chord.pack(w, codes)
    assert mw.qweight.data_ptr() % host_memory.HUGE_PAGE == 0
    back = chord.MixedWeight.from_bytes(mw.to_bytes())
    assert back.qweight.data_ptr() % host_memory.HUGE_PAGE == 0 and torch.equal(back.qweight, mw.qweight)
    x = torch.randn(2, 4096, generator=g)
    assert torch.equal(chord.mp_linear(x, mw, act_bits=8), chord.mp_linear(x, back, act_bits=8))
