#pragma once
/// Exact Gaussian-process regression for one objective.
///
/// Inputs are normalised to the unit cube (bounds from the data or set by
/// the caller, e.g. a candidate pool), targets go through an
/// OutcomeTransform, and the model is a zero-mean GP with a Matern-5/2 or
/// RBF ARD kernel plus Gaussian noise. Hyperparameters maximise the exact
/// log marginal likelihood (L-BFGS with strong-Wolfe line search, several
/// restarts). Cholesky factorisations escalate a diagonal jitter when the
/// covariance is numerically indefinite. Computes in the dtype and on the
/// device of the training inputs (float64 by default).

#include "models/gp/covariance.h"
#include "models/gp/outcome_transform.h"
#include "models/surrogate.h"

#include <cstdint>
#include <vector>

namespace sozai {

/// Settings of ExactGP, with defaults that work on small experimental sets.
struct ExactGPConfig {
  std::string kernel = "matern52";          ///< "matern52" or "rbf"
  std::string outcome_transform = "auto";   ///< see OutcomeTransformConfig
  int restarts = 4;                         ///< optimiser starts (first: warm or default; rest random)
  int max_iter = 200;                       ///< L-BFGS iterations per start
  uint64_t seed = 0;                        ///< seeds the random starts
  bool warm_start = true;                   ///< first start from the current hyperparameters if any
  double lengthscale_min = 1e-3, lengthscale_max = 1e5;  ///< in unit-cube input units
  double outputscale_min = 1e-4, outputscale_max = 1e4;  ///< in latent (standardised) units
  double noise_min = 1e-6, noise_max = 1.0;               ///< in latent units
  int64_t predict_chunk = 4096;             ///< rows of X per posterior block (bounds memory)
};

/// Kernel hyperparameters in the model's normalised units.
struct GPHyperparameters {
  std::vector<double> lengthscale;  ///< [d], unit-cube input units
  double outputscale = 1.0;
  double noise = 1e-2;
};

class ExactGP : public Surrogate {
 public:
  explicit ExactGP(ExactGPConfig config = {});

  /// Fixes the input normalisation (lower, upper: [d]); otherwise fit()
  /// takes the bounds of the training inputs. Constant dimensions get width 1.
  void set_input_bounds(const torch::Tensor& lower, const torch::Tensor& upper);

  /// Fits the outcome transform and the hyperparameters, then conditions.
  /// Y: [n] or [n, 1]. Throws InputError on bad shapes or non-finite data,
  /// FittingError when no start gives a positive-definite covariance.
  void fit(const Dataset& data) override;
  /// Fits the outcome transform and conditions on data with the current
  /// hyperparameters (set_hyperparameters), without optimising them.
  void set_data(const Dataset& data);
  /// Conditions on extra points given directly in the latent space, keeping
  /// transforms and hyperparameters (fantasies). X: [k, d], z: [k].
  void append_latent(const torch::Tensor& X, const torch::Tensor& z);

  Posterior posterior(const torch::Tensor& X) const override;
  Posterior latent_posterior(const torch::Tensor& X) const override;
  torch::Tensor latent_covariance(const torch::Tensor& A, const torch::Tensor& B) const override;
  double latent_noise() const override { return hyper_.noise + jitter_; }
  torch::Tensor transform_outcome(const torch::Tensor& Y) const override;
  torch::Tensor untransform_outcome(const torch::Tensor& Z) const override;
  std::string name() const override;

  /// The latent posterior [m, 1] without autograd, its cross-covariance
  /// from kernels::kernel_matrix (tiled, direct differences: about 5x the
  /// covariance path's speed and accurate for nearby points): what a screen
  /// of millions of candidates uses. Rows are computed in pieces of 4096, so
  /// the same rows given give the same values.
  Posterior latent_posterior_direct(const torch::Tensor& X) const;

  /// Leave-one-out predictions of the training targets at the current
  /// hyperparameters (Rasmussen & Williams 2006, eq. 5.12): the latent mean
  /// [n, 1] of each target given all the others, and the variance [n, 1] of
  /// that latent value (noise excluded). Used to rank models on their own data.
  Posterior loo_latent() const;
  /// Prior covariance k(A, B) [a, b] of the latent function (no data
  /// conditioned on), raw inputs A [a, d], B [b, d].
  torch::Tensor prior_covariance(const torch::Tensor& A, const torch::Tensor& B) const;

  /// Log marginal likelihood of the latent targets at the current
  /// hyperparameters (sum over points, not per point).
  double log_marginal_likelihood() const { return mll_; }
  const GPHyperparameters& hyperparameters() const { return hyper_; }
  void set_hyperparameters(const GPHyperparameters& h);
  bool has_hyperparameters() const { return has_hyper_; }
  const OutcomeTransform& outcome_transform() const { return transform_; }
  /// Training inputs in normalised units [n, d] and latent targets [n].
  const torch::Tensor& train_inputs() const { return Xn_; }
  const torch::Tensor& train_targets() const { return z_; }
  /// Maps raw inputs [n, d] to the unit-cube units the kernel sees.
  torch::Tensor normalize_inputs(const torch::Tensor& X) const;
  const ExactGPConfig& config() const { return config_; }
  ExactGPConfig& mutable_config() { return config_; }
  /// Diagonal jitter added on top of the noise in the last factorisation.
  double jitter() const { return jitter_; }

 private:
  void check_fitted(const char* what) const;
  torch::Tensor check_inputs(const torch::Tensor& X, const char* what) const;
  void prepare(const Dataset& data);  // bounds, transform, Xn_, z_
  void condition();                   // L_, Linv_, alpha_, mll_ from hyper_
  void optimise_hyperparameters();

  ExactGPConfig config_;
  CovarianceKind kind_;
  OutcomeTransform transform_;
  GPHyperparameters hyper_;
  bool has_hyper_ = false;
  bool fixed_bounds_ = false;
  torch::Tensor lower_, width_;       // [d] input normalisation
  torch::Tensor Xn_, z_;              // training data, normalised / latent
  torch::Tensor ls_, os_;             // hyperparameters as tensors
  torch::Tensor L_, Linv_, alpha_;    // Cholesky factor, its inverse, K^-1 z
  double jitter_ = 0.0;
  double mll_ = 0.0;
  bool fitted_ = false;
};

}  // namespace sozai
