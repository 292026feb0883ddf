"""Cloud side of CHORD: hypernetworks read a user embedding and emit a 2-bit code per output
channel of the frozen backbone, meeting an average-bit budget (method.md §3-4)."""
from .hypernet import HyperNetworks
from .importance import Combination, log_importance
from .layers import LayerSpec, channel_sizes, layer_specs
from .planner import CloudPlanner
from .tiering import avg_bits, tier_codes

__all__ = ["HyperNetworks", "Combination", "log_importance", "LayerSpec", "channel_sizes", "layer_specs",
           "CloudPlanner", "avg_bits", "tier_codes"]
