"""CPU kernels for ``chord::`` ops: the C++ extension ``chord_kernels._cpu`` when it is built,
else the pure-torch reference (with a warning, once)."""
from __future__ import annotations

import warnings

import torch

from . import reference

try:
    from chord_kernels import _cpu  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised only on broken installs
    _cpu = None
    _IMPORT_ERROR = e

HAVE_CPP = _cpu is not None


def _register():
    if HAVE_CPP:
        # filled in by the C++ kernel work (issue 2)
        pass
    warnings.warn(f"chord: C++ extension unavailable ({_IMPORT_ERROR if not HAVE_CPP else 'not wired'}); "
                  "CPU ops use the slow pure-torch reference", RuntimeWarning, stacklevel=2)
    torch.library.register_kernel("chord::quantize_pack", "cpu", reference.quantize_pack)
    torch.library.register_kernel("chord::mp_linear", "cpu", reference.mp_linear)


_register()
