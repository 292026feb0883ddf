"""Per-call timing of chord.mp_linear (exact/act8) at small shapes, for one tree (PYTHONPATH).
Prints one JSON line per case: min/median us of (a) the public call on one hot weight,
(b) the public call rotating over copies (> LLC, as chord bench), (c) the C++ entry alone.
The probe is `tools/mp_linear_percall.py`; this report's lines also record `t` (threads) and `isa`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from mp_linear_percall import main  # noqa: E402

main(threads_and_isa=True)
