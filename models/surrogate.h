#pragma once
/// The surrogate-model interface every model in sozai implements
/// (BoTorch's Model/Posterior split, DESIGN.md "Key types").

#include <string>
#include <torch/types.h>

namespace sozai {

/// Training data: X [n, d] inputs, Y [n, m] measured outcomes (float64 by
/// default; any device, both on the same one).
struct Dataset {
  torch::Tensor X;
  torch::Tensor Y;
};

/// Marginal posterior at a set of points. mean, variance: [n, m].
struct Posterior {
  torch::Tensor mean;
  torch::Tensor variance;
};

/// A probabilistic model of the outcomes.
///
/// Two spaces: the original units of Y, and the model's latent space (Y
/// after its outcome transform). Every outcome transform is strictly
/// increasing, so the order of candidates is the same in both; acquisition
/// functions and batch selection work in the latent space, where the
/// posterior is Gaussian.
class Surrogate {
 public:
  virtual ~Surrogate() = default;

  /// Fits the model (hyperparameters included) to data.
  virtual void fit(const Dataset& data) = 0;
  /// Posterior in the original units of Y. X: [n, d] -> mean/variance [n, m].
  virtual Posterior posterior(const torch::Tensor& X) const = 0;
  /// Posterior of the latent function in the transformed space; Gaussian.
  virtual Posterior latent_posterior(const torch::Tensor& X) const = 0;
  /// Latent posterior covariance between A [a, d] and B [b, d] -> [a, b]
  /// (single-output models).
  virtual torch::Tensor latent_covariance(const torch::Tensor& A, const torch::Tensor& B) const = 0;
  /// Observation noise variance in the latent space.
  virtual double latent_noise() const = 0;
  /// Maps Y [n, m] in original units to the latent space.
  virtual torch::Tensor transform_outcome(const torch::Tensor& Y) const = 0;
  /// The inverse: latent values (any shape, e.g. posterior samples) back
  /// to original units.
  virtual torch::Tensor untransform_outcome(const torch::Tensor& Z) const = 0;
  /// Short name, e.g. "ExactGP(matern52)".
  virtual std::string name() const = 0;
};

}  // namespace sozai
