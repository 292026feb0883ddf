#!/bin/bash
here=$(cd "$(dirname "$0")" && pwd)
# interleaved A/B of the SASRec backbone (backbone_ab.py) between trees: ab.sh THREADS ROUNDS TREE... (name=dir)
# each run under the timing lock; uptime before each
th=$1; rounds=$2; shift 2
for r in 1 2 3; do
  for spec in "$@"; do
    name=${spec%%=*}; dir=${spec#*=}
    echo "== round $r $name $(uptime | sed 's/.*load/load/')"
    (cd $dir && PYTHONPATH=$dir/python:$dir flock /work/timing.lock python $here/backbone_ab.py $th $rounds)
  done
done
