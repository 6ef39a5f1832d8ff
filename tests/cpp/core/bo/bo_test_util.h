#pragma once
// Helpers shared by the core/bo tests. Include after catch.hpp.

#include "core/bo/acquisition.h"
#include "core/bo/registry.h"
#include "core/bo/select.h"
#include "models/gp/exact_gp.h"

#include <memory>
#include <string>
#include <vector>

namespace sozai {
namespace test {

/// A GP on the unit square with fixed hyperparameters (no fit), conditioned on (X, y).
inline ExactGP fixed_gp(const torch::Tensor& X, const torch::Tensor& y, double noise = 1e-6,
                        double lengthscale = 0.25, const std::string& transform = "standardize") {
  ExactGPConfig cfg;
  cfg.outcome_transform = transform;
  ExactGP gp(cfg);
  GPHyperparameters h;
  h.lengthscale = {lengthscale, lengthscale};
  h.outputscale = 1.0;
  h.noise = noise;
  gp.set_hyperparameters(h);
  gp.set_input_bounds(torch::zeros({2}, torch::kFloat64), torch::ones({2}, torch::kFloat64));
  gp.set_data({X, y});
  return gp;
}

/// A spec for the named acquisition with one objective.
inline AcquisitionSpec spec_for(const std::string& name, bool maximize = true) {
  AcquisitionSpec s;
  s.kind = acquisition_info(name).kind;
  s.outcomes = {maximize ? Outcome::maximize() : Outcome::minimize()};
  return s;
}

/// Values of single candidates X [n, d] -> [n] (q = 1 batches).
inline torch::Tensor values_at(const Acquisition& acq, const torch::Tensor& X) { return acq(X.unsqueeze(1)); }

/// Pool rows picked by `spec` on `models`: the pending rows join the
/// acquisition as pending points and leave the available rows, as a
/// campaign does.
inline std::vector<int64_t> pick_rows(const AcquisitionSpec& spec, const std::vector<const Surrogate*>& models,
                                      const torch::Tensor& X_observed, const torch::Tensor& Y_observed,
                                      const torch::Tensor& pool, const torch::Tensor& available, int64_t q,
                                      const std::vector<int64_t>& pending = {}) {
  auto free = available.clone();
  for (auto p : pending) free[p] = false;
  auto P = pool.index_select(0, torch::tensor(pending, torch::kInt64));
  auto acq = make_acquisition(spec, models, {X_observed, Y_observed, P});
  return select_from_pool(*acq, pool, free, q);
}

}  // namespace test
}  // namespace sozai
