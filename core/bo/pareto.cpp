#include "core/bo/pareto.h"
#include "core/bo/smooth.h"
#include "common/error.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <limits>
#include <vector>

namespace sozai {

namespace {

using Point = std::vector<double>;

void check_front(const torch::Tensor& Y, const torch::Tensor& ref, const char* op) {
  SOZAI_CHECK(Y.defined() && Y.dim() == 2 && Y.size(1) >= 1, op, ": Y must be [n, m], got ",
              Y.defined() ? Y.sizes() : at::IntArrayRef{});
  SOZAI_CHECK(ref.defined() && ref.dim() == 1 && ref.size(0) == Y.size(1), op, ": ref must be [", Y.size(1),
              "], got ", ref.defined() ? ref.sizes() : at::IntArrayRef{});
  SOZAI_CHECK(torch::isfinite(ref).all().item<bool>(), op, ": ref must be finite");
}

/// Rows of Y strictly better than ref in every objective, as points.
std::vector<Point> points_above(const torch::Tensor& Y, const torch::Tensor& ref) {
  auto y = Y.to(torch::kCPU, torch::kFloat64).contiguous();
  auto r = ref.to(torch::kCPU, torch::kFloat64).contiguous();
  const int64_t n = y.size(0), m = y.size(1);
  const double* py = y.data_ptr<double>();
  const double* pr = r.data_ptr<double>();
  std::vector<Point> out;
  for (int64_t i = 0; i < n; ++i) {
    bool above = true;
    for (int64_t j = 0; j < m && above; ++j) above = py[i * m + j] > pr[j];  // NaN is never above
    if (above) out.emplace_back(py + i * m, py + (i + 1) * m);
  }
  return out;
}

/// Hypervolume of points (all above ref) in their first `m` coordinates.
double hv_recursive(std::vector<Point> pts, const Point& ref, size_t m) {
  if (pts.empty()) return 0.0;
  if (m == 1) {
    double best = ref[0];
    for (const auto& p : pts) best = std::max(best, p[0]);
    return best - ref[0];
  }
  if (m == 2) {  // sweep by the first objective, descending
    std::sort(pts.begin(), pts.end(), [](const Point& a, const Point& b) { return a[0] > b[0]; });
    double hv = 0.0, top = ref[1];
    for (const auto& p : pts)
      if (p[1] > top) {
        hv += (p[0] - ref[0]) * (p[1] - top);
        top = p[1];
      }
    return hv;
  }
  // Slice along the last objective: between consecutive levels, the
  // section is the (m-1)-D hypervolume of the points above the slice.
  const size_t last = m - 1;
  std::sort(pts.begin(), pts.end(), [last](const Point& a, const Point& b) { return a[last] > b[last]; });
  double hv = 0.0;
  std::vector<Point> section;
  for (size_t i = 0; i < pts.size(); ++i) {
    section.push_back(pts[i]);
    const double next = i + 1 < pts.size() ? pts[i + 1][last] : ref[last];
    const double depth = pts[i][last] - next;
    if (depth > 0) hv += depth * hv_recursive(section, ref, last);
  }
  return hv;
}

}  // namespace

torch::Tensor non_dominated_mask(const torch::Tensor& Y) {
  SOZAI_CHECK(Y.defined() && Y.dim() == 2, "non_dominated_mask: Y must be [n, m], got ",
              Y.defined() ? Y.sizes() : at::IntArrayRef{});
  const int64_t n = Y.size(0);
  if (n == 0) return torch::zeros({0}, torch::kBool);
  auto y = Y.to(torch::kFloat64);
  // ge[i, k]: row k >= row i everywhere; gt: > somewhere.
  auto a = y.unsqueeze(1), b = y.unsqueeze(0);  // [n, 1, m], [1, n, m]
  auto ge = (b >= a).all(2);
  auto gt = (b > a).any(2);
  auto dominated = (ge & gt).any(1);
  // Exact duplicates: keep the first occurrence.
  auto eq = (b == a).all(2);
  auto earlier = torch::ones({n, n}, torch::kBool).tril(-1).to(eq.device());
  auto duplicate_of_earlier = (eq & earlier).any(1);
  return (dominated | duplicate_of_earlier).logical_not().to(torch::kCPU);
}

double hypervolume(const torch::Tensor& Y, const torch::Tensor& ref) {
  check_front(Y, ref, "hypervolume");
  auto pts = points_above(Y, ref);
  auto r = ref.to(torch::kCPU, torch::kFloat64).contiguous();
  Point rp(r.data_ptr<double>(), r.data_ptr<double>() + r.numel());
  return hv_recursive(std::move(pts), rp, rp.size());
}

BoxDecomposition non_dominated_boxes(const torch::Tensor& front, const torch::Tensor& ref) {
  check_front(front, ref, "non_dominated_boxes");
  const int64_t m = front.size(1);
  auto r = ref.to(torch::kCPU, torch::kFloat64).contiguous();
  const double* pr = r.data_ptr<double>();
  auto pts = points_above(front, ref);
  const double inf = std::numeric_limits<double>::infinity();
  // Grid over the first m-1 objectives: ref, every point's coordinate, +inf.
  std::vector<std::vector<double>> grid(m - 1);
  for (int64_t j = 0; j + 1 < m; ++j) {
    grid[j].push_back(pr[j]);
    for (const auto& p : pts) grid[j].push_back(p[j]);
    grid[j].push_back(inf);
    std::sort(grid[j].begin(), grid[j].end());
    grid[j].erase(std::unique(grid[j].begin(), grid[j].end()), grid[j].end());
  }
  std::vector<double> lower, upper;
  std::vector<size_t> cell(m - 1, 0);
  while (true) {
    // The column's floor in the last objective: the best point that
    // dominates the cell's upper corner in the first m-1 objectives.
    double floor = pr[m - 1];
    for (const auto& p : pts) {
      bool covers = true;
      for (int64_t j = 0; j + 1 < m && covers; ++j) covers = p[j] >= grid[j][cell[j] + 1];
      if (covers) floor = std::max(floor, p[m - 1]);
    }
    for (int64_t j = 0; j + 1 < m; ++j) {
      lower.push_back(grid[j][cell[j]]);
      upper.push_back(grid[j][cell[j] + 1]);
    }
    lower.push_back(floor);
    upper.push_back(inf);
    // Next cell (mixed radix over the m-1 grids).
    int64_t j = 0;
    for (; j + 1 < m; ++j) {
      if (++cell[j] + 1 < grid[j].size()) break;
      cell[j] = 0;
    }
    if (j + 1 >= m) break;
  }
  const int64_t K = static_cast<int64_t>(lower.size()) / m;
  auto opts = front.options().dtype(torch::kFloat64);
  return {torch::tensor(lower, torch::kFloat64).reshape({K, m}).to(opts.device()),
          torch::tensor(upper, torch::kFloat64).reshape({K, m}).to(opts.device())};
}

torch::Tensor hypervolume_improvement(const BoxDecomposition& boxes, const torch::Tensor& Y) {
  SOZAI_CHECK(Y.dim() == 2 && Y.size(1) == boxes.lower.size(1), "hypervolume_improvement: Y must be [n, ",
              boxes.lower.size(1), "], got ", Y.sizes());
  auto y = Y.to(boxes.lower.dtype()).unsqueeze(1);                                          // [n, 1, m]
  auto side = (torch::minimum(y, boxes.upper.unsqueeze(0)) - boxes.lower.unsqueeze(0)).clamp_min(0.0);  // [n, K, m]
  return side.prod(2).sum(1);
}

torch::Tensor log_hypervolume_improvement(const BoxDecomposition& boxes, const torch::Tensor& Y, double tau) {
  SOZAI_CHECK(Y.dim() == 2 && Y.size(1) == boxes.lower.size(1), "log_hypervolume_improvement: Y must be [n, ",
              boxes.lower.size(1), "], got ", Y.sizes());
  SOZAI_CHECK(tau > 0, "log_hypervolume_improvement: tau must be > 0, got ", tau);
  auto y = Y.to(boxes.lower.dtype()).unsqueeze(1);
  auto side = torch::minimum(y, boxes.upper.unsqueeze(0)) - boxes.lower.unsqueeze(0);  // [n, K, m]
  return torch::logsumexp(bo_detail::log_softplus_tau(side, tau).sum(2), 1);
}

}  // namespace sozai
