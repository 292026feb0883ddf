"""Swap chord's mixed-precision modules into torch models (``quantize_`` / ``dequantize_``),
enumerate quantizable layers, and adapt a device model to a strategy (``DeviceModel``)."""

from .api import QUANTIZED_TYPES, dequantize_, quantize_
from .device_model import AdaptStats, DeviceModel
from .layers import LayerInfo, channel_sizes, layer_kind, quantizable_layers
from .modules import MixedPrecisionConv2d, MixedPrecisionLinear, QuantizedEmbedding
from .stats import model_bytes

__all__ = [
    "LayerInfo",
    "quantizable_layers",
    "channel_sizes",
    "layer_kind",
    "quantize_",
    "dequantize_",
    "MixedPrecisionLinear",
    "MixedPrecisionConv2d",
    "QuantizedEmbedding",
    "QUANTIZED_TYPES",
    "DeviceModel",
    "AdaptStats",
    "model_bytes",
]
