"""Training CHORD: per-user mixed-precision forward over a frozen backbone, the end-to-end
system (profiler + planner), its trainer (DDP-ready) and checkpoints."""

from .chord_trainer import ChordConfig, ChordTrainer, build_system, load_chord_state, save_chord_checkpoint
from .copies import QuantizedCopies
from .model import ChordSystem, CodesModel
from .per_user import per_user_weights

__all__ = [
    "QuantizedCopies",
    "per_user_weights",
    "ChordSystem",
    "CodesModel",
    "ChordConfig",
    "ChordTrainer",
    "build_system",
    "load_chord_state",
    "save_chord_checkpoint",
]
