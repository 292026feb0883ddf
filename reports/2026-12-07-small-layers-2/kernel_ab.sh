#!/bin/bash
here=$(cd "$(dirname "$0")" && pwd)
# kernel_ab.py interleaved between trees, 4 rounds: kernel_ab.sh TREE... (name=dir)
for r in 1 2 3 4; do
  for spec in "$@"; do
    name=${spec%%=*}; dir=${spec#*=}
    echo "== round $r $name $(uptime | sed 's/.*load/load/') $(cd $dir && PYTHONPATH=$dir/python:$dir flock /work/timing.lock python $here/kernel_ab.py)"
  done
done
