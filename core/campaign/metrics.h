#pragma once
/// Campaign benchmark metrics as defined by Liang et al., "Benchmarking the
/// performance of Bayesian optimization across multiple experimental
/// materials science domains", npj Comput. Mater. 7, 188 (2021):
/// top-5% fraction found, enhancement factor EF and acceleration factor AF.

#include <cstdint>
#include <vector>

namespace sozai {

/// The top set of a pool: the k = max(1, floor(fraction * n)) best values
/// in the objective's direction. With ties at the boundary every candidate
/// as good as the k-th best counts as a member, and finding any k of them
/// finds the whole set (so an ordinal objective still has a reachable top).
struct TopSet {
  std::vector<bool> member;  ///< [n]
  int64_t required = 0;      ///< k
};
TopSet top_set(const std::vector<double>& y, bool maximize, double fraction = 0.05);

/// Top%(i) for i = 1..order.size(): fraction of the top set found among the
/// first i chosen rows, min(#members found, k) / k.
std::vector<double> top_fraction_curve(const std::vector<int64_t>& order, const TopSet& top);

/// Mean over curves of unequal length; a shorter curve is held at its last
/// value (a campaign that stopped has found what it found). Output length:
/// the longest curve, or `length` when given (> 0).
std::vector<double> mean_curve(const std::vector<std::vector<double>>& curves, int64_t length = 0);

/// First experiment count i (1-based) at which curve[i-1] >= target, or -1.
int64_t experiments_to_reach(const std::vector<double>& curve, double target);

/// EF(i) = Top%_BO(i) / Top%_random(i) on mean curves (i is 1-based);
/// NaN when random has found nothing yet or i is beyond either curve.
double enhancement_factor(const std::vector<double>& bo_mean, const std::vector<double>& random_mean, int64_t i);

/// AF(t) = n_random(t) / n_BO(t) on mean curves; NaN when either never
/// reaches t.
double acceleration_factor(const std::vector<double>& bo_mean, const std::vector<double>& random_mean, double target);

}  // namespace sozai
