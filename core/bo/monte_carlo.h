#pragma once
/// Monte-Carlo acquisition of one modelled objective (BoTorch's
/// qLogNoisyExpectedImprovement and qUpperConfidenceBound; registry.cpp:
/// qlognei, qucb): joint posterior samples of the baseline, the pending
/// experiments and the batch, drawn from fixed quasi-random base samples so
/// the same seed gives the same batch. Batches are built
/// greedily-sequentially, each pick scored jointly with the pending
/// experiments and the earlier picks; the pool is scored exactly, in
/// chunks, by extending the Cholesky factor of the fixed points one
/// candidate row at a time.
///
/// Everything is in the model's latent space (surrogate.h), where the
/// posterior is Gaussian. qLogNEI with outcome constraints is the
/// multi-outcome acquisition (multi_objective.h).

#include "core/bo/acquisition.h"

#include <cstdint>

namespace sozai {

/// [samples, dim] standard-normal quasi-Monte-Carlo base samples:
/// scrambled Sobol points (seeded) through the inverse normal CDF.
torch::Tensor normal_base_samples(int64_t samples, int64_t dim, uint64_t seed);

/// Joint posterior samples of a fixed set of points, and samples of
/// candidates conditioned on them: the Cholesky factor of the fixed set is
/// extended by one row per candidate, so a candidate's sample path is the
/// one it would have in a joint draw of [fixed; candidate] from the same
/// base samples. Candidates are scored independently of each other.
class ConditionedSampler {
 public:
  /// fixed: [m, d] (m may be 0); base: [S, m + 1] standard-normal base
  /// samples, column m being the candidate's.
  ConditionedSampler(const Surrogate& model, const torch::Tensor& fixed, const torch::Tensor& base);
  /// [S, m] latent samples of the fixed points.
  const torch::Tensor& fixed_samples() const { return f_fixed_; }
  /// [m] posterior mean of the fixed points.
  const torch::Tensor& fixed_mean() const { return mean_fixed_; }
  /// Candidates [n, d] -> [n, S] latent samples, each jointly with the
  /// fixed set; `mean`, when given, receives their posterior mean [n].
  torch::Tensor candidate_samples(const torch::Tensor& candidates, torch::Tensor* mean = nullptr) const;

 private:
  const Surrogate& model_;
  torch::Tensor fixed_, L_, z_fixed_, z_new_, f_fixed_, mean_fixed_;
};

/// The observed points worth comparing against for noisy improvement: those
/// that are the best in at least one of spec.mc_samples joint posterior
/// samples (BoTorch's prune_inferior_points), at most
/// spec.sampling.max_baseline, in the first outcome's direction.
/// X_baseline: [n, d] -> [k, d], k >= 1.
torch::Tensor prune_baseline(const Surrogate& model, const torch::Tensor& X_baseline, const AcquisitionSpec& spec);

}  // namespace sozai
