#!/bin/bash
# headroom-9 chain: Yelp SASRec on the AVX2-host checkpoint (persona6's retrained sasrec-yelp-ce).
# One job at a time, niced, one thread; each job in its own process group (pgid in /work/training.pgid)
# so other helpers can pause/resume it; every job stopped at 19:15 whatever its state.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONPATH=/work/wt-persona7/python:/work/wt-persona7
cd /work/wt-persona7
R=/work/persona7_runs; D=/work/shared/data; CK=/work/persona6_runs/ckpt/sasrec-yelp-ce
TL=$R/timeline.log
STOP=$(date -d '19:15' +%s)
EX="nice -n 15 python -m chord experiment --data-dir $D --threads 1 --budget 3.0 --sweep 1.5 2.0 2.5 3.0 --chord-epochs 4 --instances-per-epoch 20000 --chord-patience 5 --chord-minutes 600"
slot() { mkdir -p $R/$1/ckpt && ln -sfn $CK $R/$1/ckpt/yelp_sasrec_fp32; }
job() {  # job NAME LOG CMD...: run CMD in its own session, niced; stop at 19:15
  local name=$1 log=$2; shift 2
  if [ $(date +%s) -ge $STOP ]; then echo "$(date +%T) skip $name (past 19:15)" >> $TL; return; fi
  echo "$(date +%T) start $name | $(uptime)" >> $TL
  setsid bash -c "$*" > $log 2>&1 &
  local pid=$!; echo $pid > /work/training.pgid
  while kill -0 $pid 2>/dev/null; do
    if [ $(date +%s) -ge $STOP ]; then
      kill -TERM -- -$pid; kill -CONT -- -$pid; echo "$(date +%T) STOPPED $name at 19:15" >> $TL; fi
    sleep 15
  done
  wait $pid; local rc=$?
  : > /work/training.pgid
  echo "$(date +%T) end $name rc=$rc | $(uptime)" >> $TL
}
queue() { for q in $(ls $R/queue/*.sh 2>/dev/null | sort); do
  job "queue:$(basename $q)" $R/steps/$(basename $q .sh).log "bash $q"; mv $q $R/queue_done/; done; }
p2() { slot yelp_sasrec_s$1
  job "chord s$1" $R/yelp_sasrec_s$1.p2.log "$EX --datasets yelp --models sasrec --mask-seen-target --chord-lr 3e-4 --methods fp32 population chord-pretrained --seed $1 --out $R/yelp_sasrec_s$1"; }
queue
p2 42
queue
slot yelp_sasrec_s42
job "layerwise+diet s42" $R/yelp_sasrec_s42.base.log "$EX --datasets yelp --models sasrec --mask-seen-target --chord-lr 3e-4 --methods fp32 ptq2 layerwise diet-pretrained --seed 42 --out $R/yelp_sasrec_s42"
queue
p2 43
queue
p2 44
queue
echo "$(date +%T) chain done" >> $TL
