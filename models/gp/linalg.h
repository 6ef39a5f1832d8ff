#pragma once
/// Dense linear algebra shared by the Gaussian-process code and the
/// Monte-Carlo acquisition functions that sample from GP posteriors.

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

}  // namespace sozai
