"""Triton kernel tests run on CPU through the Triton interpreter (CI), or on CUDA when
``CHORD_TRITON_TEST_DEVICE=cuda`` (the GPU check script, ``benchmarks/gpu/run.sh``).

TRITON_INTERPRET must be set before ``chord_kernels.triton`` is first imported (``triton.jit``
reads it at decoration time), so it is set here, before the test modules import it.
"""

from __future__ import annotations

import os

import pytest

TRITON_TEST_DEVICE = os.environ.get("CHORD_TRITON_TEST_DEVICE", "cpu")
if TRITON_TEST_DEVICE not in ("cpu", "cuda"):
    raise ValueError(f"CHORD_TRITON_TEST_DEVICE: expected 'cpu' or 'cuda', got {TRITON_TEST_DEVICE!r}")
if TRITON_TEST_DEVICE == "cpu":
    os.environ["TRITON_INTERPRET"] = "1"


@pytest.fixture(scope="session")
def triton_device():
    """Device of the tensors the Triton kernels are tested on."""
    pytest.importorskip("triton")
    import torch

    import chord_kernels.triton as ct

    if TRITON_TEST_DEVICE == "cpu" and not ct.INTERPRET:
        pytest.fail(
            "chord_kernels.triton was imported before tests/chord_kernels/conftest.py set "
            "TRITON_INTERPRET=1; run these tests in their own process or set it in the environment"
        )
    if TRITON_TEST_DEVICE == "cuda" and not torch.cuda.is_available():
        pytest.skip("CHORD_TRITON_TEST_DEVICE=cuda but no CUDA device")
    return torch.device(TRITON_TEST_DEVICE)
