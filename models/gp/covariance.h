#pragma once
/// Stationary covariance functions with ARD lengthscales, written with
/// differentiable tensor ops so hyperparameters can be fitted by autograd.
/// (The tiled, memory-bounded kernels for screening live in kernels/.)

#include <string>
#include <torch/types.h>

namespace sozai {

enum class CovarianceKind { Matern52, RBF };

/// Parses "matern52" (also "matern", "matern-5/2") or "rbf"; InputError otherwise.
CovarianceKind covariance_kind_from_string(const std::string& name);
std::string to_string(CovarianceKind kind);

/// A: [a, d], B: [b, d], lengthscale: [d], outputscale: [] -> K [a, b].
/// Matern-5/2: s (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r); RBF: s exp(-r^2/2);
/// r = |(x - x') / lengthscale|.
torch::Tensor covariance(CovarianceKind kind, const torch::Tensor& A, const torch::Tensor& B,
                         const torch::Tensor& lengthscale, const torch::Tensor& outputscale);

}  // namespace sozai
