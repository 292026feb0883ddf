"""``CloudPlanner``: user embeddings -> per-channel 2-bit codes under a bit budget (batched).

The planner owns the hypernetworks, the combination rule and the tiering. ``plan`` is the
deployed path (deterministic rank tiers); ``relax`` is the training path (Gumbel-perturbed
tiers, hard forward / soft backward, see ``chord.system.relax``).
"""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from chord.codebook import Codebook
from chord.quantize.layers import FilterFn, LayerInfo, quantizable_layers

from .hypernet import HyperNetworks
from .importance import Combination, element_term, log_importance
from .tiering import allowed_widths, channel_elems, ordinal_probs, solve_offsets, tier_codes

SCOPES = ("global", "layer")
BUDGET_MODES = ("tiers", "penalty")


def planned_layers(model: nn.Module, filter_fn: FilterFn | None = None) -> list[LayerInfo]:
    """The layers the cloud plans codes for, in module order: the dense layers of
    :func:`chord.quantize.layers.quantizable_layers` (Linear, Conv2d with groups=1; embeddings,
    biases and norms stay float, docs/method.md), further chosen by ``filter_fn(module, name)``."""
    layers = list(quantizable_layers(model, filter_fn).values())
    if not layers:
        raise ValueError(f"model: no quantizable nn.Linear/nn.Conv2d layers found in {type(model).__name__}")
    return layers


class CloudPlanner(nn.Module):
    """Plans codes for the layers in ``specs``.

    d_user: user-embedding width; budget: default average bits (3.0); scope: "global" (rank
    channels across all layers) or "layer" (each layer meets the budget on its own); codes: the
    allowed codes (None = all four; ``(0, 3)`` = DIET-style binary masks); combination: how
    element/filter/layer scores combine; alpha_init: bits per doubling of importance (learned).
    """

    def __init__(
        self,
        specs: list[LayerInfo],
        d_user: int,
        *,
        codebook: Codebook | None = None,
        budget: float = 3.0,
        scope: str = "global",
        codes: tuple[int, ...] | None = None,
        hidden: int = 128,
        combination: Combination | None = None,
        alpha_init: float = 1.0,
        levels: tuple[bool, bool, bool] = (True, True, True),
        element_rank: int = 8,
    ):
        super().__init__()
        if scope not in SCOPES:
            raise ValueError(f"scope: expected one of {SCOPES}, got {scope!r}")
        self.specs = list(specs)
        self.codebook = codebook or Codebook.default()
        self.budget = float(budget)
        self.scope = scope
        self.allowed = tuple(range(len(self.codebook.bits))) if codes is None else tuple(codes)
        self.combination = combination or Combination()
        self.hyper = HyperNetworks(self.specs, d_user, hidden, *levels, element_rank=element_rank)
        #: plan with the streaming element reduction and the sorted offset search (same bits as
        #: without; False = the plain computation, for tests and benchmarks to compare with)
        self.fast_paths = True
        self.log_alpha = nn.Parameter(torch.tensor(math.log(math.expm1(alpha_init))))
        self.offset = nn.Parameter(torch.tensor(float(budget)))  # used by the penalty mode only
        #: planning-time shrinkage toward one strategy (``set_shrink``): None = plan as trained
        self.center: torch.Tensor | None = None
        self.shrink = self.channel_shrink = 1.0
        order, widths, thr = allowed_widths(self.codebook, self.allowed)
        self.register_buffer("order", order, persistent=False)
        self.register_buffer("widths", widths, persistent=False)
        self.register_buffer("thr", thr, persistent=False)
        self.register_buffer("sizes", channel_elems(self.specs), persistent=False)
        groups = torch.cat([torch.full((s.channels,), i, dtype=torch.long) for i, s in enumerate(self.specs)])
        self.register_buffer("layer_of", groups, persistent=False)

    # -- facts -------------------------------------------------------------------------------
    @property
    def num_channels(self) -> int:
        return int(self.sizes.numel())

    def _groups(self):
        return (self.layer_of, len(self.specs)) if self.scope == "layer" else (None, 1)

    # -- importance --------------------------------------------------------------------------
    def log_importance(self, u: torch.Tensor) -> torch.Tensor:
        """u float [B, d_user] -> log2 importance float [B, N] (N = all channels, layer order).

        Without autograd (planning) the element scores are reduced per channel layer by layer as
        they are made (``HyperNetworks.forward(element_reduce=...)``): the same values, computed
        without materializing all [B, C_l, K_l] score tensors (tests/system/cloud/test_planner.py
        checks the two paths give identical bits)."""
        channels = [s.channels for s in self.specs]
        comb = self.combination
        h = self.hyper
        if (
            self.fast_paths
            and not torch.is_grad_enabled()
            and h.element is not None
            and h.element_rank > 0
            and comb.element != "none"
        ):
            elem, filt, lay = h(u, element_reduce=partial(element_term, comb=comb, inplace=True))
            return log_importance(elem, filt, lay, comb, channels, elem_reduced=True)
        elem, filt, lay = self.hyper(u)
        return log_importance(elem, filt, lay, comb, channels)

    def targets(self, u: torch.Tensor) -> torch.Tensor:
        """Bit targets before the budget offset: alpha * log2 importance, float [B, N]."""
        return F.softplus(self.log_alpha) * self.log_importance(u)

    def set_shrink(self, center: torch.Tensor | None, shrink: float = 1.0, channel: float | None = None) -> None:
        """Plan with every user's targets pulled toward ``center``.

        A user's deviation d = t - center splits into its per-layer mean m (one value per layer,
        repeated over the layer's channels) and the rest, d - m (which channel of a layer). Planning
        uses ``center + shrink * m + channel * (d - m)``; ``channel`` None = ``shrink`` (plain
        ``center + shrink * d``). center float [N]: one strategy's targets (e.g. the mean targets
        over the training users, whose tiering is the population strategy), or None to plan as
        trained. shrink = channel = 0 gives every user the tiering of ``center``; 1, 1 the planner's
        own targets; shrink = 1, channel = 0 keeps only the user's per-layer allocation. Small,
        noisy deviations then no longer cross a tier boundary (reports/2026-12-07-chord-method-2.md)."""
        if center is None:
            self.center, self.shrink, self.channel_shrink = None, 1.0, 1.0
            return
        if center.dim() != 1 or center.numel() != self.num_channels:
            raise ValueError(f"center: expected float [{self.num_channels}], got shape {tuple(center.shape)}")
        channel = shrink if channel is None else channel
        for name, v in (("shrink", shrink), ("channel", channel)):
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name}: expected a finite value >= 0, got {v}")
        self.center, self.shrink, self.channel_shrink = center.detach().clone(), float(shrink), float(channel)

    def shrunk(self, t: torch.Tensor) -> torch.Tensor:
        """t float [B, N] -> the targets planning uses (``set_shrink``; identity when off)."""
        if self.center is None or (self.shrink == 1.0 and self.channel_shrink == 1.0):
            return t
        d = t - self.center.to(device=t.device, dtype=t.dtype)
        if self.shrink == self.channel_shrink:
            return t - (1.0 - self.shrink) * d
        L = len(self.specs)
        counts = torch.bincount(self.layer_of, minlength=L).to(t.dtype)
        m = torch.zeros(t.shape[0], L, dtype=t.dtype, device=t.device).index_add_(1, self.layer_of, d) / counts
        m = m[:, self.layer_of]
        return t - d + self.shrink * m + self.channel_shrink * (d - m)

    @torch.no_grad()
    def warm_start_layers(self, layer_bits: dict[str, float], margin: float = 0.5) -> None:
        """Start the layer-level head at a per-layer allocation (e.g. layer-wise mixed precision's).

        layer_bits: {layer name: average bits}, every planned layer. Sets the head's bias so that
        ``alpha * log2 sigmoid(bias_l) = bits_l - max(bits) - margin``: with near-zero element and
        filter scores (their init) the budget offset then tiers each layer to its own width when the
        budget equals the allocation's average. Only the bias moves; training starts from there."""
        if self.hyper.layer is None or self.combination.layer != "sigmoid":
            raise ValueError(
                "warm_start_layers: needs the layer-level hypernetwork with Combination.layer "
                f"'sigmoid', got layer={'off' if self.hyper.layer is None else 'on'}, "
                f"combination.layer={self.combination.layer!r}"
            )
        missing = [s.name for s in self.specs if s.name not in layer_bits]
        if missing:
            raise ValueError(f"layer_bits: expected every planned layer, missing {missing}")
        if margin <= 0:
            raise ValueError(f"margin: expected > 0, got {margin}")
        bits = torch.tensor([float(layer_bits[s.name]) for s in self.specs], dtype=torch.float64)
        x = (bits - bits.max() - margin) / float(F.softplus(self.log_alpha))
        p = torch.exp2(x)
        self.hyper.layer.head.bias.copy_(torch.log(p / (1 - p)).to(self.hyper.layer.head.bias))

    # -- deployment ----------------------------------------------------------------------------
    @torch.no_grad()
    def plan(self, u: torch.Tensor, budget: float | torch.Tensor | None = None) -> torch.Tensor:
        """u [B, d_user] -> codes long [B, N]; budget: float or float [B] (per-device budgets)."""
        return self.plan_from_targets(self.shrunk(self.targets(u)), budget)

    def plan_from_targets(self, t: torch.Tensor, budget: float | torch.Tensor | None = None) -> torch.Tensor:
        g, G = self._groups()
        budget = self.budget if budget is None else budget
        return tier_codes(t, self.sizes, budget, self.codebook, self.allowed, g, G, sorted_search=self.fast_paths)

    def split(self, codes: torch.Tensor) -> dict[str, torch.Tensor]:
        """codes [N] -> {layer name: uint8 [C]} (the per-layer view a ``Strategy`` holds)."""
        out, off = {}, 0
        for s in self.specs:
            out[s.name] = codes[off : off + s.channels].to(torch.uint8).cpu()
            off += s.channels
        return out

    # -- training -------------------------------------------------------------------------------
    def _offset_correction(
        self, x0: torch.Tensor, t: torch.Tensor, gi: torch.Tensor, G: int, tau: float
    ) -> torch.Tensor:
        """Zero in the forward; in the backward, the implicit derivative of the budget offset.

        The offset lambda solves sum_c s_c E(t_c + lambda) = budget * sum_c s_c (E = expected
        width under the soft tiers), so d lambda / d t_c = -a_c / sum_{c' in group} a_c' with
        a_c = s_c E'(x_c). Adding -sum_c a_c (t_c - t_c.detach()) / sum a to every target of the
        group makes the backward see that raising one channel's target lowers everybody else's:
        gradients compare channels (and users' channels) instead of asking for more bits overall.
        x0 float [B, N]: detached offset targets; t [B, N]: targets with grad; gi long [N].
        """
        thr = self.thr.to(x0.device)
        if thr.numel() == 0:
            return torch.zeros_like(t)
        sg = torch.sigmoid((x0[..., None] - thr) / tau)
        dw = (self.widths[1:] - self.widths[:-1]).to(x0.device)
        a = self.sizes * ((sg * (1 - sg)) * dw).sum(-1) / tau  # [B, N] >= 0
        B, N = t.shape
        dt = t - t.detach()
        num = torch.zeros(B, G, device=t.device, dtype=t.dtype).index_add_(1, gi, a * dt)
        den = torch.zeros(B, G, device=t.device, dtype=t.dtype).index_add_(1, gi, a).clamp_min(1e-12)
        return -(num / den).gather(1, gi.expand(B, N))

    def relax(
        self,
        u: torch.Tensor,
        *,
        budget: float | torch.Tensor | None = None,
        tau: float = 0.5,
        noise: float = 1.0,
        mode: str = "tiers",
        implicit_offset: bool = True,
        targets: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training path. Returns (y float [B, N, 4]: straight-through one-hot over the codebook's
        codes (hard values forward, soft gradients backward), expected avg bits float [B] under
        the soft probabilities, hard codes long [B, N]).

        mode "tiers": Gumbel (logistic) noise on the targets, then rank tiers meet the budget
        exactly; soft = ordinal tier probabilities. mode "penalty": a learned offset replaces
        the budget solve; codes = Gumbel-max over the ordinal logits; the caller penalizes the
        expected bits.

        implicit_offset (tiers mode): differentiate through the budget offset (see
        ``_offset_correction``). Without it the backward treats the offset as a constant, so the
        straight-through gradient says "more bits" for every channel at once; all scores then
        drift up together until their sigmoids saturate and stop carrying any user signal
        (reports/2026-11-28-chord-method.md, "The Caser collapse and its fix").

        targets: ``self.targets(u)`` when the caller already has them (the trainer's deviation
        penalty reads the same tensor), else computed here.
        """
        if mode not in BUDGET_MODES:
            raise ValueError(f"mode: expected one of {BUDGET_MODES}, got {mode!r}")
        t = self.targets(u) if targets is None else targets
        B, N = t.shape
        budget = self.budget if budget is None else budget
        if mode == "tiers":
            if noise > 0 and self.training:
                uni = torch.rand_like(t).clamp(1e-6, 1 - 1e-6)
                t = t + noise * (torch.log(uni) - torch.log1p(-uni))  # logistic = Gumbel - Gumbel
            g, G = self._groups()
            lam = solve_offsets(t, self.sizes, budget, self.widths, self.thr, g, G)
            gi = g if g is not None else torch.zeros(N, dtype=torch.long, device=t.device)
            x = t + lam.gather(1, gi.expand(B, N))
            if implicit_offset:
                x = x + self._offset_correction(x.detach(), t, gi, G, tau)
            soft = ordinal_probs(x, self.thr, tau)  # [B, N, T]
            idx = torch.bucketize(x.detach(), self.thr, right=True)
        else:
            x = t + self.offset
            logp = torch.log(ordinal_probs(x, self.thr, 1.0).clamp_min(1e-9))
            if noise > 0 and self.training:
                gum = -torch.log(-torch.log(torch.rand_like(logp).clamp(1e-6, 1 - 1e-6)))
                logp = logp + noise * gum
            soft = torch.softmax(logp / tau, -1)
            idx = soft.argmax(-1)
        hard = F.one_hot(idx, soft.shape[-1]).to(soft.dtype)
        y_allowed = hard + (soft - soft.detach())  # exactly hard in the forward
        y = torch.zeros(B, N, len(self.codebook.bits), dtype=soft.dtype, device=soft.device)
        y = y.index_copy(2, self.order, y_allowed)
        exp_bits = (soft * self.widths * self.sizes[:, None]).sum((-1, -2)) / self.sizes.sum()
        return y, exp_bits, self.order[idx]
