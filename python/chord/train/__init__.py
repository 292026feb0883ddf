"""Training: the loop (:class:`Trainer`), its config and safetensors checkpoints."""
from .checkpoint import load_checkpoint, save_checkpoint
from .trainer import LOSSES, TrainConfig, Trainer, seed_everything

__all__ = ["Trainer", "TrainConfig", "LOSSES", "seed_everything", "save_checkpoint", "load_checkpoint"]
