#pragma once
/// Strictly increasing outcome transforms for GP targets: standardisation,
/// log (positive targets spanning orders of magnitude) and Yeo-Johnson
/// power warping (HEBO, Cowen-Rivers et al. 2022, found output warping
/// matters on real experimental data). Each is fitted to the training
/// targets, then frozen.

#include <limits>
#include <string>
#include <torch/types.h>

#include "models/surrogate.h"

namespace sozai {

/// "standardize", "log", "yeo-johnson" (alias "power"), or "auto": log when
/// all targets are positive and max/min >= 100, else standardize.
struct OutcomeTransformConfig {
  std::string kind = "auto";
};

/// y -> (optional log) -> (optional standardise, Yeo-Johnson) -> standardise.
class OutcomeTransform {
 public:
  OutcomeTransform() = default;
  explicit OutcomeTransform(OutcomeTransformConfig config);

  /// Fits to targets y: [n] float64; throws InputError naming the first
  /// offending index for log of a non-positive target, or non-finite y.
  void fit(const torch::Tensor& y);
  /// Forward map (elementwise); valid after fit.
  torch::Tensor forward(const torch::Tensor& y) const;
  /// Inverse map (elementwise).
  torch::Tensor inverse(const torch::Tensor& z) const;
  /// Mean and variance in original units of y = inverse(z), z ~ N(mean, var).
  /// Exact for affine and log chains; Gauss-Hermite quadrature (40 nodes)
  /// for Yeo-Johnson.
  void untransform_moments(const torch::Tensor& mean, const torch::Tensor& var, torch::Tensor* out_mean,
                           torch::Tensor* out_var) const;
  /// A latent-space posterior in original units (untransform_moments).
  Posterior untransform(const Posterior& latent) const;

  /// The transform actually used after fit ("standardize", "log" or
  /// "yeo-johnson"): "auto" resolves at fit time.
  const std::string& resolved_kind() const { return resolved_; }
  double yeo_johnson_lambda() const { return lambda_; }
  bool fitted() const { return fitted_; }

  /// Flat state for saving: kind, resolved, shift/scale values and lambda.
  std::vector<double> state() const;
  void set_state(const std::string& kind, const std::string& resolved, const std::vector<double>& values);
  const OutcomeTransformConfig& config() const { return config_; }

 private:
  OutcomeTransformConfig config_;
  std::string resolved_ = "standardize";
  bool fitted_ = false;
  double pre_mean_ = 0.0, pre_std_ = 1.0;  // before the warp (Yeo-Johnson only)
  double lambda_ = 1.0;                    // Yeo-Johnson exponent
  double mean_ = 0.0, std_ = 1.0;          // final standardisation
};

/// Yeo-Johnson transform and its inverse (Yeo & Johnson 2000), elementwise.
torch::Tensor yeo_johnson(const torch::Tensor& y, double lambda);
/// Outside the forward map's image (bounded for lambda < 0 or > 2) the
/// inverse is +-inf, or +-saturate when saturate is finite.
torch::Tensor yeo_johnson_inverse(const torch::Tensor& z, double lambda,
                                  double saturate = std::numeric_limits<double>::infinity());
/// Lambda maximising the Gaussian profile log-likelihood of yeo_johnson(y),
/// searched on [-3, 3] by golden section (as scikit-learn's PowerTransformer
/// does with Brent).
double fit_yeo_johnson_lambda(const torch::Tensor& y);

}  // namespace sozai
