#pragma once
/// Acquisition functions, BoTorch's way (DESIGN.md "optimisation"): a model
/// gives posteriors, an acquisition scores candidates, an optimiser chooses
/// them. Every acquisition is chosen by name from one registry (registry.h),
/// built by make_acquisition() from a spec, the fitted models and the data,
/// and handed to one of two optimisers (select.h): select_from_pool() for
/// the rows of a finite pool, select_in_space() for a continuous or mixed
/// design space. Both build batches one point at a time through the
/// acquisition's BatchBuilder; the acquisition decides how a point joins
/// the batch (Kriging believer, joint Monte-Carlo samples, its own sample
/// path).

#include "core/bo/outcome.h"
#include "kernels/acquisition_impl.h"
#include "models/surrogate.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sozai {

using kernels::AcquisitionKind;
using kernels::AcquisitionParams;

struct AcquisitionInfo;

/// Cost-aware multi-fidelity selection (aei; multi_fidelity.h).
struct FidelitySettings {
  std::vector<double> costs;     ///< cost of one experiment at each fidelity; empty: no fidelities
  int64_t target = -1;           ///< the fidelity to optimise; -1: the last
  bool target_first = true;      ///< choose the input by its EI at the target, then its fidelity
  double max_cheap_share = 0.5;  ///< at most this share of the cost on fidelities other than the target
};

/// Numerical settings of the sampled acquisitions; the defaults suit every
/// use in sozai and rarely need changing.
struct SamplingSettings {
  double tau_max = 1e-2;      ///< qLogNEI: temperature of the smooth maximum over a batch
  double tau_relu = 1e-6;     ///< qLogNEI, qParEGO: smoothing of the improvement
  int64_t max_baseline = 64;  ///< observed points kept as the noisy incumbent set
  /// Constraints: feasibility smoothing in units of each constraint's
  /// observed range; small makes it a per-sample indicator (a candidate
  /// sure to violate a limit never outranks a feasible one).
  double eta = 1e-6;
  double tau = 1e-3;             ///< qLogNEHVI: box-side smoothing, in normalised objective units
  int64_t chunk = 0;             ///< candidates scored per block; 0: the acquisition's own default
  int64_t path_features = 1024;  ///< thompson: random Fourier features per sample path
};

/// Everything an acquisition needs besides the models and the data.
struct AcquisitionSpec {
  AcquisitionKind kind = AcquisitionKind::qLogNEI;
  /// What each model's outcome is for, in model order (one objective
  /// maximised by default).
  std::vector<Outcome> outcomes = {Outcome::maximize()};
  /// Hypervolume reference, original units, one per objective: the worst
  /// acceptable value. Empty: inferred from the observed front.
  std::vector<double> ref_point;
  double beta = 4.0;         ///< ucb, qucb: mean + sqrt(beta) sigma in standardised units
  int64_t mc_samples = 128;  ///< joint posterior samples of the Monte-Carlo kinds
  uint64_t seed = 0;         ///< base samples, sample paths and ParEGO weights
  /// Analytic kinds: the incumbent in the model's latent space; unset: the
  /// best of Y_observed.
  std::optional<double> best_f;
  FidelitySettings fidelity;
  SamplingSettings sampling;
};

/// The JSON form of a spec (the keys campaign settings use too):
/// {"acquisition": "qlognei", "outcomes": [...], "ref_point": [...],
///  "ucb_beta": 4, "mc_samples": 128, "seed": 0, "fidelity_costs": [...],
///  "target_fidelity": -1, "aei_target_first": true, "aei_max_cheap_share": 0.5}.
/// Absent keys keep `base`'s values, and an absent "acquisition" means the
/// default for the outcomes (registry.h). Validated: InputError naming
/// `where` and the key, the same text from every caller.
AcquisitionSpec acquisition_spec_from_json(const nlohmann::json& j, const std::string& where,
                                           const AcquisitionSpec& base = {});
/// The keys above (settings only: no best_f, no sampling tuning).
nlohmann::json acquisition_spec_to_json(const AcquisitionSpec& spec);
/// The keys acquisition_spec_from_json reads.
const std::vector<std::string>& acquisition_spec_keys();
/// InputError unless the spec is consistent: its acquisition can serve its
/// outcomes (registry.h), a reference point per objective, beta >= 0,
/// mc_samples >= 1, fidelity costs > 0 for aei and only for aei.
void validate(const AcquisitionSpec& spec, const std::string& where = "acquisition");

/// The observations an acquisition is built on: X [n, d] inputs as the
/// models see them (a design space's encoded candidates), Y [n, k] outcomes
/// in original units, one column per model; X_pending [p, d] experiments
/// proposed but not yet measured (may be undefined or empty).
struct AcquisitionData {
  torch::Tensor X, Y, X_pending;
};

/// A batch being built one point at a time (greedy-sequential): both
/// optimisers drive it. The pending points are members from the start.
class BatchBuilder {
 public:
  virtual ~BatchBuilder() = default;
  /// Value of each candidate X [n, d] as the next member; larger is
  /// better; differentiable in X where the acquisition is (continuous
  /// optimisation follows its gradient).
  virtual torch::Tensor score(const torch::Tensor& X) = 0;
  /// Makes x [d] the next member.
  virtual void add(const torch::Tensor& x) = 0;
};

/// The same over the rows of a fixed pool, where an acquisition can share
/// work between picks (posterior variances updated in place, every sample
/// path evaluated over the pool once).
class PoolBatchBuilder {
 public:
  virtual ~PoolBatchBuilder() = default;
  /// Rows the optimiser scores per call (bounds memory).
  virtual int64_t chunk() const = 0;
  /// Values of pool rows [n] (int64) as the next member; larger is better.
  virtual torch::Tensor score(const torch::Tensor& rows) = 0;
  /// Makes pool row `row` the next member.
  virtual void add(int64_t row) = 0;
};

class Acquisition {
 public:
  virtual ~Acquisition() = default;
  const AcquisitionInfo& info() const { return *info_; }
  const AcquisitionSpec& spec() const { return spec_; }
  /// Input columns of the observations it was built on (what candidates need).
  int64_t input_dim() const { return input_dim_; }

  /// X: [b, q, d] -> [b]: the value of each q-batch together with the
  /// pending points (larger is better). Kinds that value single points
  /// (analytic, thompson, aei) take q = 1.
  virtual torch::Tensor operator()(const torch::Tensor& X) const = 0;
  /// Starts a batch whose members are the pending points.
  virtual std::unique_ptr<BatchBuilder> start_batch() const = 0;
  /// Starts a batch over the rows of candidates [N, d], of which `free`
  /// ([N] bool) may be picked, for up to q picks. The default scores the
  /// rows' values through start_batch().
  virtual std::unique_ptr<PoolBatchBuilder> start_pool_batch(const torch::Tensor& candidates,
                                                             const torch::Tensor& free, int64_t q) const;

 protected:
  Acquisition(const AcquisitionSpec& spec);
  /// Rows the default pool batch scores per call.
  virtual int64_t pool_chunk() const { return chunk_or(2048); }
  /// spec.sampling.chunk, or `fallback` when the spec leaves it at 0.
  int64_t chunk_or(int64_t fallback) const { return spec_.sampling.chunk > 0 ? spec_.sampling.chunk : fallback; }

 private:
  friend std::unique_ptr<Acquisition> make_acquisition(const AcquisitionSpec&, const std::vector<const Surrogate*>&,
                                                       const AcquisitionData&);
  AcquisitionSpec spec_;
  const AcquisitionInfo* info_;
  int64_t input_dim_ = -1;
};

/// Builds the named acquisition on fitted models (one per outcome, each
/// fitted to its column of data.Y over data.X). The models must outlive
/// the acquisition. InputError for an acquisition that cannot serve the
/// spec's outcomes, for models of the wrong kind (thompson and believer
/// batches in design spaces need an ExactGP; aei a MultiTaskGP), or for
/// data of the wrong shape.
std::unique_ptr<Acquisition> make_acquisition(const AcquisitionSpec& spec, const std::vector<const Surrogate*>& models,
                                              const AcquisitionData& data);

/// Best observed outcome in a model's latent space: the max (min when
/// minimising) of transform_outcome(Y). Y: [n] or [n, 1].
double best_latent_value(const Surrogate& model, const torch::Tensor& Y, bool maximize);

}  // namespace sozai
