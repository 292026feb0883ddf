#!/bin/bash
# chord bench M = 1 rows: base tree (main 732f26e's _cpu) and the landed tree, interleaved base/new/new/base
set -u
OUT=/work/m1roof_runs/bench; mkdir -p $OUT
trap 'bash /work/resume_training.sh' EXIT
CMD="python -m chord bench --suites kernels --shapes 1x4096x4096,1x8192x8192 --mixes mix3 --paths act8 --baselines torch_fp32 --peer ggml --threads 1,2 --stat min --max-time 1.0 --no-plots"
run() {  # $1 name, $2 tree root
  uptime > $OUT/$1.uptime
  bash /work/pause_training.sh
  (cd $2 && PYTHONPATH=$2/python:$2 $CMD --out $OUT/$1) > $OUT/$1.log 2>&1
  bash /work/resume_training.sh
  uptime >> $OUT/$1.uptime
}
run base_1 /work/m1roof_runs/basetree
run new_1 /work/wt-m1roof
run new_2 /work/wt-m1roof
run base_2 /work/m1roof_runs/basetree
echo done > $OUT/done
