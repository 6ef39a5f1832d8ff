#pragma once
/// Multi-task Gaussian process over fidelities or related experiments
/// (intrinsic coregionalisation model, Bonilla et al. 2008; BoTorch's
/// MultiTaskGP): simulation and experiment, a cheap screen and a careful
/// measurement. The last input column is the task index t in [0, T);
///   k((x, t), (x', t')) = B[t, t'] k(x, x'),  B = W W^T + diag(v),
/// with a Matern-5/2 or RBF ARD kernel k of unit scale, W [T, rank], and a
/// noise variance per task. Hyperparameters maximise the exact marginal
/// likelihood (multi-start L-BFGS, as ExactGP). Targets share one outcome
/// transform; the latent space is the transformed one.

#include "models/gp/covariance.h"
#include "models/gp/outcome_transform.h"
#include "models/surrogate.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sozai {

struct MultiTaskGPConfig {
  int64_t num_tasks = 2;
  int64_t rank = 1;                          ///< rank of W (task correlations)
  std::string kernel = "matern52";
  std::string outcome_transform = "standardize";
  int restarts = 4;
  int max_iter = 200;
  uint64_t seed = 0;
  double noise_min = 1e-6, noise_max = 1.0;  ///< per-task noise, latent units
};

class MultiTaskGP : public Surrogate {
 public:
  explicit MultiTaskGP(MultiTaskGPConfig config = {});

  /// Fixes the normalisation of the d non-task inputs (else from the data).
  void set_input_bounds(const torch::Tensor& lower, const torch::Tensor& upper);
  /// X: [n, d + 1], last column the task (an integer in [0, num_tasks));
  /// Y: [n] or [n, 1]. InputError naming the row of a bad task index.
  void fit(const Dataset& data) override;
  /// Conditions on extra latent observations (fantasies) with the current
  /// hyperparameters. X: [k, d + 1], z: [k].
  void append_latent(const torch::Tensor& X, const torch::Tensor& z);

  Posterior posterior(const torch::Tensor& X) const override;
  Posterior latent_posterior(const torch::Tensor& X) const override;
  torch::Tensor latent_covariance(const torch::Tensor& A, const torch::Tensor& B) const override;
  /// Posterior covariance of the latent values at A_i and B_i, row by row:
  /// A, B [n, d + 1] -> [n] (e.g. one input at two fidelities).
  torch::Tensor latent_cross_covariance(const torch::Tensor& A, const torch::Tensor& B) const;
  /// The largest task noise (the interface has one value; see task_noise).
  double latent_noise() const override;
  torch::Tensor transform_outcome(const torch::Tensor& Y) const override;
  torch::Tensor untransform_outcome(const torch::Tensor& Z) const override;
  std::string name() const override;

  /// Leave-one-out predictions of the training targets (Rasmussen &
  /// Williams eq. 5.12), latent mean [n, 1] and variance [n, 1] (noise
  /// excluded), in the order of the training rows.
  Posterior loo_latent() const;
  /// B [T, T]: covariance between tasks at the same input.
  torch::Tensor task_covariance() const;
  /// Noise variance of task t, latent units.
  double task_noise(int64_t t) const;
  /// Correlation between tasks a and b at the same input (B normalised).
  double task_correlation(int64_t a, int64_t b) const;
  const MultiTaskGPConfig& config() const { return config_; }

 private:
  torch::Tensor prior(const torch::Tensor& A, const torch::Tensor& B, const torch::Tensor& ls,
                      const torch::Tensor& taskcov) const;  // normalised inputs with task column
  torch::Tensor normalise(const torch::Tensor& X, const char* what) const;
  void condition();
  void check_fitted(const char* what) const;

  MultiTaskGPConfig config_;
  CovarianceKind kind_;
  OutcomeTransform transform_;
  bool fixed_bounds_ = false, fitted_ = false;
  torch::Tensor lower_, width_;       // [d]
  torch::Tensor Xn_, z_;              // [n, d + 1] (task column kept), [n]
  torch::Tensor ls_, B_, noise_;      // [d], [T, T], [T]
  torch::Tensor L_, alpha_;
};

}  // namespace sozai
