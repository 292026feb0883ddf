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
// avx2: fitted 2026-12-07, 764 cases, quiet refit on the AVX2-only Zen 3 (reports/2026-12-07-quiet9/costfit), after avx2gemm's int16-sum GEMM
constexpr CostsI8 kCostI8Avx2{5653, 0.03899, 0.1874, 0.0084, 3.946, 0, 5595, 0.1863, 0.01088, 4.281, 0.01154};
// crossovers (mix3 n x n, the first M taking the GEMM): avx512_vnni 1024:3 4096:5 8192:6; avx2 1024:9 4096:10 8192:11
// END fitted coefficients
// clang-format on
// Scalar: from four shapes (a fallback only).
constexpr CostsI8 kCostI8Scalar{4000, 0.26, 2.0, 0.18, 3.0, 0, 4600, 1.0, 0.6, 6.0, 0};

}  // namespace mpl
}  // namespace chord
