#include "common/error.h"
#include "models/gp/linalg.h"
#include "models/gp/multitask_gp.h"

#include <ATen/ATen.h>

#include <cmath>
#include <optional>
#include <random>

namespace sozai {

MultiTaskGP::MultiTaskGP(MultiTaskGPConfig config)
    : config_(std::move(config)),
      kind_(covariance_kind_from_string(config_.kernel)),
      transform_(OutcomeTransformConfig{config_.outcome_transform}) {
  SOZAI_CHECK(config_.num_tasks >= 1 && config_.rank >= 1 && config_.restarts >= 1,
              "MultiTaskGP: num_tasks, rank and restarts must be >= 1");
}

void MultiTaskGP::set_input_bounds(const torch::Tensor& lower, const torch::Tensor& upper) {
  SOZAI_CHECK(lower.dim() == 1 && upper.sizes() == lower.sizes(), "MultiTaskGP: bounds must be two [d] tensors");
  lower_ = lower.to(torch::kFloat64);
  width_ = (upper.to(torch::kFloat64) - lower_);
  width_ = torch::where(width_ > 0, width_, torch::ones_like(width_));
  fixed_bounds_ = true;
}

torch::Tensor MultiTaskGP::normalise(const torch::Tensor& X, const char* what) const {
  SOZAI_CHECK(X.dim() == 2 && X.size(1) == lower_.size(0) + 1, "MultiTaskGP::", what, ": X must be [n, ",
              lower_.size(0) + 1, "] (inputs, then the task), got ", X.sizes());
  auto x = X.to(torch::kFloat64);
  auto t = x.select(1, x.size(1) - 1);
  auto bad = (t != t.round()) | (t < 0) | (t >= config_.num_tasks);
  if (bad.any().item<bool>()) {
    const auto row = torch::nonzero(bad).index({0, 0}).item<int64_t>();
    throw InputError(str("MultiTaskGP::", what, ": row ", row, " has task ", t[row].item<double>(),
                         ", not an integer in [0, ", config_.num_tasks, ")"));
  }
  auto d = x.size(1) - 1;
  return torch::cat({(x.slice(1, 0, d) - lower_) / width_, t.unsqueeze(1)}, 1);
}

torch::Tensor MultiTaskGP::prior(const torch::Tensor& A, const torch::Tensor& Bx, const torch::Tensor& ls,
                                 const torch::Tensor& taskcov) const {
  const int64_t d = A.size(1) - 1;
  auto one = torch::ones({}, A.options());
  auto K = covariance(kind_, A.slice(1, 0, d), Bx.slice(1, 0, d), ls, one);
  auto ta = A.select(1, d).to(torch::kLong), tb = Bx.select(1, d).to(torch::kLong);
  return K * taskcov.index_select(0, ta).index_select(1, tb);
}

void MultiTaskGP::fit(const Dataset& data) {
  const auto& X = data.X;
  SOZAI_CHECK(X.defined() && X.dim() == 2 && X.size(0) >= 1 && X.size(1) >= 2,
              "MultiTaskGP::fit: X must be [n, d + 1] with the task last, got ",
              X.defined() ? X.sizes() : at::IntArrayRef{});
  auto y = data.Y.reshape({-1}).to(torch::kFloat64);
  SOZAI_CHECK(y.size(0) == X.size(0), "MultiTaskGP::fit: ", X.size(0), " inputs but ", y.size(0), " targets");
  const int64_t d = X.size(1) - 1, T = config_.num_tasks, R = config_.rank;
  if (!fixed_bounds_) {
    auto xs = X.slice(1, 0, d).to(torch::kFloat64);
    lower_ = std::get<0>(xs.min(0));
    width_ = std::get<0>(xs.max(0)) - lower_;
    width_ = torch::where(width_ > 0, width_, torch::ones_like(width_));
  }
  Xn_ = normalise(X, "fit");
  transform_.fit(y);
  z_ = transform_.forward(y);
  const auto opts = Xn_.options();

  // Parameters: log lengthscales [d], W [T R], log v [T], log noise [T].
  const int64_t P = d + T * R + 2 * T;
  std::vector<double> lo(P), hi(P);
  for (int64_t i = 0; i < d; ++i) lo[i] = std::log(1e-3), hi[i] = std::log(1e5);
  for (int64_t i = d; i < d + T * R; ++i) lo[i] = -10.0, hi[i] = 10.0;
  for (int64_t i = d + T * R; i < d + T * R + T; ++i) lo[i] = std::log(1e-6), hi[i] = std::log(1e2);
  for (int64_t i = d + T * R + T; i < P; ++i) lo[i] = std::log(config_.noise_min), hi[i] = std::log(config_.noise_max);
  std::mt19937_64 rng(config_.seed);
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  std::normal_distribution<double> gauss(0.0, 1.0);
  auto logu = [&](double a, double b) { return std::log(a) + unif(rng) * (std::log(b) - std::log(a)); };
  std::vector<std::vector<double>> starts;
  for (int r = 0; r < config_.restarts; ++r) {
    std::vector<double> s(P);
    for (int64_t i = 0; i < d; ++i) s[i] = r == 0 ? std::log(0.5) : logu(0.05, 3.0);
    // First start: tasks strongly correlated (W = 1/sqrt(R)), the usual prior
    // belief for fidelities of one quantity.
    for (int64_t i = d; i < d + T * R; ++i) s[i] = r == 0 ? 1.0 / std::sqrt(static_cast<double>(R)) : gauss(rng);
    for (int64_t i = d + T * R; i < d + T * R + T; ++i) s[i] = r == 0 ? std::log(0.1) : logu(0.01, 1.0);
    for (int64_t i = d + T * R + T; i < P; ++i) s[i] = r == 0 ? std::log(1e-2) : logu(1e-5, 0.3);
    starts.push_back(s);
  }
  const double n = static_cast<double>(Xn_.size(0));
  auto tasks = Xn_.select(1, d).to(torch::kLong);
  auto unpack = [&](const torch::Tensor& raw, torch::Tensor* ls, torch::Tensor* Bm, torch::Tensor* noise) {
    *ls = raw.slice(0, 0, d).exp();
    auto W = raw.slice(0, d, d + T * R).reshape({T, R});
    *Bm = torch::matmul(W, W.t()) + torch::diag(raw.slice(0, d + T * R, d + T * R + T).exp());
    *noise = raw.slice(0, d + T * R + T, P).exp();
  };
  auto neg_mll = [&](const torch::Tensor& raw) {
    torch::Tensor ls, Bm, noise;
    unpack(raw, &ls, &Bm, &noise);
    auto K = prior(Xn_, Xn_, ls, Bm) + torch::diag(noise.index_select(0, tasks));
    auto f = cholesky_with_jitter(K, "multi-task GP covariance");
    return -gaussian_log_marginal(f.L, z_) / n;
  };
  std::string last_error;
  auto best = minimise_multistart(neg_mll, starts, lo, hi, config_.max_iter, opts, &last_error);
  if (best.empty())
    throw FittingError(str("MultiTaskGP: no hyperparameter start gave a usable fit; last error: ", last_error));
  auto raw = torch::tensor(best, torch::kFloat64).to(opts);
  unpack(raw, &ls_, &B_, &noise_);
  fitted_ = true;
  condition();
}

void MultiTaskGP::condition() {
  torch::NoGradGuard no_grad;
  auto tasks = Xn_.select(1, Xn_.size(1) - 1).to(torch::kLong);
  auto K = prior(Xn_, Xn_, ls_, B_) + torch::diag(noise_.index_select(0, tasks));
  L_ = cholesky_with_jitter(K, "multi-task GP covariance").L;
  alpha_ = at::cholesky_solve(z_.unsqueeze(1), L_).squeeze(1);
}

void MultiTaskGP::append_latent(const torch::Tensor& X, const torch::Tensor& z) {
  check_fitted("append_latent");
  auto Xn = normalise(X, "append_latent");
  SOZAI_CHECK(z.dim() == 1 && z.size(0) == X.size(0), "MultiTaskGP::append_latent: z must be [", X.size(0), "]");
  Xn_ = torch::cat({Xn_, Xn});
  z_ = torch::cat({z_, z.to(z_.options())});
  condition();
}

void MultiTaskGP::check_fitted(const char* what) const {
  SOZAI_CHECK(fitted_, "MultiTaskGP::", what, ": the model has no data yet; call fit() first");
}

Posterior MultiTaskGP::latent_posterior(const torch::Tensor& X) const {
  check_fitted("latent_posterior");
  std::optional<torch::NoGradGuard> no_grad;
  if (!X.requires_grad()) no_grad.emplace();
  auto Xn = normalise(X, "latent_posterior");
  auto Ks = prior(Xn, Xn_, ls_, B_);
  auto mean = at::mv(Ks, alpha_);
  auto V = at::linalg_solve_triangular(L_, Ks.t(), /*upper=*/false);
  auto tasks = Xn.select(1, Xn.size(1) - 1).to(torch::kLong);
  auto var = (B_.diagonal().index_select(0, tasks) - V.pow(2).sum(0)).clamp_min(0.0);
  return {mean.unsqueeze(1), var.unsqueeze(1)};
}

Posterior MultiTaskGP::posterior(const torch::Tensor& X) const { return transform_.untransform(latent_posterior(X)); }

torch::Tensor MultiTaskGP::latent_covariance(const torch::Tensor& A, const torch::Tensor& B) const {
  check_fitted("latent_covariance");
  std::optional<torch::NoGradGuard> no_grad;
  if (!A.requires_grad() && !B.requires_grad()) no_grad.emplace();
  auto An = normalise(A, "latent_covariance"), Bn = normalise(B, "latent_covariance");
  auto Va = at::linalg_solve_triangular(L_, prior(Xn_, An, ls_, B_), false);
  auto Vb = at::linalg_solve_triangular(L_, prior(Xn_, Bn, ls_, B_), false);
  return prior(An, Bn, ls_, B_) - torch::matmul(Va.t(), Vb);
}

torch::Tensor MultiTaskGP::latent_cross_covariance(const torch::Tensor& A, const torch::Tensor& B) const {
  check_fitted("latent_cross_covariance");
  SOZAI_CHECK(A.sizes() == B.sizes(), "MultiTaskGP::latent_cross_covariance: A and B must have one shape");
  std::optional<torch::NoGradGuard> no_grad;
  if (!A.requires_grad() && !B.requires_grad()) no_grad.emplace();
  auto An = normalise(A, "latent_cross_covariance"), Bn = normalise(B, "latent_cross_covariance");
  const int64_t d = An.size(1) - 1;
  auto one = torch::ones({}, An.options());
  auto kx = covariance(kind_, An.slice(1, 0, d), Bn.slice(1, 0, d), ls_, one).diagonal();
  auto ta = An.select(1, d).to(torch::kLong), tb = Bn.select(1, d).to(torch::kLong);
  auto prior_ab = kx * B_.index({ta, tb});
  auto Va = at::linalg_solve_triangular(L_, prior(Xn_, An, ls_, B_), false);
  auto Vb = at::linalg_solve_triangular(L_, prior(Xn_, Bn, ls_, B_), false);
  return prior_ab - (Va * Vb).sum(0);
}

Posterior MultiTaskGP::loo_latent() const {
  check_fitted("loo_latent");
  torch::NoGradGuard no_grad;
  auto kinv_diag = at::cholesky_inverse(L_).diagonal();
  auto tasks = Xn_.select(1, Xn_.size(1) - 1).to(torch::kLong);
  auto mean = z_ - alpha_ / kinv_diag;
  auto var = (kinv_diag.reciprocal() - noise_.index_select(0, tasks)).clamp_min(1e-12);
  return {mean.unsqueeze(1), var.unsqueeze(1)};
}

double MultiTaskGP::latent_noise() const {
  check_fitted("latent_noise");
  return noise_.max().item<double>();
}

double MultiTaskGP::task_noise(int64_t t) const {
  check_fitted("task_noise");
  SOZAI_CHECK(t >= 0 && t < config_.num_tasks, "MultiTaskGP::task_noise: task ", t, " outside [0, ",
              config_.num_tasks, ")");
  return noise_[t].item<double>();
}

torch::Tensor MultiTaskGP::task_covariance() const {
  check_fitted("task_covariance");
  return B_;
}

double MultiTaskGP::task_correlation(int64_t a, int64_t b) const {
  check_fitted("task_correlation");
  return (B_[a][b] / (B_[a][a] * B_[b][b]).sqrt()).item<double>();
}

torch::Tensor MultiTaskGP::transform_outcome(const torch::Tensor& Y) const {
  check_fitted("transform_outcome");
  return transform_.forward(Y);
}

torch::Tensor MultiTaskGP::untransform_outcome(const torch::Tensor& Z) const {
  check_fitted("untransform_outcome");
  return transform_.inverse(Z);
}

std::string MultiTaskGP::name() const {
  return str("MultiTaskGP(", to_string(kind_), ", ", config_.num_tasks, " tasks, rank ", config_.rank, ")");
}

}  // namespace sozai
