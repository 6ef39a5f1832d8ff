// Augmented EI (registry.cpp: aei).
//
// Cost-aware multi-fidelity selection: a cheap fidelity (simulation, quick
// screen) is used where it says enough about the expensive target
// (experiment). Augmented expected improvement (Huang, Allen, Notz & Miller
// 2006, "Sequential kriging optimization using multiple-fidelity
// evaluations"), on a MultiTaskGP whose last input column is the fidelity:
//   AEI(x, l) = EI_target(x) * corr[f_l(x), f_target(x)]
//               * (1 - sigma_l / sqrt(s_l^2(x) + sigma_l^2)) * cost_target / cost_l,
// EI over the effective best max_x (mu_target(x) - sigma_target(x)) of the
// observed inputs (min of mu + sigma when minimising), sigma_l^2 the noise
// of fidelity l, s_l^2(x) its posterior variance: value per unit cost of
// information about the target. Evaluated in log space.
//
// Plain AEI compares every input at every fidelity, and a cost ratio of 10
// lets cheap measurements of inputs with a tenth of the best target EI win
// over and over: the budget drains into the cheap fidelity (measured on
// photo_pce10). Target-first selection (the default) first chooses the
// input by its EI at the target, then the fidelity at that input by AEI:
// a cheap measurement is made only where the expensive one would be, and
// once it is made its posterior correlation with the target falls, so the
// next choice there is the target itself unless the cheap result moved the
// input out of favour.

#include "core/bo/analytic.h"
#include "core/bo/registry.h"
#include "common/error.h"
#include "models/gp/multitask_gp.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <memory>

namespace sozai {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

torch::Tensor at_fidelity(const torch::Tensor& X, int64_t t) {
  auto out = X.clone();
  out.select(1, X.size(1) - 1).fill_(static_cast<double>(t));
  return out;
}

struct AeiTerms {
  torch::Tensor log_ei_target;  ///< log EI of each candidate's input at the target fidelity
  torch::Tensor log_aei;
};

/// The target fidelity of a spec over a model of T fidelities.
int64_t target_of(const MultiTaskGP& m, const FidelitySettings& f) {
  const int64_t T = m.config().num_tasks;
  const int64_t t = f.target < 0 ? T - 1 : f.target;
  SOZAI_CHECK(t < T, "multi-fidelity: target fidelity ", t, " outside [0, ", T, ")");
  SOZAI_CHECK(static_cast<int64_t>(f.costs.size()) == T, "multi-fidelity: ", f.costs.size(), " costs for ", T,
              " fidelities");
  return t;
}

AeiTerms augmented_ei_terms(const MultiTaskGP& model, const torch::Tensor& candidates, const torch::Tensor& X_observed,
                            const FidelitySettings& f, bool maximize) {
  const int64_t target = target_of(model, f);
  SOZAI_CHECK(candidates.dim() == 2 && X_observed.dim() == 2 && X_observed.size(0) >= 1 &&
                  X_observed.size(1) == candidates.size(1),
              "aei: candidates and X_observed must be [*, d + 1] with at least one observation");
  const double sign = maximize ? 1.0 : -1.0;
  // Effective best: the most reliable good value at the target, over the
  // observed inputs (Huang et al.'s utility with c = 1).
  auto obs = model.latent_posterior(at_fidelity(X_observed, target));
  auto utility = sign * obs.mean.squeeze(1) - obs.variance.squeeze(1).sqrt();
  AcquisitionParams p;
  p.kind = AcquisitionKind::LogEI;
  p.maximize = maximize;
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
    cost_ratio.push_back(f.costs[target] / f.costs[l]);
  }
  auto fid = candidates.select(1, candidates.size(1) - 1).to(torch::kLong);
  auto sd = torch::tensor(noise_sd, torch::kFloat64).to(candidates.device()).index_select(0, fid);
  auto ratio = torch::tensor(cost_ratio, torch::kFloat64).to(candidates.device()).index_select(0, fid);
  auto a2 = 1.0 - sd / (var_l + sd.pow(2)).sqrt();
  return {log_ei, log_ei + torch::log(corr.clamp(1e-12, 1.0)) + torch::log(a2.clamp_min(1e-300)) + torch::log(ratio)};
}

/// A copy of the model that believes `pending` [p, d + 1] at its posterior means.
std::shared_ptr<MultiTaskGP> believer(const MultiTaskGP& model, const torch::Tensor& pending) {
  auto b = std::make_shared<MultiTaskGP>(model);
  if (pending.defined())
    for (int64_t i = 0; i < pending.size(0); ++i) {
      auto x = pending.slice(0, i, i + 1);
      b->append_latent(x, b->latent_posterior(x).mean.reshape({1}));
    }
  return b;
}

/// Greedy AEI over a pool of (input, fidelity) rows, each pick believed at
/// its posterior mean before the next, with the cheap-share cap and
/// target-first choice applied to every step's values.
class AeiRows final : public PoolBatchBuilder {
 public:
  AeiRows(const MultiTaskGP& model, const torch::Tensor& candidates, const torch::Tensor& free,
          const torch::Tensor& X_observed, const torch::Tensor& pending, const FidelitySettings& f, bool maximize)
      : candidates_(candidates), X_observed_(X_observed), f_(f), maximize_(maximize), free_(free.clone()),
        believer_(believer(model, pending)), target_(target_of(model, f)) {
    const int64_t d = candidates.size(1) - 1;
    const auto host = candidates.to(torch::kCPU);
    inputs_ = host.slice(1, 0, d);
    fidelity_ = host.select(1, d);
    const auto obs_fid = X_observed.select(1, d).to(torch::kCPU);
    for (int64_t i = 0; i < obs_fid.size(0); ++i) spend(static_cast<int64_t>(obs_fid[i].item<double>()));
    if (pending.defined())
      for (int64_t i = 0; i < pending.size(0); ++i) spend(static_cast<int64_t>(pending[i][d].item<double>()));
  }
  int64_t chunk() const override { return std::max<int64_t>(candidates_.size(0), 1); }
  torch::Tensor score(const torch::Tensor& rows) override {
    if (!values_.defined()) values_ = step_values();
    return values_.index_select(0, rows.to(torch::kCPU));
  }
  void add(int64_t row) override {
    spend(static_cast<int64_t>(fidelity_[row].item<double>()));
    free_[row] = false;
    auto x = candidates_.slice(0, row, row + 1);
    believer_->append_latent(x, believer_->latent_posterior(x).mean.reshape({1}));
    values_ = torch::Tensor();
  }

 private:
  void spend(int64_t fid) {
    total_cost_ += f_.costs[fid];
    if (fid != target_) cheap_cost_ += f_.costs[fid];
  }
  /// log AEI of every row at this step; -inf where the cap or the
  /// target-first choice rules a row out.
  torch::Tensor step_values() const {
    auto terms = augmented_ei_terms(*believer_, candidates_, X_observed_, f_, maximize_);
    auto v = torch::nan_to_num(terms.log_aei, kNegInf).to(torch::kCPU).masked_fill(free_.logical_not(), kNegInf);
    if (f_.max_cheap_share < 1.0) {
      // Cheap rows that would push the cheap share of the cost past the cap.
      auto row_cost = torch::tensor(f_.costs, torch::kFloat64).index_select(0, fidelity_.to(torch::kLong));
      auto over = (fidelity_ != static_cast<double>(target_)) &
                  ((cheap_cost_ + row_cost) > f_.max_cheap_share * (total_cost_ + row_cost));
      v = v.masked_fill(over, kNegInf);
    }
    if (f_.target_first) {
      // The input with the best target EI among those still open at the
      // target, then the best fidelity for that input.
      auto open_target = free_ & (fidelity_ == static_cast<double>(target_));
      if (open_target.any().item<bool>()) {
        auto ei = torch::nan_to_num(terms.log_ei_target, kNegInf).to(torch::kCPU)
                      .masked_fill(open_target.logical_not(), kNegInf);
        const auto x = inputs_[ei.argmax().item<int64_t>()];
        v = v.masked_fill((inputs_ == x).all(1).logical_not(), kNegInf);
      }
    }
    return v;
  }

  torch::Tensor candidates_, X_observed_;
  FidelitySettings f_;
  bool maximize_;
  torch::Tensor free_;
  std::shared_ptr<MultiTaskGP> believer_;
  int64_t target_;
  torch::Tensor inputs_, fidelity_, values_;
  double cheap_cost_ = 0.0, total_cost_ = 0.0;
};

class AugmentedEI final : public Acquisition {
 public:
  AugmentedEI(const AcquisitionSpec& spec, const Surrogate& model, const AcquisitionData& data)
      : Acquisition(spec), X_observed_(data.X), pending_(data.X_pending),
        maximize_(spec.outcomes.front().maximizes()) {
    model_ = dynamic_cast<const MultiTaskGP*>(&model);
    SOZAI_CHECK(model_, "aei needs a MultiTaskGP over the fidelities, not ", model.name());
    target_of(*model_, spec.fidelity);
    if (pending_.defined() && pending_.numel() == 0) pending_ = torch::Tensor();
  }

  /// log AEI of each row [b, 1, d + 1] (fidelity last), the pending
  /// experiments believed at their posterior means.
  torch::Tensor operator()(const torch::Tensor& X) const override {
    SOZAI_CHECK(X.defined() && X.dim() == 3 && X.size(1) == 1, "aei values one (input, fidelity) row at a time: "
                "X must be [b, 1, d + 1], got ", X.defined() ? X.sizes() : at::IntArrayRef{});
    auto b = believer(*model_, pending_);
    return augmented_ei_terms(*b, X.select(1, 0), X_observed_, spec().fidelity, maximize_).log_aei;
  }
  std::unique_ptr<BatchBuilder> start_batch() const override {
    throw UnsupportedError("aei chooses among the (input, fidelity) rows of a multi-fidelity pool; it has no "
                           "design-space optimiser");
  }
  std::unique_ptr<PoolBatchBuilder> start_pool_batch(const torch::Tensor& candidates, const torch::Tensor& free,
                                                     int64_t) const override {
    SOZAI_CHECK(candidates.size(1) == X_observed_.size(1), "aei: candidates have ", candidates.size(1),
                " columns, the observations ", X_observed_.size(1));
    return std::make_unique<AeiRows>(*model_, candidates, free, X_observed_, pending_, spec().fidelity, maximize_);
  }

 private:
  const MultiTaskGP* model_ = nullptr;
  torch::Tensor X_observed_, pending_;
  bool maximize_;
};

}  // namespace

std::unique_ptr<Acquisition> make_augmented_ei(const AcquisitionSpec& spec, const std::vector<const Surrogate*>& models,
                                               const AcquisitionData& data) {
  return std::make_unique<AugmentedEI>(spec, *models.front(), data);
}

}  // namespace sozai
