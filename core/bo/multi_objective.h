#pragma once
/// Monte-Carlo acquisition over several modelled outcomes (registry.cpp:
/// qnehvi, qlognehvi, qparego, and qlognei with outcome constraints):
/// objectives (maximised or minimised) and outcome constraints (an outcome
/// at most or at least a limit). One single-output surrogate per outcome,
/// sampled jointly over the baseline, the pending experiments and the
/// batch, from fixed quasi-random base samples (monte_carlo.h), in original
/// units.
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
/// compute_smoothed_feasibility_indicator). Objectives are normalised so the
/// reference point maps to 0 and the best observed value to about 1; the
/// baseline keeps the feasible observed points by Pareto rank, at most
/// spec.sampling.max_baseline.

#include "core/bo/acquisition.h"

#include <vector>

namespace sozai {

/// BoTorch's infer_reference_point: the nadir of the Pareto front of the
/// objectives Yobj [n, m] (oriented per `maximize`) moved 10% of the
/// front's range towards worse. Original units, one per objective.
std::vector<double> infer_reference_point(const torch::Tensor& Yobj, const std::vector<bool>& maximize);

}  // namespace sozai
