#include "core/campaign/space_campaign.h"
#include "common/blas.h"
#include "core/bo/registry.h"
#include "core/bo/select.h"
#include "core/campaign/campaign_common.h"
#include "common/error.h"
#include "common/files.h"
#include "common/json.h"
#include "common/strings.h"
#include "core/space/design_space_json.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace sozai {

using namespace campaign_detail;

namespace {

torch::Tensor rows_tensor(const std::vector<std::vector<double>>& rows, int64_t width) {
  auto out = torch::empty({static_cast<int64_t>(rows.size()), width}, torch::kFloat64);
  for (size_t r = 0; r < rows.size(); ++r) std::copy(rows[r].begin(), rows[r].end(), out[r].data_ptr<double>());
  return out;
}

bool same_candidate(const double* a, const double* b, int64_t w) {
  for (int64_t i = 0; i < w; ++i)
    if (std::fabs(a[i] - b[i]) > 1e-9 * (1.0 + std::fabs(b[i]))) return false;
  return true;
}

/// Points of the design space the transfer space's composition components
/// and input bounds are fitted on, and the prior models' first picks are
/// ranked among.
constexpr int64_t kTransferSample = 1024;

/// A transfer model (inputs in the campaign's transfer space) as the
/// acquisition sees it: on the design space's encoding. The map is
/// differentiable in the continuous and composition columns, so the
/// optimiser's gradients reach the model.
class EncodedTransferModel : public Surrogate {
 public:
  EncodedTransferModel(std::shared_ptr<const Surrogate> model, const DesignSpace& space, const TransferSpace& tspace,
                       std::vector<std::string> columns)
      : model_(std::move(model)), space_(space), tspace_(tspace), columns_(std::move(columns)) {}

  void fit(const Dataset&) override {
    throw InputError("SpaceCampaign: the transfer model is fitted in the transfer space, not through its encoding");
  }
  Posterior posterior(const torch::Tensor& X) const override { return model_->posterior(map(X)); }
  Posterior latent_posterior(const torch::Tensor& X) const override { return model_->latent_posterior(map(X)); }
  torch::Tensor latent_covariance(const torch::Tensor& A, const torch::Tensor& B) const override {
    return model_->latent_covariance(map(A), map(B));
  }
  double latent_noise() const override { return model_->latent_noise(); }
  torch::Tensor transform_outcome(const torch::Tensor& Y) const override { return model_->transform_outcome(Y); }
  torch::Tensor untransform_outcome(const torch::Tensor& Z) const override { return model_->untransform_outcome(Z); }
  std::string name() const override { return model_->name(); }

 private:
  /// [..., encoded_width] -> [..., transfer width]
  torch::Tensor map(const torch::Tensor& E) const {
    auto lead = E.sizes().vec();
    lead.pop_back();
    auto T = tspace_.encode(natural_from_encoded(space_, E.reshape({-1, E.size(-1)})), columns_, "candidates");
    lead.push_back(T.size(1));
    return T.reshape(lead);
  }
  std::shared_ptr<const Surrogate> model_;
  const DesignSpace& space_;
  const TransferSpace& tspace_;
  std::vector<std::string> columns_;
};

}  // namespace

SpaceCampaign::SpaceCampaign(DesignSpace space, CampaignConfig config)
    : Campaign(std::move(config)), space_(std::move(space)) {
  SOZAI_CHECK(!space_.parameters().empty(), "SpaceCampaign: the design space has no parameters");
  config_.validate();
  check_acquisition(config_.acquisition.kind, config_.outcomes(), config_.multi_fidelity(), /*space=*/true,
                    "SpaceCampaign");
  SOZAI_CHECK(config_.surrogate == "gp" || config_.surrogate == "random", "SpaceCampaign: surrogate must be gp or "
              "random, not '", config_.surrogate, "' (graph surrogates model pools of graphs: PoolCampaign)");
}

struct SpaceCampaign::Transfer {
  TransferSpace space;
  std::vector<std::string> columns;  // natural_columns of the design space
  torch::Tensor sample;              // [kTransferSample, w] design-space points in the transfer space
  std::vector<TransferSource> sources;
  torch::Tensor lo, hi;
  /// Models of the sources, fitted at the first ask that needs them.
  mutable std::vector<std::shared_ptr<const Surrogate>> models;
};

SpaceCampaign::SpaceCampaign(DesignSpace space, std::vector<Prior> priors, CampaignConfig config)
    : SpaceCampaign(std::move(space), std::move(config)) {
  if (priors.empty()) return;
  SOZAI_CHECK(num_outcomes() == 1 && config_.surrogate == "gp", "SpaceCampaign: priors inform campaigns of one "
              "outcome with surrogate 'gp' (this one has ", num_outcomes(), " outcome(s), surrogate '",
              config_.surrogate, "')");
  for (const auto& p : priors) prior_records_.push_back(p.describe());
  attach_priors(std::move(priors));
}

void SpaceCampaign::attach_priors(std::vector<Prior> priors) {
  // Here, not only at creation: a saved state loaded with attach_priors is refused too.
  SOZAI_CHECK(config_.transfer.prior_belief == 0, "SpaceCampaign: transfer.prior_belief (piBO) weighs the rows of "
              "a pool campaign; a design-space campaign takes 0 (got ", config_.transfer.prior_belief, ")");
  check_prior_records(priors, prior_records_, "SpaceCampaign::attach_priors");
  // As PoolCampaign::attach_priors: the same priors on the same space and
  // seed again in this process take the transfer space computed before.
  static RecentValues<std::shared_ptr<const Transfer>> recent(8);
  const auto key = priors_key({"sozai.space_transfer.1", space_to_json(space_).dump(),
                               str(config_.seed(), " ", config_.transfer.components, maximize() ? " max" : " min")},
                              prior_records_);
  const auto shared = recent.get_or_put(key, [&] {
    auto t = std::make_shared<Transfer>();
    t->columns = natural_columns(space_);
    const auto natural =
        natural_table(space_, random_candidates(kTransferSample, splitmix64(config_.seed() ^ 0x73616D706C65ULL)));
    t->space = TransferSpace(t->columns, priors, natural, config_.transfer.components);
    t->sample = t->space.encode(natural, t->columns, "design space");
    t->sources = transfer_sources(t->space, priors, maximize());
    std::tie(t->lo, t->hi) = transfer_bounds(t->sample, t->sources);
    return std::shared_ptr<const Transfer>(t);
  });
  auto t = std::make_shared<Transfer>(*shared);  // its models are this campaign's own
  priors_ = std::move(priors);
  transfer_ = t;
  transfer();  // the prior models now, as PoolCampaign::attach_priors
}

const SpaceCampaign::Transfer& SpaceCampaign::transfer() {
  SOZAI_CHECK(priors_.size() == prior_records_.size() && transfer_, "SpaceCampaign::ask: this campaign learns from ",
              prior_records_.size(), " prior(s); give them back with attach_priors after load");
  const auto& t = *transfer_;
  if (t.models.empty())  // once per campaign, with its own seed: the same after load (from the process's cache)
    t.models = source_models(t.sources, config_.gp, config_.transfer, t.sample, t.lo, t.hi,
                             splitmix64(config_.seed() ^ 0x7072696F72ULL), /*tabulate=*/false);
  return t;
}

torch::Tensor SpaceCampaign::prior_ranked_candidates(int64_t q, uint64_t seed) {
  const auto& t = transfer();
  auto raw = random_candidates(kTransferSample, seed);
  const auto C = t.space.encode(natural_table(space_, raw), t.columns, "design space");
  return raw.index_select(0, torch::tensor(top_positions(prior_scores(t.models, C, maximize()), q), torch::kInt64));
}

Candidates SpaceCampaign::fit_and_select_transfer(int64_t q, uint64_t seed) {
  const auto& t = transfer();
  const auto raw = observed_candidates();
  auto X = t.space.encode(natural_table(space_, raw), t.columns, "observed candidates");
  auto Y = observed_outcomes();
  auto model = fit_transfer_gp(config_, t.sources, t.models, t.lo, t.hi, X, Y.select(1, 0).contiguous(), seed,
                               ask_count_, &transfer_warm_, &transfer_summary_);
  auto seen = std::make_shared<EncodedTransferModel>(model, space_, t.space, t.columns);
  AcquisitionSpec spec = config_.acquisition;
  spec.seed = seed;
  auto E = space_.encode(raw);
  auto P = pending_.empty() ? E.new_zeros({0, space_.encoded_width()}) : space_.encode(pending().X);
  auto acquisition = make_acquisition(spec, {seen.get()}, {E, Y, P});
  OptimizeConfig oc = config_.optimizer;
  oc.seed = seed;
  Candidates picks(select_in_space(space_, *acquisition, q, oc).to(torch::kFloat64).contiguous());
  describe_picks(picks, {seen.get()}, *acquisition, space_.encode(picks.X));
  model_ = seen;
  return picks;
}

int64_t SpaceCampaign::find_pending(const double* c) const {
  for (size_t i = 0; i < pending_.size(); ++i)
    if (same_candidate(pending_[i].data(), c, space_.raw_width())) return static_cast<int64_t>(i);
  return -1;
}

Candidates SpaceCampaign::observed() const { return Candidates(rows_tensor(observed_, space_.raw_width())); }

Candidates SpaceCampaign::pending() const { return Candidates(rows_tensor(pending_, space_.raw_width())); }

torch::Tensor SpaceCampaign::random_candidates(int64_t q, uint64_t seed) const {
  try {
    return space_.sample(q, seed, /*sobol=*/true);
  } catch (const InputError&) {
    // An equality constraint has measure zero in the box: project instead.
    auto starts = space_.sample_unconstrained(q, seed);
    std::vector<torch::Tensor> rows;
    for (int64_t i = 0; i < q; ++i) {
      auto c = project_to_space(space_, starts[i]).contiguous();
      const auto why = space_.violation(c.data_ptr<double>());
      SOZAI_CHECK(why.empty(), "SpaceCampaign::ask: found no feasible starting candidate (", why, ")");
      rows.push_back(c);
    }
    return torch::stack(rows);
  }
}

Candidates SpaceCampaign::fit_and_select(int64_t q, uint64_t seed) {
  auto E = space_.encode(observed_candidates());
  auto Y = observed_outcomes();
  const auto bounds = space_.encoded_bounds();
  auto fit = fit_outcome_gps(config_, E, Y, hypers_, seed, ask_count_, bounds[0], bounds[1]);
  AcquisitionSpec spec = config_.acquisition;
  spec.seed = seed;
  auto P = pending_.empty() ? E.new_zeros({0, space_.encoded_width()}) : space_.encode(pending().X);
  auto acquisition = make_acquisition(spec, fit.models, {E, Y, P});
  OptimizeConfig oc = config_.optimizer;
  oc.seed = seed;
  Candidates picks(select_in_space(space_, *acquisition, q, oc).to(torch::kFloat64).contiguous());
  describe_picks(picks, fit.models, *acquisition, space_.encode(picks.X));
  hypers_ = fit.fitted;
  model_ = fit.gps.front();
  return picks;
}

Candidates SpaceCampaign::ask(int64_t q) {
  SOZAI_CHECK(q >= 1, "SpaceCampaign::ask: q must be >= 1, got ", q);
  // Small matrices: BLAS threads would cost more than they share out.
  ScopedSingleThreadBlas one_blas_thread(num_observed() + static_cast<int64_t>(pending_.size()) < kBlasThreadRows);
  const uint64_t seed = ask_seed();
  Candidates picks;
  const bool initial = num_observed() < std::max<int64_t>(config_.n_init, 1);
  const bool with_priors = !prior_records_.empty();
  if (config_.surrogate == "random" || (initial && !(with_priors && config_.transfer.initial == "prior")))
    picks = Candidates(random_candidates(q, seed));
  else if (initial)
    picks = Candidates(prior_ranked_candidates(q, seed));
  else
    picks = with_priors ? fit_and_select_transfer(q, seed) : fit_and_select(q, seed);
  picks.X = picks.X.to(torch::kFloat64).contiguous();
  for (int64_t i = 0; i < picks.size(); ++i) {
    const double* p = picks.X[i].data_ptr<double>();
    pending_.emplace_back(p, p + space_.raw_width());
  }
  ++ask_count_;
  return picks;
}

void SpaceCampaign::tell(const torch::Tensor& candidates, const torch::Tensor& Y) {
  const int64_t w = space_.raw_width();
  SOZAI_CHECK(candidates.defined() && candidates.dim() == 2 && candidates.size(1) == w,
              "SpaceCampaign::tell: candidates must be [n, ", w, "], got ",
              candidates.defined() ? candidates.sizes() : at::IntArrayRef{});
  const int64_t n = candidates.size(0), k = num_outcomes();
  auto V = checked_outcomes(Y, n, "SpaceCampaign::tell");
  auto C = candidates.to(torch::kCPU, torch::kFloat64).contiguous();
  const double* c = C.data_ptr<double>();
  const double* v = V.data_ptr<double>();
  for (int64_t r = 0; r < n; ++r) {
    const auto why = space_.violation(c + r * w);
    SOZAI_CHECK(why.empty(), "SpaceCampaign::tell: candidate ", r, " is outside the design space: ", why);
  }
  for (int64_t r = 0; r < n; ++r) {
    observed_.emplace_back(c + r * w, c + (r + 1) * w);
    values_.insert(values_.end(), v + r * k, v + (r + 1) * k);
    const auto p = find_pending(c + r * w);
    if (p >= 0) pending_.erase(pending_.begin() + p);
  }
}

void SpaceCampaign::tell(const Candidates& candidates, const torch::Tensor& Y) { tell(candidates.X, Y); }

void SpaceCampaign::tell(const std::vector<double>& candidate, double value) {
  SOZAI_CHECK(num_outcomes() == 1, "SpaceCampaign::tell: the campaign has ", num_outcomes(),
              " outcomes per experiment; tell all of them (tell_outcomes)");
  tell_outcomes(candidate, {value});
}

void SpaceCampaign::tell_outcomes(const std::vector<double>& candidate, const std::vector<double>& outcomes) {
  SOZAI_CHECK(static_cast<int64_t>(candidate.size()) == space_.raw_width(), "SpaceCampaign::tell: the candidate has ",
              candidate.size(), " values, the space needs ", space_.raw_width());
  SOZAI_CHECK(static_cast<int64_t>(outcomes.size()) == num_outcomes(), "SpaceCampaign::tell_outcomes: ",
              outcomes.size(), " values for ", num_outcomes(), " outcome(s)");
  tell(torch::tensor(candidate, torch::kFloat64).unsqueeze(0), torch::tensor(outcomes, torch::kFloat64).unsqueeze(0));
}

void SpaceCampaign::cancel(const std::vector<double>& candidate) {
  SOZAI_CHECK(static_cast<int64_t>(candidate.size()) == space_.raw_width(), "SpaceCampaign::cancel: the candidate has ",
              candidate.size(), " values, the space needs ", space_.raw_width());
  const auto p = find_pending(candidate.data());
  SOZAI_CHECK(p >= 0, "SpaceCampaign::cancel: the candidate is not pending");
  pending_.erase(pending_.begin() + p);
}

void SpaceCampaign::cancel(const Candidates& candidates) {
  const int64_t w = space_.raw_width();
  SOZAI_CHECK(candidates.X.defined() && candidates.X.dim() == 2 && candidates.X.size(1) == w,
              "SpaceCampaign::cancel: candidates must be [n, ", w, "]");
  auto C = candidates.X.to(torch::kCPU, torch::kFloat64).contiguous();
  auto kept = pending_;
  for (int64_t r = 0; r < C.size(0); ++r) {
    const double* c = C.data_ptr<double>() + r * w;
    auto it = std::find_if(kept.begin(), kept.end(), [&](const auto& p) { return same_candidate(p.data(), c, w); });
    SOZAI_CHECK(it != kept.end(), "SpaceCampaign::cancel: candidate ", r, " is not pending");
    kept.erase(it);
  }
  pending_ = std::move(kept);
}

BestResult SpaceCampaign::best() const {
  const int64_t b = best_position("SpaceCampaign::best");
  return {Candidates(rows_tensor({observed_[b]}, space_.raw_width())), values_[b], b};
}

std::vector<int64_t> SpaceCampaign::pareto_front() const { return feasible_front(observed_outcomes(), outcomes()); }

// ------------------------------------------------------------ persistence

std::string SpaceCampaign::to_json() const {
  nlohmann::json j;
  j["format"] = "sozai.space_campaign";
  j["version"] = kCampaignStateVersion;
  j["ask_count"] = ask_count_;
  j["space"] = space_to_json(space_);
  j["config"] = config_.to_json();
  j["outcome_hyperparameters"] = hyperparameters_to_json(hypers_);
  j["observed"] = observed_;
  j["observed_value"] = values_;
  j["pending"] = pending_;
  priors_to_json(j, prior_records_, transfer_warm_);
  return j.dump();
}

SpaceCampaign SpaceCampaign::from_json(const std::string& text, const std::string& origin) {
  const auto j = json_io::parse<StorageError>(text, origin);
  const int version = check_state_header(j, "sozai.space_campaign", origin);
  if (!j.contains("space")) throw StorageError(str(origin, ": space campaign state needs 'space'"));
  DesignSpace space;
  try {
    space = space_from_json(j.at("space"), str(origin, ": space"));
  } catch (const InputError& e) {
    throw StorageError(e.what());
  }
  SpaceCampaign c(std::move(space), config_from_saved_state(j, version, origin));
  using Rows = std::vector<std::vector<double>>;
  const auto observed = json_io::required<Rows, StorageError>(j, "observed", origin);
  const auto values = json_io::required<std::vector<double>, StorageError>(j, "observed_value", origin);
  const auto pending = json_io::required<Rows, StorageError>(j, "pending", origin);
  const int64_t w = c.space_.raw_width();
  for (const auto* rows : {&observed, &pending})
    for (const auto& r : *rows)
      if (static_cast<int64_t>(r.size()) != w)
        throw StorageError(str(origin, ": a saved candidate has ", r.size(), " values, the space needs ", w));
  if (observed.size() * c.num_outcomes() != values.size())
    throw StorageError(str(origin, ": ", observed.size(), " observed candidates with ", c.num_outcomes(),
                           " outcome(s) each but ", values.size(), " values"));
  try {
    if (!observed.empty())
      c.tell(rows_tensor(observed, w), torch::tensor(values, torch::kFloat64).reshape({-1, c.num_outcomes()}));
  } catch (const InputError& e) {
    throw StorageError(str(origin, ": invalid observations: ", e.what()));
  }
  c.pending_ = pending;
  c.ask_count_ = json_io::required<int64_t, StorageError>(j, "ask_count", origin);
  c.hypers_ = hyperparameters_from_json(json_io::required<nlohmann::json, StorageError>(j, "outcome_hyperparameters", origin),
                                        c.space_.encoded_width(), c.num_outcomes(), origin);
  priors_from_json(j, origin, &c.prior_records_, &c.transfer_warm_);
  return c;
}

void SpaceCampaign::save(const std::string& path) const {
  SOZAI_CHECK(!ends_with(path, ".h5") && !ends_with(path, ".hdf5"), "SpaceCampaign::save: space campaigns save as "
              "JSON; '", path, "' names an HDF5 file");
  write_text_atomically(path, to_json());
}

SpaceCampaign SpaceCampaign::load(const std::string& path) { return from_json(read_text(path, "campaign state"), path); }

}  // namespace sozai
