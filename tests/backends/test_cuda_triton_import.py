"""chord.backends.cuda takes "triton is not installed" for the one reason to serve CUDA calls
from the reference; a broken chord_kernels.triton is an error, never a silent fallback."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from chord.backends import cuda


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(cuda, "_kernels", None)
    monkeypatch.setattr(cuda, "_triton_error", "")
    return monkeypatch


def test_without_triton_the_reference_serves_and_says_why(fresh):
    real = importlib.util.find_spec
    fresh.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "triton" else real(name, *a))
    assert cuda._triton() is None
    assert "triton package is not installed" in cuda._triton_error


def test_a_broken_kernels_package_is_an_error_not_a_fallback(fresh):
    pytest.importorskip("triton")
    fresh.setitem(sys.modules, "chord_kernels.triton", None)  # importing it now raises ImportError
    with pytest.raises(ImportError, match="chord_kernels.triton"):
        cuda._triton()
    assert cuda._kernels is None  # nothing cached: the next call tries again
