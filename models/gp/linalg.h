#pragma once
/// Dense linear algebra shared by the Gaussian-process code and the
/// Monte-Carlo acquisition functions that sample from GP posteriors.

#include <functional>
#include <string>
#include <vector>
#include <torch/types.h>

namespace sozai {

struct CholeskyFactor {
  torch::Tensor L;      ///< lower-triangular factor of K + jitter I
  double jitter = 0.0;  ///< diagonal jitter that was needed (0: none)
};

/// Cholesky factor of the symmetric matrix K [n, n], adding an escalating
/// diagonal jitter (1e-9 .. 1e-4, absolute) while K is numerically
/// indefinite. FittingError naming `what` when even the largest fails.
CholeskyFactor cholesky_with_jitter(const torch::Tensor& K, const char* what = "covariance");

/// Log marginal likelihood (sum over points) of latent targets z [n] under
/// N(0, K) with K = L L^T.
torch::Tensor gaussian_log_marginal(const torch::Tensor& L, const torch::Tensor& z);

/// Minimises loss(raw) over a box [lo, hi] (raw is clamped into it before
/// the loss sees it) by L-BFGS with strong-Wolfe line search from each
/// start; returns the clamped best point, or empty when every start threw
/// FittingError (the last message in *last_error). Used to fit GP
/// hyperparameters by marginal likelihood.
std::vector<double> minimise_multistart(const std::function<torch::Tensor(const torch::Tensor&)>& loss,
                                        const std::vector<std::vector<double>>& starts, const std::vector<double>& lo,
                                        const std::vector<double>& hi, int max_iter, const torch::TensorOptions& opts,
                                        std::string* last_error);

}  // namespace sozai
