"""Per-user mixed-precision weights from (relaxed) codes, over precomputed quantized copies.

The backbone is frozen, so Q_b(W) is computed once per layer and bit-width with the project's
reference quantizer (``chord.backends.reference.fake_quantize``, bit-identical to what the device packs).
A user's weight for channel c is sum_k y[c, k] * Q_{bits(k)}(W)[c]: with one-hot ``y`` this is
exactly the device's dequantized weight, and with straight-through ``y`` the gradient reaches
the code probabilities.
"""

from __future__ import annotations

import torch
from torch import nn

from chord.backends.reference import fake_quantize
from chord.codebook import Codebook
from chord.quantize.layers import LayerInfo


class QuantizedCopies(nn.Module):
    """Q_b(W) for every planned layer and every code of the codebook.

    Buffers ``q_<i>`` float [num_codes, C, K] (not saved: recomputed from the frozen weights).
    ``weights(y)``: y float [B, N, num_codes] (N = all channels in ``specs`` order) ->
    {name: [B, *weight shape]}.
    """

    def __init__(self, model: nn.Module, specs: list[LayerInfo], codebook: Codebook | None = None):
        super().__init__()
        self.specs = list(specs)
        self.codebook = codebook or Codebook.default()
        for i, s in enumerate(self.specs):
            w = model.get_submodule(s.name).weight.detach().float().reshape(s.channels, s.elems)
            q = torch.stack([fake_quantize(w, b, self.codebook.scheme) for b in self.codebook.bits])
            self.register_buffer(f"q_{i}", q, persistent=False)

    def weights(self, y: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        B = y.shape[0]
        ys = torch.split(y, [s.channels for s in self.specs], dim=1)  # [B, C, codes] each
        for i, (s, yl) in enumerate(zip(self.specs, ys)):
            q = getattr(self, f"q_{i}")  # [codes, C, K]
            w = torch.bmm(yl.transpose(0, 1), q.transpose(0, 1))  # [C, B, K]
            out[s.name] = w.transpose(0, 1).reshape(B, *s.shape)
        return out

    def codes_to_onehot(self, codes: torch.Tensor) -> torch.Tensor:
        """codes long [B, N] -> float [B, N, num_codes]."""
        return torch.nn.functional.one_hot(codes.long(), len(self.codebook.bits)).float()
