// Host half of the CUDA kernel matrix and Tanimoto: allocates with LibTorch,
// launches through the pointer-only launchers on the current stream.
#ifdef SOZAI_WITH_CUDA

#include "kernels/kernel_matrix.h"
#include "kernels/kernel_matrix_cuda_launch.h"

#ifdef SOZAI_TORCH_HAS_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace sozai {
namespace kernels {

torch::Tensor kernel_matrix_cuda(const torch::Tensor& x1, const torch::Tensor& x2, const torch::Tensor& lengthscale,
                                 double outputscale, KernelKind kind) {
  void* stream = nullptr;
#ifdef SOZAI_TORCH_HAS_CUDA
  c10::cuda::CUDAGuard guard(x1.device());
  stream = c10::cuda::getCurrentCUDAStream(x1.device().index()).stream();
#endif
  auto out = torch::empty({x1.size(0), x2.size(0)}, x1.options());
  launch_kernel_matrix(x1.data_ptr(), x2.data_ptr(), lengthscale.data_ptr(), lengthscale.numel() == 1 ? 0 : 1,
                       out.data_ptr(), x1.size(0), x2.size(0), x1.size(1), outputscale, kind,
                       x1.scalar_type() == torch::kFloat64, stream);
  return out;
}

torch::Tensor tanimoto_cuda(const torch::Tensor& a, const torch::Tensor& b) {
  void* stream = nullptr;
#ifdef SOZAI_TORCH_HAS_CUDA
  c10::cuda::CUDAGuard guard(a.device());
  stream = c10::cuda::getCurrentCUDAStream(a.device().index()).stream();
#endif
  auto out = torch::empty({a.size(0), b.size(0)}, a.options().dtype(torch::kFloat32));
  launch_tanimoto(reinterpret_cast<const uint64_t*>(a.data_ptr<int64_t>()),
                  reinterpret_cast<const uint64_t*>(b.data_ptr<int64_t>()), out.data_ptr<float>(), a.size(0),
                  b.size(0), a.size(1), stream);
  return out;
}

}  // namespace kernels
}  // namespace sozai

#endif  // SOZAI_WITH_CUDA
