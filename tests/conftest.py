"""pytest setup for the whole suite (shared helpers are in tests/helpers.py)."""
from __future__ import annotations

import os

# Triton reads TRITON_INTERPRET when its modules are first imported (jit decoration, and
# triton.language's own jit helpers such as tl.cdiv), and torch may import triton early (opcheck,
# torch.compile). So the CPU interpreter is chosen here, before anything imports torch.
if os.environ.get("CHORD_TRITON_TEST_DEVICE", "cpu") == "cpu":
    os.environ["TRITON_INTERPRET"] = "1"

import chord  # noqa: E402,F401  (registers ops)
