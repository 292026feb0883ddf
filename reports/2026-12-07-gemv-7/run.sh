#!/usr/bin/env bash
# The measurements of reports/2026-12-07-gemv-7.md, from the repository root (~6 min on a quiet
# machine). Builds the probe (shipped kernel + the kernel before this report as `var`) and the
# C++ mp_linear driver for this tree and for BEFORE (a worktree of the commit before the report's
# kernel commit; default /tmp/before, only its csrc/ is used: nothing to build in it), then
# alternates them. OUT: where the result files go.
set -euo pipefail
R=reports/2026-12-07-gemv-7
BEFORE=${BEFORE:-/tmp/before}
OUT=${OUT:-/tmp/gemv7}
mkdir -p "$OUT" /tmp/gemv7_build
git -C "$BEFORE" show HEAD:csrc/mp_linear/mp_linear_gemv_vnni.inc > /tmp/gemv7_build/old.inc
g++ -O3 -fwrapv -std=c++17 -Icsrc -I$R -I/tmp/gemv7_build -DVAR_KERNEL='"var_wrap.h"' -DVAR_INC='"old.inc"' \
  -DVARV=V512 $R/probe.cpp -o /tmp/gemv7_build/probe -lpthread
for t in . "$BEFORE"; do
  o=/tmp/gemv7_build/obj_$(basename "$(cd "$t" && pwd)")
  mkdir -p "$o"
  for f in "$t"/csrc/common/{isa,parallel,kernels_absent}.cpp $(ls "$t"/csrc/mp_linear/*.cpp | grep -v neon); do
    g++ -O3 -fwrapv -std=c++17 -I"$t"/csrc -c "$f" -o "$o/$(basename "$f" .cpp).o" &
  done
  wait
  g++ -O3 -fwrapv -std=c++17 -I"$t"/csrc $R/e2e.cpp "$o"/*.o -o "$o/e2e" -lpthread
done
NEW=/tmp/gemv7_build/obj_$(basename "$PWD")/e2e OLD=/tmp/gemv7_build/obj_$(basename "$(cd "$BEFORE" && pwd)")/e2e
P=/tmp/gemv7_build/probe
{
  for i in 1 2 3; do $P 8192 1 100 read,readpf,walk,kernel,var,hot; done
  for i in 1 2 3; do $P 4096 1 400 read,walk,kernel,var; done
} | tee "$OUT/probe_t1.txt"
for i in 1 2; do for o in 2 4 8; do ONLY=$o $P 8192 1 40 read,walk,kernel,var; done; done | tee "$OUT/widths_t1.txt"
{
  for i in 1 2 3; do $P 8192 2 200 read,walk,kernel,var; done
  for i in 1 2 3; do $P 4096 2 600 read,walk,kernel,var; done
} | tee "$OUT/probe_t2.txt"
for t in 1 2; do for k in 8192 4096; do for i in 1 2 3; do
  echo "before $($OLD $k $t $((k == 8192 ? 300 : 1200)))"
  echo "after  $($NEW $k $t $((k == 8192 ? 300 : 1200)))"
done; done; done | tee "$OUT/e2e_ab.txt"
