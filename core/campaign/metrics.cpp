#include "core/campaign/metrics.h"
#include "common/error.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sozai {

TopSet top_set(const std::vector<double>& y, bool maximize, double fraction) {
  SOZAI_CHECK(!y.empty(), "top_set: no values");
  SOZAI_CHECK(fraction > 0.0 && fraction <= 1.0, "top_set: fraction must be in (0, 1], got ", fraction);
  for (size_t i = 0; i < y.size(); ++i) SOZAI_CHECK(std::isfinite(y[i]), "top_set: y[", i, "] is not finite");
  const int64_t n = static_cast<int64_t>(y.size());
  TopSet t;
  t.required = std::max<int64_t>(1, static_cast<int64_t>(std::floor(fraction * n + 1e-9)));
  std::vector<double> sorted(y);
  if (maximize)
    std::sort(sorted.begin(), sorted.end(), std::greater<double>());
  else
    std::sort(sorted.begin(), sorted.end());
  const double threshold = sorted[t.required - 1];
  t.member.resize(n);
  for (int64_t i = 0; i < n; ++i) t.member[i] = maximize ? y[i] >= threshold : y[i] <= threshold;
  return t;
}

std::vector<double> top_fraction_curve(const std::vector<int64_t>& order, const TopSet& top) {
  std::vector<double> curve;
  curve.reserve(order.size());
  std::vector<bool> seen(top.member.size(), false);
  int64_t found = 0;
  for (auto r : order) {
    SOZAI_CHECK(r >= 0 && r < static_cast<int64_t>(top.member.size()), "top_fraction_curve: row ", r,
                " is outside the pool of ", top.member.size());
    if (!seen[r] && top.member[r]) ++found;
    seen[r] = true;
    curve.push_back(static_cast<double>(std::min(found, top.required)) / static_cast<double>(top.required));
  }
  return curve;
}

std::vector<double> mean_curve(const std::vector<std::vector<double>>& curves, int64_t length) {
  SOZAI_CHECK(!curves.empty(), "mean_curve: no curves");
  int64_t L = length;
  if (L <= 0)
    for (const auto& c : curves) L = std::max<int64_t>(L, c.size());
  std::vector<double> mean(L, 0.0);
  for (const auto& c : curves) {
    SOZAI_CHECK(!c.empty(), "mean_curve: an empty curve");
    for (int64_t i = 0; i < L; ++i) mean[i] += i < static_cast<int64_t>(c.size()) ? c[i] : c.back();
  }
  for (auto& v : mean) v /= static_cast<double>(curves.size());
  return mean;
}

int64_t experiments_to_reach(const std::vector<double>& curve, double target) {
  for (size_t i = 0; i < curve.size(); ++i)
    if (curve[i] >= target - 1e-12) return static_cast<int64_t>(i) + 1;
  return -1;
}

double enhancement_factor(const std::vector<double>& bo_mean, const std::vector<double>& random_mean, int64_t i) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (i < 1 || i > static_cast<int64_t>(bo_mean.size()) || i > static_cast<int64_t>(random_mean.size())) return nan;
  const double r = random_mean[i - 1];
  return r > 0.0 ? bo_mean[i - 1] / r : nan;
}

double acceleration_factor(const std::vector<double>& bo_mean, const std::vector<double>& random_mean, double target) {
  const int64_t nb = experiments_to_reach(bo_mean, target);
  const int64_t nr = experiments_to_reach(random_mean, target);
  if (nb < 0 || nr < 0) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(nr) / static_cast<double>(nb);
}

}  // namespace sozai
