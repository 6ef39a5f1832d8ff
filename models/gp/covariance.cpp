#include "common/error.h"
#include "common/strings.h"
#include "models/gp/covariance.h"

#include <ATen/ATen.h>

#include <cmath>

namespace sozai {

CovarianceKind covariance_kind_from_string(const std::string& name) {
  const std::string s = to_lower(name);
  if (s == "matern52" || s == "matern" || s == "matern-5/2" || s == "matern5/2") return CovarianceKind::Matern52;
  if (s == "rbf" || s == "se" || s == "squared_exponential") return CovarianceKind::RBF;
  throw InputError(str("unknown GP kernel '", name, "'; expected matern52 or rbf"));
}

std::string to_string(CovarianceKind kind) { return kind == CovarianceKind::RBF ? "rbf" : "matern52"; }

torch::Tensor covariance(CovarianceKind kind, const torch::Tensor& A, const torch::Tensor& B,
                         const torch::Tensor& lengthscale, const torch::Tensor& outputscale) {
  auto As = A / lengthscale;
  auto Bs = B / lengthscale;
  auto a2 = As.pow(2).sum(-1, /*keepdim=*/true);
  auto b2 = Bs.pow(2).sum(-1).unsqueeze(0);
  // |a|^2 + |b|^2 - 2ab: one GEMM instead of an [a, b, d] difference tensor.
  auto d2 = (a2 + b2 - 2.0 * at::matmul(As, Bs.transpose(0, 1))).clamp_min(0.0);
  if (kind == CovarianceKind::RBF) return outputscale * torch::exp(-0.5 * d2);
  // The floor keeps d sqrt(d2) finite at r = 0, where the true derivative is 0.
  const double sqrt5 = std::sqrt(5.0);
  auto r = d2.clamp_min(1e-30).sqrt();
  return outputscale * (1.0 + sqrt5 * r + (5.0 / 3.0) * d2) * torch::exp(-sqrt5 * r);
}

}  // namespace sozai
