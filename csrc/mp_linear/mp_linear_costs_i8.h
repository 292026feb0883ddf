// The act_bits = 8 cost model's coefficients (ns, one thread; the model is choose_path_i8 in
// mp_linear_panel.cpp). The lines between the markers are written by
// `python tools/mp_linear_i8_costfit.py --write ...` (measure or refit, then rewrite them): change
// them there, not by hand. The crossovers line is what the written coefficients choose on the
// fit's mix3 layers (tests/backends/test_cpu_mp_linear_gemm_i8.py checks the library against it).
#pragma once

namespace chord {
namespace mpl {

struct CostsI8 {
  double g_fixed, g_unpack, g_quant, g_mac, g_epi, g_runpack;  // the int8 GEMM
  double d_fixed, d_prep, d_dot, d_epi, d_pass;                // the direct kernels
};

// One line per ISA, as the tool writes them (not wrapped):
// clang-format off
// BEGIN fitted coefficients (tools/mp_linear_i8_costfit.py --write)
// avx512_vnni: fitted 2026-12-07, 764 cases, quiet machine, reports/2026-12-07-quiet8
constexpr CostsI8 kCostI8Vnni{3991, 0.1692, 0.1466, 0.003142, 0.7091, 0.008798, 4285, 0.1419, 0.003921, 2.609, 0.005481};
// avx2: fitted 2026-12-07, 764 cases, quiet refit on the AVX2-only Zen 3 after the tenth session's AVX2 kernels (reports/2026-12-07-quiet10)
constexpr CostsI8 kCostI8Avx2{6524, 0.01853, 0.2108, 0.008597, 3.829, 0, 7527, 0.147, 0.01118, 4.39, 0.00513};
// crossovers (mix3 n x n, the first M taking the GEMM): avx512_vnni 1024:3 4096:5 8192:6; avx2 1024:5 4096:6 8192:6
// END fitted coefficients
// clang-format on
// Scalar: from four shapes (a fallback only).
constexpr CostsI8 kCostI8Scalar{4000, 0.26, 2.0, 0.18, 3.0, 0, 4600, 1.0, 0.6, 6.0, 0};

}  // namespace mpl
}  // namespace chord
