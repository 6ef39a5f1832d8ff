#include "models/gp/transfer.h"
#include "common/blas.h"
#include "common/error.h"
#include "common/strings.h"
#include "models/forest/random_forest.h"
#include "models/gp/linalg.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <cmath>
#include <future>
#include <numeric>
#include <optional>
#include <random>

namespace sozai {

namespace {

constexpr int64_t kChunk = 4096;

torch::Tensor flat64(const torch::Tensor& t) { return t.reshape({-1}).to(torch::kCPU, torch::kFloat64).contiguous(); }

/// Ranking losses of sample rows F [S, n] against y [n] (ranking_loss per row).
torch::Tensor sample_ranking_losses(const torch::Tensor& F, const torch::Tensor& y) {
  // Only the pairs i < j with y_i != y_j count: list them once and compare
  // every sample's (f_j - f_i) with sign(y_j - y_i) on them. A loop, not
  // tensors of [samples, pairs]: those were megabytes, allocated afresh on
  // every ask, and their page faults took most of the RGPE weights' time.
  const auto ty = flat64(y);
  const auto f = F.to(torch::kCPU, torch::kFloat64).contiguous();
  const int64_t n = ty.size(0), S = f.size(0);
  SOZAI_CHECK(f.dim() == 2 && f.size(1) == n, "sample_ranking_losses: samples of ", f.size(-1), " values for ", n,
              " targets");
  const double* yv = ty.data_ptr<double>();
  std::vector<int64_t> first, second;
  std::vector<double> sign;  // sign(y_j - y_i), as torch::sign (0 for NaN)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) {
      if (!(yv[i] != yv[j])) continue;
      const double d = yv[j] - yv[i];
      first.push_back(i);
      second.push_back(j);
      sign.push_back(d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0);
    }
  const auto P = static_cast<int64_t>(sign.size());
  auto out = torch::zeros({S}, torch::kFloat64);
  if (P == 0) return out;
  double* o = out.data_ptr<double>();
  for (int64_t s = 0; s < S; ++s) {
    const double* fs = f.data_ptr<double>() + s * n;
    int64_t wrong = 0, ties = 0;
    for (int64_t p = 0; p < P; ++p) {
      const double prod = (fs[second[p]] - fs[first[p]]) * sign[p];
      wrong += prod < 0;
      ties += prod == 0;
    }
    o[s] = (static_cast<double>(wrong) + 0.5 * static_cast<double>(ties)) / static_cast<double>(P);
  }
  return out;
}

/// Standard normal draws [rows, cols], seeded (the same on every machine).
torch::Tensor seeded_normal(int64_t rows, int64_t cols, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return at::normal(0.0, 1.0, {rows, cols}, gen, torch::dtype(torch::kFloat64));
}

double quantile_of(const torch::Tensor& v, double q) { return torch::quantile(v, q).item<double>(); }

}  // namespace

// ------------------------------------------------------------ settings

const std::vector<std::string>& transfer_methods() {
  static const std::vector<std::string> m = {"auto", "rgpe", "residual", "mtgp", "none"};
  return m;
}

void TransferConfig::validate(const std::string& where) const {
  const auto& known = transfer_methods();
  SOZAI_CHECK(std::find(known.begin(), known.end(), method) != known.end(), where, ": unknown transfer method '",
              method, "' (expected ", join(known), ")");
  for (const auto& m : auto_methods)
    SOZAI_CHECK(m == "rgpe" || m == "residual" || m == "mtgp", where,
                ": auto_methods holds '", m, "'; it takes rgpe, residual and mtgp");
  SOZAI_CHECK(source_rows >= 1 && forest_rows >= 1 && source_fit_rows >= 1 && mtgp_rows >= 1 && mtgp_rank >= 1 &&
                  rgpe_samples >= 1,
              where, ": source_rows, forest_rows, source_fit_rows, mtgp_rows, mtgp_rank and rgpe_samples must be >= 1");
  SOZAI_CHECK(components >= 0, where, ": components must be >= 0, got ", components);
  SOZAI_CHECK(neighbours >= 0, where, ": neighbours must be >= 0, got ", neighbours);
  SOZAI_CHECK(auto_margin >= 0 && auto_margin <= 1, where, ": auto_margin must be in [0, 1], got ", auto_margin);
  SOZAI_CHECK(source_model == "gp" || source_model == "forest", where, ": unknown source_model '", source_model,
              "' (expected gp or forest)");
  SOZAI_CHECK(initial == "prior" || initial == "random", where, ": unknown initial design '", initial,
              "' (expected prior or random)");
  SOZAI_CHECK(std::isfinite(prior_belief) && prior_belief >= 0, where, ": prior_belief must be a finite number >= 0, got ",
              prior_belief);
}

// ------------------------------------------------------------ helpers

double ranking_loss(const torch::Tensor& pred, const torch::Tensor& y) {
  auto p = flat64(pred), t = flat64(y);
  SOZAI_CHECK(p.size(0) == t.size(0), "ranking_loss: ", p.size(0), " predictions for ", t.size(0), " targets");
  if (t.size(0) < 2) return 0.0;
  return sample_ranking_losses(p.unsqueeze(0), t)[0].item<double>();
}

namespace {

// nearest_rows' neighbourhood: for each row of Cs its k nearest rows of
// S / w; rows ordered by the best rank at which they appear, then by
// distance; at most m.
std::vector<int64_t> neighbourhood_rows(const torch::Tensor& S, const torch::Tensor& Cs, const torch::Tensor& w,
                                        int64_t k, int64_t m) {
  const int64_t N = S.size(0);
  k = std::min(k, N);
  auto rank = torch::full({N}, k, torch::kInt64);
  auto dist = torch::full({N}, std::numeric_limits<double>::infinity(), torch::kFloat64);
  for (int64_t c = 0; c < Cs.size(0); c += kChunk) {
    auto Cc = Cs.slice(0, c, std::min(Cs.size(0), c + kChunk));
    auto best_d = torch::empty({Cc.size(0), 0}, torch::kFloat64);
    auto best_i = torch::empty({Cc.size(0), 0}, torch::kInt64);
    for (int64_t s = 0; s < N; s += kChunk) {
      const int64_t e = std::min(N, s + kChunk);
      auto d = torch::cdist(Cc, S.slice(0, s, e).to(torch::kFloat64) / w);  // [c, e - s]
      auto idx = torch::arange(s, e, torch::kInt64).unsqueeze(0).expand({Cc.size(0), e - s});
      auto all_d = torch::cat({best_d, d}, 1), all_i = torch::cat({best_i, idx}, 1);
      auto top = torch::topk(all_d, std::min<int64_t>(k, all_d.size(1)), 1, /*largest=*/false, /*sorted=*/true);
      best_d = std::get<0>(top);
      best_i = all_i.gather(1, std::get<1>(top));
    }
    // Each row keeps the best rank and the least distance it has as a
    // neighbour: order the (row, rank, distance) triples by row, then rank,
    // then distance (stable sorts, least significant key first) and take
    // each row's first.
    auto rows = best_i.reshape({-1});
    auto ranks = torch::arange(best_i.size(1), torch::kInt64).unsqueeze(0).expand_as(best_i).reshape({-1});
    auto dists = best_d.reshape({-1});
    auto o = std::get<1>(torch::sort(dists, /*stable=*/true, 0, false));
    for (const auto& key : {ranks, rows}) {
      auto o2 = std::get<1>(torch::sort(key.index_select(0, o), /*stable=*/true, 0, false));
      o = o.index_select(0, o2);
    }
    rows = rows.index_select(0, o), ranks = ranks.index_select(0, o), dists = dists.index_select(0, o);
    auto first = torch::ones({rows.size(0)}, torch::kBool);
    if (rows.size(0) > 1) first.slice(0, 1).copy_(rows.slice(0, 1) != rows.slice(0, 0, -1));
    auto pick = torch::nonzero(first).reshape({-1});
    rows = rows.index_select(0, pick);
    rank.index_put_({rows}, torch::minimum(rank.index_select(0, rows), ranks.index_select(0, pick)));
    dist.index_put_({rows}, torch::minimum(dist.index_select(0, rows), dists.index_select(0, pick)));
  }
  auto in = torch::nonzero(rank < k).reshape({-1});
  // Order by rank, then distance, then row (stable sorts, least significant first).
  auto order = std::get<1>(torch::sort(dist.index_select(0, in), /*stable=*/true, 0, false));
  in = in.index_select(0, order);
  order = std::get<1>(torch::sort(rank.index_select(0, in), /*stable=*/true, 0, false));
  in = in.index_select(0, order).slice(0, 0, m).contiguous();
  return std::vector<int64_t>(in.data_ptr<int64_t>(), in.data_ptr<int64_t>() + in.numel());
}

}  // namespace

std::vector<int64_t> nearest_rows(const torch::Tensor& S, const torch::Tensor& C, const torch::Tensor& width,
                                  int64_t m, uint64_t seed, int64_t neighbours) {
  const int64_t N = S.size(0);
  std::vector<int64_t> all(N);
  std::iota(all.begin(), all.end(), 0);
  if (N <= m) return all;
  if (!C.defined() || C.size(0) == 0) {
    std::mt19937_64 rng(seed);
    for (int64_t i = 0; i < m; ++i) {
      std::uniform_int_distribution<int64_t> pick(i, N - 1);
      std::swap(all[i], all[pick(rng)]);
    }
    all.resize(m);
    std::sort(all.begin(), all.end());
    return all;
  }
  torch::NoGradGuard no_grad;
  auto w = width.to(torch::kFloat64);
  auto Cs = (C.to(torch::kFloat64) / w).contiguous();
  if (neighbours > 0) return neighbourhood_rows(S, Cs, w, neighbours, m);
  auto best = torch::empty({N}, torch::kFloat64);
  for (int64_t s = 0; s < N; s += kChunk) {
    const int64_t e = std::min(N, s + kChunk);
    auto Ss = S.slice(0, s, e).to(torch::kFloat64) / w;
    auto dmin = torch::full({e - s}, std::numeric_limits<double>::infinity(), torch::kFloat64);
    for (int64_t c = 0; c < Cs.size(0); c += kChunk) {
      auto d = torch::cdist(Ss, Cs.slice(0, c, std::min(Cs.size(0), c + kChunk)));
      dmin = torch::minimum(dmin, std::get<0>(d.min(1)));
    }
    best.slice(0, s, e).copy_(dmin);
  }
  // Stable order: by distance, then by row.
  auto order = std::get<1>(torch::sort(best, /*stable=*/true, /*dim=*/0, /*descending=*/false));
  auto keep = order.slice(0, 0, m);
  return std::vector<int64_t>(keep.data_ptr<int64_t>(), keep.data_ptr<int64_t>() + m);
}

std::vector<std::shared_ptr<const Surrogate>> fit_source_models(const std::vector<TransferSource>& sources,
                                                           const ExactGPConfig& gp, const TransferConfig& config,
                                                           const torch::Tensor& candidates, const torch::Tensor& lo,
                                                           const torch::Tensor& hi, uint64_t seed) {
  std::vector<std::shared_ptr<const Surrogate>> out;
  auto width = (hi - lo).to(torch::kFloat64);
  width = torch::where(width > 0, width, torch::ones_like(width));
  for (size_t k = 0; k < sources.size(); ++k) {
    const auto& s = sources[k];
    SOZAI_CHECK(s.X.defined() && s.X.dim() == 2 && s.X.size(1) == lo.size(0) && s.y.defined() &&
                    s.y.numel() == s.X.size(0) && s.X.size(0) >= 2,
                "transfer: source '", s.name, "' must hold at least 2 rows of ", lo.size(0), " inputs and one outcome");
    const uint64_t sk = seed + 1000003ULL * (k + 1);
    const bool forest = config.source_model == "forest";
    auto keep = nearest_rows(s.X, candidates, width, forest ? config.forest_rows : config.source_rows, sk,
                             config.neighbours);
    auto idx = torch::tensor(keep, torch::kInt64);
    auto X = s.X.index_select(0, idx).to(torch::kFloat64), y = flat64(s.y).index_select(0, idx);
    if (forest) {
      RandomForestConfig fc;
      fc.seed = sk;
      auto forest = std::make_shared<RandomForest>(fc);
      forest->fit(Dataset{X, y});
      out.push_back(std::move(forest));
      continue;
    }
    auto fit_idx = torch::tensor(nearest_rows(X, torch::Tensor(), width, config.source_fit_rows, sk + 1), torch::kInt64);
    ExactGPConfig g = gp;
    g.seed = sk;
    auto model = std::make_shared<ExactGP>(g);
    model->set_input_bounds(lo, hi);
    try {
      model->fit(Dataset{X.index_select(0, fit_idx), y.index_select(0, fit_idx)});
      // Inputs the source never varies (an element it lacks) say nothing about
      // how its outcome depends on them: the GP ignores them (longest
      // lengthscale), so that, as a tree would, it predicts the target's rows
      // from the inputs it knows instead of reverting to its mean with a
      // large variance wherever the target varies them.
      auto h = model->hyperparameters();
      auto constant = (std::get<0>(s.X.max(0)) - std::get<0>(s.X.min(0))) <= 0;
      for (int64_t j = 0; j < constant.size(0); ++j)
        if (constant[j].item<bool>()) h.lengthscale[j] = gp.lengthscale_max;
      model->set_hyperparameters(h);
      model->set_data(Dataset{X, y});
    } catch (const FittingError& e) {
      throw FittingError(str("transfer: the GP of source '", s.name, "' could not be fitted: ", e.what()));
    }
    out.push_back(std::move(model));
  }
  return out;
}

// ------------------------------------------------------------ tabulated

namespace {
std::string row_key(const double* row, int64_t d) {
  return std::string(reinterpret_cast<const char*>(row), static_cast<size_t>(d) * sizeof(double));
}
}  // namespace

TabulatedModel::TabulatedModel(std::shared_ptr<const Surrogate> model, const torch::Tensor& rows)
    : model_(std::move(model)) {
  SOZAI_CHECK(model_ && rows.defined() && rows.dim() == 2, "TabulatedModel: needs a model and rows [N, d]");
  torch::NoGradGuard no_grad;
  auto R = rows.to(torch::kCPU, torch::kFloat64).contiguous();
  d_ = R.size(1);
  std::vector<torch::Tensor> means, vars;
  for (int64_t s = 0; s < R.size(0); s += kChunk) {
    auto p = model_->latent_posterior(R.slice(0, s, std::min(R.size(0), s + kChunk)));
    means.push_back(p.mean.reshape({-1}).to(torch::kFloat64));
    vars.push_back(p.variance.reshape({-1}).to(torch::kFloat64));
  }
  mean_ = R.size(0) ? torch::cat(means) : torch::empty({0}, torch::kFloat64);
  var_ = R.size(0) ? torch::cat(vars) : torch::empty({0}, torch::kFloat64);
  const double* r = R.data_ptr<double>();
  for (int64_t i = 0; i < R.size(0); ++i) index_.emplace(row_key(r + i * d_, d_), i);
}

void TabulatedModel::fit(const Dataset&) {
  throw InputError("TabulatedModel: " + model_->name() + " is fitted already; fit the model it holds instead");
}

Posterior TabulatedModel::latent_posterior(const torch::Tensor& X) const {
  if (X.requires_grad() || X.dim() != 2 || X.size(1) != d_ || X.scalar_type() != torch::kFloat64 || !X.device().is_cpu())
    return model_->latent_posterior(X);
  auto Xc = X.contiguous();
  const double* x = Xc.data_ptr<double>();
  const int64_t n = Xc.size(0);
  std::vector<int64_t> at(n), missing;
  for (int64_t i = 0; i < n; ++i) {
    auto it = index_.find(row_key(x + i * d_, d_));
    at[i] = it == index_.end() ? -1 : it->second;
    if (at[i] < 0) missing.push_back(i);
  }
  auto found = torch::tensor(at, torch::kInt64).clamp_min(0);
  auto mean = mean_.index_select(0, found), var = var_.index_select(0, found);
  if (!missing.empty()) {
    auto idx = torch::tensor(missing, torch::kInt64);
    auto p = model_->latent_posterior(Xc.index_select(0, idx));
    mean.index_copy_(0, idx, p.mean.reshape({-1}).to(torch::kFloat64));
    var.index_copy_(0, idx, p.variance.reshape({-1}).to(torch::kFloat64));
  }
  return {mean.unsqueeze(1), var.unsqueeze(1)};
}

// ------------------------------------------------------------ RGPE

RankingWeightedGP::RankingWeightedGP(std::vector<std::shared_ptr<const Surrogate>> sources,
                                     std::shared_ptr<ExactGP> target, int64_t samples, uint64_t seed)
    : sources_(std::move(sources)), target_(std::move(target)), samples_(samples), seed_(seed) {
  SOZAI_CHECK(target_, "RankingWeightedGP: the target GP is missing");
  SOZAI_CHECK(samples_ >= 1, "RankingWeightedGP: samples must be >= 1, got ", samples_);
}

void RankingWeightedGP::fit(const Dataset& data) {
  target_->fit(data);
  set_fitted_target(data);
}

void RankingWeightedGP::set_fitted_target(const Dataset& data) {
  compute_weights(data.X, flat64(data.Y));
}

void RankingWeightedGP::compute_weights(const torch::Tensor& X, const torch::Tensor& y) {
  torch::NoGradGuard no_grad;
  const int64_t K = static_cast<int64_t>(sources_.size()), n = y.size(0);
  source_means_ = torch::zeros({n, K}, torch::kFloat64);
  for (int64_t k = 0; k < K; ++k) source_means_.select(1, k).copy_(flat64(sources_[k]->latent_posterior(X).mean));
  weights_.assign(K + 1, 0.0);
  auto ty = y.to(torch::kFloat64);
  const bool has_pairs = n >= 2 && (ty.max().item<double>() > ty.min().item<double>());
  if (!has_pairs) {  // nothing to rank: every model alike
    std::fill(weights_.begin(), weights_.end(), 1.0 / static_cast<double>(K + 1));
    return;
  }
  auto losses = torch::empty({samples_, K + 1}, torch::kFloat64);
  for (int64_t k = 0; k < K; ++k) {
    auto C = sources_[k]->latent_covariance(X, X).to(torch::kFloat64);
    auto L = cholesky_with_jitter(0.5 * (C + C.t()), "RGPE source posterior").L;
    auto F = source_means_.select(1, k).unsqueeze(0) +
             torch::matmul(seeded_normal(samples_, n, seed_ + 7919ULL * (k + 1)), L.t());
    losses.select(1, k).copy_(sample_ranking_losses(F, ty));
  }
  auto loo = target_->loo_latent();
  auto F = flat64(loo.mean).unsqueeze(0) + seeded_normal(samples_, n, seed_) * flat64(loo.variance).sqrt().unsqueeze(0);
  losses.select(1, K).copy_(sample_ranking_losses(F, ty));
  // Each sample's best models share its vote.
  auto best = std::get<0>(losses.min(1, /*keepdim=*/true));
  auto winners = (losses == best).to(torch::kFloat64);
  auto votes = (winners / winners.sum(1, true)).mean(0);
  for (int64_t k = 0; k <= K; ++k) weights_[k] = votes[k].item<double>();
  // Weight dilution (Feurer et al. 2018, sec. 3.2): drop a source whose
  // median loss is worse than the target model's 95th percentile.
  const double limit = quantile_of(losses.select(1, K).contiguous(), 0.95);
  for (int64_t k = 0; k < K; ++k)
    if (quantile_of(losses.select(1, k).contiguous(), 0.5) > limit) weights_[k] = 0.0;
  const double total = std::accumulate(weights_.begin(), weights_.end(), 0.0);
  if (total <= 0) {
    std::fill(weights_.begin(), weights_.end(), 0.0);
    weights_[K] = 1.0;
  } else {
    for (auto& w : weights_) w /= total;
  }
}

Posterior RankingWeightedGP::latent_posterior(const torch::Tensor& X) const {
  SOZAI_CHECK(!weights_.empty(), "RankingWeightedGP::latent_posterior: the model has no data yet; call fit() first");
  const int64_t K = static_cast<int64_t>(sources_.size());
  auto p = target_->latent_posterior(X);
  auto mean = weights_[K] * p.mean;
  auto var = weights_[K] * weights_[K] * p.variance;
  for (int64_t k = 0; k < K; ++k) {
    if (weights_[k] == 0.0) continue;
    auto q = sources_[k]->latent_posterior(X);
    mean = mean + weights_[k] * q.mean.to(mean.dtype());
    var = var + weights_[k] * weights_[k] * q.variance.to(var.dtype());
  }
  return {mean, var};
}

Posterior RankingWeightedGP::posterior(const torch::Tensor& X) const {
  return target_->outcome_transform().untransform(latent_posterior(X));
}

torch::Tensor RankingWeightedGP::latent_covariance(const torch::Tensor& A, const torch::Tensor& B) const {
  SOZAI_CHECK(!weights_.empty(), "RankingWeightedGP::latent_covariance: the model has no data yet; call fit() first");
  const int64_t K = static_cast<int64_t>(sources_.size());
  auto C = weights_[K] * weights_[K] * target_->latent_covariance(A, B);
  for (int64_t k = 0; k < K; ++k)
    if (weights_[k] != 0.0) C = C + weights_[k] * weights_[k] * sources_[k]->latent_covariance(A, B).to(C.dtype());
  return C;
}

double RankingWeightedGP::latent_noise() const {
  const int64_t K = static_cast<int64_t>(sources_.size());
  double noise = weights_[K] * weights_[K] * target_->latent_noise();
  for (int64_t k = 0; k < K; ++k) noise += weights_[k] * weights_[k] * sources_[k]->latent_noise();
  return std::max(noise, 1e-9);
}

torch::Tensor RankingWeightedGP::transform_outcome(const torch::Tensor& Y) const { return target_->transform_outcome(Y); }
torch::Tensor RankingWeightedGP::untransform_outcome(const torch::Tensor& Z) const {
  return target_->untransform_outcome(Z);
}

std::string RankingWeightedGP::name() const { return str("RGPE(", sources_.size(), " sources)"); }

torch::Tensor RankingWeightedGP::loo_mean() const {
  const int64_t K = static_cast<int64_t>(sources_.size());
  auto m = weights_[K] * flat64(target_->loo_latent().mean);
  for (int64_t k = 0; k < K; ++k) m = m + weights_[k] * source_means_.select(1, k);
  return m;
}

// ------------------------------------------------------------ residual GP

namespace {
ExactGPConfig standardised(ExactGPConfig c) {
  c.outcome_transform = "standardize";
  return c;
}
}  // namespace

ResidualGP::ResidualGP(std::vector<std::shared_ptr<const Surrogate>> priors, ExactGPConfig gp, double coefficient_sd)
    : priors_(std::move(priors)),
      residual_(standardised(std::move(gp))),
      transform_(OutcomeTransformConfig{"standardize"}) {
  SOZAI_CHECK(!priors_.empty(), "ResidualGP: needs at least one prior model");
  SOZAI_CHECK(coefficient_sd > 0, "ResidualGP: coefficient_sd must be > 0, got ", coefficient_sd);
  coef_var_.assign(priors_.size() + 1, coefficient_sd * coefficient_sd);
}

void ResidualGP::set_coefficient_variances(const std::vector<double>& v) {
  SOZAI_CHECK(v.size() == priors_.size() + 1, "ResidualGP: ", v.size(), " coefficient variances for ",
              priors_.size() + 1, " coefficients");
  for (double x : v) SOZAI_CHECK(x > 0 && std::isfinite(x), "ResidualGP: coefficient variances must be > 0");
  coef_var_ = v;
}

torch::Tensor ResidualGP::basis(const torch::Tensor& X) const {
  std::vector<torch::Tensor> cols = {torch::ones({X.size(0), 1}, X.options().dtype(torch::kFloat64))};
  for (const auto& p : priors_) cols.push_back(p->latent_posterior(X).mean.to(torch::kFloat64));
  return torch::cat(cols, 1);
}

torch::Tensor ResidualGP::total_prior(const torch::Tensor& A, const torch::Tensor& HA, const torch::Tensor& B,
                                      const torch::Tensor& HB) const {
  auto v = torch::tensor(coef_var_, torch::kFloat64);
  return scale_ * residual_.prior_covariance(A, B) + torch::matmul(HA * v, HB.t());
}

void ResidualGP::prepare(const Dataset& data, bool optimise) {
  auto y = flat64(data.Y);
  transform_ = OutcomeTransform(OutcomeTransformConfig{"standardize"});
  transform_.fit(y);
  X_ = data.X.to(torch::kFloat64);
  z_ = transform_.forward(y);
  {
    torch::NoGradGuard no_grad;
    H_ = basis(X_);
  }
  // Ridge start for the coefficients (their priors N(0, v)), then the
  // residual GP on what the basis leaves.
  auto A = torch::matmul(H_.t(), H_) + torch::diag(1.0 / torch::tensor(coef_var_, torch::kFloat64));
  auto beta = at::linalg_solve(A, torch::matmul(H_.t(), z_.unsqueeze(1))).squeeze(1);
  const Dataset residual{X_, z_ - at::mv(H_, beta)};
  if (optimise) residual_.fit(residual);
  else residual_.set_data(residual);
  // The residual GP's latent unit in z units: its standardisation's scale.
  torch::NoGradGuard no_grad;
  auto two = residual_.untransform_outcome(torch::tensor({0.0, 1.0}, torch::kFloat64));
  const double s = (two[1] - two[0]).item<double>();
  scale_ = s * s;
  noise_ = scale_ * residual_.latent_noise();
}

void ResidualGP::optimise_coefficient_variances() {
  torch::Tensor Kf;
  {
    torch::NoGradGuard no_grad;
    Kf = scale_ * residual_.prior_covariance(X_, X_) + noise_ * torch::eye(X_.size(0), torch::kFloat64);
  }
  const double n = static_cast<double>(X_.size(0));
  auto loss = [&](const torch::Tensor& raw) {
    auto K = Kf + torch::matmul(H_ * raw.exp(), H_.t());
    return -gaussian_log_marginal(cholesky_with_jitter(K, "residual GP covariance").L, z_) / n;
  };
  std::vector<double> start;
  for (double v : coef_var_) start.push_back(std::log(v));
  const std::vector<double> lo(start.size(), std::log(1e-6)), hi(start.size(), std::log(1e2));
  std::string error;
  auto best = minimise_multistart(loss, {start}, lo, hi, 50, torch::TensorOptions().dtype(torch::kFloat64), &error);
  if (best.empty()) return;  // keep the prior variances as they were
  for (size_t k = 0; k < best.size(); ++k) coef_var_[k] = std::exp(best[k]);
}

void ResidualGP::fit(const Dataset& data) {
  // A second round when the first moved a coefficient variance by more than
  // a factor 2: a prior model that turns out useless (its variance shrunk)
  // must no longer shape the residuals the GP is fitted on. Warm-started
  // from the last ask the variances rarely move so far, and one round does.
  for (int round = 0; round < 2; ++round) {
    const auto before = coef_var_;
    prepare(data, /*optimise=*/true);
    optimise_coefficient_variances();
    bool moved = false;
    for (size_t k = 0; k < before.size(); ++k)
      moved = moved || std::abs(std::log(coef_var_[k] / before[k])) > std::log(2.0);
    if (!moved) break;
  }
  condition();
}

void ResidualGP::set_data(const Dataset& data) {
  SOZAI_CHECK(residual_.has_hyperparameters(), "ResidualGP::set_data needs the residual GP's hyperparameters");
  prepare(data, /*optimise=*/false);
  condition();
}

void ResidualGP::condition() {
  torch::NoGradGuard no_grad;
  auto K = total_prior(X_, H_, X_, H_) + noise_ * torch::eye(X_.size(0), torch::kFloat64);
  L_ = cholesky_with_jitter(K, "residual GP covariance").L;
  alpha_ = at::cholesky_solve(z_.unsqueeze(1), L_).squeeze(1);
}

Posterior ResidualGP::latent_posterior(const torch::Tensor& X) const {
  SOZAI_CHECK(L_.defined(), "ResidualGP::latent_posterior: the model has no data yet; call fit() first");
  std::optional<torch::NoGradGuard> no_grad;
  if (!X.requires_grad()) no_grad.emplace();
  std::vector<torch::Tensor> means, vars;
  const double os = residual_.hyperparameters().outputscale;
  for (int64_t s = 0; s < X.size(0); s += kChunk) {
    auto Xc = X.slice(0, s, std::min(X.size(0), s + kChunk));
    auto Hc = basis(Xc);
    auto Ks = total_prior(Xc, Hc, X_, H_);  // [c, n]
    means.push_back(at::mv(Ks, alpha_));
    auto V = at::linalg_solve_triangular(L_, Ks.t(), /*upper=*/false);
    auto prior_var = scale_ * os + (Hc.pow(2) * torch::tensor(coef_var_, torch::kFloat64)).sum(1);
    vars.push_back((prior_var - V.pow(2).sum(0)).clamp_min(0.0));
  }
  return {torch::cat(means).unsqueeze(1), torch::cat(vars).unsqueeze(1)};
}

Posterior ResidualGP::posterior(const torch::Tensor& X) const { return transform_.untransform(latent_posterior(X)); }

torch::Tensor ResidualGP::latent_covariance(const torch::Tensor& A, const torch::Tensor& B) const {
  SOZAI_CHECK(L_.defined(), "ResidualGP::latent_covariance: the model has no data yet; call fit() first");
  std::optional<torch::NoGradGuard> no_grad;
  if (!A.requires_grad() && !B.requires_grad()) no_grad.emplace();
  auto HA = basis(A), HB = basis(B);
  auto VA = at::linalg_solve_triangular(L_, total_prior(X_, H_, A, HA), false);
  auto VB = at::linalg_solve_triangular(L_, total_prior(X_, H_, B, HB), false);
  return total_prior(A, HA, B, HB) - torch::matmul(VA.t(), VB);
}

torch::Tensor ResidualGP::transform_outcome(const torch::Tensor& Y) const { return transform_.forward(Y); }
torch::Tensor ResidualGP::untransform_outcome(const torch::Tensor& Z) const { return transform_.inverse(Z); }
std::string ResidualGP::name() const { return str("ResidualGP(", priors_.size(), " prior models)"); }

torch::Tensor ResidualGP::coefficients() const {
  SOZAI_CHECK(L_.defined(), "ResidualGP::coefficients: the model has no data yet; call fit() first");
  return torch::tensor(coef_var_, torch::kFloat64) * at::mv(H_.t(), alpha_);
}

torch::Tensor ResidualGP::loo_mean() const {
  torch::NoGradGuard no_grad;
  auto kinv_diag = at::cholesky_inverse(L_).diagonal();
  return z_ - alpha_ / kinv_diag;
}

// ------------------------------------------------------------ multi-task

MultiTaskTransferGP::MultiTaskTransferGP(std::vector<TransferSource> sources, MultiTaskGPConfig config,
                                         const torch::Tensor& lo, const torch::Tensor& hi)
    : sources_(std::move(sources)), config_(std::move(config)), lo_(lo), hi_(hi) {
  SOZAI_CHECK(!sources_.empty(), "MultiTaskTransferGP: needs at least one source");
  // Each source standardised on its own: the tasks' scales need not agree.
  for (auto& s : sources_) {
    auto y = flat64(s.y);
    const double sd = y.numel() > 1 ? y.std().item<double>() : 1.0;
    s.y = (y - y.mean()) / (sd > 0 ? sd : 1.0);
    s.X = s.X.to(torch::kFloat64);
  }
  config_.num_tasks = static_cast<int64_t>(sources_.size()) + 1;
  config_.rank = std::min(config_.rank, config_.num_tasks);
  config_.outcome_transform = "standardize";
}

torch::Tensor MultiTaskTransferGP::with_task(const torch::Tensor& X) const {
  return torch::cat({X, torch::zeros({X.size(0), 1}, X.options())}, 1);
}

void MultiTaskTransferGP::fit(const Dataset& data) {
  auto y = flat64(data.Y);
  target_transform_ = OutcomeTransform(OutcomeTransformConfig{"standardize"});
  target_transform_.fit(y);
  std::vector<torch::Tensor> xs = {with_task(data.X.to(torch::kFloat64))}, ys = {target_transform_.forward(y)};
  for (size_t k = 0; k < sources_.size(); ++k) {
    const auto& s = sources_[k];
    xs.push_back(torch::cat({s.X, torch::full({s.X.size(0), 1}, static_cast<double>(k + 1), torch::kFloat64)}, 1));
    ys.push_back(s.y);
  }
  n_target_ = y.size(0);
  model_ = std::make_unique<MultiTaskGP>(config_);
  model_->set_input_bounds(lo_, hi_);
  model_->fit(Dataset{torch::cat(xs), torch::cat(ys)});
}

Posterior MultiTaskTransferGP::latent_posterior(const torch::Tensor& X) const {
  SOZAI_CHECK(model_, "MultiTaskTransferGP::latent_posterior: the model has no data yet; call fit() first");
  return model_->latent_posterior(with_task(X));
}

Posterior MultiTaskTransferGP::posterior(const torch::Tensor& X) const {
  SOZAI_CHECK(model_, "MultiTaskTransferGP::posterior: the model has no data yet; call fit() first");
  return target_transform_.untransform(model_->posterior(with_task(X)));
}

torch::Tensor MultiTaskTransferGP::latent_covariance(const torch::Tensor& A, const torch::Tensor& B) const {
  SOZAI_CHECK(model_, "MultiTaskTransferGP::latent_covariance: the model has no data yet; call fit() first");
  return model_->latent_covariance(with_task(A), with_task(B));
}

double MultiTaskTransferGP::latent_noise() const { return model_->task_noise(0); }

torch::Tensor MultiTaskTransferGP::transform_outcome(const torch::Tensor& Y) const {
  return model_->transform_outcome(target_transform_.forward(Y));
}

torch::Tensor MultiTaskTransferGP::untransform_outcome(const torch::Tensor& Z) const {
  return target_transform_.inverse(model_->untransform_outcome(Z));
}

std::string MultiTaskTransferGP::name() const {
  return str("MultiTaskTransferGP(", sources_.size(), " sources, rank ", config_.rank, ")");
}

torch::Tensor MultiTaskTransferGP::loo_mean() const {
  return flat64(model_->loo_latent().mean).slice(0, 0, n_target_);
}

// ------------------------------------------------------------ facade

TransferGP::TransferGP(TransferConfig config, ExactGPConfig gp, std::vector<TransferSource> sources,
                       std::vector<std::shared_ptr<const Surrogate>> source_gps, torch::Tensor lo, torch::Tensor hi,
                       uint64_t seed)
    : config_(std::move(config)),
      gp_(std::move(gp)),
      sources_(std::move(sources)),
      source_gps_(std::move(source_gps)),
      lo_(std::move(lo)),
      hi_(std::move(hi)),
      seed_(seed) {
  config_.validate();
  SOZAI_CHECK(sources_.size() == source_gps_.size(), "TransferGP: ", sources_.size(), " sources but ",
              source_gps_.size(), " source GPs");
}

void TransferGP::set_warm_start(const TransferWarmStart& warm, const TransferFitPolicy& policy) {
  warm_ = warm;
  policy_ = policy;
}

std::shared_ptr<ExactGP> TransferGP::make_gp(const std::vector<GPHyperparameters>& warm) const {
  ExactGPConfig g = gp_;
  g.seed = seed_;
  g.warm_start = true;
  if (!warm.empty() && !policy_.full_refit) g.restarts = 1;
  auto gp = std::make_shared<ExactGP>(g);
  if (!warm.empty()) gp->set_hyperparameters(warm.front());
  gp->set_input_bounds(lo_, hi_);
  return gp;
}

void TransferGP::fit_target(ExactGP& gp, const Dataset& data, bool has_warm) const {
  if (has_warm && policy_.condition_only) gp.set_data(data);
  else gp.fit(data);
}

void TransferGP::fit(const Dataset& data) {
  std::vector<std::string> candidates;
  if (config_.method == "auto") {
    candidates = config_.auto_methods;
    candidates.push_back("none");
  } else {
    candidates = {config_.method};
  }
  if (source_gps_.empty()) candidates = {"none"};
  auto has = [&](const char* m) { return std::find(candidates.begin(), candidates.end(), m) != candidates.end(); };
  const auto y = flat64(data.Y);
  rgpe_.reset();
  residual_.reset();
  mtgp_.reset();
  target_.reset();
  losses_.clear();
  std::map<std::string, std::shared_ptr<Surrogate>> fitted;
  // The residual GP does not depend on the target GP: with both to fit, it
  // is fitted on a second thread meanwhile (each seeds its own draws, so the
  // models are the same as fitted one after the other).
  auto fit_residual = [&, grad = c10::GradMode::is_enabled()] {
    c10::AutoGradMode mode(grad);
    std::vector<std::shared_ptr<const Surrogate>> priors(source_gps_.begin(), source_gps_.end());
    ExactGPConfig g = gp_;
    g.seed = seed_ + 1;
    if (!warm_.residual.empty() && !policy_.full_refit) g.restarts = 1;
    auto residual = std::make_shared<ResidualGP>(priors, g);
    residual->residual().set_input_bounds(lo_, hi_);
    if (!warm_.residual.empty()) residual->residual().set_hyperparameters(warm_.residual.front());
    if (warm_.residual_coefficient_variances.size() == source_gps_.size() + 1)
      residual->set_coefficient_variances(warm_.residual_coefficient_variances);
    if (!warm_.residual.empty() && policy_.condition_only) residual->set_data(data);
    else residual->fit(data);
    return residual;
  };
  std::future<std::shared_ptr<ResidualGP>> residual_fit;
  {
    // Two fits side by side on the cores: OpenBLAS's own threads, called
    // from both at once, would only spin against each other (the profile of
    // a lab ask with two priors showed them doing so).
    const bool side_by_side = has("residual") && (has("none") || has("rgpe"));
    ScopedSingleThreadBlas one_blas_thread(side_by_side);
    if (side_by_side) residual_fit = std::async(std::launch::async, fit_residual);
    if (has("none") || has("rgpe")) {
      target_ = make_gp(warm_.target);
      fit_target(*target_, data, !warm_.target.empty());
      fitted["none"] = target_;
    }
    if (has("rgpe")) {
      rgpe_ = std::make_shared<RankingWeightedGP>(source_gps_, target_, config_.rgpe_samples, seed_);
      rgpe_->set_fitted_target(data);
      fitted["rgpe"] = rgpe_;
    }
    if (has("residual")) {
      residual_ = residual_fit.valid() ? residual_fit.get() : fit_residual();
      fitted["residual"] = residual_;
    }
  }
  if (has("mtgp")) {
    std::vector<TransferSource> cut;
    for (size_t k = 0; k < sources_.size(); ++k) {
      const auto& s = sources_[k];
      auto keep = nearest_rows(s.X, torch::Tensor(), torch::ones({s.X.size(1)}, torch::kFloat64), config_.mtgp_rows,
                               seed_ + 31ULL * (k + 1));
      auto idx = torch::tensor(keep, torch::kInt64);
      cut.push_back({s.name, s.X.index_select(0, idx), flat64(s.y).index_select(0, idx)});
    }
    MultiTaskGPConfig mc;
    mc.kernel = gp_.kernel;
    mc.rank = config_.mtgp_rank;
    mc.restarts = gp_.restarts;
    mc.max_iter = gp_.max_iter;
    mc.seed = seed_ + 2;
    mtgp_ = std::make_shared<MultiTaskTransferGP>(std::move(cut), mc, lo_, hi_);
    mtgp_->fit(data);
    fitted["mtgp"] = mtgp_;
  }
  if (candidates.size() == 1) {
    chosen_name_ = candidates.front();
    chosen_ = fitted.at(chosen_name_);
    return;
  }
  // Auto: the lowest leave-one-out ranking loss; transfer models in the
  // order listed win ties among themselves, and none wins only when it is
  // strictly better than every transfer model.
  for (const auto& [name, model] : fitted) {
    torch::Tensor loo;
    if (name == "none") loo = flat64(target_->loo_latent().mean);
    else if (name == "rgpe") loo = rgpe_->loo_mean();
    else if (name == "residual") loo = residual_->loo_mean();
    else loo = mtgp_->loo_mean();
    losses_[name] = ranking_loss(loo, y);
  }
  chosen_name_ = "none";
  double best = losses_.at("none");
  bool transfer_best = false;
  double best_transfer = std::numeric_limits<double>::infinity();
  std::string best_name;
  for (const auto& m : config_.auto_methods)
    if (losses_.count(m) && losses_.at(m) < best_transfer) best_transfer = losses_.at(m), best_name = m;
  if (!best_name.empty() && best_transfer <= best + config_.auto_margin) transfer_best = true;
  if (transfer_best) chosen_name_ = best_name;
  chosen_ = fitted.at(chosen_name_);
}

std::string TransferGP::name() const { return str("TransferGP(", config_.method, ": ", chosen_name_, ")"); }

std::vector<double> TransferGP::rgpe_weights() const { return rgpe_ ? rgpe_->weights() : std::vector<double>{}; }

TransferWarmStart TransferGP::warm_start() const {
  TransferWarmStart w;
  if (target_ && target_->has_hyperparameters()) w.target = {target_->hyperparameters()};
  if (residual_ && residual_->residual().has_hyperparameters()) {
    w.residual = {residual_->residual().hyperparameters()};
    w.residual_coefficient_variances = residual_->coefficient_variances();
  }
  return w;
}

nlohmann::json TransferGP::summary() const {
  nlohmann::json j;
  j["method"] = config_.method;
  j["chosen"] = chosen_name_;
  if (!losses_.empty()) j["ranking_loss"] = losses_;
  if (rgpe_) {
    std::vector<std::string> names;
    for (const auto& s : sources_) names.push_back(s.name);
    names.push_back("target");
    nlohmann::json w;
    for (size_t k = 0; k < names.size(); ++k) w[names[k]] = rgpe_->weights()[k];
    j["rgpe_weights"] = w;
  }
  if (residual_) {
    auto b = residual_->coefficients();
    j["residual_coefficients"] = std::vector<double>(b.data_ptr<double>(), b.data_ptr<double>() + b.numel());
  }
  return j;
}

}  // namespace sozai
