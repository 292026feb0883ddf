#!/usr/bin/env bash
# Instructions per call and per weight element of the kernels in tools/arm/insn_count.cpp, on
# AArch64 under qemu-aarch64 (one instruction per translation block, -singlestep, and exec
# logging, -d nochain,exec) or on x86 under valgrind (callgrind's Ir total). Either way the count
# with REPS = 2 minus the count with REPS = 1 is one warm call. Shapes and data are the x86
# callgrind gate's (tests/bench/gate/callgrind.json), plus an embedding lookup.
#   tools/arm/insn_count.sh aarch64 BUILD_DIR   (an aarch64 build of tools/arm/ci.sh)
#   tools/arm/insn_count.sh x86 BUILD_DIR       (an x86 build, not sanitized)
set -euo pipefail
ARCH="$1"
B="$2"
count() {  # op mix isa reps -> instructions
  if [[ "$ARCH" == aarch64 ]]; then
    local fifo; fifo="$(mktemp -u)"; mkfifo "$fifo"
    grep -c '^Trace' <"$fifo" &  # the log is streamed through grep, never stored
    local g=$!
    qemu-aarch64 -cpu max -L /usr/aarch64-linux-gnu -singlestep -d nochain,exec -D "$fifo" \
      "$B/chord_insn_count" "$@" >/dev/null
    wait "$g"
    rm -f "$fifo"
  else
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$B/chord_insn_count" "$@" 2>&1 >/dev/null \
      | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
  fi
}
if [[ "$ARCH" == aarch64 ]]; then ISAS="neon_dotprod neon"; else ISAS="avx2 scalar"; fi
printf "%-14s %-5s %-13s %12s %10s\n" op mix isa insns/call per_weight
run() {  # op mix weights
  for isa in $ISAS; do
    a=$(count "$1" "$2" "$isa" 1); b=$(count "$1" "$2" "$isa" 2)
    awk -v o="$1" -v m="$2" -v i="$isa" -v d=$((b - a)) -v n="$3" \
      'BEGIN { printf "%-14s %-5s %-13s %12d %10.3f\n", o, m, i, d, d / n }'
  done
}
for mix in u4 u8 mix3; do run mp_linear "$mix" 262144; done
for mix in u8 mix3; do run quantize_pack "$mix" 133120; done
run mp_topk mix3 262144
run embedding mix3 3200
