// qLogNEI and qUCB of one modelled objective (registry.cpp: qlognei, qucb).
#include "core/bo/monte_carlo.h"
#include "core/bo/registry.h"
#include "core/bo/smooth.h"
#include "common/error.h"
#include "core/space/sobol.h"
#include "models/gp/linalg.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <memory>

namespace sozai {

namespace {

constexpr double kPi = 3.14159265358979323846;

/// A Monte-Carlo acquisition's spec and what follows from it. The spec is
/// the acquisition's own, which outlives every scorer built on it.
struct MCConfig {
  explicit MCConfig(const AcquisitionSpec& spec)
      : s(&spec), log_nei(spec.kind == AcquisitionKind::qLogNEI), maximize(spec.outcomes.front().maximizes()) {}
  const AcquisitionSpec* s;
  bool log_nei;  // else qUCB
  bool maximize;
};

/// qLogNEI's smoothed log improvement of samples f over best: [..] -> [..].
torch::Tensor log_improvement(const torch::Tensor& f, const torch::Tensor& best, const MCConfig& c) {
  return bo_detail::log_softplus_tau(f - best, c.s->sampling.tau_relu);
}

/// qUCB's per-sample optimism mu + sqrt(beta pi / 2) |f - mu|.
torch::Tensor ucb_sample(const torch::Tensor& f, const torch::Tensor& mu, const MCConfig& c) {
  return mu + std::sqrt(c.s->beta * kPi / 2.0) * (f - mu).abs();
}

void check_points(const torch::Tensor& X, int64_t d, const char* op, const char* what) {
  SOZAI_CHECK(X.defined() && X.dim() == 2 && (d < 0 || X.size(1) == d), op, ": ", what, " must be [n, ",
              d < 0 ? std::string("d") : std::to_string(d), "], got ", X.defined() ? X.sizes() : at::IntArrayRef{});
}

/// Everything a batch's value needs beyond the candidate's own samples,
/// in the maximisation direction: qLogNEI's best baseline sample and the
/// smooth maximum of the fixed batch members' log improvements; qUCB's
/// maximum over the fixed batch members.
struct BatchContext {
  torch::Tensor best;       // [S] (qLogNEI)
  torch::Tensor incumbent;  // [S] (qLogNEI): max of best and the fixed members
  torch::Tensor fixed_agg;  // [S] or undefined when the batch has no fixed members
};

BatchContext batch_context(const torch::Tensor& f_fixed, const torch::Tensor& mu_fixed, int64_t n_baseline,
                           const MCConfig& c) {
  BatchContext ctx;
  const int64_t m = f_fixed.size(1);
  auto members = f_fixed.slice(1, n_baseline, m);  // [S, k]
  if (c.log_nei) {
    SOZAI_CHECK(n_baseline >= 1, "qLogNEI needs at least one baseline (observed) point");
    ctx.best = std::get<0>(f_fixed.slice(1, 0, n_baseline).max(1));
    ctx.incumbent = ctx.best;
    if (members.size(1) > 0) ctx.incumbent = torch::maximum(ctx.best, std::get<0>(members.max(1)));
    if (members.size(1) > 0)
      ctx.fixed_agg = c.s->sampling.tau_max * torch::logsumexp(log_improvement(members, ctx.best.unsqueeze(1), c) / c.s->sampling.tau_max, 1);
  } else if (members.size(1) > 0) {
    auto mu = mu_fixed.slice(0, n_baseline, m).unsqueeze(0);
    ctx.fixed_agg = std::get<0>(ucb_sample(members, mu, c).max(1));
  }
  return ctx;
}

/// Values of candidates from their samples f [n, S] (and means [n]) in the
/// maximisation direction, each joined with the batch's fixed members.
///
/// incremental (greedy picks): qLogNEI ranks by the log expected
/// improvement over each sample's incumbent (the best of the baseline and
/// the fixed members). With a hard maximum this is the joint value minus a
/// constant, so the argmax is the same; it avoids the joint value's
/// saturation, where every candidate's small extra improvement vanishes
/// next to the members' own in floating point and ties decide the pick.
torch::Tensor batch_values(const torch::Tensor& f, const torch::Tensor& mu, const BatchContext& ctx,
                           const MCConfig& c, bool incremental = false) {
  const double S = static_cast<double>(f.size(1));
  if (c.log_nei && incremental)
    return torch::logsumexp(log_improvement(f, ctx.incumbent.unsqueeze(0), c), 1) - std::log(S);
  if (c.log_nei) {
    auto li = log_improvement(f, ctx.best.unsqueeze(0), c);  // [n, S]
    if (ctx.fixed_agg.defined())
      li = c.s->sampling.tau_max * torch::logaddexp(li / c.s->sampling.tau_max, ctx.fixed_agg.unsqueeze(0) / c.s->sampling.tau_max);
    return torch::logsumexp(li, 1) - std::log(S);
  }
  auto u = ucb_sample(f, mu.unsqueeze(1), c);
  if (ctx.fixed_agg.defined()) u = torch::maximum(u, ctx.fixed_agg.unsqueeze(0));
  return u.mean(1);
}

torch::Tensor joined(const torch::Tensor& A, const torch::Tensor& B) {
  if (!B.defined() || B.numel() == 0) return A;
  return torch::cat({A, B.to(A.options())}, 0);
}

/// The value of the next pick, scored jointly with the fixed batch members
/// (pending experiments and earlier picks) against the baseline: built once
/// per pick, differentiable in the candidates.
class StepScorer {
 public:
  StepScorer(const Surrogate& model, const torch::Tensor& baseline, const torch::Tensor& members, const MCConfig& c)
      : c_(c),
        // Base samples for [baseline; batch so far; candidate], as a q-batch of
        // this size would draw them: the first pick does not depend on q.
        sampler_(model, joined(baseline, members),
                 normal_base_samples(c.s->mc_samples, baseline.size(0) + members.size(0) + 1, c.s->seed)) {
    const double sign = c.maximize ? 1.0 : -1.0;
    auto ctx = batch_context(sign * sampler_.fixed_samples(), sign * sampler_.fixed_mean(), baseline.size(0), c);
    ctx_.incumbent = ctx.incumbent;
    ctx_.fixed_agg = ctx.fixed_agg;
  }
  torch::Tensor operator()(const torch::Tensor& candidates) const {
    const double sign = c_.maximize ? 1.0 : -1.0;
    torch::Tensor mu;
    auto f = sampler_.candidate_samples(candidates, &mu);
    return batch_values(sign * f, sign * mu, ctx_, c_, /*incremental=*/true);
  }

 private:
  MCConfig c_;
  ConditionedSampler sampler_;
  BatchContext ctx_;
};

class MonteCarloBatch final : public BatchBuilder {
 public:
  MonteCarloBatch(const Surrogate& model, const torch::Tensor& baseline, const torch::Tensor& pending,
                  const MCConfig& c)
      : model_(model), baseline_(baseline), members_(pending), c_(c) {}
  torch::Tensor score(const torch::Tensor& X) override {
    if (!scorer_) scorer_ = std::make_unique<StepScorer>(model_, baseline_.to(X.options()), members_, c_);
    return (*scorer_)(X);
  }
  void add(const torch::Tensor& x) override {
    members_ = torch::cat({members_, x.unsqueeze(0).to(members_.options())}, 0);
    scorer_.reset();
  }

 private:
  const Surrogate& model_;
  torch::Tensor baseline_, members_;
  MCConfig c_;
  std::unique_ptr<StepScorer> scorer_;
};

class MonteCarloAcquisition final : public Acquisition {
 public:
  MonteCarloAcquisition(const AcquisitionSpec& spec, const Surrogate& model, const AcquisitionData& data)
      : Acquisition(spec), model_(model), c_(this->spec()) {
    const int64_t d = data.X.size(1);
    baseline_ = data.X.new_zeros({0, d});
    if (c_.log_nei) {
      check_points(data.X, d, "qlognei", "X_observed");
      SOZAI_CHECK(data.X.size(0) >= 1, "qlognei needs at least one observation (X_observed is empty)");
      baseline_ = prune_baseline(model, data.X, spec);
    }
    pending_ = data.X_pending.defined() && data.X_pending.numel() > 0 ? data.X_pending.to(data.X.options())
                                                                       : data.X.new_zeros({0, d});
  }

  torch::Tensor operator()(const torch::Tensor& X) const override {
    SOZAI_CHECK(X.defined() && X.dim() == 3 && X.size(1) >= 1, info().name,
                ": X must be [b, q, d] with q >= 1, got ", X.defined() ? X.sizes() : at::IntArrayRef{});
    const int64_t d = X.size(2), q = X.size(1);
    SOZAI_CHECK(d == baseline_.size(1), info().name, ": X has ", d, " inputs, the observations ", baseline_.size(1));
    auto base_pts = baseline_.to(X.options());
    auto pend = pending_.to(X.options());
    const int64_t nb = base_pts.size(0), np = pend.size(0);
    auto base = normal_base_samples(c_.s->mc_samples, nb + np + q, c_.s->seed);
    const double sign = c_.maximize ? 1.0 : -1.0;
    std::vector<torch::Tensor> out;
    for (int64_t i = 0; i < X.size(0); ++i) {
      auto xi = X.select(0, i);
      auto fixed = torch::cat({base_pts, pend, xi.slice(0, 0, q - 1)}, 0);
      ConditionedSampler sampler(model_, fixed, base);
      auto ctx = batch_context(sign * sampler.fixed_samples(), sign * sampler.fixed_mean(), nb, c_);
      torch::Tensor mu;
      auto f = sampler.candidate_samples(xi.slice(0, q - 1, q), &mu);
      out.push_back(batch_values(sign * f, sign * mu, ctx, c_));
    }
    return torch::cat(out);
  }

  std::unique_ptr<BatchBuilder> start_batch() const override {
    return std::make_unique<MonteCarloBatch>(model_, baseline_, pending_, c_);
  }

 private:
  const Surrogate& model_;
  MCConfig c_;
  torch::Tensor baseline_, pending_;
};

}  // namespace

torch::Tensor normal_base_samples(int64_t samples, int64_t dim, uint64_t seed) {
  SOZAI_CHECK(samples >= 1 && dim >= 1, "normal_base_samples: samples and dim must be >= 1, got ", samples, ", ", dim);
  if (dim > SobolEngine::kMaxDim) {  // beyond the direction-number table: pseudo-random normals
    auto gen = at::detail::createCPUGenerator(seed);
    return at::normal(0.0, 1.0, {samples, dim}, gen, torch::dtype(torch::kFloat64));
  }
  SobolEngine engine(dim, true, seed);
  auto u = engine.draw(samples).clamp(1e-10, 1.0 - 1e-10);
  return std::sqrt(2.0) * torch::erfinv(2.0 * u - 1.0);
}

ConditionedSampler::ConditionedSampler(const Surrogate& model, const torch::Tensor& fixed, const torch::Tensor& base)
    : model_(model), fixed_(fixed) {
  const int64_t m = fixed.size(0);
  SOZAI_CHECK(base.dim() == 2 && base.size(1) >= m + 1, "ConditionedSampler: base samples must be [S, >= ", m + 1,
              "], got ", base.sizes());
  auto opts = fixed.options();
  auto b = base.to(opts);
  z_fixed_ = b.slice(1, 0, m);
  z_new_ = b.select(1, m);
  if (m == 0) {
    f_fixed_ = torch::zeros({b.size(0), 0}, opts);
    mean_fixed_ = torch::zeros({0}, opts);
    return;
  }
  auto mean = model.latent_posterior(fixed).mean.squeeze(1);
  mean_fixed_ = mean;
  auto K = model.latent_covariance(fixed, fixed);
  K = 0.5 * (K + K.t());
  L_ = cholesky_with_jitter(K, "joint posterior covariance").L;
  f_fixed_ = mean.unsqueeze(0) + torch::matmul(z_fixed_, L_.t());
}

torch::Tensor ConditionedSampler::candidate_samples(const torch::Tensor& candidates, torch::Tensor* mean) const {
  auto post = model_.latent_posterior(candidates);
  auto mu = post.mean.squeeze(1);
  if (mean) *mean = mu;
  auto var = post.variance.squeeze(1);
  if (!L_.defined()) return mu.unsqueeze(1) + var.clamp_min(0.0).sqrt().unsqueeze(1) * z_new_.unsqueeze(0);
  auto Kcf = model_.latent_covariance(candidates, fixed_);                              // [n, m]
  auto A = at::linalg_solve_triangular(L_, Kcf.t(), /*upper=*/false);                   // [m, n]
  auto v = (var - A.pow(2).sum(0)).clamp_min(1e-12);                                   // conditional variance
  return mu.unsqueeze(1) + torch::matmul(A.t(), z_fixed_.t()) + v.sqrt().unsqueeze(1) * z_new_.unsqueeze(0);
}

torch::Tensor prune_baseline(const Surrogate& model, const torch::Tensor& X_baseline, const AcquisitionSpec& spec) {
  check_points(X_baseline, -1, "prune_baseline", "X_baseline");
  const int64_t n = X_baseline.size(0);
  SOZAI_CHECK(n >= 1, "prune_baseline: no baseline points");
  SOZAI_CHECK(spec.mc_samples >= 1 && spec.sampling.max_baseline >= 1,
              "prune_baseline: mc_samples and max_baseline must be >= 1");
  if (n == 1) return X_baseline;
  torch::NoGradGuard no_grad;
  auto base = normal_base_samples(spec.mc_samples, n + 1, spec.seed ^ 0x9e3779b97f4a7c15ULL);
  auto X = X_baseline.slice(0, 0, n - 1);
  ConditionedSampler sampler(model, X, base);
  auto f = torch::cat({sampler.fixed_samples(), sampler.candidate_samples(X_baseline.slice(0, n - 1, n)).t()}, 1);
  if (!spec.outcomes.front().maximizes()) f = -f;
  auto winners = std::get<1>(f.max(1)).to(torch::kCPU);  // [S]
  std::vector<int64_t> count(n, 0);
  auto w = winners.accessor<int64_t, 1>();
  for (int64_t s = 0; s < w.size(0); ++s) ++count[w[s]];
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < n; ++i)
    if (count[i] > 0) keep.push_back(i);
  std::stable_sort(keep.begin(), keep.end(), [&](int64_t a, int64_t b) { return count[a] > count[b]; });
  if (static_cast<int64_t>(keep.size()) > spec.sampling.max_baseline) keep.resize(spec.sampling.max_baseline);
  std::sort(keep.begin(), keep.end());
  return X_baseline.index_select(0, torch::tensor(keep, torch::kInt64).to(X_baseline.device()));
}

std::unique_ptr<Acquisition> make_monte_carlo_acquisition(const AcquisitionSpec& spec,
                                                          const std::vector<const Surrogate*>& models,
                                                          const AcquisitionData& data) {
  return std::make_unique<MonteCarloAcquisition>(spec, *models.front(), data);
}

}  // namespace sozai
