#pragma once
/// Acquisition optimisation over continuous and mixed design spaces
/// (DESIGN.md "optimisation"; BoTorch's optimize_acqf and
/// optimize_acqf_mixed).
///
/// Continuous, integer and composition parameters are relaxed to real
/// values and optimised by multi-start projected L-BFGS: each step is the
/// L-BFGS direction followed by a Euclidean projection onto the feasible
/// set (bounds, every composition's simplex with its element bounds and
/// forbidden elements, the linear (in)equalities and the critical-element
/// budget, intersected by Dykstra's alternating projections), with an
/// Armijo search along the projection arc. This is the gradient-projection
/// idea of L-BFGS-B extended to linear constraints; it is not Byrd et al.'s
/// Cauchy-point algorithm. Starts are the best of raw_samples feasible
/// scrambled-Sobol points. Integers are then rounded and compositions on a
/// grid snapped to it, the continuous part re-projected with them fixed,
/// and categorical, molecule and structure parameters (and integers, +-1)
/// improved by exhaustive coordinate search, alternating with the
/// continuous search for `rounds` rounds. Every returned candidate passes
/// DesignSpace::violation.

#include "core/space/design_space.h"

#include <cstdint>
#include <functional>
#include <torch/types.h>

namespace sozai {

/// Acquisition over encoded candidates: X [b, encoded_width] -> [b], larger
/// is better; differentiable in X (gradients drive the continuous search).
using EncodedAcquisition = std::function<torch::Tensor(const torch::Tensor&)>;

struct OptimizeConfig {
  int64_t restarts = 8;       ///< projected L-BFGS starts
  int64_t raw_samples = 256;  ///< feasible Sobol points scored to choose the starts
  int64_t max_iter = 100;     ///< L-BFGS iterations per start and round
  int64_t history = 10;       ///< L-BFGS memory
  int64_t rounds = 3;         ///< continuous / discrete alternations
  uint64_t seed = 0;
};

struct OptimizeResult {
  torch::Tensor candidate;  ///< [raw_width] raw values (DesignSpace conventions), feasible
  double value = 0.0;       ///< acquisition value there
  int64_t evaluations = 0;  ///< acquisition calls (batched raw samples count once)
};

/// The feasible candidate with the largest acquisition value found.
/// InputError when the space has no feasible point to start from.
OptimizeResult optimize_acquisition(const DesignSpace& space, const EncodedAcquisition& acquisition,
                                    const OptimizeConfig& config = {});

/// Euclidean projection of a raw candidate's relaxed values (continuous,
/// integer and composition parameters; categorical values kept) onto the
/// space's linear feasible set; exposed for tests and tools. candidate:
/// [raw_width] -> [raw_width].
torch::Tensor project_to_space(const DesignSpace& space, const torch::Tensor& candidate);

}  // namespace sozai
