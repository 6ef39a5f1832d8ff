#include "core/campaign/campaign.h"
#include "core/campaign/campaign_common.h"
#include "core/campaign/pool_campaign.h"
#include "core/campaign/space_campaign.h"
#include "common/error.h"
#include "common/files.h"
#include "common/json.h"
#include "common/strings.h"

#include <ATen/ATen.h>

#include <cmath>

namespace sozai {

bool Campaign::maximize() const { return config_.maximize(); }

uint64_t Campaign::ask_seed() const { return campaign_detail::ask_seed(config_.seed(), ask_count_); }

torch::Tensor Campaign::checked_outcomes(const torch::Tensor& Y, int64_t n, const char* op) const {
  const int64_t k = num_outcomes();
  SOZAI_CHECK(Y.defined() && Y.numel() == n * k && (Y.dim() == 2 ? Y.size(0) == n && Y.size(1) == k : k == 1), op,
              ": values must be [", n, k > 1 ? str(", ", k) : std::string(), "] (", k,
              " outcome(s) per candidate), got ", Y.defined() ? Y.sizes() : at::IntArrayRef{});
  auto V = Y.to(torch::kCPU, torch::kFloat64).reshape({n, k}).contiguous();
  const double* v = V.data_ptr<double>();
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < k; ++j)
      SOZAI_CHECK(std::isfinite(v[r * k + j]), op, ": value for candidate ", r,
                  k > 1 ? str(", outcome ", j) : std::string(), " is not finite (", v[r * k + j], ")");
  return V;
}

torch::Tensor Campaign::observed_outcomes() const {
  return torch::tensor(values_, torch::kFloat64).reshape({num_observed(), num_outcomes()});
}

int64_t Campaign::best_position(const char* op, const std::vector<bool>& counts) const {
  SOZAI_CHECK(!values_.empty(), op, ": no results have been told yet");
  SOZAI_CHECK(num_outcomes() == 1, op, ": the campaign has ", num_outcomes(), " outcomes; use pareto_front()");
  return campaign_detail::best_position(values_, maximize(), counts);
}

std::unique_ptr<Campaign> Campaign::from_json(const std::string& text, const std::string& origin) {
  const auto j = json_io::parse<StorageError>(text, origin);
  const auto format = json_io::required<std::string, StorageError>(j, "format", origin);
  if (format == "sozai.pool_campaign") return std::make_unique<PoolCampaign>(PoolCampaign::from_json(text, origin));
  if (format == "sozai.space_campaign") return std::make_unique<SpaceCampaign>(SpaceCampaign::from_json(text, origin));
  throw StorageError(str(origin, ": not a sozai campaign state (format '", format, "')"));
}

std::unique_ptr<Campaign> Campaign::load(const std::string& path) {
  if (ends_with(path, ".h5") || ends_with(path, ".hdf5")) return std::make_unique<PoolCampaign>(PoolCampaign::load(path));
  return from_json(read_text(path, "campaign state"), path);
}

}  // namespace sozai
