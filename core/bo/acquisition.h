#pragma once
/// Analytic acquisition functions over a surrogate's latent posterior, and
/// batch selection from a finite pool (BoTorch's acquisition / optimiser
/// layers, DESIGN.md "core/bo").

#include "kernels/acquisition.h"
#include "models/surrogate.h"

#include <vector>

namespace sozai {

using kernels::AcquisitionKind;
using kernels::AcquisitionParams;

/// An analytic acquisition (EI, LogEI, UCB, PI) of a single-output model,
/// evaluated on the model's latent (transformed) posterior; best_f must be
/// in that space too (see best_latent_value).
class AnalyticAcquisition {
 public:
  AnalyticAcquisition(const Surrogate& model, AcquisitionParams params) : model_(model), params_(params) {}
  /// X: [n, d] -> values [n]; larger is better.
  torch::Tensor operator()(const torch::Tensor& X) const;
  const AcquisitionParams& params() const { return params_; }

 private:
  const Surrogate& model_;
  AcquisitionParams params_;
};

/// The analytic acquisitions in differentiable tensor ops, equal in value to
/// kernels::analytic_acquisition (LogEI through the same stable log h(z)),
/// for gradient-based optimisation over continuous spaces.
torch::Tensor analytic_acquisition_differentiable(const torch::Tensor& mean, const torch::Tensor& variance,
                                                  const AcquisitionParams& params);

/// Best observed outcome in the model's latent space: max (or min when
/// minimising) of transform_outcome(Y). Y: [n] or [n, 1].
double best_latent_value(const Surrogate& model, const torch::Tensor& Y, bool maximize);

/// Picks up to q candidates from a pool, greedily maximising the analytic
/// acquisition and, after each pick, fantasising its outcome at the
/// posterior mean (Kriging believer, Ginsbourger et al. 2010): the
/// posterior variance shrinks around earlier picks, so a batch spreads out
/// instead of repeating one idea. Pending experiments are fantasised first.
/// The rank-one updates cost O(N n) per fantasy instead of a refit.
///
/// candidates: [N, d]; available: [N] bool (false = observed or excluded);
/// pending: pool rows whose results are outstanding (never picked).
/// Returns pool rows in the order picked (fewer than q if the pool runs out).
std::vector<int64_t> select_batch_from_pool(const Surrogate& model, const torch::Tensor& candidates,
                                            const torch::Tensor& available, int64_t q, AcquisitionParams params,
                                            const std::vector<int64_t>& pending = {});

}  // namespace sozai
