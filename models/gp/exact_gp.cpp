#include "common/blas.h"
#include "common/error.h"
#include "models/gp/exact_gp.h"
#include "models/gp/linalg.h"
#include "kernels/kernel_matrix.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <vector>

namespace sozai {

ExactGP::ExactGP(ExactGPConfig config)
    : config_(std::move(config)),
      kind_(covariance_kind_from_string(config_.kernel)),
      transform_(OutcomeTransformConfig{config_.outcome_transform}) {
  SOZAI_CHECK(config_.restarts >= 1, "ExactGP: restarts must be >= 1, got ", config_.restarts);
  SOZAI_CHECK(config_.max_iter >= 1, "ExactGP: max_iter must be >= 1, got ", config_.max_iter);
  SOZAI_CHECK(config_.predict_chunk >= 1, "ExactGP: predict_chunk must be >= 1, got ", config_.predict_chunk);
  SOZAI_CHECK(0 < config_.noise_min && config_.noise_min <= config_.noise_max,
              "ExactGP: need 0 < noise_min <= noise_max, got ", config_.noise_min, " and ", config_.noise_max);
}

std::string ExactGP::name() const { return str("ExactGP(", to_string(kind_), ")"); }

void ExactGP::set_input_bounds(const torch::Tensor& lower, const torch::Tensor& upper) {
  SOZAI_CHECK(lower.dim() == 1 && upper.dim() == 1 && lower.size(0) == upper.size(0),
              "ExactGP::set_input_bounds: lower and upper must be [d] vectors of equal length, got ", lower.sizes(),
              " and ", upper.sizes());
  SOZAI_CHECK((upper >= lower).all().item<bool>(), "ExactGP::set_input_bounds: every upper bound must be >= lower");
  lower_ = lower.to(torch::kFloat64);
  auto w = (upper.to(torch::kFloat64) - lower_);
  width_ = torch::where(w > 0, w, torch::ones_like(w));
  fixed_bounds_ = true;
}

torch::Tensor ExactGP::normalize_inputs(const torch::Tensor& X) const {
  return (X - lower_.to(X.device(), X.scalar_type())) / width_.to(X.device(), X.scalar_type());
}

void ExactGP::check_fitted(const char* what) const {
  SOZAI_CHECK(fitted_, "ExactGP::", what, ": the model has no data yet; call fit() or set_data() first");
}

torch::Tensor ExactGP::check_inputs(const torch::Tensor& X, const char* what) const {
  const int64_t d = Xn_.size(1);
  SOZAI_CHECK(X.dim() == 2 && X.size(1) == d, "ExactGP::", what, ": X must be [n, ", d, "], got shape ", X.sizes());
  SOZAI_CHECK_T(DeviceError, X.device() == Xn_.device(), "ExactGP::", what, ": X is on ", X.device(),
                " but the model is on ", Xn_.device());
  return normalize_inputs(X.to(Xn_.scalar_type()));
}

void ExactGP::prepare(const Dataset& data) {
  const auto& X = data.X;
  SOZAI_CHECK(X.defined() && X.dim() == 2 && X.size(0) >= 1 && X.size(1) >= 1,
              "ExactGP: training X must be a non-empty [n, d] tensor, got ", X.defined() ? X.sizes() : at::IntArrayRef{});
  SOZAI_CHECK(X.is_floating_point(), "ExactGP: training X must be float32 or float64, got ", X.scalar_type());
  auto Y = data.Y;
  SOZAI_CHECK(Y.defined() && (Y.dim() == 1 || (Y.dim() == 2 && Y.size(1) == 1)),
              "ExactGP models one objective: Y must be [n] or [n, 1], got ",
              Y.defined() ? Y.sizes() : at::IntArrayRef{});
  Y = Y.reshape({-1});
  SOZAI_CHECK(Y.size(0) == X.size(0), "ExactGP: X has ", X.size(0), " rows but Y has ", Y.size(0));
  SOZAI_CHECK_T(DeviceError, X.device() == Y.device(), "ExactGP: X is on ", X.device(), " and Y on ", Y.device());
  auto finite_x = torch::isfinite(X).all(1);
  if (!finite_x.all().item<bool>()) {
    int64_t bad = torch::nonzero(finite_x.logical_not()).index({0, 0}).item<int64_t>();
    throw InputError(str("ExactGP: training input row ", bad, " has a non-finite value"));
  }
  if (!fixed_bounds_) {
    auto Xd = X.to(torch::kFloat64);
    lower_ = std::get<0>(Xd.min(0));
    auto w = std::get<0>(Xd.max(0)) - lower_;
    width_ = torch::where(w > 0, w, torch::ones_like(w));
  } else {
    SOZAI_CHECK(lower_.size(0) == X.size(1), "ExactGP: input bounds have ", lower_.size(0), " dimensions but X has ",
                X.size(1));
  }
  transform_ = OutcomeTransform(OutcomeTransformConfig{config_.outcome_transform});
  transform_.fit(Y.to(torch::kFloat64).cpu());
  Xn_ = normalize_inputs(X);
  z_ = transform_.forward(Y.to(X.scalar_type()));
}

void ExactGP::set_hyperparameters(const GPHyperparameters& h) {
  SOZAI_CHECK(!h.lengthscale.empty(), "ExactGP::set_hyperparameters: lengthscale must not be empty");
  for (size_t i = 0; i < h.lengthscale.size(); ++i)
    SOZAI_CHECK(h.lengthscale[i] > 0 && std::isfinite(h.lengthscale[i]),
                "ExactGP::set_hyperparameters: lengthscale[", i, "] must be positive, got ", h.lengthscale[i]);
  SOZAI_CHECK(h.outputscale > 0 && h.noise > 0, "ExactGP::set_hyperparameters: outputscale and noise must be > 0, got ",
              h.outputscale, " and ", h.noise);
  hyper_ = h;
  has_hyper_ = true;
}

void ExactGP::set_data(const Dataset& data) {
  SOZAI_CHECK(has_hyper_, "ExactGP::set_data needs hyperparameters; call set_hyperparameters() or fit()");
  SOZAI_CHECK(data.X.defined() && data.X.dim() == 2 &&
                  static_cast<int64_t>(hyper_.lengthscale.size()) == data.X.size(1),
              "ExactGP::set_data: hyperparameters have ", hyper_.lengthscale.size(), " lengthscales but X has shape ",
              data.X.defined() ? data.X.sizes() : at::IntArrayRef{});
  prepare(data);
  condition();
  fitted_ = true;
}

void ExactGP::fit(const Dataset& data) {
  ScopedSingleThreadBlas one_blas_thread(data.X.defined() && data.X.dim() >= 1 && data.X.size(0) < kBlasThreadRows);
  prepare(data);
  optimise_hyperparameters();
  condition();
  fitted_ = true;
}

void ExactGP::condition() {
  torch::NoGradGuard no_grad;
  auto opts = Xn_.options();
  ls_ = torch::tensor(hyper_.lengthscale, opts.dtype(torch::kFloat64)).to(opts);
  os_ = torch::tensor(hyper_.outputscale, opts);
  const auto n = Xn_.size(0);
  auto K = covariance(kind_, Xn_, Xn_, ls_, os_) + hyper_.noise * torch::eye(n, opts);
  auto f = cholesky_with_jitter(K, "GP covariance");
  L_ = f.L;
  jitter_ = f.jitter;
  Linv_ = at::linalg_solve_triangular(L_, torch::eye(n, opts), /*upper=*/false);
  alpha_ = at::cholesky_solve(z_.unsqueeze(1), L_).squeeze(1);
  mll_ = gaussian_log_marginal(L_, z_).item<double>();
}

void ExactGP::append_latent(const torch::Tensor& X, const torch::Tensor& z) {
  check_fitted("append_latent");
  auto Xn = check_inputs(X, "append_latent");
  SOZAI_CHECK(z.dim() == 1 && z.size(0) == X.size(0), "ExactGP::append_latent: z must be [", X.size(0), "], got ",
              z.sizes());
  Xn_ = torch::cat({Xn_, Xn});
  z_ = torch::cat({z_, z.to(z_.options())});
  condition();
}

void ExactGP::optimise_hyperparameters() {
  const int64_t d = Xn_.size(1);
  const auto opts = Xn_.options();
  std::vector<double> lo(d + 2), hi(d + 2);
  for (int64_t i = 0; i < d; ++i) {
    lo[i] = std::log(config_.lengthscale_min);
    hi[i] = std::log(config_.lengthscale_max);
  }
  lo[d] = std::log(config_.outputscale_min);
  hi[d] = std::log(config_.outputscale_max);
  lo[d + 1] = std::log(config_.noise_min);
  hi[d + 1] = std::log(config_.noise_max);
  const double n = static_cast<double>(Xn_.size(0));

  // Starting points: the current hyperparameters (warm start) or a default
  // (lengthscale 0.5 in the unit cube, unit signal, small noise), then
  // log-uniform random draws.
  std::mt19937_64 rng(config_.seed);
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  auto draw = [&](double a, double b) { return std::log(a) + unif(rng) * (std::log(b) - std::log(a)); };
  std::vector<std::vector<double>> starts;
  std::vector<double> first(d + 2);
  if (config_.warm_start && has_hyper_ && static_cast<int64_t>(hyper_.lengthscale.size()) == d) {
    for (int64_t i = 0; i < d; ++i) first[i] = std::log(hyper_.lengthscale[i]);
    first[d] = std::log(hyper_.outputscale);
    first[d + 1] = std::log(hyper_.noise);
  } else {
    for (int64_t i = 0; i < d; ++i) first[i] = std::log(0.5);
    first[d] = 0.0;
    first[d + 1] = std::log(1e-2);
  }
  starts.push_back(first);
  for (int r = 1; r < config_.restarts; ++r) {
    std::vector<double> s(d + 2);
    for (int64_t i = 0; i < d; ++i) s[i] = draw(0.05, 3.0);
    s[d] = draw(0.3, 3.0);
    s[d + 1] = draw(1e-5, 0.3);
    starts.push_back(s);
  }

  auto neg_mll = [&](const torch::Tensor& raw) {
    auto p = raw.exp();
    auto K = covariance(kind_, Xn_, Xn_, p.slice(0, 0, d), p[d]) + p[d + 1] * torch::eye(Xn_.size(0), opts);
    auto f = cholesky_with_jitter(K, "GP covariance");
    return -gaussian_log_marginal(f.L, z_) / n;
  };
  std::string last_error;
  const auto best_raw = minimise_multistart(neg_mll, starts, lo, hi, config_.max_iter, opts, &last_error);
  if (best_raw.empty())
    throw FittingError(str("ExactGP: no hyperparameter start gave a usable fit (", starts.size(),
                           " starts); last error: ", last_error));
  GPHyperparameters h;
  for (int64_t i = 0; i < d; ++i) h.lengthscale.push_back(std::exp(best_raw[i]));
  h.outputscale = std::exp(best_raw[d]);
  h.noise = std::exp(best_raw[d + 1]);
  hyper_ = h;
  has_hyper_ = true;
}

Posterior ExactGP::latent_posterior(const torch::Tensor& X) const {
  check_fitted("latent_posterior");
  auto Xn = check_inputs(X, "latent_posterior");
  // Differentiable in X when X requires grad (acquisition optimisation).
  std::optional<torch::NoGradGuard> no_grad;
  if (!X.requires_grad()) no_grad.emplace();
  const int64_t m = Xn.size(0);
  auto mean = torch::empty({m}, Xn.options());
  auto var = torch::empty({m}, Xn.options());
  auto LinvT = Linv_.transpose(0, 1);
  for (int64_t s = 0; s < m; s += config_.predict_chunk) {
    const int64_t e = std::min(m, s + config_.predict_chunk);
    auto Ks = covariance(kind_, Xn.slice(0, s, e), Xn_, ls_, os_);  // [c, n]
    mean.slice(0, s, e).copy_(at::mv(Ks, alpha_));
    auto V = at::matmul(Ks, LinvT);  // rows: L^-1 k(X, x)
    var.slice(0, s, e).copy_((os_ - V.pow(2).sum(1)).clamp_min(0.0));
  }
  return {mean.unsqueeze(1), var.unsqueeze(1)};
}

Posterior ExactGP::latent_posterior_direct(const torch::Tensor& X) const {
  check_fitted("latent_posterior_direct");
  auto Xn = check_inputs(X, "latent_posterior_direct").contiguous();
  torch::NoGradGuard no_grad;
  const auto ks = kind_ == CovarianceKind::RBF ? kernels::KernelKind::RBF : kernels::KernelKind::Matern52;
  const double os = os_.item<double>();
  const int64_t m = Xn.size(0);
  auto mean = torch::empty({m}, Xn.options());
  auto var = torch::empty({m}, Xn.options());
  const auto LinvT = Linv_.transpose(0, 1).contiguous();
  // Pieces of 4096 rows: their temporaries stay in cache and are not fresh pages from the kernel each time.
  // The mean is an ATen row sum rather than a BLAS matrix-vector product, whose threads may split the sum.
  for (int64_t s = 0; s < m; s += 4096) {
    const int64_t e = std::min(m, s + 4096);
    auto Ks = kernels::kernel_matrix(Xn.slice(0, s, e), Xn_, ls_, os, ks);  // [c, n]
    mean.slice(0, s, e).copy_((Ks * alpha_).sum(1));
    auto V = at::matmul(Ks, LinvT);
    var.slice(0, s, e).copy_((os - (V * V).sum(1)).clamp_min(0.0));
  }
  return {mean.unsqueeze(1), var.unsqueeze(1)};
}

Posterior ExactGP::posterior(const torch::Tensor& X) const { return transform_.untransform(latent_posterior(X)); }

Posterior ExactGP::loo_latent() const {
  check_fitted("loo_latent");
  torch::NoGradGuard no_grad;
  auto kinv_diag = Linv_.pow(2).sum(0);  // diag(K^-1), K^-1 = Linv^T Linv
  auto mean = z_ - alpha_ / kinv_diag;
  auto var = (kinv_diag.reciprocal() - latent_noise()).clamp_min(1e-12);
  return {mean.unsqueeze(1), var.unsqueeze(1)};
}

torch::Tensor ExactGP::prior_covariance(const torch::Tensor& A, const torch::Tensor& B) const {
  check_fitted("prior_covariance");
  return covariance(kind_, check_inputs(A, "prior_covariance"), check_inputs(B, "prior_covariance"), ls_, os_);
}

torch::Tensor ExactGP::latent_covariance(const torch::Tensor& A, const torch::Tensor& B) const {
  check_fitted("latent_covariance");
  auto An = check_inputs(A, "latent_covariance");
  auto Bn = check_inputs(B, "latent_covariance");
  std::optional<torch::NoGradGuard> no_grad;
  if (!A.requires_grad() && !B.requires_grad()) no_grad.emplace();
  auto KxB = covariance(kind_, Xn_, Bn, ls_, os_);  // [n, b]
  auto W = at::cholesky_solve(KxB, L_);              // K^-1 k(X, B)
  auto out = torch::empty({An.size(0), Bn.size(0)}, An.options());
  for (int64_t s = 0; s < An.size(0); s += config_.predict_chunk) {
    const int64_t e = std::min(An.size(0), s + config_.predict_chunk);
    auto Ac = An.slice(0, s, e);
    out.slice(0, s, e).copy_(covariance(kind_, Ac, Bn, ls_, os_) - at::matmul(covariance(kind_, Ac, Xn_, ls_, os_), W));
  }
  return out;
}

torch::Tensor ExactGP::transform_outcome(const torch::Tensor& Y) const {
  SOZAI_CHECK(transform_.fitted(), "ExactGP::transform_outcome: the model has no data yet; call fit() first");
  return transform_.forward(Y);
}

torch::Tensor ExactGP::untransform_outcome(const torch::Tensor& Z) const {
  SOZAI_CHECK(transform_.fitted(), "ExactGP::untransform_outcome: the model has no data yet; call fit() first");
  return transform_.inverse(Z);
}

}  // namespace sozai
