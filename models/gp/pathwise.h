#pragma once
/// Posterior sample paths of an ExactGP that can be evaluated anywhere at
/// a cost linear in the number of points (Wilson et al. 2020, "Efficiently
/// sampling functions from Gaussian process posteriors"; BoTorch's
/// draw_matheron_paths): a prior path from random Fourier features of the
/// kernel, corrected by Matheron's rule,
///   f_post(x) = f_prior(x) + k(x, X) (K + s2 I)^-1 (z - f_prior(X) - e),  e ~ N(0, s2 I).
/// Evaluating S paths at N points costs O(N (D + n) S), so Thompson sampling
/// reaches pools of millions of candidates where an exact joint draw (O(N^3))
/// cannot.

#include "models/gp/exact_gp.h"

#include <cstdint>

namespace sozai {

class GPPathSampler {
 public:
  /// Draws `paths` functions from the fitted gp's latent posterior with
  /// `features` random Fourier features (RBF: Gaussian frequencies;
  /// Matern-5/2: Student-t with 5 degrees of freedom). Seeded; path j does
  /// not depend on how many paths are drawn.
  /// first_path: index of the first path drawn (paths first_path ..
  /// first_path + paths - 1 of the seed's sequence).
  GPPathSampler(const ExactGP& gp, int64_t paths, uint64_t seed, int64_t features = 1024, int64_t first_path = 0);
  /// Latent values of every path at X [n, d] (raw inputs) -> [paths, n].
  torch::Tensor operator()(const torch::Tensor& X) const;
  int64_t paths() const { return W_.size(1); }
  int64_t features() const { return omega_.size(1); }

 private:
  torch::Tensor prior(const torch::Tensor& Xn) const;  // [n, paths]

  const ExactGP& gp_;
  torch::Tensor ls_, os_;            // hyperparameters as tensors
  torch::Tensor omega_, phase_, W_;  // [d, D], [D], [D, paths]
  torch::Tensor V_;                  // [n_train, paths] Matheron update weights
  double feature_scale_ = 1.0;
};

}  // namespace sozai
