"""Data: loaders for the standard formats, named datasets, leave-one-out split, negative sampling."""

from .dataset import SequenceDataset
from .formats import FORMATS, DataFormatError, detect_format, read_file
from .registry import DEFAULT_DATASET, KNOWN, fetch_ml100k, load_dataset
from .sampling import NegativeSampler
from .split import LeaveOneOut, pad_left

__all__ = [
    "SequenceDataset",
    "DataFormatError",
    "FORMATS",
    "detect_format",
    "read_file",
    "load_dataset",
    "fetch_ml100k",
    "DEFAULT_DATASET",
    "KNOWN",
    "LeaveOneOut",
    "pad_left",
    "NegativeSampler",
]
