"""Training the fp32 backbone: the loop (:class:`Trainer`) and its config. Checkpoints are
written with :mod:`chord.checkpoint`."""

from .trainer import LOSSES, TrainConfig, Trainer, seed_everything

__all__ = ["Trainer", "TrainConfig", "LOSSES", "seed_everything"]
