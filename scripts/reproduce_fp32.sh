#!/usr/bin/env bash
# fp32 SASRec / Caser reproduction.
# The exact commands behind reports/2026-11-28-fp32-reproduction.md (run there one after another; any line can
# be run alone). Checkpoints go to runs/ (git-ignored); datasets come from each command's --data-dir
# (default $CHORD_DATA_DIR or ../shared/data). Runs take minutes to hours each on a 2-core machine: pick lines with
#   bash scripts/reproduce_fp32.sh --list              # show the commands, numbered
#   bash scripts/reproduce_fp32.sh 3 7                 # run commands 3 and 7
#   bash scripts/reproduce_fp32.sh --all               # run everything, in order
set -euo pipefail
cd "$(dirname "$0")/.."
SAS="--model sasrec --dim 64 --blocks 2 --max-len 50 --lr 1e-3"
CAS="--model caser --dim 64 --L 5 --T 1 --n-v 4 --n-h 16 --dropout 0.4 --lr 1e-3"

CMDS=(
  'nice -n 10 chord train --data-dir ../shared/data --out runs/sasrec-beauty-ce --no-progress --threads 1 '"$SAS"' --heads 2 --ffn-hidden 256 --dropout 0.5 --loss ce --batch-size 256 --epochs 200 --patience 5 --max-minutes 14 --dataset beauty'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/sasrec-ml-100k-ce --no-progress --threads 1 '"$SAS"' --heads 2 --ffn-hidden 256 --dropout 0.2 --loss ce --batch-size 128 --epochs 200 --patience 10 --max-minutes 7 --dataset ml-100k'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-ml-100k-ce --no-progress --threads 1 '"$CAS"' --loss ce --batch-size 512 --epochs 200 --patience 5 --max-minutes 5 --dataset ml-100k'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/sasrec-beauty-bce --no-progress --threads 1 '"$SAS"' --heads 1 --dropout 0.5 --loss bce --batch-size 128 --epochs 400 --patience 10 --max-minutes 12 --dataset beauty'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-beauty-bce --no-progress --threads 1 '"$CAS"' --loss bce --num-negatives 3 --batch-size 512 --epochs 200 --patience 5 --max-minutes 8 --dataset beauty'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/sasrec-toys-ce --no-progress --threads 1 '"$SAS"' --heads 2 --ffn-hidden 256 --dropout 0.5 --loss ce --batch-size 256 --epochs 200 --patience 5 --max-minutes 9 --dataset toys'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/sasrec-yelp-ce --no-progress --threads 1 '"$SAS"' --heads 2 --ffn-hidden 256 --dropout 0.5 --loss ce --batch-size 256 --epochs 200 --patience 5 --max-minutes 9 --dataset yelp --lr 2e-3'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-beauty-ce --no-progress --threads 1 '"$CAS"' --loss ce --batch-size 512 --epochs 200 --patience 5 --max-minutes 8 --dataset beauty'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-toys-ce --no-progress --threads 1 '"$CAS"' --loss ce --batch-size 512 --epochs 200 --patience 5 --max-minutes 6 --dataset toys'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/sasrec-toys-ce-resumed --no-progress --threads 1 --resume runs/sasrec-toys-ce --loss ce --batch-size 256 --lr 1e-3 --epochs 200 --patience 5 --max-minutes 7 --dataset toys'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/sasrec-beauty-ce-resumed --no-progress --threads 1 --resume runs/sasrec-beauty-ce --loss ce --batch-size 256 --lr 1e-3 --epochs 200 --patience 5 --max-minutes 4.5 --dataset beauty'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/sasrec-yelp-ce-resumed --no-progress --threads 1 --resume runs/sasrec-yelp-ce --loss ce --batch-size 256 --lr 2e-3 --epochs 200 --patience 5 --max-minutes 35 --dataset yelp'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/sasrec-yelp-bce --no-progress --threads 1 --model sasrec --dim 64 --blocks 2 --max-len 50 --heads 2 --ffn-hidden 256 --dropout 0.5 --loss bce --batch-size 256 --lr 1e-3 --epochs 200 --patience 5 --max-minutes 12 --dataset yelp'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-yelp-ce --no-progress --threads 1 '"$CAS"' --loss ce --batch-size 512 --lr 2e-3 --epochs 200 --patience 5 --max-minutes 15 --dataset yelp'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-toys-ce-resumed --no-progress --threads 1 --resume runs/caser-toys-ce --loss ce --batch-size 512 --lr 1e-3 --epochs 200 --patience 5 --max-minutes 8 --dataset toys'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-yelp-ce-resumed --no-progress --threads 1 --resume runs/caser-yelp-ce --loss ce --batch-size 512 --epochs 200 --patience 5 --max-minutes 10 --dataset yelp'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-beauty-bce-wd1e-4 --no-progress --threads 1 '"$CAS"' --loss bce --num-negatives 3 --batch-size 512 --weight-decay 1e-4 --epochs 200 --patience 5 --max-minutes 5 --dataset beauty'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/sasrec-beauty-bce-resumed --no-progress --threads 1 --resume runs/sasrec-beauty-bce --loss bce --batch-size 128 --epochs 400 --patience 10 --max-minutes 10 --dataset beauty'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-beauty-bce-wd1e-3 --no-progress --threads 1 '"$CAS"' --loss bce --num-negatives 3 --batch-size 512 --weight-decay 1e-3 --epochs 200 --patience 8 --max-minutes 3.5 --dataset beauty'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/sasrec-beauty-bce-s3rec --no-progress --threads 1 --model sasrec --dim 64 --blocks 2 --max-len 50 --heads 2 --ffn-hidden 256 --dropout 0.5 --norm post --act gelu --adam-beta2 0.999 --loss bce --batch-size 256 --lr 1e-3 --epochs 400 --patience 10 --max-minutes 12 --dataset beauty'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/sasrec-beauty-bce-s3rec-resumed --no-progress --threads 1 --resume runs/sasrec-beauty-bce-s3rec --loss bce --batch-size 256 --epochs 400 --patience 10 --max-minutes 7 --dataset beauty'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-beauty-bce-wd3e-4 --no-progress --threads 1 '"$CAS"' --loss bce --num-negatives 3 --batch-size 512 --weight-decay 3e-4 --epochs 200 --patience 5 --max-minutes 6 --dataset beauty'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-beauty-bce-wd3e-4-resumed --no-progress --threads 1 --resume runs/caser-beauty-bce-wd3e-4 --loss bce --num-negatives 3 --batch-size 512 --epochs 200 --patience 5 --max-minutes 4.5 --dataset beauty'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-toys-ce-do5-wd1e-5 --no-progress --threads 1 '"$CAS"' --dropout 0.5 --loss ce --batch-size 512 --weight-decay 1e-5 --epochs 200 --patience 5 --max-minutes 6 --dataset toys'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-toys-base --no-progress --threads 1 '"$CAS"' --dropout 0.5 --loss ce --batch-size 512 --weight-decay 1e-5 --epochs 200 --patience 5 --max-minutes 6 --dataset toys'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-toys-base-resumed --no-progress --threads 1 --resume runs/caser-toys-base --loss ce --batch-size 512 --epochs 200 --patience 5 --max-minutes 3.8 --dataset toys'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-toys-dbefore --no-progress --threads 1 '"$CAS"' --dropout 0.5 --dropout-pos before_fc1 --loss ce --batch-size 512 --weight-decay 1e-5 --epochs 200 --patience 5 --max-minutes 10 --dataset toys'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-toys-untied --no-progress --threads 1 '"$CAS"' --dropout 0.5 --dropout-pos before_fc1 --caser-head untied --loss ce --batch-size 512 --weight-decay 1e-5 --epochs 200 --patience 5 --max-minutes 10 --dataset toys'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-yelp-untied-s3mask --no-progress --threads 1 '"$CAS"' --dropout 0.5 --dropout-pos before_fc1 --caser-head untied --loss ce --batch-size 512 --weight-decay 1e-5 --mask-seen-target --epochs 200 --patience 5 --max-minutes 20 --dataset yelp'
  'nice -n 10 chord eval runs/caser-yelp-untied-s3mask --data-dir ../shared/data --threads 1 --modes full --json runs/evals/caser-yelp-untied-s3mask-unmasked.json'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-beauty-bce-original --no-progress --threads 1 '"$CAS"' --T 3 --dropout 0.5 --dropout-pos before_fc1 --caser-head untied --loss bce --num-negatives 3 --batch-size 512 --weight-decay 1e-6 --epochs 200 --patience 5 --max-minutes 8 --dataset beauty'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-beauty-bce-original-dafter --no-progress --threads 1 '"$CAS"' --T 3 --dropout 0.5 --dropout-pos after_fc1 --caser-head untied --loss bce --num-negatives 3 --batch-size 512 --weight-decay 1e-6 --epochs 200 --patience 5 --max-minutes 8 --dataset beauty'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-beauty-bce-original-fc2 --no-progress --threads 1 '"$CAS"' --T 3 --dropout 0.5 --dropout-pos before_fc1 --caser-head fc2 --loss bce --num-negatives 3 --batch-size 512 --weight-decay 1e-6 --epochs 200 --patience 5 --max-minutes 8 --dataset beauty'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/caser-beauty-bce-original-t1 --no-progress --threads 1 '"$CAS"' --T 1 --dropout 0.5 --dropout-pos before_fc1 --caser-head untied --loss bce --num-negatives 3 --batch-size 512 --weight-decay 1e-6 --epochs 200 --patience 5 --max-minutes 8 --dataset beauty'
  'nice -n 10 chord train --data-dir ../shared/data --out runs/sasrec-beauty-bce-s3rec-exact --no-progress --threads 1 --model sasrec --dim 64 --blocks 2 --max-len 50 --heads 2 --ffn-hidden 256 --dropout 0.5 --norm post --act gelu --adam-beta2 0.999 --init normal --no-emb-scale --ffn-dropout output --loss bce --batch-size 256 --lr 1e-3 --epochs 400 --patience 10 --max-minutes 14 --dataset beauty'
  'nice -n 10 chord eval runs/<name> --data-dir ../shared/data --threads 1 --mask-seen-target --json runs/evals/<name>-s3mask.json'
)

source scripts/lib/run_commands.sh "$0" "$@"
