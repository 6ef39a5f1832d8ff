#pragma once
/// Batches of new candidates from a continuous or mixed design space: each
/// pick maximises the named acquisition (optimize.h) given the pending
/// experiments and the earlier picks, as select_batch does for pools.

#include "core/bo/multi_objective.h"
#include "core/bo/optimize.h"
#include "core/bo/select.h"
#include "models/surrogate.h"

#include <vector>

namespace sozai {

/// models: one per outcome, fitted to the encoded inputs
/// space.encode(X_observed) and the columns of Y_observed [n, k] (original
/// units). One objective and no constraints (outcomes empty or one
/// objective): any acquisition name of select.h (analytic kinds and
/// thompson need an ExactGP). Otherwise the multi-outcome ones
/// (multi_objective.h). X_observed, pending: raw candidates [*, raw_width].
/// Returns [<= q, raw_width] raw candidates that satisfy the space.
torch::Tensor select_batch_in_space(const DesignSpace& space, const std::vector<const Surrogate*>& models,
                                    const torch::Tensor& X_observed, const torch::Tensor& Y_observed, int64_t q,
                                    const AcquisitionSpec& spec, const std::vector<Outcome>& outcomes = {},
                                    const std::vector<double>& ref_point = {}, const torch::Tensor& pending = {},
                                    const OptimizeConfig& optimizer = {});

}  // namespace sozai
