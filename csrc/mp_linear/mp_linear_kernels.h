// Internal interface between the mp_linear driver (mp_linear.cpp) and its per-ISA kernels
// (mp_linear_ref.cpp: portable scalar, always compiled; mp_linear_avx2.cpp: AVX2+FMA+F16C,
// compiled with a target pragma and selected at run time). Not part of the public API.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "common/half.h"
#include "common/isa.h"
#include "mp_linear/mp_linear.h"

namespace chord {
namespace mpl {

// Width index of a bit-width: 1 -> 0, 2 -> 1, 4 -> 2, 8 -> 3.
inline int width_index(int bits) {
  return bits == 1 ? 0 : bits == 2 ? 1 : bits == 4 ? 2 : 3;
}
// Activation rows are padded to a multiple of this: one 64-byte group (four 16-byte planar
// blocks, the AVX-512 load) of the narrowest width holds 512 elements, so every row of every
// width fits whatever the ISA.
constexpr int64_t kPadElems = 512;
// Below this many activation rows the AVX2 fp32 kernel is faster than the AVX-512 one (it
// streams the packed rows better); at and above it AVX-512's FMA width wins.
constexpr int64_t kMinMAvx512 = 4;
inline int64_t pad_k(int64_t K) {
  return (K + kPadElems - 1) / kPadElems * kPadElems;
}

inline int64_t round_up(int64_t v, int64_t m) {
  return (v + m - 1) / m * m;
}
// Element idx of an activation buffer of dtype dt, as float32.
inline float load_x(const void* x, DType dt, int64_t idx) {
  switch (dt) {
    case DType::F16:
      return f16_to_f32(static_cast<const uint16_t*>(x)[idx]);
    case DType::BF16:
      return bf16_to_f32(static_cast<const uint16_t*>(x)[idx]);
    default:
      return static_cast<const float*>(x)[idx];
  }
}
// Stores v, rounded once to float32 (then to the output dtype DT), at element idx of y.
template <DType DT>
inline void store_y_as(void* y, int64_t idx, double v) {
  const float f = float(v);
  if (DT == DType::F32)
    static_cast<float*>(y)[idx] = f;
  else if (DT == DType::F16)
    static_cast<uint16_t*>(y)[idx] = f32_to_f16(f);
  else
    static_cast<uint16_t*>(y)[idx] = f32_to_bf16(f);
}
inline void store_y(void* y, DType dt, int64_t idx, double v) {
  switch (dt) {
    case DType::F32:
      return store_y_as<DType::F32>(y, idx, v);
    case DType::F16:
      return store_y_as<DType::F16>(y, idx, v);
    case DType::BF16:
      return store_y_as<DType::BF16>(y, idx, v);
  }
}

template <class T>
struct AlignedBuf {  // 64-byte aligned, zero-filled (unless asked not to), grow-only
  T* p = nullptr;
  size_t n = 0;
  AlignedBuf() = default;
  AlignedBuf(const AlignedBuf&) = delete;
  ~AlignedBuf() { std::free(p); }
  void resize(size_t count, bool zero = true) {
    std::free(p);
    p = nullptr;
    n = 0;
    if (count > (SIZE_MAX - 63) / sizeof(T)) throw std::bad_alloc();  // the byte count would wrap
    size_t bytes = (count * sizeof(T) + 63) / 64 * 64;
    p = static_cast<T*>(std::aligned_alloc(64, bytes ? bytes : 64));
    if (!p) throw std::bad_alloc();
    if (zero) std::memset(p, 0, bytes);
    n = count;
  }
  // Grow-only, contents unspecified (scratch rewritten by every use).
  void ensure(size_t count) {
    if (count > n) resize(count);
  }
};

struct PreparedActs::Impl {
  int64_t M = 0, K = 0, Kp = 0;  // Kp = pad_k(K): row stride of every buffer below
  int act_bits = 0;
  Isa isa = Isa::Scalar;
  bool f32_avx512 = false;  // act_bits = 0 on the AVX-512 kernel (isa Avx512 and M >= kMinMAvx512)
  int i8_group = 32;        // act_bits = 8: bytes per planar load of the kernel (64: AVX-512 VNNI)
  // act_bits = 0: fp32 activations per width (index width_index(bits)); the scalar ISA
  // shares one natural-order buffer between widths. xsum: sum of the fp32 x, in float64.
  AlignedBuf<float> xf_nat;
  AlignedBuf<float> xf_w[4];
  const float* xf[4] = {nullptr, nullptr, nullptr, nullptr};
  std::vector<double> xsum;
  // act_bits = 8: xq natural [M, Kp] (zero beyond K), per-width layouts, sx, sum(xq).
  AlignedBuf<int8_t> xq_nat;
  AlignedBuf<int8_t> xq_w[4];
  const int8_t* xq[4] = {nullptr, nullptr, nullptr, nullptr};
  std::vector<float> sx;
  std::vector<int64_t> qsum;
};

// ---- per-ISA kernels ----------------------------------------------------------------------
// dot_f32: for rows r in [0, nr) of one bucket of width `bits` (row r at w + r * rb, rb =
// row bytes) and activation rows m in [0, nm) (at x + m * ldx, this ISA's layout for `bits`):
// out[m * ldo + r] = sum_k x_mk u_rk in float32.
using DotF32 = void(const uint8_t* w, int64_t rb, int bits, int64_t nr, const float* x, int64_t ldx, int64_t nm,
                    float* out, int64_t ldo);
DotF32 dot_f32_ref, dot_f32_avx2, dot_f32_avx512;
// dot_i8: the same with int8 activations; exact: out[m * ldo + r] = sum_k xq_mk u_rk.
// qsum[m] = sum_k xq_mk (the AVX2 8-bit kernel runs on u - 128 and adds 128 * qsum back).
using DotI8 = void(const uint8_t* w, int64_t rb, int bits, int64_t nr, const int8_t* x, int64_t ldx, int64_t nm,
                   const int64_t* qsum, int64_t* out, int64_t ldo);
DotI8 dot_i8_ref;
// AVX2: the same, and pf_end as for the dot-product kernels below (the tiles prefetch the next
// tile's rows while they run, never at or past pf_end).
void dot_i8_avx2(const uint8_t* w, int64_t rb, int bits, int64_t nr, const int8_t* x, int64_t ldx, int64_t nm,
                 const int64_t* qsum, int64_t* out, int64_t ldo, const uint8_t* pf_end);
// The same on the dot-product units (mp_linear_gemv_vnni.inc), exact for K <= kMaxKInt8;
// activations laid out by layout_i8_planar with 64-byte (avx512vnni) or 32-byte (avxvnni)
// groups. No qsum: vpdpbusd takes 8-bit fields as they are. pf_end: the end of the readable
// bytes from w on (the packed weight's end): the kernels prefetch past row nr - 1, never at or
// past pf_end (w + nr * rb keeps them within these rows).
void dot_i8_avx512vnni(const uint8_t* w, int64_t rb, int bits, int64_t nr, const int8_t* x, int64_t ldx, int64_t nm,
                       int64_t* out, int64_t ldo, const uint8_t* pf_end);
void dot_i8_avxvnni(const uint8_t* w, int64_t rb, int bits, int64_t nr, const int8_t* x, int64_t ldx, int64_t nm,
                    int64_t* out, int64_t ldo, const uint8_t* pf_end);
// Activation rows per direct int8 kernel call (their prepared layout stays in L2).
constexpr int64_t kMBlockI8 = 32;
// How many times the direct int8 kernels read the weight's rows of one width (bits) for M
// activation rows (the cost model's pass term, choose_path_i8): each call takes kMBlockI8 rows;
// AVX-512 VNNI splits them into blocks of 4, a last 5 of 4- and 8-bit rows in one
// (dot_i8_vnni_bits, mp_linear_gemv_vnni.inc); AVX-VNNI and AVX2 into blocks of 4, then 2, then 1;
// the scalar kernel re-reads a row per activation row from L1, so once per call.
inline int64_t direct_passes_i8(int64_t M, int bits, Isa isa) {
  auto per_call = [&](int64_t nm) -> int64_t {
    if (isa_has_avx512_vnni(isa)) return bits >= 4 && nm % 4 == 1 && nm > 4 ? nm / 4 : (nm + 3) / 4;
    if (isa_has_avx2(isa)) return nm / 4 + (nm % 4) / 2 + nm % 2;
    return 1;
  };
  return M / kMBlockI8 * per_call(kMBlockI8) + (M % kMBlockI8 ? per_call(M % kMBlockI8) : 0);
}
// The act_bits = 0 epilogue of one activation row over n packed rows on AVX-512 (F, VL):
// bit-identical to mp_linear.cpp's scalar float64 expression: for j < n, y[perm[j]] =
// float((double(d[j]) - double(zero[j]) * xs) * double(scale[j]) (+ double(bias[perm[j]]))).
void epilogue_gemv_f32_avx512(const float* d, int64_t n, const float* zero, const float* scale, const int32_t* perm,
                              const float* bias, double xs, float* y);
// Short rows (K <= kMaxKRows16: at most 256 row bytes) on AVX-512 VNNI, 16 rows per
// reduction (mp_linear_rows16_avx512vnni.cpp): the dot_i8_avx512vnni contract, but x is the
// natural-order int8 activation row (PreparedActs::Impl::xq_nat, zero from K to >= 256 bytes).
// It serves up to kMaxMRows16 activation rows (beyond, the general kernel and the GEMM path).
constexpr int64_t kMaxKRows16 = 256, kMaxMRows16 = 4;
void dot_i8_rows16_avx512vnni(const uint8_t* w, int64_t rb, int bits, int64_t nr, const int8_t* x, int64_t ldx,
                              int64_t nm, int64_t* out, int64_t ldo, const uint8_t* pf_end);
// The same rows on AVX2 (mp_linear_rows8_avx2.cpp), 8 rows per reduction: the dot_i8_avx2
// contract (qsum for the 8-bit fields), x the natural-order rows as above.
void dot_i8_rows8_avx2(const uint8_t* w, int64_t rb, int bits, int64_t nr, const int8_t* x, int64_t ldx, int64_t nm,
                       const int64_t* qsum, int64_t* out, int64_t ldo);

// The act_bits = 8 epilogue of one activation row over n packed rows on AVX-512 (compiled with
// the VNNI kernel), in two steps that together are bit-identical to mp_linear.cpp's scalar
// float64 expression: for j < n, v[j] = (double(d[j]) - double(zero[j]) * q) * (xs * double(scale[j]))
// (packed order, contiguous), then y[perm[j]] = float(v[j] (+ double(bias[perm[j]]) when bias is
// not null)). Apart so that a GEMV can write v while it streams the weight and scatter to the
// permuted columns once at the end (scattered stores during the stream cost; mp_linear.cpp).
void epilogue_gemv_i8_avx512(const int64_t* d, int64_t n, const float* zero, const float* scale, double q, double xs,
                             double* v);
void scatter_rows_avx512(const double* v, int64_t n, const int32_t* perm, const float* bias, float* y);

// Activation layouts of the AVX2 kernels, from one natural-order row (zero beyond K, length
// Kp): dst gets Kp elements.
void layout_f32_avx2(const float* xnat, int64_t Kp, int bits, float* dst);
void layout_f32_avx512(const float* xnat, int64_t Kp, int bits, float* dst);
void layout_i8_avx2(const int8_t* xnat, int64_t Kp, int bits, int8_t* dst);
// The int8 layout for kernels that load `group` bytes of a packed row at once (32: AVX2 and
// AVX-VNNI, equal to layout_i8_avx2; 64: AVX-512 VNNI): dst[g*group*epb + i*group + p] =
// x[g*group*epb + (p/16)*16*epb + p%16 + 16*i]. Kp must be a multiple of group * epb.
void layout_i8_planar(const int8_t* xnat, int64_t Kp, int bits, int group, int8_t* dst);

// Per-row dynamic int8 quantization (reference.quantize_activations_int8): sx = amax / 127,
// xq = clamp(rint(x / sx), -127, 127) with IEEE division (x / 1 when amax == 0).
// Writes xq[0..K); returns sx. The AVX2 one also stores sum(xq) (exact, in int64) in *qsum when
// qsum is not null (summed from the int32 lanes it already has: no second pass over xq).
float quantize_row_i8_ref(const float* x, int64_t K, int8_t* xq);
float quantize_row_i8_avx2(const float* x, int64_t K, int8_t* xq, int64_t* qsum = nullptr);

// Dequantize one packed row into out[0..K) as (u - zero) * scale in float32.
void dequant_row_ref(const uint8_t* w, int bits, int64_t K, float scale, float zero, float* out);
void dequant_row_avx2(const uint8_t* w, int bits, int64_t K, float scale, float zero, float* out);

// n fp16 values -> fp32 with F16C (AVX2 ISA only).
void widen_f16_avx2(const uint16_t* src, int64_t n, float* dst);

// ---- panel path (mp_linear_panel.cpp) -------------------------------------------------------
// The panel is tiled by columns: tile t (columns [t*TW, (t+1)*TW)) is a [K, TW] row-major block
// at p + t*K*TW, TW = panel_tile_width(isa) (the microkernel's tile width: each tile streams
// contiguously, and no two panel rows sit a large power of two apart in the cache).
// panel_gemm: for m < nm, j < nc:
//   c[m * ldc + j] = bias_p[j] + (keep_p[j] ? sum_k x[m * ldx + k] * P[k][j] : 0)
// with one accumulation chain per output in k order (independent of nm, nc and the tiling).
// p, bias_p, keep_p: 64-byte aligned; columns [nc, round_up(nc, 16)) readable (zero).
// keep_p: 0xffffffff for live columns, 0 for pruned ones (exactly bias_p[j] then, whatever x).
int64_t panel_tile_width(Isa isa);
void panel_gemm_ref(const float* x, int64_t ldx, int64_t nm, const float* p, int64_t K, int64_t nc, const float* bias_p,
                    const uint32_t* keep_p, float* c, int64_t ldc);
void panel_gemm_avx2(const float* x, int64_t ldx, int64_t nm, const float* p, int64_t K, int64_t nc,
                     const float* bias_p, const uint32_t* keep_p, float* c, int64_t ldc);
void panel_gemm_avx512(const float* x, int64_t ldx, int64_t nm, const float* p, int64_t K, int64_t nc,
                       const float* bias_p, const uint32_t* keep_p, float* c, int64_t ldc);
// The whole op on the panel path (mp_linear's arguments, act_bits = 0, M >= 1, perm required).
void mp_linear_panel(const PackedView& w, const void* x, DType xdtype, int64_t M, int64_t sx_row, int64_t sx_col,
                     const float* bias, void* y, DType ydtype, int64_t ldy, int nthreads, Isa isa);
// dst[k * ldd + j] = src[j * lds + k] for j < 8, k < K (8 dequantized rows -> 8 panel columns).
void transpose8_avx2(const float* src, int64_t lds, int64_t K, float* dst, int64_t ldd);

// ---- int8 GEMM path (act_bits = 8; mp_linear_gemm_i8.cpp) -----------------------------------
// Weight columns are unpacked to one byte per element in natural k order, ldp = gemm_i8_ldp(K)
// bytes apart (a packed row unpacks to ceil(K / be) * be elements; the rest of the stride is
// never written past L, and every activation beyond K is zero, so it never contributes).
// Activations: the natural int8 rows, zero beyond K.
// gemm_i8: for m < nm, j < nc: c[m * ldc + j] = sum_{l < L} x[m * ldx + l] * u[j][l] (exact
// int32: needs K <= kMaxKGemmI8), L = gemm_i8_len(K) (a multiple of 64). The AVX2 kernel runs
// 8-bit columns as q = u - 128 (unpack_i8_avx2 stores that) and adds 128 * qsum[m] back; the
// AVX-VNNI kernel (gemm_i8_avxvnni, on unpack_i8_avx2's fields with 8-bit rows as they are) and
// the reference ignore bits and qsum. [pf, pf + pfb): bytes to prefetch into L2 while the call
// runs (spread over its k steps; the next weight window's packed rows), or pfb = 0.
constexpr int64_t kMaxKGemmI8 = 65536;  // K * 255 * 127 < 2^31
inline int64_t gemm_i8_ldp(int64_t K) {
  return (K + 127) / 128 * 128;
}
inline int64_t gemm_i8_len(int64_t K) {
  return (K + 63) / 64 * 64;
}
// Unpack one packed row (rb bytes, width bits) into dst[0 .. rb / 16 * be) as u8 (AVX2: 8-bit
// fields as u ^ 0x80).
void unpack_i8_ref(const uint8_t* row, int64_t rb, int bits, uint8_t* dst);
void unpack_i8_avx2(const uint8_t* row, int64_t rb, int bits, uint8_t* dst);
void gemm_i8_ref(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* p, int64_t ldp, int64_t nc, int64_t L,
                 int bits, const int64_t* qsum, int32_t* c, int64_t ldc, const uint8_t* pf, int64_t pfb);
void gemm_i8_avx2(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* p, int64_t ldp, int64_t nc, int64_t L,
                  int bits, const int64_t* qsum, int32_t* c, int64_t ldc, const uint8_t* pf, int64_t pfb);
// gemm_i8_avx2's contract from nc packed rows of one width (bits; rb bytes apart) instead of a
// window (no prefetch): a few columns at a time are unpacked into a thread-local buffer that
// stays in L1 while every activation row runs over them (the AVX2 path up to kMBlock rows).
void gemm_i8_avx2_packed(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* w, int64_t rb, int bits, int64_t nc,
                         int64_t L, const int64_t* qsum, int32_t* c, int64_t ldc);
void gemm_i8_avxvnni(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* p, int64_t ldp, int64_t nc, int64_t L,
                     int bits, const int64_t* qsum, int32_t* c, int64_t ldc, const uint8_t* pf, int64_t pfb);
// AVX-512 VNNI, more than kMFusedGemmI8 rows: windows in column quads, the columns in groups of
// four, group g at p + g * 4 * ldp, L / 16 chunks of 64 bytes; chunk t = fields [16t, 16t + 16)
// of the group's four columns side by side (16 bytes each, natural-order u8 fields, zero past a
// column's end and for missing columns). unpack_i8_vnni_quad builds one group from n <= 4 packed
// rows; gemm_i8_vnni_quad is gemm_i8's contract on such a window (nc columns from p; no prefetch).
void unpack_i8_vnni_quad(const uint8_t* const* row, const int64_t* rb, const int* bits, int n, int64_t L, uint8_t* dst);
void gemm_i8_vnni_quad(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* p, int64_t ldp, int64_t nc, int64_t L,
                       int32_t* c, int64_t ldc);
// Up to this many activation rows the AVX-512 VNNI int8 GEMM reads packed rows (no window):
// measured faster than the quad windows up to M = 64 on 4096^2 and 8192^2
// (reports/2026-12-07-gemm-5.md).
constexpr int64_t kMFusedGemmI8 = 64;
// gemm_i8's contract from nc packed rows of one width (bits; rb bytes apart) instead of a
// window: each k step's fields are unpacked in registers, never stored.
void gemm_i8_vnni_packed(const int8_t* x, int64_t ldx, int64_t nm, const uint8_t* w, int64_t rb, int bits, int64_t nc,
                         int64_t L, int32_t* c, int64_t ldc, const uint8_t* pf, int64_t pfb);
// The int8 epilogue of nm activation rows over n columns, vectorized (AVX-512F) and bit-identical
// to the scalar float64 expression: with q = double(qsum[m]), xs = double(sx[m]),
// y[m * ldy + (col ? col[j] : j)] = float((double(c[m * ldc + j]) - zero[j] * q) * (xs * scale[j])
// (+ bias[j] when bias is not null)).
void epilogue_i8_avx512(const int32_t* c, int64_t ldc, int64_t nm, int64_t n, const double* zero, const double* scale,
                        const double* bias, const int32_t* col, const int64_t* qsum, const float* sx, float* y,
                        int64_t ldy);
// The same on AVX2 (mp_linear_gemm_i8_avx2.cpp), 4 columns at a time, bit-identical too.
void epilogue_i8_avx2(const int32_t* c, int64_t ldc, int64_t nm, int64_t n, const double* zero, const double* scale,
                      const double* bias, const int32_t* col, const int64_t* qsum, const float* sx, float* y,
                      int64_t ldy);
// The whole op on the int8 GEMM path (mp_linear's arguments, act_bits = 8, M >= 1, perm
// required, K <= kMaxKGemmI8). Same activation quantization and epilogue as the direct
// kernels, so the same result bit for bit.
void mp_linear_gemm_i8(const PackedView& w, const void* x, DType xdtype, int64_t M, int64_t sx_row, int64_t sx_col,
                       const float* bias, void* y, DType ydtype, int64_t ldy, int nthreads, Isa isa);

// AArch64 kernels (mp_linear_neon.cpp, mp_linear_neon_dotprod.cpp; natural-order activations,
// the scalar layout): same contracts as the _ref kernels above; dot_i8 is exact on both.
DotF32 dot_f32_neon;
DotI8 dot_i8_neon, dot_i8_neon_dotprod;
void dequant_row_neon(const uint8_t* w, int bits, int64_t K, float scale, float zero, float* out);
float quantize_row_i8_neon(const float* x, int64_t K, int8_t* xq);

}  // namespace mpl
}  // namespace chord
