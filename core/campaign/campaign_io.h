#pragma once
/// Internal: pool campaign state (de)serialisation shared by the JSON and
/// HDF5 writers. Not part of the public API.

#include "core/campaign/pool_campaign.h"

#include <nlohmann/json.hpp>

namespace sozai {

struct PoolCampaignState {
  /// State as JSON; with_arrays=false leaves out pool and observations (the
  /// HDF5 writer stores those as datasets).
  static nlohmann::json to_json(const PoolCampaign& c, bool with_arrays);
  /// Rebuilds a campaign from its JSON state (format version 1 or 2) and
  /// arrays; StorageError naming origin and field on any inconsistency.
  static PoolCampaign from_json(const nlohmann::json& j, const torch::Tensor& pool,
                                const std::vector<int64_t>& observed, const std::vector<double>& values,
                                const std::vector<int64_t>& pending, const std::string& origin);
};

/// HDF5 layout: datasets /pool [N, d] f64, /observed_index [n] i64,
/// /observed_value [n] f64, /pending [p] i64; attribute /state = JSON text.
void save_campaign_hdf5(const PoolCampaign& c, const std::string& state_json, const std::string& path);
PoolCampaign load_campaign_hdf5(const std::string& path);

}  // namespace sozai
