#pragma once
/// Segment and scatter reductions over the first dimension: the sums, means
/// and maxima that carry every message-passing layer.
///
/// `src` is [E, F...] (float32/float64, any trailing shape); rows are grouped
///  - by CSR offsets `ptr` [B+1] (int64, ptr[0] = 0, non-decreasing,
///    ptr[B] = E): segment_* reduce rows ptr[b]..ptr[b+1]-1 into output row b;
///  - by an unsorted `index` [E] (int64, values in [0, dim_size)): scatter_*
///    reduce every row e into output row index[e].
/// The output is [B or dim_size, F...]. Empty groups give 0; for max their
/// argmax is E (one past the last row), as in pytorch_scatter.
///
/// The public functions are autograd-aware (gradients flow to `src`), and
/// dispatch on the device of `src` to the CPU reference or CUDA.

#include "kernels/segment_impl.h"

#include <string>
#include <tuple>
#include <torch/types.h>

namespace sozai {
namespace kernels {

/// Parses "sum", "mean", "max" (case-insensitive); InputError otherwise.
Reduce reduce_from_string(const std::string& name);
std::string to_string(Reduce reduce);

torch::Tensor segment_sum(const torch::Tensor& src, const torch::Tensor& ptr);
torch::Tensor segment_mean(const torch::Tensor& src, const torch::Tensor& ptr);
/// Returns (values, argmax); argmax has the shape of values, int64 rows of src.
std::tuple<torch::Tensor, torch::Tensor> segment_max(const torch::Tensor& src, const torch::Tensor& ptr);

/// dim_size < 0: index.max() + 1 (0 for an empty index).
torch::Tensor scatter_sum(const torch::Tensor& src, const torch::Tensor& index, int64_t dim_size = -1);
torch::Tensor scatter_mean(const torch::Tensor& src, const torch::Tensor& index, int64_t dim_size = -1);
std::tuple<torch::Tensor, torch::Tensor> scatter_max(const torch::Tensor& src, const torch::Tensor& index,
                                                     int64_t dim_size = -1);

/// One entry for all reductions (the Python binding and benchmarks use it);
/// the argmax is undefined unless reduce is Max.
std::tuple<torch::Tensor, torch::Tensor> segment_reduce(const torch::Tensor& src, const torch::Tensor& ptr,
                                                        Reduce reduce);
std::tuple<torch::Tensor, torch::Tensor> scatter_reduce(const torch::Tensor& src, const torch::Tensor& index,
                                                        int64_t dim_size, Reduce reduce);

/// Segment ids [E] of CSR offsets (row e belongs to segment b): the inverse
/// of counting, used by the backward passes and handy for GNN pooling.
torch::Tensor ptr_to_index(const torch::Tensor& ptr, int64_t num_rows);

// Forward passes without autograd, on validated, contiguous tensors with src
// viewed as [E, F]. Return (out [B, F], arg [B, F] or undefined).
std::tuple<torch::Tensor, torch::Tensor> segment_csr_cpu(const torch::Tensor& src, const torch::Tensor& ptr,
                                                         Reduce reduce);
std::tuple<torch::Tensor, torch::Tensor> scatter_cpu(const torch::Tensor& src, const torch::Tensor& index,
                                                     int64_t dim_size, Reduce reduce);
#ifdef SOZAI_WITH_CUDA
std::tuple<torch::Tensor, torch::Tensor> segment_csr_cuda(const torch::Tensor& src, const torch::Tensor& ptr,
                                                          Reduce reduce);
std::tuple<torch::Tensor, torch::Tensor> scatter_cuda(const torch::Tensor& src, const torch::Tensor& index,
                                                      int64_t dim_size, Reduce reduce);
#endif

}  // namespace kernels
}  // namespace sozai
