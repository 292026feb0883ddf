// A candidate (or the previous) GEMV kernel beside the shipped one in probe.cpp (mode `var`):
// VAR_INC names a copy of mp_linear_gemv_vnni.inc, VARV its vector struct (V512, or one
// derived from it in VAR_PRE). Build from the repository root, e.g. the kernel before
// reports/2026-12-07-gemv-7.md:
//   git show 9b4412a:csrc/mp_linear/mp_linear_gemv_vnni.inc > /tmp/old.inc
//   g++ -O3 -fwrapv -std=c++17 -Icsrc -I/tmp -DVAR_KERNEL='"var_wrap.h"' -DVAR_INC='"old.inc"' -DVARV=V512 \
//     -Ireports/2026-12-07-gemv-7 reports/2026-12-07-gemv-7/probe.cpp -o /tmp/probe_ab -lpthread
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")
using namespace chord;
using namespace chord::mpl;
#ifdef VAR_PRE
#include VAR_PRE
#endif
#include VAR_INC
void dot_i8_var(const uint8_t* w, int64_t rb, int bits, int64_t nr, const int8_t* x, int64_t ldx, int64_t nm,
                int64_t* out, int64_t ldo, const uint8_t* pf_end) {
  dot_i8_vnni<VARV>(w, rb, bits, nr, x, ldx, nm, out, ldo, pf_end);
}
#pragma GCC pop_options
