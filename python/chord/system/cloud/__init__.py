"""Cloud side of CHORD: hypernetworks read a user embedding and emit a 2-bit code per output
channel of the frozen backbone, meeting an average-bit budget (docs/method.md §3-4)."""

from .hypernet import HyperNetworks
from .importance import Combination, log_importance
from .planner import CloudPlanner, planned_layers
from .tiering import channel_elems, codes_avg_bits, tier_codes

__all__ = [
    "HyperNetworks",
    "Combination",
    "log_importance",
    "planned_layers",
    "channel_elems",
    "CloudPlanner",
    "codes_avg_bits",
    "tier_codes",
]
