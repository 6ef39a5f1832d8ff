#pragma once
/// Replays campaigns over a pool of real experiments with the measured
/// values as the oracle, against random search in the same run, and
/// summarises them with the metrics of metrics.h.

#include "core/campaign/metrics.h"
#include "core/campaign/pool_campaign.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace sozai {

struct PoolBenchmarkConfig {
  std::vector<std::string> acquisitions = {"logei", "ucb"};  ///< one BO arm per acquisition
  int64_t budget = 0;          ///< experiments per campaign (0: the whole pool)
  int64_t seeds = 20;          ///< campaigns per BO arm
  int64_t random_seeds = 0;    ///< random-search campaigns (0: max(seeds, 200); they are cheap)
  double top_fraction = 0.05;  ///< defines the top set
  int64_t q = 1;
  int64_t n_init = 2;
  /// Stop a campaign once it has found the whole top set: later points
  /// cannot change Top%, and the mean curve holds the final value.
  bool stop_when_all_found = true;
  std::vector<int64_t> ef_at = {10, 25, 50};
  std::vector<double> af_at = {0.5, 0.8};
  CampaignConfig campaign;     ///< kernel, beta, transforms, transfer...
  /// With priors (core/campaign/prior.h), every acquisition runs twice, as
  /// "gp+ACQ" without them and "gp+ACQ+priors" with them (method from
  /// campaign.transfer), so the two are compared in the same run. `columns`
  /// names the columns of X to align them with.
  std::vector<std::string> columns;
  std::vector<Prior> priors;
};

struct ArmResult {
  std::string name;                              ///< "random", "gp+logei", ...
  std::vector<std::vector<int64_t>> orders;      ///< per seed, rows chosen
  std::vector<std::vector<double>> curves;       ///< per seed, Top%(i)
  std::vector<double> mean;                      ///< mean Top% curve: length budget (random: the whole pool)
  std::vector<double> best_so_far_mean;          ///< mean best value found after i experiments
  std::map<int64_t, double> ef;                  ///< EF at each ef_at
  std::map<double, double> af;                   ///< AF at each af_at
  std::map<double, int64_t> n_to_reach;          ///< mean-curve experiments to reach each af_at (-1: never)
  double seconds = 0.0;                          ///< wall time of all campaigns of this arm
};

struct PoolBenchmarkResult {
  int64_t pool_size = 0;
  int64_t budget = 0;
  TopSet top;
  std::vector<ArmResult> arms;  ///< arms[0] is random search, run through the whole pool
};

/// progress(arm, seed, seeds, seconds_of_that_campaign) is called after each
/// campaign (the CLI prints a line per seed on stderr).
PoolBenchmarkResult run_pool_benchmark(
    const torch::Tensor& X, const torch::Tensor& y, bool maximize, const PoolBenchmarkConfig& config,
    const std::function<void(const std::string&, int64_t, int64_t, double)>& progress = nullptr);

}  // namespace sozai
