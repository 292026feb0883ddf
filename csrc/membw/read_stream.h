// A streaming-read probe: the memory roof of a kernel that only reads (a GEMV streams its
// weight once). chord bench times it to put a read-only bandwidth beside each GEMV figure.
//
// Why not a library sum (torch/numpy): a float sum retires a dependent add chain per vector and
// converts nothing, but it still spends instructions per byte; measured here, torch's fp32 `sum`
// fell well short of what plain 64-byte loads into independent integer accumulators reach
// (reports/2026-12-06-gemv-roof.md). The roof must be the best the memory system delivers
// to one reader, or a kernel's "% of roof" overstates how close it is.
#pragma once
#include <cstdint>

namespace chord {
namespace membw {

// Read [p, p + n) once on up to `nthreads` threads (the pool of common/parallel.h; each thread
// one contiguous share, as a GEMV's threads split its rows) with the widest loads this CPU has
// into independent accumulators. prefetch_bytes > 0 adds a software prefetch that far ahead of
// each load (within the share), with the T0 hint or, when `nta`, the non-temporal one.
// streams > 1 splits each share into that many equal parts read in lockstep, one line of each
// per step (a GEMV tile reads its rows so: measured slightly above one stream,
// reports/2026-12-06-gemv-roof.md).
// Returns a checksum of the bytes (the sum of its 64-bit words, wrapping) so no load is elided.
uint64_t read_stream(const uint8_t* p, int64_t n, int nthreads, int64_t prefetch_bytes, bool nta, int streams = 1);

}  // namespace membw
}  // namespace chord
