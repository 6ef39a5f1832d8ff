#pragma once
/// Monte-Carlo acquisition over several modelled outcomes: objectives
/// (maximised or minimised) and outcome constraints (an outcome at most or
/// at least a bound). One single-output surrogate per outcome, sampled
/// jointly over the baseline, the pending experiments and the batch, from
/// fixed quasi-random base samples (monte_carlo.h), in original units.
///
/// - qnehvi / qlognehvi: expected hypervolume improvement over each
///   sample's feasible Pareto front of the baseline and the batch so far
///   (noisy EHVI, Daulton et al. 2021; the log variant with smoothed box
///   sides, Ament et al. 2023), for 2-3 objectives.
/// - qparego: for any number of objectives, qLogNEI on a random augmented
///   Chebyshev scalarisation (Knowles 2006), a new weight vector per pick.
/// - qlognei with constraints: one objective; improvement over the best
///   feasible baseline sample.
/// Every candidate's value is weighted by its smoothed probability of
/// satisfying the constraints, sample by sample (BoTorch's
/// compute_smoothed_feasibility_indicator).

#include "models/surrogate.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sozai {

/// What a modelled outcome is for.
struct Outcome {
  enum class Role { Maximize, Minimize, AtMost, AtLeast };
  Role role = Role::Maximize;
  double bound = 0.0;  ///< AtMost / AtLeast: the limit, in the outcome's units

  bool is_objective() const { return role == Role::Maximize || role == Role::Minimize; }
  /// How far a value is inside the constraint (>= 0: satisfied).
  double slack(double value) const { return role == Role::AtMost ? bound - value : value - bound; }
};

/// "max", "min", "<=B" / "<= B", ">=B" (case-insensitive); InputError naming `what` otherwise.
Outcome outcome_from_string(const std::string& spec, const std::string& what = "outcome");
std::string to_string(const Outcome& o);

struct MultiOutcomeConfig {
  std::string kind = "qlognehvi";  ///< qnehvi, qlognehvi, qparego, qlognei
  std::vector<Outcome> outcomes;   ///< one per model / column of Y
  /// One per objective (in objective order), original units: the worst
  /// acceptable value. Empty: inferred from the observed front
  /// (infer_reference_point).
  std::vector<double> ref_point;
  int64_t samples = 128;
  uint64_t seed = 0;
  /// Feasibility smoothing, in units of each constraint's observed range.
  /// Small (the default) makes it a per-sample indicator, so the value is
  /// the exact Monte-Carlo estimate of improvement times feasibility and a
  /// candidate sure to violate a constraint never outranks a feasible one
  /// for want of improvement (BoTorch's 1e-3 suits gradient search).
  double eta = 1e-6;
  double tau = 1e-3;         ///< qlognehvi side smoothing, in normalised objective units
  double tau_relu = 1e-6;    ///< qparego / qlognei: smoothing of the improvement (as monte_carlo.h)
  int64_t max_baseline = 64; ///< observed points kept, best Pareto ranks first
  int64_t chunk = 256;       ///< candidates scored per block
};

/// True for qnehvi, qlognehvi and qparego (any case).
bool is_multi_objective_acquisition(const std::string& name);

/// BoTorch's infer_reference_point: the nadir of the Pareto front of the
/// objectives Yobj [n, m] (oriented per `maximize`) moved 10% of the
/// front's range towards worse. Original units, one per objective.
std::vector<double> infer_reference_point(const torch::Tensor& Yobj, const std::vector<bool>& maximize);

/// Picks up to q pool rows greedily-sequentially. models[i] is fitted to
/// column i of Y_observed [n, k] (original units) over X_observed [n, d].
/// candidates: [N, d]; available: [N] bool; pending rows are fixed batch
/// members, never picked.
std::vector<int64_t> select_batch_multi(const std::vector<const Surrogate*>& models, const torch::Tensor& candidates,
                                        const torch::Tensor& available, int64_t q, const torch::Tensor& X_observed,
                                        const torch::Tensor& Y_observed, const MultiOutcomeConfig& config,
                                        const std::vector<int64_t>& pending = {});

/// The value select_batch_multi maximises at one step, built once (models
/// sampled at the baseline and the fixed batch members X_batch, fronts or
/// incumbents per sample) and evaluated for any candidates; differentiable
/// in the candidates (continuous acquisition optimisation).
class MultiOutcomeScorer {
 public:
  MultiOutcomeScorer(const std::vector<const Surrogate*>& models, const torch::Tensor& X_observed,
                     const torch::Tensor& Y_observed, const MultiOutcomeConfig& config,
                     const torch::Tensor& X_batch = {}, int64_t pick = 0);
  ~MultiOutcomeScorer();
  MultiOutcomeScorer(const MultiOutcomeScorer&) = delete;
  MultiOutcomeScorer& operator=(const MultiOutcomeScorer&) = delete;
  /// candidates [n, d] -> [n], larger is better.
  torch::Tensor operator()(const torch::Tensor& candidates) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Value of each candidate [n, d] -> [n] as the next pick after the fixed
/// batch members X_batch [p, d] (pending and earlier picks): what
/// select_batch_multi maximises at each step (pick = the number of earlier
/// picks, which selects qparego's weights).
torch::Tensor multi_outcome_acquisition(const std::vector<const Surrogate*>& models, const torch::Tensor& candidates,
                                        const torch::Tensor& X_observed, const torch::Tensor& Y_observed,
                                        const MultiOutcomeConfig& config, const torch::Tensor& X_batch = {},
                                        int64_t pick = 0);

}  // namespace sozai
