"""For each multi-row tile_vnni instantiation in an object file: the loops that hold vpdpbusd,
as instructions / vpdpbusd / zmm loads (memory operands of vpdpbusd included) / stack references
(rsp or rbp operands: spills and reloads) per loop, the main loop first.

    python tile_loops.py OBJ [substring of the tile's template arguments, default ", true"]
"""

import re
import subprocess
import sys


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def loops(obj, sym):
    ins = []
    for line in run("objdump", "-d", "--no-show-raw-insn", f"--disassemble={sym}", obj).splitlines():
        m = re.match(r"\s+([0-9a-f]+):\s+(.*)", line)
        if m:
            ins.append((int(m.group(1), 16), m.group(2)))
    index = {a: i for i, (a, _) in enumerate(ins)}
    out = []
    for i, (a, text) in enumerate(ins):
        j = re.match(r"j\w+\s+([0-9a-f]+)", text)
        if j and int(j.group(1), 16) < a and int(j.group(1), 16) in index:  # a backward jump: a loop
            body = [t for _, t in ins[index[int(j.group(1), 16)] : i + 1]]
            nd = sum("vpdpbusd" in t for t in body)
            if nd:
                stack = sum("(%rsp)" in t or "(%rbp)" in t for t in body)
                loads = sum(bool(re.search(r"\(%r\w+[^)]*\),%zmm", t)) or ("vpdpbusd" in t and "(%" in t) for t in body)
                out.append(f"{len(body)}i/{nd}d/{loads}l/{stack}s")
    return out


def main(obj, want=", true"):
    lines = []
    for sym in (line.split()[-1] for line in run("nm", obj).splitlines() if "tile_vnni" in line):
        name = re.search(r"tile_vnni<[^(]*?(V512[^(]*)>", run("c++filt", sym).replace("(anonymous namespace)::", ""))
        if name and want in name.group(1):
            lines.append(f"{name.group(1)}: " + " ".join(loops(obj, sym)))
    print("\n".join(sorted(lines)))


if __name__ == "__main__":
    main(*sys.argv[1:])
