"""Swap chord's mixed-precision modules into torch models (``quantize_`` / ``dequantize_``),
enumerate quantizable layers, and adapt a device model to a strategy."""
from ..layers import LayerInfo, channel_sizes, layer_kind, quantizable_layers

__all__ = ["LayerInfo", "quantizable_layers", "channel_sizes", "layer_kind"]
