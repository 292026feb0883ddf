#!/bin/bash
# contended adaptation bench, before (one task at a time) vs after (contiguous ranges), alternated
cd /tmp  # /tmp/pool_hi.sh = reports/2026-12-07-pool/pool_hi.sh; /tmp/pool_before: this build with f55b46d's quantize_pack.cpp
for r in 1 2 3; do
  for v in before after; do
    if [ $v = before ]; then P=/work/wt-pool/python:/tmp/pool_before; else P=/work/wt-pool/python:/work/wt-pool; fi
    PYTHONPATH=$P /tmp/pool_hi.sh python -m chord bench --suites adaptation --adapt-shapes 4096x4096 --mixes mix3 --models sasrec --threads 1,2 --stat min --max-time 0.3 --no-plots --contend --out /tmp/pool_c3/${v}_$r > /tmp/pool_c3/${v}_$r.log 2>&1
  done
done
