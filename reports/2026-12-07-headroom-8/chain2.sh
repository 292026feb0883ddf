#!/bin/bash
# Re-plan at 15:08 from measured times (random-frozen seed 43 took ~30 busy min, not 10-15): the
# pretrained-frozen steps (checkpoint, then CHORD seed 44) before random-frozen seed 44.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
W=/work/wt-persona6; export PYTHONPATH=$W/python:$W
cd $W
R=/work/persona6_runs
D=/work/shared/data
TL=$R/timeline.log
STOP=$(date -d 16:26 +%s)


echo $$ > /work/training.pgid
step() {  # step NAME EST_MIN CMD...
  local name=$1 est=$2; shift 2
  local now=$(date +%s)
  if (( now + est*60 > STOP )); then echo "$(date +%T) SKIP $name (est $est min, ends after 16:26)" >> $TL; return 1; fi
  echo "$(date +%T) start $name (est $est min) load: $(cut -d' ' -f1-3 /proc/loadavg)" >> $TL
  "$@"; local rc=$?
  local t=$(( $(date +%s) - now ))
  echo "$(date +%T) end $name rc=$rc $((t/60))m$((t%60))s load: $(cut -d' ' -f1-3 /proc/loadavg)" >> $TL
  LAST=$(( (t+59)/60 ))
  return $rc
}
SAS="--model sasrec --dim 64 --blocks 2 --max-len 50 --heads 2 --ffn-hidden 256"
ck() { nice -n 15 python -m chord train --data-dir $D --no-progress --threads 1 --out $R/ckpt/sasrec-yelp-ce --dataset yelp $SAS --dropout 0.5 --loss ce --batch-size 256 --lr 2e-3 --epochs 6 --patience 5 --max-minutes 600 --mask-seen-target > $R/ckpt/sasrec-yelp-ce.log 2>&1; }
p2() { local S=$1
  mkdir -p $R/yelp_sasrec_s$S/ckpt; ln -sfn $R/ckpt/sasrec-yelp-ce $R/yelp_sasrec_s$S/ckpt/yelp_sasrec_fp32
  nice -n 15 python -m chord experiment --data-dir $D --threads 1 --budget 3.0 --sweep 1.5 2.0 2.5 3.0 --chord-epochs 4 --instances-per-epoch 20000 --chord-patience 5 --chord-minutes 600 \
    --datasets yelp --models sasrec --mask-seen-target --chord-lr 3e-4 --methods fp32 population chord-pretrained --seed $S --out $R/yelp_sasrec_s$S > $R/yelp_sasrec_s$S.p2.log 2>&1; }
TR="nice -n 15 python -m chord experiment --data-dir $D --threads 1 --methods chord-random --budget 3.0 --sweep 1.5 2.0 3.0 --chord-epochs 6 --chord-patience 3 --chord-minutes 600"
rf() { $TR --datasets yelp --models sasrec --mask-seen-target --seed $1 --out $R/rf/yelp_sasrec_random_s$1 > $R/rf/yelp_sasrec_random_s$1.log 2>&1; }
mkdir -p $R/ckpt
if step ckpt 30 ck; then
  step chord_s44 22 p2 44
fi
step rf_s44 28 rf 44 || step chord_s42 22 p2 42
echo "$(date +%T) chain2 done" >> $TL
rm -f /work/training.pgid
