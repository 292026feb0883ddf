#!/bin/bash
# After seed 44: fp32 and uniform 2-bit on the retrained checkpoint (is uniform 2-bit = fp32 there too?).
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
W=/work/wt-persona6; export PYTHONPATH=$W/python:$W
cd $W
R=/work/persona6_runs; D=/work/shared/data; TL=$R/timeline.log
now=$(date +%s)
echo "$(date +%T) start ptq2_newckpt load: $(cut -d' ' -f1-3 /proc/loadavg)" >> $TL
mkdir -p $R/yelp_sasrec_ptq2/ckpt; ln -sfn $R/ckpt/sasrec-yelp-ce $R/yelp_sasrec_ptq2/ckpt/yelp_sasrec_fp32
nice -n 15 python -m chord experiment --data-dir $D --threads 1 --datasets yelp --models sasrec --mask-seen-target --methods fp32 ptq2 --seed 42 --out $R/yelp_sasrec_ptq2 > $R/yelp_sasrec_ptq2.log 2>&1
rc=$?; t=$(( $(date +%s) - now ))
echo "$(date +%T) end ptq2_newckpt rc=$rc $((t/60))m$((t%60))s load: $(cut -d' ' -f1-3 /proc/loadavg)" >> $TL
rm -f /work/training.pgid
