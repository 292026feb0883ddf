#!/usr/bin/env bash
# CHORD experiment grid, follow-up (Yelp, ML-100K converged backbones).
# The exact commands behind reports/2026-12-06-chord-method.md (run there one after another; any line can
# be run alone). Checkpoints go to runs/ (git-ignored); datasets come from each command's --data-dir
# (default $CHORD_DATA_DIR or ../shared/data). Runs take minutes to hours each on a 2-core machine: pick lines with
#   bash scripts/reproduce_chord_2026-12-06.sh --list              # show the commands, numbered
#   bash scripts/reproduce_chord_2026-12-06.sh 3 7                 # run commands 3 and 7
#   bash scripts/reproduce_chord_2026-12-06.sh --all               # run everything, in order
set -euo pipefail
cd "$(dirname "$0")/.."
SAS="--model sasrec --dim 64 --blocks 2 --max-len 50 --heads 2 --ffn-hidden 256"
CAS="--model caser --dim 64 --L 5 --T 1 --n-v 4 --n-h 16 --dropout 0.4 --loss ce --batch-size 512"

CMDS=(
  'chord train --data-dir ../shared/data --dataset yelp --out runs/sasrec-yelp-ce --no-progress --threads 1 '"$SAS"' --dropout 0.5 --loss ce --batch-size 256 --lr 2e-3 --epochs 200 --patience 5 --max-minutes 18 --mask-seen-target'
  'chord train --data-dir ../shared/data --dataset yelp --out runs/caser-yelp-ce --no-progress --threads 1 '"$CAS"' --lr 2e-3 --epochs 200 --patience 5 --max-minutes 11 --mask-seen-target'
  'chord train --data-dir ../shared/data --dataset ml-100k --out runs/caser-ml-100k-ce --no-progress --threads 1 '"$CAS"' --lr 1e-3 --epochs 200 --patience 5 --max-minutes 5'
  'chord experiment --datasets yelp --models sasrec --methods fp32 ptq8 ptq4 ptq2 layerwise random population chord-pretrained --sweep 3.0 --chord-minutes 10 --chord-lr 3e-4 --chord-patience 5 --instances-per-epoch 20000 --threads 1 --data-dir ../shared/data --mask-seen-target --out yelp_sasrec'
  'chord experiment --datasets yelp --models caser --methods fp32 ptq8 ptq4 ptq2 layerwise random population chord-pretrained --sweep 3.0 --chord-minutes 10 --threads 1 --data-dir ../shared/data --mask-seen-target --out yelp_caser'
  'chord experiment --datasets ml-100k --models caser --methods fp32 ptq8 ptq4 ptq2 layerwise random population chord-pretrained chord-random diet --sweep 3.0 --chord-minutes 5 --chord-patience 5 --threads 1 --data-dir ../shared/data --out ml100k_caser'
  'chord train --data-dir ../shared/data --dataset ml-100k --out runs/sasrec-ml-100k-ce --no-progress --threads 1 '"$SAS"' --lr 1e-3 --dropout 0.2 --loss ce --batch-size 128 --epochs 200 --patience 10 --max-minutes 7'
  'chord experiment --datasets ml-100k --models sasrec --methods fp32 ptq8 ptq4 ptq2 layerwise random population chord-pretrained --sweep 3.0 --chord-minutes 6 --chord-lr 3e-4 --chord-patience 5 --instances-per-epoch 5000 --threads 1 --data-dir ../shared/data --out ml100k_sasrec'
)

source scripts/lib/run_commands.sh "$0" "$@"
