// Host half of the CUDA segment and scatter reductions: allocates with
// LibTorch and launches through the pointer-only launchers on the current
// stream.
#ifdef SOZAI_WITH_CUDA

#include "kernels/segment.h"
#include "kernels/segment_cuda_launch.h"

#ifdef SOZAI_TORCH_HAS_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include <limits>

namespace sozai {
namespace kernels {
namespace {

void* current_stream(const torch::Tensor& t) {
#ifdef SOZAI_TORCH_HAS_CUDA
  return c10::cuda::getCurrentCUDAStream(t.device().index()).stream();
#else
  return nullptr;
#endif
}

}  // namespace

std::tuple<torch::Tensor, torch::Tensor> segment_csr_cuda(const torch::Tensor& src, const torch::Tensor& ptr,
                                                          Reduce reduce) {
#ifdef SOZAI_TORCH_HAS_CUDA
  c10::cuda::CUDAGuard guard(src.device());
#endif
  const int64_t E = src.size(0), F = src.size(1), B = ptr.numel() - 1;
  auto out = torch::empty({B, F}, src.options());
  torch::Tensor arg;
  if (reduce == Reduce::Max) arg = torch::empty({B, F}, src.options().dtype(torch::kInt64));
  launch_segment_csr(src.data_ptr(), ptr.data_ptr<int64_t>(), out.data_ptr(),
                     arg.defined() ? arg.data_ptr<int64_t>() : nullptr, E, F, B,
                     src.scalar_type() == torch::kFloat64, reduce, current_stream(src));
  return {out, arg};
}

std::tuple<torch::Tensor, torch::Tensor> scatter_cuda(const torch::Tensor& src, const torch::Tensor& index,
                                                      int64_t dim_size, Reduce reduce) {
#ifdef SOZAI_TORCH_HAS_CUDA
  c10::cuda::CUDAGuard guard(src.device());
#endif
  const int64_t E = src.size(0), F = src.size(1), D = dim_size;
  torch::Tensor out, arg, count;
  if (reduce == Reduce::Max) {
    out = torch::full({D, F}, -std::numeric_limits<double>::infinity(), src.options());
    arg = torch::full({D, F}, E, src.options().dtype(torch::kInt64));
  } else {
    out = torch::zeros({D, F}, src.options());
  }
  if (reduce == Reduce::Mean) count = torch::zeros({D}, src.options().dtype(torch::kInt64));
  launch_scatter(src.data_ptr(), index.data_ptr<int64_t>(), out.data_ptr(),
                 arg.defined() ? arg.data_ptr<int64_t>() : nullptr,
                 count.defined() ? count.data_ptr<int64_t>() : nullptr, E, F, D,
                 src.scalar_type() == torch::kFloat64, reduce, current_stream(src));
  return {out, arg};
}

}  // namespace kernels
}  // namespace sozai

#endif  // SOZAI_WITH_CUDA
