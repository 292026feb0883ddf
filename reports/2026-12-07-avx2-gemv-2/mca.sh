# mca.sh OBJ FUNCPATTERN : llvm-mca (znver3) on the biggest backward-jump loop of the function
objdump -d --no-show-raw-insn -C $1 > /tmp/m1_mca.s
a=$(grep -n "^[0-9a-f]* <.*$2" /tmp/m1_mca.s | head -1 | cut -d: -f1); sed -n "$a,\$p" /tmp/m1_mca.s | awk 'NR>1 && /^$/{exit}{print}' > /tmp/m1_func.s
python3 - <<'PY'
import re
L=open('/tmp/m1_func.s').read().splitlines()
ins=[]
for l in L[1:]:
    m=re.match(r'\s*([0-9a-f]+):\s*(.*)',l)
    if m: ins.append((int(m.group(1),16),m.group(2).split('<')[0].strip()))
best=None
for i,(ad,t) in enumerate(ins):
    m=re.match(r'j\w+\s+([0-9a-f]+)',t)
    if m:
        tgt=int(m.group(1),16)
        if tgt<ad:
            j=[k for k,(a2,_) in enumerate(ins) if a2==tgt]
            if j and (best is None or i-j[0]>best[1]-best[0]): best=(j[0],i)
s,e=best
open('/tmp/m1_loop.s','w').write('\n'.join(t for _,t in ins[s:e])+'\n')
print('loop insns',e-s)
PY
llvm-mca -mcpu=znver3 -iterations=200 /tmp/m1_loop.s 2>/dev/null | sed -n 1,14p
llvm-mca -mcpu=znver3 -iterations=200 /tmp/m1_loop.s 2>/dev/null | grep -A30 "Resource pressure per iteration" | head -4
