#pragma once
/// One entry point for choosing the next experiments from a pool by the
/// acquisition's name: what the campaign layer calls (DESIGN.md
/// "optimisation"). Analytic acquisitions (ei, logei, ucb, pi) build
/// Kriging-believer batches; Monte-Carlo ones (qlognei, qucb) score batches
/// jointly from posterior samples (monte_carlo.h); thompson picks the
/// maximisers of GP sample paths (thompson.h), for pools of millions.

#include "core/bo/monte_carlo.h"
#include "models/gp/exact_gp.h"
#include "models/surrogate.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sozai {

/// An acquisition chosen by name, with the settings every kind may use.
struct AcquisitionSpec {
  std::string name = "logei";  ///< ei, logei, ucb, pi, qlognei, qucb, thompson
  bool maximize = true;
  double beta = 4.0;           ///< ucb, qucb
  int64_t mc_samples = 128;    ///< qlognei, qucb: joint posterior samples
  uint64_t seed = 0;           ///< qlognei, qucb: base samples; thompson: sample paths
};

/// Every acquisition name select_batch accepts, in lower case.
std::vector<std::string> acquisition_names();
/// InputError listing the accepted names unless `name` is one (any case).
void check_acquisition_name(const std::string& name);

/// The Monte-Carlo settings a spec names (qlognei or qucb): kind,
/// direction, beta, samples and seed.
MCAcquisitionConfig mc_config(const AcquisitionSpec& spec);

/// The model as an ExactGP; InputError naming the acquisition that needs
/// one (thompson's sample paths, Kriging believer in design spaces).
const ExactGP& require_exact_gp(const Surrogate& model, const std::string& acquisition);

/// Fits nothing: `model` is already fitted to (X_observed, y_observed)
/// (y in original units, [n]); picks up to q available pool rows that are
/// not pending, in the order chosen.
std::vector<int64_t> select_batch(const Surrogate& model, const torch::Tensor& candidates,
                                  const torch::Tensor& available, int64_t q, const torch::Tensor& X_observed,
                                  const torch::Tensor& y_observed, const AcquisitionSpec& spec,
                                  const std::vector<int64_t>& pending = {});

}  // namespace sozai
