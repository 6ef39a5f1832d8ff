#pragma once
/// Internal: what pool and space campaigns share — seeds, the warm-started
/// GPs of an ask, Pareto fronts of told outcomes, and the JSON form of GP
/// hyperparameters. Not part of the public API.

#include "core/campaign/campaign_config.h"
#include "core/bo/acquisition.h"
#include "core/campaign/campaign.h"
#include "models/gp/transfer.h"

#include <nlohmann/json.hpp>

#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace sozai {
namespace campaign_detail {

/// SplitMix64: decorrelates (seed, counter) pairs into independent seeds.
uint64_t splitmix64(uint64_t x);
/// The seed of ask number `ask_count` of a campaign seeded `seed`.
uint64_t ask_seed(uint64_t seed, int64_t ask_count);

/// Whether an ask with n_observed results refits GP hyperparameters from all
/// restarts (below 30 results, and every full_refit_every asks).
bool full_refit_ask(const CampaignConfig& c, int64_t n_observed, int64_t ask_count);

/// One GP per column of Y [n, k] on inputs X bounded by [lo, hi], each
/// warm-started from warm[j] when warm holds one set per column: all
/// restarts below 30 results and every full_refit_every asks, otherwise
/// one start from the last fit (or, from keep_hyperparameters_from
/// results on, the last hyperparameters kept and the GP only conditioned).
struct OutcomeGPs {
  std::vector<std::shared_ptr<ExactGP>> gps;
  std::vector<const Surrogate*> models;   ///< the same GPs, for the acquisition
  std::vector<GPHyperparameters> fitted;  ///< warm starts of the next ask
};
OutcomeGPs fit_outcome_gps(const CampaignConfig& c, const torch::Tensor& X, const torch::Tensor& Y,
                           const std::vector<GPHyperparameters>& warm, uint64_t seed, int64_t ask_count,
                           const torch::Tensor& lo, const torch::Tensor& hi);

/// Fills picks.mean/variance/acquisition: the models' posteriors (one per
/// outcome, original units) and the acquisition value of each pick alone,
/// at `encoded` [n, d], the picks as the models see them.
void describe_picks(Candidates& picks, const std::vector<const Surrogate*>& models, const Acquisition& acquisition,
                    const torch::Tensor& encoded);

/// Positions of the rows of Y [n, k] that meet every outcome constraint and
/// that no other such row dominates in the objectives.
std::vector<int64_t> feasible_front(const torch::Tensor& Y, const std::vector<Outcome>& outcomes);

/// The best row of Y [n, k=1] in the objective's direction among `counts`
/// (all when empty); -1 when none.
int64_t best_position(const std::vector<double>& values, bool maximize, const std::vector<bool>& counts = {});

nlohmann::json hyperparameters_to_json(const std::vector<GPHyperparameters>& hs);
/// Hyperparameter sets of GPs on d input columns, one per outcome (or
/// none); StorageError naming origin otherwise.
std::vector<GPHyperparameters> hyperparameters_from_json(const nlohmann::json& hs, int64_t d, int64_t outcomes,
                                                         const std::string& origin);

/// Input bounds [w] of a campaign's transfer models: the least and largest
/// value of each column over the candidates [c, w] and every source's rows.
std::pair<torch::Tensor, torch::Tensor> transfer_bounds(const torch::Tensor& candidates,
                                                        const std::vector<TransferSource>& sources);

/// The values a process computed most recently, by key (a SHA-256 of what
/// they were computed from), at most `capacity` of them; thread-safe. A
/// value is shared by whoever gets it and never changed once stored.
template <typename V>
class RecentValues {
 public:
  explicit RecentValues(size_t capacity) : capacity_(capacity) {}
  std::optional<V> get(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = recent_.begin(); it != recent_.end(); ++it)
      if (it->first == key) {
        recent_.splice(recent_.begin(), recent_, it);
        return recent_.front().second;
      }
    return std::nullopt;
  }
  void put(const std::string& key, V value) {
    std::lock_guard<std::mutex> lock(mutex_);
    recent_.emplace_front(key, std::move(value));
    if (recent_.size() > capacity_) recent_.pop_back();
  }
  /// The value under key, or compute()'s, stored (computed outside the lock).
  template <typename F>
  V get_or_put(const std::string& key, F compute) {
    if (auto hit = get(key)) return *hit;
    V value = compute();
    put(key, value);
    return value;
  }

 private:
  std::mutex mutex_;
  size_t capacity_;
  std::list<std::pair<std::string, V>> recent_;  // most recent first
};

/// A tensor's values as float64 bytes (row-major): what digests hash.
std::string tensor_bytes(const torch::Tensor& t);
/// A tensor's shape and float64 bytes: part of a RecentValues key.
std::string tensor_key(const torch::Tensor& t);
/// The hex SHA-256 of `parts` followed by the digests of a campaign's prior
/// records: the key of what a campaign computes from its priors.
std::string priors_key(std::vector<std::string> parts, const std::vector<nlohmann::json>& prior_records);

/// The prior models of a campaign (fit_source_models), each wrapped in a
/// TabulatedModel at the candidates when `tabulate` (pool campaigns), fitted
/// once per process for the same sources, candidates, settings and seed: a
/// campaign restored from its saved state - the lab service rebuilds its
/// engine for every ask, a notebook reloads one - gets the models fitted
/// before (the same objects, so the same numbers) instead of refitting them.
/// Keyed by a SHA-256 of everything the fit reads; the 4 most recently used
/// sets are kept (a forest on 20000 rows holds ~100 MB).
std::vector<std::shared_ptr<const Surrogate>> source_models(const std::vector<TransferSource>& sources,
                                                            const ExactGPConfig& gp, const TransferConfig& config,
                                                            const torch::Tensor& candidates, const torch::Tensor& lo,
                                                            const torch::Tensor& hi, uint64_t seed, bool tabulate);

/// The transfer surrogate of an ask (models/gp/transfer.h) on the results
/// y [n] at X [n, w] in the campaign's transfer space, its GPs
/// warm-started from *warm under the refit policy of fit_outcome_gps; *warm
/// and *summary then hold what the next ask and the user see.
std::shared_ptr<TransferGP> fit_transfer_gp(const CampaignConfig& c, const std::vector<TransferSource>& sources,
                                            const std::vector<std::shared_ptr<const Surrogate>>& models,
                                            const torch::Tensor& lo, const torch::Tensor& hi, const torch::Tensor& X,
                                            const torch::Tensor& y, uint64_t seed, int64_t ask_count,
                                            TransferWarmStart* warm, nlohmann::json* summary);

/// A saved state's "priors" (the records of Prior::describe()) and
/// "transfer_hyperparameters"; nothing when records is empty.
void priors_to_json(nlohmann::json& state, const std::vector<nlohmann::json>& records, const TransferWarmStart& warm);
/// Reads them back (none when the state has no "priors"); StorageError
/// naming origin and the malformed field.
void priors_from_json(const nlohmann::json& state, const std::string& origin, std::vector<nlohmann::json>* records,
                      TransferWarmStart* warm);

/// Positions of the k largest values of score [n] (fewer when n < k), best
/// first; equal values by position, so a choice never depends on sort
/// stability.
std::vector<int64_t> top_positions(const torch::Tensor& score, int64_t k);

/// Checks a saved state's "format" and "version" (1 or the current one);
/// returns the version. StorageError naming origin otherwise.
int check_state_header(const nlohmann::json& state, const std::string& format, const std::string& origin);

}  // namespace campaign_detail
}  // namespace sozai
