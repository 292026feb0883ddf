// <immintrin.h> for the x86 kernel files: include this instead, first (right after the file's
// `#pragma GCC target`), so that it is the translation unit's first inclusion of the intrinsics.
//
// Why: GCC 12's AVX-512 intrinsics that have a masked builtin underneath (_mm512_unpacklo_epi32,
// _mm512_shuffle_i32x4, _mm512_permutexvar_epi32, _mm512_max_ps, _mm512_cvtepi32_ps, ...) pass
// `_mm512_undefined_*()` -- `__m512i __Y = __Y;`, deliberately unset -- as the merge source of an
// all-ones mask, so no lane of it is ever used. Inlined into a loop, GCC 12's uninitialized-use
// pass still reports "'__Y' may be used uninitialized" (at -O1: "is used") at the header's line
// (GCC bug 105593, fixed in GCC 13); csrc/topk/topk_vnni_avx512.cpp alone drew hundreds.
// A diagnostic pragma applies to the source lines between push and pop, and an inlined
// function's warning is located at the header's line: the suppression covers the intrinsic
// headers only, and a real uninitialized use in our own code still warns
// (tests/common/test_x86_intrin.py checks both).
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif
