#!/bin/bash
# ab.sh OUTDIR ROUNDS THREADS: alternated BASE / NEW tree (env; default /work/main, /work/wt-gemm3) chord bench runs
# under RT priority (chrt -f 50; 1 thread pinned to CPU 1)
OUT=$1; R=${2:-2}; T=${3:-1}; mkdir -p $OUT
for r in $(seq 1 $R); do
  for tree in base new; do
    [ $tree = base ] && TR=${BASE:-/work/main} || TR=${NEW:-/work/wt-gemm3}
    PIN=""; [ "$T" = 1 ] && PIN="taskset -c 1"
    PYTHONPATH=$TR/python:$TR chrt -f 50 $PIN python -m chord bench --suites kernels --shapes 16x4096x4096,256x4096x4096 --mixes mix3 --paths act8,exact --baselines torch_dynamic_int8,torch_fp32 --threads $T --stat min --max-time ${MAXT:-0.5} --no-plots --out $OUT/${tree}_t${T}_r$r > $OUT/${tree}_t${T}_r$r.log 2>&1
    echo "$tree t=$T r=$r"; grep -E "^\| M=(16|256) K=4096 N=4096 t=$T \| (dyn-int8|fp32|\*\*chord)" $OUT/${tree}_t${T}_r$r/report.md | awk -F'|' '{print $2,$3,$4,$7}'
  done
done
