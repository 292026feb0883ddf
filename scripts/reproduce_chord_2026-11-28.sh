#!/usr/bin/env bash
# CHORD experiment grid, first measurement (ML-100K, Beauty).
# The exact commands behind reports/2026-11-28-chord-method.md (run there one after another; any line can
# be run alone). Checkpoints go to runs/ (git-ignored); datasets come from each command's --data-dir
# (default $CHORD_DATA_DIR or ../shared/data). Runs take minutes to hours each on a 2-core machine: pick lines with
#   bash scripts/reproduce_chord_2026-11-28.sh --list              # show the commands, numbered
#   bash scripts/reproduce_chord_2026-11-28.sh 3 7                 # run commands 3 and 7
#   bash scripts/reproduce_chord_2026-11-28.sh --all               # run everything, in order
set -euo pipefail
cd "$(dirname "$0")/.."


CMDS=(
  'chord experiment --datasets ml-100k --models sasrec --methods fp32 ptq8 ptq4 ptq2 layerwise random population chord-pretrained --chord-minutes 10 --instances-per-epoch 10000 --threads 1 --out ml100k_sasrec'
  'chord experiment --datasets ml-100k --models sasrec --methods chord-random diet population --sweep 3.0 --chord-minutes 6 --instances-per-epoch 10000 --threads 1 --out ml100k_sasrec'
  'chord experiment --datasets ml-100k --models caser  --methods fp32 ptq8 ptq4 ptq2 layerwise random population chord-pretrained --chord-minutes 10 --chord-patience 6 --threads 1 --out ml100k_caser'
  'chord experiment --datasets beauty  --models sasrec --methods fp32 ptq8 ptq4 ptq2 layerwise random population chord-pretrained --sweep 3.0 --chord-minutes 12 --threads 1 --out beauty'
  'chord experiment --datasets beauty  --models caser  --methods fp32 ptq8 ptq4 ptq2 layerwise random population chord-pretrained --sweep 3.0 --chord-minutes 10 --threads 1 --out beauty'
)

source scripts/lib/run_commands.sh "$0" "$@"
