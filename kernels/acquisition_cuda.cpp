// Host half of the CUDA acquisition: allocates with LibTorch, launches
// through the pointer-only launcher on the current stream.
#ifdef SOZAI_WITH_CUDA

#include "kernels/acquisition.h"
#include "kernels/acquisition_cuda_launch.h"

#ifdef SOZAI_TORCH_HAS_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace sozai {
namespace kernels {

torch::Tensor analytic_acquisition_cuda(const torch::Tensor& mean, const torch::Tensor& variance,
                                        const AcquisitionParams& params) {
  void* stream = nullptr;
#ifdef SOZAI_TORCH_HAS_CUDA
  c10::cuda::CUDAGuard guard(mean.device());
  stream = c10::cuda::getCurrentCUDAStream(mean.device().index()).stream();
#endif
  auto out = torch::empty_like(mean);
  launch_analytic_acquisition(mean.data_ptr(), variance.data_ptr(), out.data_ptr(), mean.numel(),
                              mean.scalar_type() == torch::kFloat64, params, stream);
  return out;
}

}  // namespace kernels
}  // namespace sozai

#endif  // SOZAI_WITH_CUDA
