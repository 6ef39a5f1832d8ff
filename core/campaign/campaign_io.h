#pragma once
/// Internal: campaign state (de)serialisation shared by the JSON and HDF5
/// writers. Not part of the public API.

#include "core/campaign/pool_campaign.h"

#include <nlohmann/json.hpp>

namespace sozai {

/// State as JSON; with_arrays=false leaves out pool and observations (the
/// HDF5 writer stores those as datasets).
nlohmann::json campaign_state_json(const PoolCampaign& c, const std::optional<GPHyperparameters>& hyper,
                                   bool with_arrays);
/// Rebuilds a campaign from its JSON state and arrays; StorageError naming
/// origin and field on any inconsistency.
PoolCampaign campaign_from_state(const nlohmann::json& j, const torch::Tensor& pool,
                                 const std::vector<int64_t>& observed, const std::vector<double>& values,
                                 const std::vector<int64_t>& pending, const std::string& origin);
void restore_campaign_counters(PoolCampaign& c, const std::vector<int64_t>& pending, int64_t ask_count,
                               const std::string& origin);
void restore_campaign_hyperparameters(PoolCampaign& c, const GPHyperparameters& h);
void restore_campaign_outcome_hyperparameters(PoolCampaign& c, const std::vector<GPHyperparameters>& h);

/// HDF5 layout: datasets /pool [N, d] f64, /observed_index [n] i64,
/// /observed_value [n] f64, /pending [p] i64; attribute /state = JSON text.
void save_campaign_hdf5(const PoolCampaign& c, const std::string& state_json, const std::string& path);
PoolCampaign load_campaign_hdf5(const std::string& path);

}  // namespace sozai
