"""Shared test fixtures: the float64 oracle, data-dir lookup, device list."""
from __future__ import annotations

import os
from pathlib import Path

# Triton reads TRITON_INTERPRET when its modules are first imported (jit decoration, and
# triton.language's own jit helpers such as tl.cdiv), and torch may import triton early (opcheck,
# torch.compile). So the CPU interpreter is chosen here, before anything imports torch.
if os.environ.get("CHORD_TRITON_TEST_DEVICE", "cpu") == "cpu":
    os.environ["TRITON_INTERPRET"] = "1"

import pytest
import torch

import chord  # noqa: F401  (registers ops)

DATA_DIR = Path(os.environ.get("CHORD_DATA_DIR", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")).resolve()


def data_dir_or_skip(name: str | None = None) -> Path:
    """../shared/data (or $CHORD_DATA_DIR); skip when absent, but fail under CI=true."""
    path = DATA_DIR / name if name else DATA_DIR
    if not path.exists():
        msg = f"dataset directory {path} not found (set CHORD_DATA_DIR)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg + " — datasets are always present under CI=true")
        pytest.skip(msg)
    return path


def devices():
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def poison(t: torch.Tensor) -> torch.Tensor:
    """Fill with NaN so elements a kernel forgot to write fail every comparison."""
    return t.fill_(float("nan"))
