#!/bin/bash
# CHORD (pretrained-frozen) on Yelp SASRec, AVX2-host checkpoint, seed S: headroom-7's run_seed.sh with
# this report's paths (the job chain.sh ran the same command for seeds 42 and 43)
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONPATH=$PWD/python:$PWD
S=${1:-44}
R=/work/persona7_runs
D=/work/shared/data
CK=/work/persona6_runs/ckpt/sasrec-yelp-ce
mkdir -p $R/yelp_sasrec_s$S/ckpt; ln -sfn $CK $R/yelp_sasrec_s$S/ckpt/yelp_sasrec_fp32
echo "$(date +%T) start"
nice -n 15 python -m chord experiment --data-dir $D --threads 1 --budget 3.0 --sweep 1.5 2.0 2.5 3.0 --chord-epochs 4 --instances-per-epoch 20000 --chord-patience 5 --chord-minutes 600 \
  --datasets yelp --models sasrec --mask-seen-target --chord-lr 3e-4 --methods fp32 population chord-pretrained --seed $S --out $R/yelp_sasrec_s$S > $R/yelp_sasrec_s$S.p2.log 2>&1
echo "$(date +%T) end rc=$?"
