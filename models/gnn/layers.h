#pragma once
/// Building blocks shared by the graph architectures.

#include <cstdint>
#include <string>
#include <torch/nn/modules/container/sequential.h>
#include <torch/types.h>

namespace sozai {
namespace gnn {

/// Linear -> SiLU (-> Dropout) repeated `depth` times, then Linear to `out`.
torch::nn::Sequential mlp(int64_t in, int64_t hidden, int64_t out, int64_t depth = 1, double dropout = 0.0);

/// Per-graph pooling of node states x [N, D] over CSR offsets ptr [B+1]:
/// "sum", "mean" or "max" (kernels' segment reductions, autograd-aware).
/// weight [N] (optional): multiplies each node first (fraction-weighted
/// pooling of compositions and blends; with "sum" it is a weighted sum).
torch::Tensor pool_nodes(const torch::Tensor& x, const torch::Tensor& ptr, const std::string& how,
                         const torch::Tensor& weight = {});

/// Softmax of scores [E] within the groups given by index [E] (values in
/// [0, groups)), stable (group max subtracted); for attention over a
/// node's incoming edges.
torch::Tensor segment_softmax(const torch::Tensor& scores, const torch::Tensor& index, int64_t groups);

}  // namespace gnn
}  // namespace sozai
