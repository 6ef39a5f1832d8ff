#include "common/error.h"
#include "kernels/segment.h"
#include "models/gnn/layers.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

namespace sozai {
namespace gnn {

torch::nn::Sequential mlp(int64_t in, int64_t hidden, int64_t out, int64_t depth, double dropout) {
  SOZAI_CHECK(in > 0 && hidden > 0 && out > 0 && depth >= 0, "mlp: sizes must be positive, got in=", in,
              " hidden=", hidden, " out=", out, " depth=", depth);
  torch::nn::Sequential seq;
  int64_t width = in;
  for (int64_t i = 0; i < depth; ++i) {
    seq->push_back(torch::nn::Linear(width, hidden));
    seq->push_back(torch::nn::SiLU());
    if (dropout > 0) seq->push_back(torch::nn::Dropout(dropout));
    width = hidden;
  }
  seq->push_back(torch::nn::Linear(width, out));
  return seq;
}

torch::Tensor pool_nodes(const torch::Tensor& x, const torch::Tensor& ptr, const std::string& how,
                         const torch::Tensor& weight) {
  auto v = x;
  if (weight.defined()) v = v * weight.to(x.dtype()).unsqueeze(-1);
  const auto reduce = kernels::reduce_from_string(how);
  return std::get<0>(kernels::segment_reduce(v, ptr.to(x.device()), reduce));
}

torch::Tensor segment_softmax(const torch::Tensor& scores, const torch::Tensor& index, int64_t groups) {
  // The max is a constant shift per group (no gradient needed through it).
  auto max = std::get<0>(kernels::scatter_reduce(scores.detach(), index, groups, kernels::Reduce::Max));
  auto e = torch::exp(scores - max.index_select(0, index));
  auto denom = kernels::scatter_sum(e, index, groups);
  return e / denom.index_select(0, index).clamp_min(1e-30);
}

}  // namespace gnn
}  // namespace sozai
