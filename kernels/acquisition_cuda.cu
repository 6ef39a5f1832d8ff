#include "kernels/acquisition_cuda_launch.h"
#include "kernels/cuda_check.cuh"

namespace sozai {
namespace kernels {
namespace {

template <typename T>
__global__ void analytic_acquisition_kernel(const T* __restrict__ mean, const T* __restrict__ variance,
                                            T* __restrict__ out, int64_t n, AcquisitionParams params) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    out[i] = static_cast<T>(impl::acquisition_value(mean[i], variance[i], params));
  }
}

}  // namespace

void launch_analytic_acquisition(const void* mean, const void* variance, void* out, int64_t n,
                                 bool is_double, const AcquisitionParams& params, void* stream) {
  if (n == 0) return;
  constexpr int kThreads = 256;
  const int64_t wanted = (n + kThreads - 1) / kThreads;
  const int blocks = static_cast<int>(wanted < 65535 ? wanted : 65535);
  auto s = static_cast<cudaStream_t>(stream);
  if (is_double) {
    analytic_acquisition_kernel<double><<<blocks, kThreads, 0, s>>>(
        static_cast<const double*>(mean), static_cast<const double*>(variance), static_cast<double*>(out), n, params);
  } else {
    analytic_acquisition_kernel<float><<<blocks, kThreads, 0, s>>>(
        static_cast<const float*>(mean), static_cast<const float*>(variance), static_cast<float*>(out), n, params);
  }
  SOZAI_CUDA_CHECK_LAUNCH();
}

}  // namespace kernels
}  // namespace sozai
