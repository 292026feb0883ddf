// A variant's vector struct for var_wrap.h (reports/2026-12-07-gemv-7.md): pass -DVAR_PRE='"var_load.h"'
struct VLd : chord::mpl::V512 {
  static vec loadu(const void* p) {
    vec r;
    asm("vmovdqu64 %1, %0" : "=v"(r) : "m"(*static_cast<const __m512i*>(p)));
    return r;
  }
};
