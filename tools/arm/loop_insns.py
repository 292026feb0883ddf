"""Instructions per weight element of the GEMV (one activation row) act8 inner loops of the
AArch64 kernels, from the disassembly (emulated timings mean nothing; this is what the issue
asks to compare with the x86 callgrind counts).

    python tools/arm/loop_insns.py BUILD_DIR      # an aarch64 build of tools/arm/ci.sh

Finds each kernel function, its innermost backward branch (the block loop) and counts the
instructions of that loop; one iteration consumes one 16-byte planar block = 16 * 8 / b weights.
"""

import re
import subprocess
import sys
from pathlib import Path

FUNCS = [
    (f"{isa} b={b}", f"mp_linear_{isa}", rf"row_i8<{b}, 1>", b)
    for isa in ("neon_dotprod", "neon")
    for b in (1, 2, 4, 8)
]


def loop_len(lines):
    addr = [int(m.group(1), 16) for m in (re.match(r"\s*([0-9a-f]+):", l) for l in lines) if m]
    best = None
    for l in lines:
        m = re.match(r"\s*([0-9a-f]+):\s+b\.\w+\s+([0-9a-f]+)", l) or re.match(r"\s*([0-9a-f]+):\s+b\s+([0-9a-f]+)", l)
        if m:
            src, dst = int(m.group(1), 16), int(m.group(2), 16)
            if dst < src:
                n = sum(dst <= a <= src for a in addr)
                best = n if best is None else min(best, n)
    return best


def main(build: str) -> int:
    objs = Path(build) / "CMakeFiles" / "chord_objects.dir" / "csrc" / "mp_linear"
    for label, obj, sym, bits in sorted(FUNCS, key=lambda t: (t[1], t[3])):
        out = subprocess.run(
            ["aarch64-linux-gnu-objdump", "-d", "--no-show-raw-insn", "-C", str(objs / f"{obj}.cpp.o")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        funcs = re.split(r"\n(?=[0-9a-f]+ <)", out)
        body = next((f for f in funcs if re.search(sym, f.split("\n", 1)[0])), None)
        if body is None:
            print(f"{label:18s} not found")
            continue
        n = loop_len(body.splitlines())
        elems = 16 * 8 // bits
        print(f"{label:18s} {n} instructions / {elems} weights = {n / elems:.3f} per weight element")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
