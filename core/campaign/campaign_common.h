#pragma once
/// Internal: what pool and space campaigns share — settings checks, seeds,
/// the warm-started GP of an ask, Pareto fronts of told outcomes, and the
/// JSON form of settings and hyperparameters. Not part of the public API.

#include "core/campaign/pool_campaign.h"
#include "common/error.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sozai {
namespace campaign_detail {

/// SplitMix64: decorrelates (seed, counter) pairs into independent seeds.
uint64_t splitmix64(uint64_t x);
/// The seed of ask number `ask_count` of a campaign seeded `seed`.
uint64_t ask_seed(uint64_t seed, int64_t ask_count);

bool ends_with(const std::string& s, const std::string& suffix);

/// InputError for settings no campaign accepts.
void check_config(const CampaignConfig& c);
/// The outcomes a campaign's settings name (one objective in `maximize`'s
/// direction when config.outcomes is empty); `maximize` becomes the first
/// objective's direction.
std::vector<Outcome> campaign_outcomes(const CampaignConfig& c, bool& maximize);

/// The GP of an ask on inputs bounded by [lo, hi], warm-started from `warm`
/// when given: all restarts below 30 results and every full_refit_every
/// asks, otherwise one start from the last fit, which one new result
/// barely moves.
std::shared_ptr<ExactGP> campaign_gp(const CampaignConfig& c, const GPHyperparameters* warm, uint64_t seed,
                                     int64_t n_observed, int64_t ask_count, const torch::Tensor& lo,
                                     const torch::Tensor& hi);

/// Whether an ask keeps the last hyperparameters and only conditions the GP
/// (config.keep_hyperparameters_from results or more, between full refits).
bool keep_hyperparameters(const CampaignConfig& c, bool warm, int64_t n_observed, int64_t ask_count);

/// One GP per column of Y [n, k] on inputs X bounded by [lo, hi], each
/// warm-started from warm[j] when warm holds one set per column.
struct OutcomeGPs {
  std::vector<std::shared_ptr<ExactGP>> gps;
  std::vector<const Surrogate*> models;     ///< the same GPs, for selection
  std::vector<GPHyperparameters> fitted;    ///< warm starts of the next ask
};
OutcomeGPs fit_outcome_gps(const CampaignConfig& c, const torch::Tensor& X, const torch::Tensor& Y,
                           const std::vector<GPHyperparameters>& warm, uint64_t seed, int64_t ask_count,
                           const torch::Tensor& lo, const torch::Tensor& hi);

/// The acquisition settings of one ask.
AcquisitionSpec acquisition_spec(const CampaignConfig& c, bool maximize, uint64_t seed);

/// Positions of the rows of Y [n, k] that meet every outcome constraint and
/// that no other such row dominates in the objectives.
std::vector<int64_t> feasible_front(const torch::Tensor& Y, const std::vector<Outcome>& outcomes);

nlohmann::json config_to_json(const CampaignConfig& c);
CampaignConfig config_from_json(const nlohmann::json& jc, const std::string& origin);
nlohmann::json hyperparameters_to_json(const GPHyperparameters& h);
/// Hyperparameters of a GP on d input columns; StorageError otherwise.
GPHyperparameters hyperparameters_from_json(const nlohmann::json& h, int64_t d, const std::string& origin);

/// Field `key` of saved state `j` as T; StorageError naming origin and key.
template <typename T>
T field(const nlohmann::json& j, const std::string& key, const std::string& origin) {
  if (!j.contains(key)) throw StorageError(str(origin, ": campaign state has no field '", key, "'"));
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw StorageError(str(origin, ": campaign state field '", key, "' has the wrong type: ", e.what()));
  }
}

/// Parses saved text; StorageError naming origin when it is not JSON.
nlohmann::json parse_state(const std::string& text, const std::string& origin);
/// Calls write(path + ".tmp") and renames that file over `path`, so an
/// existing save is never left half-written.
void write_atomically(const std::string& path, const std::function<void(const std::string& tmp)>& write);
/// write_atomically with a text file.
void write_text_atomically(const std::string& path, const std::string& text);
std::string read_text(const std::string& path);

}  // namespace campaign_detail
}  // namespace sozai
