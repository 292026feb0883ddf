#!/bin/bash
# callgrind instruction counts inside the runners' represent (see cg_runtime.py); PYTHONPATH: the
# worktree's python/ and a copy of its built chord_kernels (the build in the tree may be replaced)
PY=/root/.pyenv/versions/3.11.7/bin/python
export PYTHONPATH=/work/wt-review2/python:/work/review2_runs/new
cd /work/review2_runs/cg
for spec in "$@"; do
  set -- $spec  # keep arch B calls
  fn="Caser"; [[ $2 == sasrec* ]] && fn="SASRec"
  valgrind --tool=callgrind --collect-atstart=no "--toggle-collect=chord::runtime::${fn}Runner::represent(*" \
    --callgrind-out-file=cg.keep$1.$2.B$3 $PY /work/review2_runs/cg_runtime.py $1 $2 $3 $4 > keep$1.$2.B$3.out 2>&1
  echo "$spec $(grep -h '^summary' cg.keep$1.$2.B$3) $(grep checksum keep$1.$2.B$3.out)"
done
