#include "core/bo/select.h"
#include "core/bo/registry.h"
#include "common/error.h"

#include <ATen/ATen.h>

#include <limits>

namespace sozai {

bool weighable_acquisition(AcquisitionKind kind) {
  return kind == AcquisitionKind::qLogNEI || kind == AcquisitionKind::LogEI || kind == AcquisitionKind::EI ||
         kind == AcquisitionKind::PI;
}

std::vector<int64_t> select_from_pool(const Acquisition& acquisition, const torch::Tensor& candidates,
                                      const torch::Tensor& available, int64_t q, const torch::Tensor& log_weight) {
  SOZAI_CHECK(q >= 1, "select_from_pool: q must be >= 1, got ", q);
  SOZAI_CHECK(candidates.defined() && candidates.dim() == 2, "select_from_pool: candidates must be [N, d], got ",
              candidates.defined() ? candidates.sizes() : at::IntArrayRef{});
  SOZAI_CHECK(candidates.size(1) == acquisition.input_dim(), "select_from_pool: candidates have ", candidates.size(1),
              " columns, the acquisition's observations (X_observed) ", acquisition.input_dim());
  const int64_t N = candidates.size(0);
  SOZAI_CHECK(available.defined() && available.dim() == 1 && available.size(0) == N &&
                  available.scalar_type() == torch::kBool,
              "select_from_pool: available must be a bool [", N, "] mask, got ",
              available.defined() ? available.sizes() : at::IntArrayRef{}, " ",
              available.defined() ? available.scalar_type() : torch::kBool);
  torch::Tensor weight;  // [N] float64 CPU: log w_i
  bool log_valued = false;
  if (log_weight.defined()) {
    const auto kind = acquisition.info().kind;
    SOZAI_CHECK(weighable_acquisition(kind), "select_from_pool: a row weight needs an acquisition whose values are ",
                "logs (qlognei, logei) or nonnegative (ei, pi), not '", acquisition.info().name, "'");
    SOZAI_CHECK(log_weight.dim() == 1 && log_weight.size(0) == N, "select_from_pool: log_weight must be [", N,
                "], got ", log_weight.sizes());
    log_valued = kind == AcquisitionKind::qLogNEI || kind == AcquisitionKind::LogEI;
    weight = log_weight.detach().to(torch::kCPU, torch::kFloat64);
    SOZAI_CHECK(torch::isfinite(weight).all().item<bool>(), "select_from_pool: log_weight has non-finite entries");
  }
  torch::NoGradGuard no_grad;
  auto free = available.to(torch::kCPU).clone();
  auto batch = acquisition.start_pool_batch(candidates, free, q);
  const int64_t chunk = std::max<int64_t>(batch->chunk(), 1);
  const double neg_inf = -std::numeric_limits<double>::infinity();
  std::vector<int64_t> chosen;
  for (int64_t j = 0; j < q; ++j) {
    auto rows = torch::nonzero(free).reshape({-1});
    if (rows.numel() == 0) break;
    double best_val = neg_inf;
    int64_t best_row = rows[0].item<int64_t>();  // every value -inf: the first free row
    for (int64_t s = 0; s < rows.numel(); s += chunk) {
      auto r = rows.slice(0, s, std::min(s + chunk, rows.numel()));
      auto v = torch::nan_to_num(batch->score(r), neg_inf).to(torch::kCPU, torch::kFloat64);
      if (weight.defined()) {
        const auto w = weight.index_select(0, r.to(torch::kCPU));
        // A nonnegative value times w_i, compared as logs: no overflow of a large weight.
        v = (log_valued ? v : v.clamp_min(0.0).log()) + w;
      }
      const int64_t k = v.argmax().item<int64_t>();
      if (v[k].item<double>() > best_val) {
        best_val = v[k].item<double>();
        best_row = r[k].item<int64_t>();
      }
    }
    chosen.push_back(best_row);
    free[best_row] = false;
    if (j + 1 < q) batch->add(best_row);
  }
  return chosen;
}

torch::Tensor select_in_space(const DesignSpace& space, const Acquisition& acquisition, int64_t q,
                              const OptimizeConfig& optimizer) {
  SOZAI_CHECK(q >= 1, "select_in_space: q must be >= 1, got ", q);
  SOZAI_CHECK(acquisition.info().spaces, "select_in_space: acquisition '", acquisition.info().name,
              "' cannot be optimised over a design space");
  SOZAI_CHECK(space.encoded_width() == acquisition.input_dim(), "select_in_space: the space encodes ",
              space.encoded_width(), " columns, the acquisition's observations (X_observed) have ",
              acquisition.input_dim());
  auto batch = acquisition.start_batch();
  std::vector<torch::Tensor> picks;
  for (int64_t j = 0; j < q; ++j) {
    OptimizeConfig oc = optimizer;
    oc.seed = optimizer.seed + static_cast<uint64_t>(j) * 7919;
    auto r = optimize_acquisition(space, [&](const torch::Tensor& X) { return batch->score(X); }, oc);
    picks.push_back(r.candidate);
    if (j + 1 < q) batch->add(space.encode(r.candidate.unsqueeze(0))[0]);
  }
  return torch::stack(picks, 0);
}

}  // namespace sozai
