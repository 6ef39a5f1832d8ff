// EI, LogEI, UCB and PI (registry.cpp: ei, logei, ucb, pi).
#include "core/bo/analytic.h"
#include "core/bo/registry.h"
#include "common/error.h"
#include "kernels/acquisition.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

namespace sozai {

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

/// The believed outcome of a fantasy is its posterior mean; it becomes the
/// incumbent if it beats the current one.
void believe_incumbent(AcquisitionParams& p, double mean) {
  if (p.kind != AcquisitionKind::UCB) p.best_f = p.maximize ? std::max(p.best_f, mean) : std::min(p.best_f, mean);
}

/// Kriging-believer batch over pool rows by rank-one updates of the pool's
/// posterior variances. Pending points that are pool rows are fantasised
/// as those rows; others join the candidate set as rows never picked.
class BelieverRows final : public PoolBatchBuilder {
 public:
  BelieverRows(const Surrogate& model, const torch::Tensor& candidates, AcquisitionParams params,
               const torch::Tensor& pending)
      : model_(model), params_(params) {
    std::vector<int64_t> pending_rows;
    std::vector<torch::Tensor> extra;
    const int64_t N = candidates.size(0);
    if (pending.defined())
      for (int64_t i = 0; i < pending.size(0); ++i) {
        auto p = pending[i].to(candidates.options());
        auto hit = torch::nonzero((candidates == p.unsqueeze(0)).all(1)).reshape({-1});
        if (hit.numel() > 0) {
          pending_rows.push_back(hit[0].item<int64_t>());
        } else {
          pending_rows.push_back(N + static_cast<int64_t>(extra.size()));
          extra.push_back(p.unsqueeze(0));
        }
      }
    points_ = extra.empty() ? candidates : torch::cat({candidates, torch::cat(extra, 0)}, 0);
    chunk_ = std::max<int64_t>(N, 1);
    auto post = model.latent_posterior(points_);
    SOZAI_CHECK(post.mean.size(1) == 1, to_string(params.kind), " needs a single-output model, got ",
                post.mean.size(1), " outputs");
    mean_ = post.mean.squeeze(1);
    var_ = post.variance.squeeze(1).clone();
    noise_ = model.latent_noise();
    for (auto r : pending_rows) add(r);
  }
  int64_t chunk() const override { return chunk_; }
  torch::Tensor score(const torch::Tensor& rows) override {
    auto r = rows.to(mean_.device());
    return kernels::analytic_acquisition(mean_.index_select(0, r), var_.index_select(0, r), params_);
  }
  void add(int64_t f) override {
    auto c = model_.latent_covariance(points_, points_.slice(0, f, f + 1)).squeeze(1);
    for (const auto& C : factors_) c = c - C * C[f];
    const double denom = var_[f].item<double>() + noise_;
    auto C = c / std::sqrt(denom);
    var_ = (var_ - C.pow(2)).clamp_min(0.0);
    factors_.push_back(C);
    believe_incumbent(params_, mean_[f].item<double>());
  }

 private:
  const Surrogate& model_;
  AcquisitionParams params_;
  torch::Tensor points_, mean_, var_;
  std::vector<torch::Tensor> factors_;  // normalised posterior covariance columns of the fantasies
  double noise_ = 0.0;
  int64_t chunk_ = 1;
};

/// Kriging-believer batch anywhere in the input space: each member
/// conditions a copy of the GP at its posterior mean.
class BelieverGP final : public BatchBuilder {
 public:
  BelieverGP(const ExactGP& gp, AcquisitionParams params, const torch::Tensor& pending)
      : gp_(std::make_shared<ExactGP>(gp)), params_(params) {
    if (pending.defined())
      for (int64_t i = 0; i < pending.size(0); ++i) add(pending[i]);
  }
  torch::Tensor score(const torch::Tensor& X) override {
    auto post = gp_->latent_posterior(X);
    return analytic_acquisition_differentiable(post.mean.squeeze(1), post.variance.squeeze(1), params_);
  }
  void add(const torch::Tensor& x) override {
    torch::NoGradGuard no_grad;
    auto m = gp_->latent_posterior(x.unsqueeze(0)).mean.reshape({1});
    gp_->append_latent(x.unsqueeze(0), m);
    believe_incumbent(params_, m.item<double>());
  }

 private:
  std::shared_ptr<ExactGP> gp_;
  AcquisitionParams params_;
};

/// The same batch for any surrogate with a posterior covariance (transfer
/// models, a GP seen through another encoding): the fantasies leave the
/// mean as it is and shrink the variance by conditioning the posterior
/// covariance on them, var(x | B) = var(x) - k(x, B) (K_BB + noise)^-1 k(B, x).
class BelieverCovariance final : public BatchBuilder {
 public:
  BelieverCovariance(const Surrogate& model, AcquisitionParams params, const torch::Tensor& pending)
      : model_(model), params_(params) {
    if (pending.defined())
      for (int64_t i = 0; i < pending.size(0); ++i) add(pending[i]);
  }
  torch::Tensor score(const torch::Tensor& X) override {
    auto post = model_.latent_posterior(X);
    auto var = post.variance.squeeze(1);
    if (B_.defined()) {
      auto k = model_.latent_covariance(X, B_);                                     // [n, m]
      auto v = at::linalg_solve_triangular(L_, k.transpose(0, 1), /*upper=*/false);  // [m, n]
      var = (var - v.pow(2).sum(0)).clamp_min(0.0);
    }
    return analytic_acquisition_differentiable(post.mean.squeeze(1), var, params_);
  }
  void add(const torch::Tensor& x) override {
    torch::NoGradGuard no_grad;
    auto p = x.reshape({1, -1}).detach();
    believe_incumbent(params_, model_.latent_posterior(p).mean.reshape({-1})[0].item<double>());
    B_ = B_.defined() ? torch::cat({B_, p}, 0) : p;
    auto K = model_.latent_covariance(B_, B_);
    K = K + torch::eye(K.size(0), K.options()) * (model_.latent_noise() + 1e-9 * K.diagonal().mean().item<double>());
    L_ = at::linalg_cholesky(K);
  }

 private:
  const Surrogate& model_;
  AcquisitionParams params_;
  torch::Tensor B_, L_;  // believed points [m, d], Cholesky factor of their covariance
};

class AnalyticAcquisition final : public Acquisition {
 public:
  AnalyticAcquisition(const AcquisitionSpec& spec, const Surrogate& model, const AcquisitionData& data)
      : Acquisition(spec), model_(model), pending_(data.X_pending) {
    params_.kind = spec.kind;
    params_.maximize = spec.outcomes.front().maximizes();
    params_.beta = spec.beta;
    if (spec.best_f) {
      params_.best_f = *spec.best_f;
    } else if (spec.kind != AcquisitionKind::UCB) {
      SOZAI_CHECK(data.Y.defined() && data.Y.numel() > 0, to_string(spec.kind),
                  ": needs observed outcomes (Y_observed) or best_f");
      params_.best_f = best_latent_value(model, data.Y, params_.maximize);
    }
    if (pending_.defined() && pending_.numel() == 0) pending_ = torch::Tensor();
  }

  torch::Tensor operator()(const torch::Tensor& X) const override {
    SOZAI_CHECK(X.defined() && X.dim() == 3 && X.size(1) == 1, info().name,
                " values one candidate at a time: X must be [b, 1, d], got ",
                X.defined() ? X.sizes() : at::IntArrayRef{});
    auto C = X.select(1, 0);
    if (!pending_.defined()) {
      auto post = model_.latent_posterior(C);
      SOZAI_CHECK(post.mean.size(1) == 1, info().name, " needs a single-output model, got ", post.mean.size(1),
                  " outputs");
      return kernels::analytic_acquisition(post.mean.squeeze(1), post.variance.squeeze(1), params_);
    }
    BelieverRows rows(model_, C, params_, pending_);
    return rows.score(torch::arange(C.size(0), torch::kInt64));
  }

  std::unique_ptr<BatchBuilder> start_batch() const override {
    if (const auto* gp = dynamic_cast<const ExactGP*>(&model_))
      return std::make_unique<BelieverGP>(*gp, params_, pending_);
    return std::make_unique<BelieverCovariance>(model_, params_, pending_);
  }

  std::unique_ptr<PoolBatchBuilder> start_pool_batch(const torch::Tensor& candidates, const torch::Tensor&,
                                                     int64_t) const override {
    return std::make_unique<BelieverRows>(model_, candidates, params_, pending_);
  }

 private:
  const Surrogate& model_;
  AcquisitionParams params_;
  torch::Tensor pending_;
};

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

const ExactGP& require_exact_gp(const Surrogate& model, const std::string& acquisition) {
  const auto* gp = dynamic_cast<const ExactGP*>(&model);
  SOZAI_CHECK(gp, "acquisition '", acquisition, "' needs a GP surrogate ('gp'), not ", model.name());
  return *gp;
}

std::unique_ptr<Acquisition> make_analytic_acquisition(const AcquisitionSpec& spec,
                                                       const std::vector<const Surrogate*>& models,
                                                       const AcquisitionData& data) {
  return std::make_unique<AnalyticAcquisition>(spec, *models.front(), data);
}

}  // namespace sozai
