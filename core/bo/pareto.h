#pragma once
/// Pareto fronts and hypervolumes for multi-objective optimisation.
///
/// Convention: every objective is maximised (negate minimised ones first),
/// and only points strictly better than the reference point in every
/// objective count. The hypervolume is exact (recursive slicing, 2-D
/// sweep at the base: O(n log n) for two objectives, O(n^2 log n) for
/// three). The non-dominated region is split into axis-aligned boxes so the
/// hypervolume improvement of many points is a vectorised sum over boxes
/// (BoTorch's box decompositions).

#include <cstdint>
#include <torch/types.h>

namespace sozai {

/// [n] bool: rows of Y [n, m] that no other row dominates (>= in every
/// objective, > in one). Of duplicated rows only the first is kept.
torch::Tensor non_dominated_mask(const torch::Tensor& Y);

/// Exact volume of the region dominated by Y [n, m] and bounded below by
/// ref [m]. Rows that are not better than ref in every objective add nothing.
double hypervolume(const torch::Tensor& Y, const torch::Tensor& ref);

/// Disjoint boxes [lower_k, upper_k] (upper may be +inf) whose union is the
/// region above ref that the front does not dominate: (k+1)^(m-1) boxes for
/// a front of k points.
struct BoxDecomposition {
  torch::Tensor lower;  ///< [K, m]
  torch::Tensor upper;  ///< [K, m]
};
BoxDecomposition non_dominated_boxes(const torch::Tensor& front, const torch::Tensor& ref);

/// Hypervolume improvement of each row of Y [n, m] added alone to the front
/// the boxes came from: sum_k prod_j (min(y_j, upper_kj) - lower_kj)^+ -> [n].
torch::Tensor hypervolume_improvement(const BoxDecomposition& boxes, const torch::Tensor& Y);

/// A smooth log of the same (qLogNEHVI): each side length goes through
/// tau * softplus(x / tau), so points the front dominates still get an
/// ordered, finite value. -> [n].
torch::Tensor log_hypervolume_improvement(const BoxDecomposition& boxes, const torch::Tensor& Y, double tau);

}  // namespace sozai
