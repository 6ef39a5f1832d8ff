#pragma once
/// Host-side launchers of the CUDA segment and scatter reductions: plain
/// pointers, so the .cu unit never includes LibTorch headers.

#include "kernels/segment_impl.h"

#include <cstdint>

namespace sozai {
namespace kernels {

/// src [E, F] row-major, ptr [B+1]; out [B, F]; arg [B, F] (Max only, else
/// nullptr). Float (is_double false) or double; stream a cudaStream_t.
void launch_segment_csr(const void* src, const int64_t* ptr, void* out, int64_t* arg, int64_t E, int64_t F,
                        int64_t B, bool is_double, Reduce reduce, void* stream);

/// src [E, F], index [E] in [0, D). out [D, F] must hold zeros (Sum, Mean)
/// or -inf (Max); arg [D, F] must hold E (Max only); count [D] zeros (Mean
/// only). Empty rows end with value 0 and argmax E.
void launch_scatter(const void* src, const int64_t* index, void* out, int64_t* arg, int64_t* count, int64_t E,
                    int64_t F, int64_t D, bool is_double, Reduce reduce, void* stream);

}  // namespace kernels
}  // namespace sozai
