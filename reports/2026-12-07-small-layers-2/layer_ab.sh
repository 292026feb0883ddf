#!/bin/bash
here=$(cd "$(dirname "$0")" && pwd)
# interleaved per-call CPU time of one layer (overhead.py: module call, linear_cached, mp_linear_ptr, ...) between trees
# layer_ab.sh M TREE... (name=dir); each run under the timing lock; uptime before each
M=$1; shift
for r in 1 2 3; do
  for spec in "$@"; do
    name=${spec%%=*}; dir=${spec#*=}
    echo "== round $r $name $(uptime | sed 's/.*load/load/')"
    (cd $dir && PYTHONPATH=$dir/python:$dir flock /work/timing.lock python $here/overhead.py $M)
  done
done
