"""chord: compiled mixed-precision kernels for CHORD on-device sequential recommendation."""
from . import ops  # noqa: F401  (declares chord:: ops)
from .backends import cpu as _cpu_backend  # noqa: F401  (registers CPU kernels)
from .backends import cuda as _cuda_backend  # noqa: F401  (registers CUDA kernels, lazily)
from .codebook import Codebook
from .format import FORMAT_VERSION
from .linear import mp_linear
from .mixed_weight import FormatError, MixedWeight, pack

__all__ = ["Codebook", "MixedWeight", "FormatError", "pack", "mp_linear", "FORMAT_VERSION"]
__version__ = "0.1.0"
