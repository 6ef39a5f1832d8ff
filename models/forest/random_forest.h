#pragma once
/// Random-forest regression (Breiman 2001; the estimator of scikit-learn's
/// RandomForestRegressor: bootstrap samples, CART trees grown to pure or
/// min_leaf leaves by variance reduction) behind the Surrogate interface.
/// Its posterior is the spread of the trees: mean over trees, variance
/// between them (SMAC's use, Hutter et al. 2011). Trees extrapolate flat
/// outside the data, which makes a forest a sturdy model of a prior from
/// another plate or element set (models/gp/transfer.h). Not differentiable
/// in the inputs (piecewise constant): for pools, not for optimisers.

#include "models/gp/outcome_transform.h"
#include "models/surrogate.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sozai {

struct RandomForestConfig {
  int64_t trees = 100;
  int64_t min_leaf = 1;       ///< fewest training rows in a leaf
  int64_t max_depth = 0;      ///< 0: unlimited
  double max_features = 1.0;  ///< share of the inputs tried at each split (1: all, as scikit-learn's regressor)
  bool bootstrap = true;
  uint64_t seed = 0;
};

class RandomForest : public Surrogate {
 public:
  explicit RandomForest(RandomForestConfig config = {});
  /// X [n, d], Y [n] or [n, 1]; targets standardised. InputError for bad
  /// shapes or non-finite values.
  void fit(const Dataset& data) override;

  Posterior posterior(const torch::Tensor& X) const override;
  /// Mean over trees and variance between trees, standardised units.
  Posterior latent_posterior(const torch::Tensor& X) const override;
  /// Covariance between trees' predictions at A and B.
  torch::Tensor latent_covariance(const torch::Tensor& A, const torch::Tensor& B) const override;
  /// Out-of-bag mean squared error, standardised units.
  double latent_noise() const override { return noise_; }
  torch::Tensor transform_outcome(const torch::Tensor& Y) const override;
  torch::Tensor untransform_outcome(const torch::Tensor& Z) const override;
  std::string name() const override;

  /// Predictions of every tree [trees, n], standardised units.
  torch::Tensor tree_predictions(const torch::Tensor& X) const;

 private:
  struct Node {
    int32_t feature = -1;  ///< -1: a leaf
    double threshold = 0.0;
    int32_t left = -1, right = -1;
    double value = 0.0;
  };
  using Tree = std::vector<Node>;
  void check_fitted(const char* what) const;

  RandomForestConfig config_;
  OutcomeTransform transform_;
  std::vector<Tree> trees_;
  int64_t d_ = 0;
  double noise_ = 1e-6;
};

}  // namespace sozai
