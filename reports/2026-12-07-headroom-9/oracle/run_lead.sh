#!/bin/bash
# headroom-3's `chord headroom` on the AVX2-host Yelp SASRec checkpoint (the command in headroom-9's report)
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONPATH=/work/wt-persona7/python:/work/wt-persona7
cd /work/wt-persona7
echo "$(date +%T) start oracle | $(uptime)" >> /work/lead_runs/oracle/timeline.log
python -m chord headroom --data-dir /work/shared/data --rounds 8 --oracle-rounds 3 --threads 1 --users 500 \
  --dataset yelp --mask-seen-target --ckpt /work/persona6_runs/ckpt/sasrec-yelp-ce --budgets 2.0 1.5 3.0 2.5 --out /work/lead_runs/oracle/headroom_yelp_sasrec_avx2 > /work/lead_runs/oracle/headroom.log 2>&1
echo "$(date +%T) end oracle rc=$? | $(uptime)" >> /work/lead_runs/oracle/timeline.log
