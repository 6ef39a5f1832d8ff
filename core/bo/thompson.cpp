#include "core/bo/pool_select.h"
#include "core/bo/thompson.h"
#include "common/error.h"
#include "kernels/acquisition_topk.h"
#include "models/gp/pathwise.h"

#include <ATen/ATen.h>

#include <limits>
#include <set>

namespace sozai {

std::vector<int64_t> select_batch_thompson(const ExactGP& model, const torch::Tensor& candidates,
                                           const torch::Tensor& available, int64_t q, const ThompsonConfig& config,
                                           const std::vector<int64_t>& pending) {
  SOZAI_CHECK(config.chunk >= 1, "select_batch_thompson: chunk must be >= 1, got ", config.chunk);
  auto mask = bo_detail::free_mask(candidates, available, pending, q, "select_batch_thompson");
  const int64_t N = candidates.size(0);
  torch::NoGradGuard no_grad;
  const int64_t n_free = mask.sum().item<int64_t>();
  const int64_t picks = std::min(q, n_free);
  if (picks == 0) return {};

  GPPathSampler paths(model, picks, config.seed, config.features);
  // Each path keeps its best `picks` rows: at most picks - 1 of them can be
  // taken by earlier paths.
  std::vector<kernels::RunningTopK> best;
  for (int64_t j = 0; j < picks; ++j) best.emplace_back(picks);
  const double sign = config.maximize ? 1.0 : -1.0;
  const double neg_inf = -std::numeric_limits<double>::infinity();
  for (int64_t s = 0; s < N; s += config.chunk) {
    const int64_t e = std::min(s + config.chunk, N);
    auto m = mask.slice(0, s, e);
    if (!m.any().item<bool>()) continue;
    auto f = sign * paths(candidates.slice(0, s, e));  // [picks, n]
    f = f.masked_fill(m.to(f.device()).logical_not().unsqueeze(0), neg_inf).to(torch::kCPU);
    for (int64_t j = 0; j < picks; ++j) best[j].push_scores(f[j], s);
  }
  std::vector<int64_t> chosen;
  std::set<int64_t> taken;
  for (int64_t j = 0; j < picks; ++j) {
    const auto& tk = best[j].best();
    auto vals = tk.values.to(torch::kCPU);
    auto idx = tk.indices.to(torch::kCPU);
    for (int64_t k = 0; k < idx.size(0); ++k) {
      const int64_t r = idx[k].item<int64_t>();
      if (vals[k].item<double>() == neg_inf) break;
      if (taken.insert(r).second) {
        chosen.push_back(r);
        break;
      }
    }
  }
  return chosen;
}

}  // namespace sozai
