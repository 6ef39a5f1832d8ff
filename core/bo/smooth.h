#pragma once
/// Smooth approximations shared by the log-space acquisition functions
/// (BoTorch's LogEI family): internal to core/bo.

#include <ATen/ATen.h>
#include <torch/types.h>

#include <cmath>

namespace sozai {
namespace bo_detail {

/// log(softplus(x)), stable for any x: softplus(x) ~ exp(x) far below 0 and
/// ~ x far above. Each branch sees a clamped input so no NaN reaches autograd.
inline torch::Tensor log_softplus(const torch::Tensor& x) {
  auto mid = torch::log(torch::log1p(torch::exp(x.clamp(-30.0, 30.0))));
  auto hi = torch::log(x.clamp_min(30.0));
  return torch::where(x > 30.0, hi, torch::where(x < -30.0, x, mid));
}

/// log(tau * softplus(x / tau)): a smooth log(max(x, 0)) of width tau.
inline torch::Tensor log_softplus_tau(const torch::Tensor& x, double tau) {
  return log_softplus(x / tau) + std::log(tau);
}

}  // namespace bo_detail
}  // namespace sozai
