#!/bin/bash
# ab.sh K THREADS SECS ROUNDS bin1 bin2 ... : alternate binaries, ROUNDS times
K=$1; T=$2; S=$3; R=$4; shift 4
for r in $(seq $R); do for b in "$@"; do echo -n "$(basename $b) "; $b $K $T $S | sed 's/copies=[0-9]*: //'; done; done
