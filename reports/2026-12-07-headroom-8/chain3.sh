#!/bin/bash
# Re-plan at 15:46: the retrained Yelp SASRec checkpoint does not reproduce headroom-2's, so the
# remaining time goes to random-frozen Yelp SASRec CHORD-random seed 44 (headroom-6's recipe).
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
W=/work/wt-persona6; export PYTHONPATH=$W/python:$W
cd $W
R=/work/persona6_runs; D=/work/shared/data; TL=$R/timeline.log
TR="nice -n 15 python -m chord experiment --data-dir $D --threads 1 --methods chord-random --budget 3.0 --sweep 1.5 2.0 3.0 --chord-epochs 6 --chord-patience 3 --chord-minutes 600"
now=$(date +%s)
echo "$(date +%T) start rf_s44 load: $(cut -d' ' -f1-3 /proc/loadavg)" >> $TL
$TR --datasets yelp --models sasrec --mask-seen-target --seed 44 --out $R/rf/yelp_sasrec_random_s44 > $R/rf/yelp_sasrec_random_s44.log 2>&1
rc=$?; t=$(( $(date +%s) - now ))
echo "$(date +%T) end rf_s44 rc=$rc $((t/60))m$((t%60))s load: $(cut -d' ' -f1-3 /proc/loadavg)" >> $TL
rm -f /work/training.pgid
