#include "common/error.h"
#include "models/gp/outcome_transform.h"

#include <ATen/ATen.h>

#include <cmath>

namespace sozai {

namespace {

constexpr double kLambdaEps = 1e-12;

/// Mean and (population) standard deviation, with a floor on the deviation
/// so constant targets standardise to zeros instead of NaN.
void moments(const torch::Tensor& y, double* mean, double* sd) {
  *mean = y.mean().item<double>();
  double s = y.numel() > 1 ? y.std(/*unbiased=*/false).item<double>() : 0.0;
  *sd = s > 1e-12 * std::max(1.0, std::fabs(*mean)) ? s : 1.0;
}

/// Nodes and weights of Gauss-Hermite quadrature for a standard normal
/// (probabilists' Hermite), by Golub-Welsch.
const std::pair<torch::Tensor, torch::Tensor>& gauss_hermite_normal() {
  static const std::pair<torch::Tensor, torch::Tensor> rule = [] {
    constexpr int64_t n = 40;
    auto J = torch::zeros({n, n}, torch::kFloat64);
    for (int64_t k = 1; k < n; ++k) {
      J.index_put_({k - 1, k}, std::sqrt(static_cast<double>(k)));
      J.index_put_({k, k - 1}, std::sqrt(static_cast<double>(k)));
    }
    auto eig = at::linalg_eigh(J);
    auto nodes = std::get<0>(eig);
    auto weights = std::get<1>(eig).select(0, 0).pow(2);
    return std::make_pair(nodes, weights / weights.sum());
  }();
  return rule;
}

}  // namespace

torch::Tensor yeo_johnson(const torch::Tensor& y, double lambda) {
  auto yp = y.clamp_min(0.0), yn = y.clamp_max(0.0);
  auto pos = std::fabs(lambda) > kLambdaEps ? ((yp + 1.0).pow(lambda) - 1.0) / lambda : torch::log1p(yp);
  auto neg = std::fabs(lambda - 2.0) > kLambdaEps ? -((1.0 - yn).pow(2.0 - lambda) - 1.0) / (2.0 - lambda)
                                                  : -torch::log1p(-yn);
  return torch::where(y >= 0, pos, neg);
}

torch::Tensor yeo_johnson_inverse(const torch::Tensor& z, double lambda, double saturate) {
  // The forward map's image is bounded for lambda < 0 (above) and lambda > 2
  // (below). Beyond it the inverse is +-inf, or +-saturate when that is
  // finite: the base of the power is floored where the result reaches it.
  const bool bounded = std::isfinite(saturate);
  auto zp = z.clamp_min(0.0), zn = z.clamp_max(0.0);
  torch::Tensor pos, neg;
  if (std::fabs(lambda) > kLambdaEps) {
    const double min_base = (bounded && lambda < 0) ? std::pow(1.0 + saturate, lambda) : 0.0;
    pos = (lambda * zp + 1.0).clamp_min(min_base).pow(1.0 / lambda) - 1.0;
  } else {
    pos = torch::expm1(zp);
  }
  if (std::fabs(lambda - 2.0) > kLambdaEps) {
    const double min_base = (bounded && lambda > 2) ? std::pow(1.0 + saturate, 2.0 - lambda) : 0.0;
    neg = 1.0 - (1.0 - (2.0 - lambda) * zn).clamp_min(min_base).pow(1.0 / (2.0 - lambda));
  } else {
    neg = -torch::expm1(-zn);
  }
  auto y = torch::where(z >= 0, pos, neg);
  return bounded ? y.clamp(-saturate, saturate) : y;
}

double fit_yeo_johnson_lambda(const torch::Tensor& y) {
  const double n = static_cast<double>(y.numel());
  const double jac = (torch::sign(y) * torch::log1p(y.abs())).sum().item<double>();
  auto loglik = [&](double lambda) {
    auto z = yeo_johnson(y, lambda);
    double var = z.var(/*unbiased=*/false).item<double>();
    if (!(var > 0.0) || !std::isfinite(var)) return -std::numeric_limits<double>::infinity();
    return -0.5 * n * std::log(var) + (lambda - 1.0) * jac;
  };
  double a = -3.0, b = 3.0;
  const double g = 0.5 * (std::sqrt(5.0) - 1.0);
  double c = b - g * (b - a), d = a + g * (b - a);
  double fc = loglik(c), fd = loglik(d);
  for (int it = 0; it < 100 && b - a > 1e-9; ++it) {
    if (fc > fd) {
      b = d; d = c; fd = fc; c = b - g * (b - a); fc = loglik(c);
    } else {
      a = c; c = d; fc = fd; d = a + g * (b - a); fd = loglik(d);
    }
  }
  return 0.5 * (a + b);
}

OutcomeTransform::OutcomeTransform(OutcomeTransformConfig config) : config_(std::move(config)) {
  const auto& k = config_.kind;
  SOZAI_CHECK(k == "auto" || k == "standardize" || k == "log" || k == "yeo-johnson" || k == "power",
              "unknown outcome transform '", k, "'; expected auto, standardize, log or yeo-johnson");
}

void OutcomeTransform::fit(const torch::Tensor& y_in) {
  SOZAI_CHECK(y_in.dim() == 1 && y_in.numel() > 0, "outcome transform: targets must be a non-empty [n] vector, got shape ",
              y_in.sizes());
  auto y = y_in.to(torch::kFloat64);
  auto finite = torch::isfinite(y);
  if (!finite.all().item<bool>()) {
    int64_t bad = torch::nonzero(finite.logical_not()).index({0, 0}).item<int64_t>();
    throw InputError(str("outcome transform: target ", bad, " is not finite (", y[bad].item<double>(), ")"));
  }
  const double ymin = y.min().item<double>(), ymax = y.max().item<double>();
  std::string kind = config_.kind == "power" ? "yeo-johnson" : config_.kind;
  if (kind == "auto") kind = (ymin > 0.0 && ymax / ymin >= 100.0) ? "log" : "standardize";
  if (kind == "log" && !(ymin > 0.0)) {
    int64_t bad = torch::argmin(y).item<int64_t>();
    throw InputError(str("outcome transform 'log' needs positive targets; target ", bad, " is ", ymin));
  }
  resolved_ = kind;
  lambda_ = 1.0;
  pre_mean_ = 0.0;
  pre_std_ = 1.0;
  torch::Tensor w = y;
  if (kind == "log") {
    w = torch::log(y);
  } else if (kind == "yeo-johnson") {
    moments(y, &pre_mean_, &pre_std_);
    auto s = (y - pre_mean_) / pre_std_;
    lambda_ = fit_yeo_johnson_lambda(s);
    w = yeo_johnson(s, lambda_);
  }
  moments(w, &mean_, &std_);
  fitted_ = true;
}

torch::Tensor OutcomeTransform::forward(const torch::Tensor& y) const {
  SOZAI_ASSERT(fitted_);
  torch::Tensor w = y;
  if (resolved_ == "log") {
    w = torch::log(y);
  } else if (resolved_ == "yeo-johnson") {
    w = yeo_johnson((y - pre_mean_) / pre_std_, lambda_);
  }
  return (w - mean_) / std_;
}

torch::Tensor OutcomeTransform::inverse(const torch::Tensor& z) const {
  SOZAI_ASSERT(fitted_);
  auto w = z * std_ + mean_;
  if (resolved_ == "log") return torch::exp(w);
  // A Gaussian posterior has tails beyond the warp's image; saturate them at
  // 100 training standard deviations from the training mean (no measured
  // quantity of a campaign lives further out) instead of returning inf.
  if (resolved_ == "yeo-johnson") return yeo_johnson_inverse(w, lambda_, 100.0) * pre_std_ + pre_mean_;
  return w;
}

Posterior OutcomeTransform::untransform(const Posterior& latent) const {
  Posterior out;
  untransform_moments(latent.mean, latent.variance, &out.mean, &out.variance);
  return out;
}

void OutcomeTransform::untransform_moments(const torch::Tensor& mean, const torch::Tensor& var, torch::Tensor* out_mean,
                                           torch::Tensor* out_var) const {
  SOZAI_ASSERT(fitted_);
  if (resolved_ == "standardize") {
    *out_mean = mean * std_ + mean_;
    *out_var = var * (std_ * std_);
    return;
  }
  auto wm = mean * std_ + mean_;
  auto wv = var * (std_ * std_);
  if (resolved_ == "log") {
    // Log-normal moments.
    *out_mean = torch::exp(wm + 0.5 * wv);
    *out_var = torch::expm1(wv) * torch::exp(2.0 * wm + wv);
    return;
  }
  const auto& rule = gauss_hermite_normal();
  auto nodes = rule.first.to(mean.device(), mean.scalar_type());
  auto weights = rule.second.to(mean.device(), mean.scalar_type());
  auto shape = mean.sizes().vec();
  shape.push_back(1);
  auto pts = mean.reshape(shape) + var.clamp_min(0).sqrt().reshape(shape) * nodes;  // [..., 40] in latent units
  auto vals = inverse(pts);
  auto m1 = (vals * weights).sum(-1);
  auto m2 = (vals.pow(2) * weights).sum(-1);
  *out_mean = m1;
  *out_var = (m2 - m1.pow(2)).clamp_min(0.0);
}

std::vector<double> OutcomeTransform::state() const {
  return {pre_mean_, pre_std_, lambda_, mean_, std_, fitted_ ? 1.0 : 0.0};
}

void OutcomeTransform::set_state(const std::string& kind, const std::string& resolved, const std::vector<double>& v) {
  SOZAI_CHECK(v.size() == 6, "outcome transform state must have 6 values, got ", v.size());
  *this = OutcomeTransform(OutcomeTransformConfig{kind});
  SOZAI_CHECK(resolved == "standardize" || resolved == "log" || resolved == "yeo-johnson",
              "outcome transform state: unknown resolved kind '", resolved, "'");
  resolved_ = resolved;
  pre_mean_ = v[0];
  pre_std_ = v[1];
  lambda_ = v[2];
  mean_ = v[3];
  std_ = v[4];
  fitted_ = v[5] != 0.0;
}

}  // namespace sozai
