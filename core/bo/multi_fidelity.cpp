#include "core/bo/acquisition.h"
#include "core/bo/multi_fidelity.h"
#include "core/bo/pool_select.h"
#include "common/error.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

namespace sozai {

namespace {

int64_t target_of(const MultiTaskGP& m, const MultiFidelityConfig& c) {
  const int64_t T = m.config().num_tasks;
  const int64_t t = c.target < 0 ? T - 1 : c.target;
  SOZAI_CHECK(t < T, "multi-fidelity: target fidelity ", t, " outside [0, ", T, ")");
  SOZAI_CHECK(static_cast<int64_t>(c.costs.size()) == T, "multi-fidelity: ", c.costs.size(), " costs for ", T,
              " fidelities");
  for (size_t i = 0; i < c.costs.size(); ++i)
    SOZAI_CHECK(c.costs[i] > 0 && std::isfinite(c.costs[i]), "multi-fidelity: cost of fidelity ", i,
                " must be > 0, got ", c.costs[i]);
  return t;
}

torch::Tensor at_fidelity(const torch::Tensor& X, int64_t t) {
  auto out = X.clone();
  out.select(1, X.size(1) - 1).fill_(static_cast<double>(t));
  return out;
}

}  // namespace

namespace {

struct AeiTerms {
  torch::Tensor log_ei_target;  ///< log EI of each candidate's input at the target fidelity
  torch::Tensor log_aei;
};

AeiTerms augmented_ei_terms(const MultiTaskGP& model, const torch::Tensor& candidates,
                            const torch::Tensor& X_observed, const MultiFidelityConfig& config) {
  const int64_t target = target_of(model, config);
  SOZAI_CHECK(candidates.dim() == 2 && X_observed.dim() == 2 && X_observed.size(0) >= 1 &&
                  X_observed.size(1) == candidates.size(1),
              "log_augmented_ei: candidates and X_observed must be [*, d + 1] with at least one observation");
  const double sign = config.maximize ? 1.0 : -1.0;
  // Effective best: the most reliable good value at the target, over the
  // observed inputs (Huang et al.'s utility with c = 1).
  auto obs = model.latent_posterior(at_fidelity(X_observed, target));
  auto utility = sign * obs.mean.squeeze(1) - obs.variance.squeeze(1).sqrt();
  AcquisitionParams p;
  p.kind = AcquisitionKind::LogEI;
  p.maximize = config.maximize;
  p.best_f = sign * utility.max().item<double>();
  auto Ct = at_fidelity(candidates, target);
  auto post_t = model.latent_posterior(Ct);
  auto log_ei = analytic_acquisition_differentiable(post_t.mean.squeeze(1), post_t.variance.squeeze(1), p);
  auto post_l = model.latent_posterior(candidates);
  auto var_l = post_l.variance.squeeze(1).clamp_min(1e-30), var_t = post_t.variance.squeeze(1).clamp_min(1e-30);
  auto corr = model.latent_cross_covariance(candidates, Ct) / (var_l * var_t).sqrt();
  // Per fidelity (T values), then gathered for every candidate.
  std::vector<double> noise_sd, cost_ratio;
  for (int64_t l = 0; l < model.config().num_tasks; ++l) {
    noise_sd.push_back(std::sqrt(model.task_noise(l)));
    cost_ratio.push_back(config.costs[target] / config.costs[l]);
  }
  auto fid = candidates.select(1, candidates.size(1) - 1).to(torch::kLong);
  auto sd = torch::tensor(noise_sd, torch::kFloat64).to(candidates.device()).index_select(0, fid);
  auto ratio = torch::tensor(cost_ratio, torch::kFloat64).to(candidates.device()).index_select(0, fid);
  auto a2 = 1.0 - sd / (var_l + sd.pow(2)).sqrt();
  return {log_ei, log_ei + torch::log(corr.clamp(1e-12, 1.0)) + torch::log(a2.clamp_min(1e-300)) + torch::log(ratio)};
}

}  // namespace

torch::Tensor log_augmented_ei(const MultiTaskGP& model, const torch::Tensor& candidates,
                               const torch::Tensor& X_observed, const MultiFidelityConfig& config) {
  return augmented_ei_terms(model, candidates, X_observed, config).log_aei;
}

std::vector<int64_t> select_batch_multi_fidelity(const MultiTaskGP& model, const torch::Tensor& candidates,
                                                 const torch::Tensor& available, int64_t q,
                                                 const torch::Tensor& X_observed, const MultiFidelityConfig& config,
                                                 const std::vector<int64_t>& pending) {
  auto mask = bo_detail::free_mask(candidates, available, pending, q, "select_batch_multi_fidelity");
  torch::NoGradGuard no_grad;
  MultiTaskGP believer = model;
  auto believe = [&](int64_t r) {
    auto x = candidates.slice(0, r, r + 1);
    believer.append_latent(x, believer.latent_posterior(x).mean.reshape({1}));
  };
  for (auto r : pending) believe(r);
  std::vector<int64_t> chosen;
  const double neg_inf = -std::numeric_limits<double>::infinity();
  const int64_t target = target_of(model, config);
  const int64_t d = candidates.size(1) - 1;
  const auto host = candidates.to(torch::kCPU);
  const auto inputs = host.slice(1, 0, d), fidelity = host.select(1, d);
  SOZAI_CHECK(config.max_cheap_share >= 0 && config.max_cheap_share <= 1, "multi-fidelity: max_cheap_share must be in "
              "[0, 1], got ", config.max_cheap_share);
  double cheap_cost = 0.0, total_cost = 0.0;
  auto spend = [&](int64_t fid) {
    total_cost += config.costs[fid];
    if (fid != target) cheap_cost += config.costs[fid];
  };
  const auto obs_fid = X_observed.select(1, d).to(torch::kCPU);
  for (int64_t i = 0; i < obs_fid.size(0); ++i) spend(static_cast<int64_t>(obs_fid[i].item<double>()));
  for (auto r : pending) spend(static_cast<int64_t>(fidelity[r].item<double>()));
  for (int64_t j = 0; j < q; ++j) {
    if (!mask.any().item<bool>()) break;
    auto terms = augmented_ei_terms(believer, candidates, X_observed, config);
    auto v = torch::nan_to_num(terms.log_aei, neg_inf).to(torch::kCPU).masked_fill(mask.logical_not(), neg_inf);
    if (config.max_cheap_share < 1.0) {
      // Cheap rows that would push the cheap share of the cost past the cap.
      auto row_cost = torch::tensor(config.costs, torch::kFloat64).index_select(0, fidelity.to(torch::kLong));
      auto over = (fidelity != static_cast<double>(target)) &
                  ((cheap_cost + row_cost) > config.max_cheap_share * (total_cost + row_cost));
      v = v.masked_fill(over, neg_inf);
    }
    if (config.target_first) {
      // The input with the best target EI among those still open at the
      // target, then the best fidelity for that input.
      auto open_target = mask & (fidelity == static_cast<double>(target));
      if (open_target.any().item<bool>()) {
        auto ei = torch::nan_to_num(terms.log_ei_target, neg_inf).to(torch::kCPU)
                      .masked_fill(open_target.logical_not(), neg_inf);
        const auto x = inputs[ei.argmax().item<int64_t>()];
        v = v.masked_fill((inputs == x).all(1).logical_not(), neg_inf);
      }
    }
    int64_t best = v.argmax().item<int64_t>();
    if (!mask[best].item<bool>()) best = torch::nonzero(mask).index({0, 0}).item<int64_t>();
    chosen.push_back(best);
    spend(static_cast<int64_t>(fidelity[best].item<double>()));
    mask[best] = false;
    if (j + 1 < q) believe(best);
  }
  return chosen;
}

}  // namespace sozai
