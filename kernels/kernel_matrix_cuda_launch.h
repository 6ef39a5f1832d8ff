#pragma once
/// Host-side launchers of the CUDA kernel-matrix and Tanimoto kernels.
/// Plain pointers, so that the .cu unit never includes LibTorch headers
/// (which differ between the CPU-only LibTorch of the build machine and a
/// CUDA one).

#include "kernels/kernel_matrix_impl.h"

#include <cstdint>

namespace sozai {
namespace kernels {

/// x1: [n, d], x2: [m, d], lengthscale: [d] (ls_stride 1) or [1]
/// (ls_stride 0), out: [n, m]; all row-major device arrays of float
/// (is_double false) or double. n, m >= 1. stream: a cudaStream_t
/// (nullptr = default stream).
void launch_kernel_matrix(const void* x1, const void* x2, const void* lengthscale, int64_t ls_stride, void* out,
                          int64_t n, int64_t m, int64_t d, double outputscale, KernelKind kind, bool is_double,
                          void* stream);

/// a: [n, w], b: [m, w] 64-bit words, out: [n, m] float; device arrays,
/// n, m >= 1.
void launch_tanimoto(const uint64_t* a, const uint64_t* b, float* out, int64_t n, int64_t m, int64_t w,
                     void* stream);

}  // namespace kernels
}  // namespace sozai
