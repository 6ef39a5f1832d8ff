#include "core/bo/acquisition.h"
#include "core/bo/pool_select.h"
#include "common/error.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

namespace sozai {

torch::Tensor AnalyticAcquisition::operator()(const torch::Tensor& X) const {
  auto post = model_.latent_posterior(X);
  SOZAI_CHECK(post.mean.size(1) == 1, "AnalyticAcquisition needs a single-output model, got ", post.mean.size(1),
              " outputs");
  return kernels::analytic_acquisition(post.mean.squeeze(1), post.variance.squeeze(1), params_);
}

namespace {
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kLogSqrt2Pi = 0.91893853320467274178;
constexpr double kLogSqrtPiDiv2 = 0.22579135264472743236;

torch::Tensor normal_cdf(const torch::Tensor& z) { return 0.5 * torch::erfc(-z * kInvSqrt2); }
torch::Tensor normal_pdf(const torch::Tensor& z) { return torch::exp(-0.5 * z * z - kLogSqrt2Pi); }

/// log h(z), h = phi + z Phi, as kernels::impl::log_ei_h; each branch sees
/// a clamped z so no NaN reaches the gradient of the branch not taken.
torch::Tensor log_ei_h(const torch::Tensor& z) {
  auto zd = z.clamp_min(-1.0);
  auto direct = torch::log(normal_pdf(zd) + zd * normal_cdf(zd));
  auto zm = z.clamp(-1e6, -1.0);
  auto w = torch::log(torch::special_erfcx(-zm * kInvSqrt2) * zm.abs()) + kLogSqrtPiDiv2;
  auto log1mexp = torch::where(w > -0.6931471805599453, torch::log(-torch::expm1(w.clamp_max(-1e-300))),
                               torch::log1p(-torch::exp(w.clamp_max(-0.6931471805599453))));
  auto mid = -0.5 * zm * zm - kLogSqrt2Pi + log1mexp;
  auto zt = z.clamp_max(-1e6);
  auto tail = -0.5 * zt * zt - kLogSqrt2Pi - 2.0 * torch::log(zt.abs());
  return torch::where(z > -1.0, direct, torch::where(z > -1e6, mid, tail));
}
}  // namespace

torch::Tensor analytic_acquisition_differentiable(const torch::Tensor& mean, const torch::Tensor& variance,
                                                  const AcquisitionParams& p) {
  auto sigma = variance.clamp_min(1e-30).sqrt();
  const double sign = p.maximize ? 1.0 : -1.0;
  if (p.kind == AcquisitionKind::UCB) return sign * mean + std::sqrt(p.beta) * sigma;
  auto z = sign * (mean - p.best_f) / sigma;
  switch (p.kind) {
    case AcquisitionKind::PI: return normal_cdf(z);
    case AcquisitionKind::EI: return sigma * torch::exp(log_ei_h(z));
    default: return torch::log(sigma) + log_ei_h(z);
  }
}

double best_latent_value(const Surrogate& model, const torch::Tensor& Y, bool maximize) {
  SOZAI_CHECK(Y.defined() && Y.numel() > 0, "best_latent_value: no observations");
  auto z = model.transform_outcome(Y.reshape({-1}));
  return (maximize ? z.max() : z.min()).item<double>();
}

std::vector<int64_t> select_batch_from_pool(const Surrogate& model, const torch::Tensor& candidates,
                                            const torch::Tensor& available, int64_t q, AcquisitionParams params,
                                            const std::vector<int64_t>& pending) {
  auto free = bo_detail::free_mask(candidates, available, pending, q, "select_batch_from_pool");
  torch::NoGradGuard no_grad;
  auto post = model.latent_posterior(candidates);
  SOZAI_CHECK(post.mean.size(1) == 1, "select_batch_from_pool needs a single-output model");
  const auto mean = post.mean.squeeze(1);
  auto var = post.variance.squeeze(1).clone();
  const double noise = model.latent_noise();
  auto mask = free.to(mean.device());
  std::vector<torch::Tensor> factors;  // normalised posterior covariance columns of the fantasies
  const double neg_inf = -std::numeric_limits<double>::infinity();

  auto fantasise = [&](int64_t f) {
    auto c = model.latent_covariance(candidates, candidates.slice(0, f, f + 1)).squeeze(1);
    for (const auto& C : factors) c = c - C * C[f];
    const double denom = var[f].item<double>() + noise;
    auto C = c / std::sqrt(denom);
    var = (var - C.pow(2)).clamp_min(0.0);
    factors.push_back(C);
    const double mf = mean[f].item<double>();
    // The believed outcome is the posterior mean; it becomes the incumbent
    // if it beats the current one.
    if (params.kind != AcquisitionKind::UCB)
      params.best_f = params.maximize ? std::max(params.best_f, mf) : std::min(params.best_f, mf);
  };

  for (auto p : pending) fantasise(p);
  std::vector<int64_t> chosen;
  for (int64_t j = 0; j < q; ++j) {
    if (!mask.any().item<bool>()) break;
    auto acq = kernels::analytic_acquisition(mean, var, params);
    acq = acq.masked_fill(mask.logical_not(), neg_inf);
    // NaN never wins: treat it as the worst value.
    acq = torch::nan_to_num(acq, neg_inf);
    int64_t best = acq.argmax().item<int64_t>();
    // Every available value may be -inf (e.g. PI underflow): fall back to
    // the first available row rather than returning a masked one.
    if (!mask[best].item<bool>()) best = torch::nonzero(mask).index({0, 0}).item<int64_t>();
    chosen.push_back(best);
    mask[best] = false;
    if (j + 1 < q) fantasise(best);
  }
  return chosen;
}

}  // namespace sozai
