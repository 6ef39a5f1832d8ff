#include "core/bo/pool_select.h"
#include "common/error.h"

#include <ATen/ATen.h>

#include <limits>

namespace sozai {
namespace bo_detail {

torch::Tensor free_mask(const torch::Tensor& candidates, const torch::Tensor& available,
                        const std::vector<int64_t>& pending, int64_t q, const char* op) {
  SOZAI_CHECK(q >= 1, op, ": q must be >= 1, got ", q);
  SOZAI_CHECK(candidates.defined() && candidates.dim() == 2, op, ": candidates must be [N, d], got ",
              candidates.defined() ? candidates.sizes() : at::IntArrayRef{});
  const int64_t N = candidates.size(0);
  SOZAI_CHECK(available.defined() && available.dim() == 1 && available.size(0) == N &&
                  available.scalar_type() == torch::kBool,
              op, ": available must be a bool [", N, "] mask, got ",
              available.defined() ? available.sizes() : at::IntArrayRef{}, " ",
              available.defined() ? available.scalar_type() : torch::kBool);
  for (auto p : pending) SOZAI_CHECK(p >= 0 && p < N, op, ": pending row ", p, " is outside the pool of ", N);
  auto mask = available.to(torch::kCPU).clone();
  for (auto p : pending) mask[p] = false;  // a pending experiment is never proposed twice
  return mask;
}

std::vector<int64_t> greedy_select(const torch::Tensor& candidates, torch::Tensor free, int64_t q, int64_t chunk,
                                   const std::vector<int64_t>& pending,
                                   const std::function<StepScore(const torch::Tensor&, int64_t)>& make_step) {
  std::vector<int64_t> members = pending, chosen;
  const double neg_inf = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < q; ++j) {
    auto rows = torch::nonzero(free).reshape({-1});
    if (rows.numel() == 0) break;
    auto fixed = candidates.index_select(0, torch::tensor(members, torch::kInt64).to(candidates.device()));
    auto score = make_step(fixed, j);
    double best_val = neg_inf;
    int64_t best_row = rows[0].item<int64_t>();
    for (int64_t s = 0; s < rows.numel(); s += chunk) {
      auto r = rows.slice(0, s, std::min(s + chunk, rows.numel()));
      auto v = torch::nan_to_num(score(candidates.index_select(0, r.to(candidates.device()))), neg_inf)
                   .to(torch::kCPU);
      const int64_t k = v.argmax().item<int64_t>();
      if (v[k].item<double>() > best_val) {
        best_val = v[k].item<double>();
        best_row = r[k].item<int64_t>();
      }
    }
    chosen.push_back(best_row);
    members.push_back(best_row);
    free[best_row] = false;
  }
  return chosen;
}

}  // namespace bo_detail
}  // namespace sozai
