#pragma once
// Helpers shared by the core/bo tests. Include after catch.hpp.

#include "models/gp/exact_gp.h"

#include <string>

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

}  // namespace test
}  // namespace sozai
