#!/bin/bash
# Lead: CHORD (pretrained-frozen) seed 44 on the AVX2-host Yelp SASRec checkpoint, run beside persona7's
# chain (same command as its p2(), own output dir) so that the cell's third seed ends before 19:15.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONPATH=/work/wt-persona7/python:/work/wt-persona7
cd /work/wt-persona7
R=/work/lead_runs/s44; D=/work/shared/data; CK=/work/persona6_runs/ckpt/sasrec-yelp-ce
mkdir -p $R/yelp_sasrec_s44/ckpt && ln -sfn $CK $R/yelp_sasrec_s44/ckpt/yelp_sasrec_fp32
echo "$(date +%T) start s44 | $(uptime)" >> $R/timeline.log
nice -n 15 python -m chord experiment --data-dir $D --threads 1 --budget 3.0 --sweep 1.5 2.0 2.5 3.0 --chord-epochs 4 --instances-per-epoch 20000 --chord-patience 5 --chord-minutes 600 --datasets yelp --models sasrec --mask-seen-target --chord-lr 3e-4 --methods fp32 population chord-pretrained --seed 44 --out $R/yelp_sasrec_s44 > $R/yelp_sasrec_s44.p2.log 2>&1
echo "$(date +%T) end s44 rc=$? | $(uptime)" >> $R/timeline.log
