// A variant's vector struct for var_wrap.h (reports/2026-12-07-gemv-7.md): pass -DVAR_PRE='"var_add.h"'
struct VAdd : chord::mpl::V512 {
  static vec dpbusd(vec acc, vec u, vec x) {
    asm("vpaddd %1, %0, %0" : "+v"(acc) : "v"(u));
    (void)x;
    return acc;
  }
};
