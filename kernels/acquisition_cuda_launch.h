#pragma once
/// Host-side launchers of the CUDA acquisition kernels. Plain pointers, so
/// that the .cu unit never includes LibTorch headers (which differ between
/// the CPU-only LibTorch of the build machine and a CUDA one).

#include "kernels/acquisition_impl.h"

#include <cstdint>

namespace sozai {
namespace kernels {

/// mean, variance, out: device pointers to n elements of float (is_double
/// false) or double; stream: a cudaStream_t (nullptr = default stream).
void launch_analytic_acquisition(const void* mean, const void* variance, void* out, int64_t n,
                                 bool is_double, const AcquisitionParams& params, void* stream);

}  // namespace kernels
}  // namespace sozai
