#!/bin/bash
# usage: ab.sh OUTDIR ROUNDS tagA=TREE_A tagB=TREE_B ...  -- alternates trees round by round (full contended line)
out=$1; rounds=$2; shift 2
hi=/work/wt-contend/reports/2026-12-07-pool/pool_hi.sh
mkdir -p "$out"
bash /work/pause_training.sh; trap 'bash /work/resume_training.sh' EXIT
for r in $(seq 1 $rounds); do
  for tv in "$@"; do
    tag=${tv%%=*}; tree=${tv#*=}
    echo "$tag $r $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/log.txt"
    (cd "$tree" && PYTHONPATH=$tree/python:$tree $hi python -m chord bench --suites ${SUITES:-kernels,scoring,adaptation} \
      --shapes 1x4096x4096,16x4096x4096 --mixes mix3 --paths exact,act8 --baselines torch_fp32 --models sasrec \
      --threads 1,2 --stat min --max-time 0.3 --no-plots --contend --out "$out/${tag}_$r" > "$out/${tag}_$r.log" 2>&1)
  done
done
echo "end $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/log.txt"
