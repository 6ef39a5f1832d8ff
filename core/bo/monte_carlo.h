#pragma once
/// Monte-Carlo batch acquisition (BoTorch's qLogNoisyExpectedImprovement
/// and qUpperConfidenceBound): joint posterior samples of the baseline,
/// the pending experiments and the batch, drawn from fixed quasi-random
/// base samples so the same seed gives the same batch; batches are built
/// greedily-sequentially, each pick scored jointly with the pending
/// experiments and the earlier picks.
///
/// Everything is in the model's latent space (see surrogate.h), where the
/// posterior is Gaussian. Models are single-output.

#include "models/surrogate.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sozai {

enum class MCAcquisitionKind { qLogNEI, qUCB };

/// "qlognei" (also "qlognoisyei") or "qucb", case-insensitive; InputError otherwise.
MCAcquisitionKind mc_acquisition_kind_from_string(const std::string& name);
std::string to_string(MCAcquisitionKind kind);
/// True for the names mc_acquisition_kind_from_string accepts.
bool is_mc_acquisition(const std::string& name);

struct MCAcquisitionConfig {
  MCAcquisitionKind kind = MCAcquisitionKind::qLogNEI;
  bool maximize = true;
  int64_t samples = 128;  ///< joint posterior samples (scrambled-Sobol normal base samples)
  uint64_t seed = 0;      ///< seeds the base samples
  double beta = 4.0;      ///< qUCB: q = 1 equals mean + sqrt(beta) sigma
  double tau_max = 1e-2;  ///< qLogNEI: temperature of the smooth maximum over the batch
  double tau_relu = 1e-6; ///< qLogNEI: temperature of the smooth improvement
  /// qLogNEI: the baseline keeps the observed points that are the best in
  /// at least one posterior sample, at most this many (the most often best).
  int64_t max_baseline = 64;
  int64_t chunk = 2048;   ///< candidates scored per block (bounds memory: chunk x samples)
};

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

/// The value select_batch_mc maximises at one greedy step: each candidate
/// scored jointly with the fixed batch members (pending experiments and
/// earlier picks) against the baseline. Built once per step; calling it is
/// differentiable in the candidates (continuous acquisition optimisation).
class MCStepScorer {
 public:
  /// X_baseline: the (pruned) observed points [b, d] (qLogNEI; may be empty
  /// for qUCB); X_batch: fixed members [k, d] (may be empty).
  MCStepScorer(const Surrogate& model, const torch::Tensor& X_baseline, const torch::Tensor& X_batch,
               const MCAcquisitionConfig& config);
  /// candidates [n, d] -> [n], larger is better.
  torch::Tensor operator()(const torch::Tensor& candidates) const;

 private:
  MCAcquisitionConfig config_;
  ConditionedSampler sampler_;
  torch::Tensor incumbent_, fixed_ucb_;  // [S] (qLogNEI), [S] or undefined (qUCB)
};

/// The observed points worth comparing against for noisy improvement: those
/// that are the best in at least one of `samples` joint posterior samples
/// (BoTorch's prune_inferior_points), at most config.max_baseline.
/// X_baseline: [n, d] -> [k, d], k >= 1.
torch::Tensor prune_baseline(const Surrogate& model, const torch::Tensor& X_baseline,
                             const MCAcquisitionConfig& config);

/// Value of each q-batch: X [b, q, d] -> [b] (larger is better). qLogNEI
/// measures improvement over the (pruned) baseline X_baseline [n, d];
/// X_pending [p, d] (optional) joins every batch, as experiments whose
/// results are outstanding. The same base samples serve every batch.
torch::Tensor mc_acquisition(const Surrogate& model, const torch::Tensor& X, const torch::Tensor& X_baseline,
                             const MCAcquisitionConfig& config, const torch::Tensor& X_pending = {});

/// Picks up to q candidates from a pool, greedily-sequentially: the j-th
/// pick maximises the MC acquisition of [pending; picks so far; candidate],
/// scoring every available candidate exactly, in chunks. (qLogNEI ranks by
/// the improvement over each sample's best of baseline and batch so far:
/// the same argmax as the joint value, without its floating-point
/// saturation once the batch holds strong members.)
/// candidates: [N, d]; available: [N] bool; X_baseline: [n, d] observed
/// inputs (qLogNEI's incumbent set); pending: candidate rows whose results
/// are outstanding (never picked). Returns rows in the order picked.
std::vector<int64_t> select_batch_mc(const Surrogate& model, const torch::Tensor& candidates,
                                     const torch::Tensor& available, int64_t q, const torch::Tensor& X_baseline,
                                     const MCAcquisitionConfig& config, const std::vector<int64_t>& pending = {});

}  // namespace sozai
