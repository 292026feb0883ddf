#!/bin/bash
# mkprof.sh SRC DST: gemm-3's tools/mkprof.sh (build_window call of this tree; PERM_ID=1 keeps the identity permutation); copy a csrc tree and add rdtsc scopes (prof.h) to mp_linear_gemm_i8.cpp; then build
# prof_driver.cpp against DST like ../../2026-12-07-gemm-2/build_driver.sh does (kinds: 0 quantize,
# 1 wait for rows, 2 window build, 3 microkernels, 4 epilogue, 6/7 staged wait/gather)
set -e
rm -rf $2; cp -a $1 $2; cp -p "$(dirname "$0")"/../../2026-12-07-gemm-3/tools/prof.h $2/mp_linear/prof.h
python3 - $2/mp_linear/mp_linear_gemm_i8.cpp <<'PY'
import sys
p=sys.argv[1]; s=open(p).read()
def rep(a,b):
    global s
    if a not in s: print("MISSING:", a[:60]); return
    s=s.replace(a,b,1)
rep('#include "mp_linear/mp_linear_kernels.h"\n','#include "mp_linear/mp_linear_kernels.h"\n#include "mp_linear/prof.h"\nProfEv g_prof[1 << 16];\nstd::atomic<int> g_nprof{0};\n')
rep('        quantize_activation_row(t);\n','        ProfScope ps(0, t);\n        quantize_activation_row(t);\n')
rep('          for (int64_t m = m0; m < m1; ++m) quantize_activation_row(m);','          ProfScope ps(0, g); for (int64_t m = m0; m < m1; ++m) quantize_activation_row(m);')
rep('      wait_for(quantized, MP);','      { ProfScope ps(1, 0); wait_for(quantized, MP); }')
rep('        wait_for(computed, nwt);','        { ProfScope ps(6, 0); wait_for(computed, nwt); }\n        ProfScope ps7(7, 0);')
rep('build_window(col, packed_order ? &live : nullptr, r0, nw, ldp, L, kern, !fused, quad, bias, s);','{ ProfScope ps(2, wi); build_window(col, packed_order ? &live : nullptr, r0, nw, ldp, L, kern, !fused, quad, bias, s); }')
rep('      const int64_t nm = std::min(kMBlock, m1 - mb);\n','      const int64_t nm = std::min(kMBlock, m1 - mb);\n      ProfScope ps3(3, wi * 1000 + nw);\n')
rep('      // epilogue: the direct path','      ps3.end();\n      ProfScope ps4(4, wi);\n      // epilogue: the direct path')
open(p,'w').write(s)
PY
# The profiling driver: ../2026-12-07-gemm-2/gemm_i8_driver.cpp plus weight / output rotation (WROT, YROT
# copies: as chord bench rotates weights) and a per-thread sum of each scope kind for one more call,
# written to DST/prof_driver.cpp.
python3 - "$(dirname "$0")"/../../2026-12-07-gemm-2/gemm_i8_driver.cpp $2/prof_driver.cpp <<'PY'
import sys
s = open(sys.argv[1]).read()
def rep(a, b):
    global s
    assert a in s, a[:60]
    s = s.replace(a, b, 1)
rep('#include "mp_linear/mp_linear.h"', '#include "mp_linear/mp_linear.h"\n#include "mp_linear/prof.h"\n#include <map>')
rep('  PackedView w = make_packed_view(q.data(), qbytes, sc.data(), N, ze.data(), N, perm.data(), N, buckets, 6, K);',
    '''  const int wrot = getenv("WROT") ? atoi(getenv("WROT")) : 1, yrot = getenv("YROT") ? atoi(getenv("YROT")) : 1;
  std::vector<std::vector<uint8_t>> qs(wrot, q);
  std::vector<std::vector<float>> ys(yrot, y);
  std::vector<PackedView> ws;
  for (int i = 0; i < wrot; ++i)
    ws.push_back(make_packed_view(qs[i].data(), qbytes, sc.data(), N, ze.data(), N, perm.data(), N, buckets, 6, K));''')
rep('    mp_linear(w, x.data(), DType::F32, M, K, 1, bias.data(), 8, y.data(),',
    '    mp_linear(ws[r % wrot], x.data(), DType::F32, M, K, 1, bias.data(), 8, ys[r % yrot].data(),')
rep('  double cs = 0;', '''  {  // one more call: per thread, the time in each scope kind (TSC at 2.596 GHz on this VM)
    g_nprof = 0;
    mp_linear(ws[reps % wrot], x.data(), DType::F32, M, K, 1, bias.data(), 8, ys[reps % yrot].data(), DType::F32, N,
              int(nt), isa, Path::Panel);
    const int n = g_nprof.load();
    std::map<uint64_t, int> tids;
    std::map<std::pair<int, int>, double> tot;
    for (int i = 0; i < n; ++i) {
      const ProfEv& e = g_prof[i];
      const int th = tids.emplace(e.tid, int(tids.size())).first->second;
      tot[{th, e.kind}] += (e.t1 - e.t0) / 2.596e3;
    }
    for (auto& kv : tot) printf("thread %d kind %d: %.1f us\\n", kv.first.first, kv.first.second, kv.second);
  }
  double cs = 0;''')
open(sys.argv[2], 'w').write(s)
PY
sed -i 's|  std::shuffle(perm.begin(), perm.end(), rng);|  if (!getenv("PERM_ID")) std::shuffle(perm.begin(), perm.end(), rng);|' $2/prof_driver.cpp
