"""chord: compiled mixed-precision kernels for CHORD on-device sequential recommendation."""

from . import ops  # noqa: F401  (declares chord:: ops)
from .backends import cpu as _cpu_backend  # noqa: F401  (registers CPU kernels)
from .backends import cuda as _cuda_backend  # noqa: F401  (registers CUDA kernels, lazily)
from .codebook import Codebook
from .format import FORMAT_VERSION
from .functional import mp_linear, mp_topk, pack
from .mixed_weight import FormatError, MixedWeight
from .quantize import dequantize_, quantize_
from .quantize.device_model import DeviceModel
from .quantize.layers import LayerInfo, quantizable_layers
from .quantize.strategy import Strategy, StrategyError, model_fingerprint

__all__ = [
    "Codebook",
    "MixedWeight",
    "FormatError",
    "pack",
    "mp_linear",
    "FORMAT_VERSION",
    "Strategy",
    "StrategyError",
    "model_fingerprint",
    "LayerInfo",
    "quantizable_layers",
    "quantize_",
    "dequantize_",
    "DeviceModel",
    "mp_topk",
]
__version__ = "0.1.0"
