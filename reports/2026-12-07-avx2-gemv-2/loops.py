import re
import sys

L = open("/tmp/m1_func.s").read().splitlines()
ins = []
for l in L[1:]:
    m = re.match(r"\s*([0-9a-f]+):\s*(.*)", l)
    if m:
        ins.append((int(m.group(1), 16), m.group(2).split("<")[0].strip()))
for i, (ad, t) in enumerate(ins):
    m = re.match(r"j\w+\s+([0-9a-f]+)", t)
    if m:
        tgt = int(m.group(1), 16)
        if tgt < ad:
            j = [k for k, (a2, _) in enumerate(ins) if a2 == tgt]
            if j:
                body = [t for _, t in ins[j[0] : i + 1]]
                print(
                    "loop",
                    j[0],
                    i,
                    "len",
                    i - j[0],
                    "rsp",
                    sum("rsp" in b for b in body),
                    "maddubs",
                    sum("maddubs" in b for b in body),
                    "vec mem",
                    sum(("(" in b) and b.startswith("v") for b in body),
                    "vec alu",
                    sum(b.startswith("vp") and "(" not in b for b in body)
                    + sum(b.startswith("vp") and "(" in b and not b.startswith("vmov") for b in body),
                )
                if len(sys.argv) > 1 and int(sys.argv[1]) == j[0]:
                    open("/tmp/m1_loop.s", "w").write("\n".join(body[:-1]) + "\n")
