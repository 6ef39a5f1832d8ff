#include "core/bo/monte_carlo.h"
#include "core/bo/pool_select.h"
#include "core/bo/smooth.h"
#include "common/error.h"
#include "common/strings.h"
#include "core/space/sobol.h"
#include "models/gp/linalg.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>

namespace sozai {

namespace {

constexpr double kPi = 3.14159265358979323846;

/// qLogNEI's smoothed log improvement of samples f over best: [..] -> [..].
torch::Tensor log_improvement(const torch::Tensor& f, const torch::Tensor& best, const MCAcquisitionConfig& c) {
  return bo_detail::log_softplus_tau(f - best, c.tau_relu);
}

/// qUCB's per-sample optimism mu + sqrt(beta pi / 2) |f - mu|.
torch::Tensor ucb_sample(const torch::Tensor& f, const torch::Tensor& mu, const MCAcquisitionConfig& c) {
  return mu + std::sqrt(c.beta * kPi / 2.0) * (f - mu).abs();
}

void check_config(const MCAcquisitionConfig& c, const char* op) {
  SOZAI_CHECK(c.samples >= 1, op, ": samples must be >= 1, got ", c.samples);
  SOZAI_CHECK(c.beta >= 0, op, ": beta must be >= 0, got ", c.beta);
  SOZAI_CHECK(c.tau_max > 0 && c.tau_relu > 0, op, ": tau_max and tau_relu must be > 0, got ", c.tau_max, ", ",
              c.tau_relu);
  SOZAI_CHECK(c.max_baseline >= 1, op, ": max_baseline must be >= 1, got ", c.max_baseline);
  SOZAI_CHECK(c.chunk >= 1, op, ": chunk must be >= 1, got ", c.chunk);
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
                           const MCAcquisitionConfig& c) {
  BatchContext ctx;
  const int64_t m = f_fixed.size(1);
  auto members = f_fixed.slice(1, n_baseline, m);  // [S, k]
  if (c.kind == MCAcquisitionKind::qLogNEI) {
    SOZAI_CHECK(n_baseline >= 1, "qLogNEI needs at least one baseline (observed) point");
    ctx.best = std::get<0>(f_fixed.slice(1, 0, n_baseline).max(1));
    ctx.incumbent = ctx.best;
    if (members.size(1) > 0) ctx.incumbent = torch::maximum(ctx.best, std::get<0>(members.max(1)));
    if (members.size(1) > 0)
      ctx.fixed_agg = c.tau_max * torch::logsumexp(log_improvement(members, ctx.best.unsqueeze(1), c) / c.tau_max, 1);
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
                           const MCAcquisitionConfig& c, bool incremental = false) {
  const double S = static_cast<double>(f.size(1));
  if (c.kind == MCAcquisitionKind::qLogNEI && incremental)
    return torch::logsumexp(log_improvement(f, ctx.incumbent.unsqueeze(0), c), 1) - std::log(S);
  if (c.kind == MCAcquisitionKind::qLogNEI) {
    auto li = log_improvement(f, ctx.best.unsqueeze(0), c);  // [n, S]
    if (ctx.fixed_agg.defined()) li = c.tau_max * torch::logaddexp(li / c.tau_max, ctx.fixed_agg.unsqueeze(0) / c.tau_max);
    return torch::logsumexp(li, 1) - std::log(S);
  }
  auto u = ucb_sample(f, mu.unsqueeze(1), c);
  if (ctx.fixed_agg.defined()) u = torch::maximum(u, ctx.fixed_agg.unsqueeze(0));
  return u.mean(1);
}

}  // namespace

MCAcquisitionKind mc_acquisition_kind_from_string(const std::string& name) {
  const auto n = to_lower(name);
  if (n == "qlognei" || n == "qlognoisyei") return MCAcquisitionKind::qLogNEI;
  if (n == "qucb") return MCAcquisitionKind::qUCB;
  throw InputError(str("unknown Monte-Carlo acquisition '", name, "'; expected qlognei or qucb"));
}

std::string to_string(MCAcquisitionKind kind) { return kind == MCAcquisitionKind::qLogNEI ? "qlognei" : "qucb"; }

bool is_mc_acquisition(const std::string& name) {
  const auto n = to_lower(name);
  return n == "qlognei" || n == "qlognoisyei" || n == "qucb";
}

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

torch::Tensor prune_baseline(const Surrogate& model, const torch::Tensor& X_baseline,
                             const MCAcquisitionConfig& config) {
  check_points(X_baseline, -1, "prune_baseline", "X_baseline");
  const int64_t n = X_baseline.size(0);
  SOZAI_CHECK(n >= 1, "prune_baseline: no baseline points");
  if (n == 1) return X_baseline;
  torch::NoGradGuard no_grad;
  auto base = normal_base_samples(config.samples, n + 1, config.seed ^ 0x9e3779b97f4a7c15ULL);
  auto X = X_baseline.slice(0, 0, n - 1);
  ConditionedSampler sampler(model, X, base);
  auto f = torch::cat({sampler.fixed_samples(), sampler.candidate_samples(X_baseline.slice(0, n - 1, n)).t()}, 1);
  if (!config.maximize) f = -f;
  auto winners = std::get<1>(f.max(1)).to(torch::kCPU);  // [S]
  std::vector<int64_t> count(n, 0);
  auto w = winners.accessor<int64_t, 1>();
  for (int64_t s = 0; s < w.size(0); ++s) ++count[w[s]];
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < n; ++i)
    if (count[i] > 0) keep.push_back(i);
  std::stable_sort(keep.begin(), keep.end(), [&](int64_t a, int64_t b) { return count[a] > count[b]; });
  if (static_cast<int64_t>(keep.size()) > config.max_baseline) keep.resize(config.max_baseline);
  std::sort(keep.begin(), keep.end());
  return X_baseline.index_select(0, torch::tensor(keep, torch::kInt64).to(X_baseline.device()));
}

torch::Tensor mc_acquisition(const Surrogate& model, const torch::Tensor& X, const torch::Tensor& X_baseline,
                             const MCAcquisitionConfig& config, const torch::Tensor& X_pending) {
  check_config(config, "mc_acquisition");
  SOZAI_CHECK(X.defined() && X.dim() == 3 && X.size(1) >= 1, "mc_acquisition: X must be [b, q, d] with q >= 1, got ",
              X.defined() ? X.sizes() : at::IntArrayRef{});
  const int64_t d = X.size(2), q = X.size(1);
  torch::Tensor base_pts = X.new_zeros({0, d});
  if (config.kind == MCAcquisitionKind::qLogNEI) {
    check_points(X_baseline, d, "mc_acquisition", "X_baseline");
    base_pts = prune_baseline(model, X_baseline.to(X.options()), config);
  }
  torch::Tensor pend = X.new_zeros({0, d});
  if (X_pending.defined() && X_pending.numel() > 0) {
    check_points(X_pending, d, "mc_acquisition", "X_pending");
    pend = X_pending.to(X.options());
  }
  const int64_t nb = base_pts.size(0), np = pend.size(0);
  auto base = normal_base_samples(config.samples, nb + np + q, config.seed);
  const double sign = config.maximize ? 1.0 : -1.0;
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < X.size(0); ++i) {
    auto xi = X.select(0, i);
    auto fixed = torch::cat({base_pts, pend, xi.slice(0, 0, q - 1)}, 0);
    ConditionedSampler sampler(model, fixed, base);
    auto ctx = batch_context(sign * sampler.fixed_samples(), sign * sampler.fixed_mean(), nb, config);
    torch::Tensor mu;
    auto f = sampler.candidate_samples(xi.slice(0, q - 1, q), &mu);
    out.push_back(batch_values(sign * f, sign * mu, ctx, config));
  }
  return torch::cat(out);
}

namespace {
torch::Tensor step_fixed(const torch::Tensor& X_baseline, const torch::Tensor& X_batch) {
  SOZAI_CHECK(X_baseline.defined() && X_baseline.dim() == 2, "MCStepScorer: X_baseline must be [b, d]");
  if (!X_batch.defined() || X_batch.numel() == 0) return X_baseline;
  SOZAI_CHECK(X_batch.dim() == 2 && X_batch.size(1) == X_baseline.size(1), "MCStepScorer: X_batch must be [k, ",
              X_baseline.size(1), "], got ", X_batch.sizes());
  return torch::cat({X_baseline, X_batch.to(X_baseline.options())}, 0);
}
}  // namespace

MCStepScorer::MCStepScorer(const Surrogate& model, const torch::Tensor& X_baseline, const torch::Tensor& X_batch,
                           const MCAcquisitionConfig& config)
    : config_(config),
      // Base samples for [baseline; batch so far; candidate], as a q-batch of
      // this size would draw them: the first pick does not depend on q.
      sampler_(model, step_fixed(X_baseline, X_batch),
               normal_base_samples(config.samples, step_fixed(X_baseline, X_batch).size(0) + 1, config.seed)) {
  check_config(config, "MCStepScorer");
  const double sign = config.maximize ? 1.0 : -1.0;
  auto ctx = batch_context(sign * sampler_.fixed_samples(), sign * sampler_.fixed_mean(), X_baseline.size(0), config);
  incumbent_ = ctx.incumbent;
  fixed_ucb_ = ctx.fixed_agg;
}

torch::Tensor MCStepScorer::operator()(const torch::Tensor& candidates) const {
  const double sign = config_.maximize ? 1.0 : -1.0;
  torch::Tensor mu;
  auto f = sampler_.candidate_samples(candidates, &mu);
  BatchContext ctx;
  ctx.incumbent = incumbent_;
  ctx.fixed_agg = fixed_ucb_;
  return batch_values(sign * f, sign * mu, ctx, config_, /*incremental=*/true);
}

std::vector<int64_t> select_batch_mc(const Surrogate& model, const torch::Tensor& candidates,
                                     const torch::Tensor& available, int64_t q, const torch::Tensor& X_baseline,
                                     const MCAcquisitionConfig& config, const std::vector<int64_t>& pending) {
  check_config(config, "select_batch_mc");
  auto free = bo_detail::free_mask(candidates, available, pending, q, "select_batch_mc");
  const int64_t d = candidates.size(1);
  torch::NoGradGuard no_grad;
  torch::Tensor base_pts = candidates.new_zeros({0, d});
  if (config.kind == MCAcquisitionKind::qLogNEI) {
    check_points(X_baseline, d, "select_batch_mc", "X_baseline");
    base_pts = prune_baseline(model, X_baseline.to(candidates.options()), config);
  }
  return bo_detail::greedy_select(candidates, free, q, config.chunk, pending,
                                  [&](const torch::Tensor& members, int64_t) -> bo_detail::StepScore {
                                    auto scorer = std::make_shared<MCStepScorer>(model, base_pts, members, config);
                                    return [scorer](const torch::Tensor& C) { return (*scorer)(C); };
                                  });
}

}  // namespace sozai
