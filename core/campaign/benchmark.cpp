#include "core/campaign/benchmark.h"
#include "core/bo/registry.h"
#include "common/error.h"

#include <chrono>
#include <cmath>

namespace sozai {

namespace {

std::vector<double> best_so_far(const std::vector<int64_t>& order, const std::vector<double>& y, bool maximize,
                                int64_t length) {
  std::vector<double> out;
  double best = maximize ? -INFINITY : INFINITY;
  for (int64_t i = 0; i < length; ++i) {
    if (i < static_cast<int64_t>(order.size())) {
      const double v = y[order[i]];
      best = maximize ? std::max(best, v) : std::min(best, v);
    }
    out.push_back(best);
  }
  return out;
}

void summarise(ArmResult& arm, const std::vector<double>& y, bool maximize, int64_t budget) {
  arm.mean = mean_curve(arm.curves, budget);
  std::vector<std::vector<double>> bests;
  for (const auto& o : arm.orders) bests.push_back(best_so_far(o, y, maximize, budget));
  arm.best_so_far_mean = mean_curve(bests, budget);
}

}  // namespace

PoolBenchmarkResult run_pool_benchmark(const torch::Tensor& X, const torch::Tensor& y_in, bool maximize,
                                       const PoolBenchmarkConfig& config,
                                       const std::function<void(const std::string&, int64_t, int64_t, double)>& progress) {
  SOZAI_CHECK(X.dim() == 2 && y_in.numel() == X.size(0), "run_pool_benchmark: X must be [n, d] and y [n], got ",
              X.sizes(), " and ", y_in.sizes());
  SOZAI_CHECK(config.seeds >= 1, "run_pool_benchmark: seeds must be >= 1, got ", config.seeds);
  SOZAI_CHECK(!config.acquisitions.empty(), "run_pool_benchmark: no acquisition functions given");
  const int64_t n = X.size(0);
  const int64_t budget = config.budget > 0 ? config.budget : n;
  SOZAI_CHECK(budget <= n, "run_pool_benchmark: budget ", budget, " exceeds the pool of ", n);
  auto yt = y_in.reshape({-1}).to(torch::kCPU, torch::kFloat64).contiguous();
  std::vector<double> y(yt.data_ptr<double>(), yt.data_ptr<double>() + n);

  PoolBenchmarkResult result;
  result.pool_size = n;
  result.budget = budget;
  result.top = top_set(y, maximize, config.top_fraction);
  const TopSet& top = result.top;
  auto found_all = [&](const std::vector<int64_t>& order) {
    auto c = top_fraction_curve(order, top);
    return !c.empty() && c.back() >= 1.0;
  };

  using clock = std::chrono::steady_clock;
  // Random search, many seeds: its mean curve is the denominator of EF/AF.
  // It always runs through the whole pool (it costs nothing), so AF(t) is
  // defined even when the BO budget stops short of where random reaches t.
  {
    ArmResult arm;
    arm.name = "random";
    const int64_t rs = config.random_seeds > 0 ? config.random_seeds : std::max<int64_t>(config.seeds, 200);
    auto t0 = clock::now();
    for (int64_t s = 0; s < rs; ++s) {
      arm.orders.push_back(random_baseline(n, n, static_cast<uint64_t>(s)));
      arm.curves.push_back(top_fraction_curve(arm.orders.back(), top));
    }
    arm.seconds = std::chrono::duration<double>(clock::now() - t0).count();
    summarise(arm, y, maximize, n);
    result.arms.push_back(std::move(arm));
  }
  std::vector<std::pair<std::string, bool>> arms;  // (acquisition, with priors)
  for (const auto& acq : config.acquisitions) {
    arms.emplace_back(acq, false);
    if (!config.priors.empty()) arms.emplace_back(acq, true);
  }
  for (const auto& [acq, with_priors] : arms) {
    ArmResult arm;
    arm.name = "gp+" + acq + (with_priors ? "+priors" : "");
    CampaignConfig campaign = config.campaign;
    campaign.surrogate = "gp";
    campaign.n_init = config.n_init;
    campaign.acquisition.outcomes = {maximize ? Outcome::maximize() : Outcome::minimize()};
    campaign.acquisition.kind = acquisition_info(acq).kind;
    for (int64_t s = 0; s < config.seeds; ++s) {
      auto t0 = clock::now();
      std::function<bool(const std::vector<int64_t>&)> stop;
      if (config.stop_when_all_found) stop = found_all;
      campaign.acquisition.seed = static_cast<uint64_t>(s);
      arm.orders.push_back(
          with_priors ? pool_campaign(X, yt, campaign, budget, config.q, config.columns, config.priors, stop)
                      : pool_campaign(X, yt, campaign, budget, config.q, stop));
      arm.curves.push_back(top_fraction_curve(arm.orders.back(), top));
      const double secs = std::chrono::duration<double>(clock::now() - t0).count();
      arm.seconds += secs;
      if (progress) progress(arm.name, s, config.seeds, secs);
    }
    summarise(arm, y, maximize, budget);
    result.arms.push_back(std::move(arm));
  }
  const auto& rnd = result.arms[0].mean;
  for (auto& arm : result.arms) {
    for (auto i : config.ef_at) arm.ef[i] = enhancement_factor(arm.mean, rnd, i);
    for (auto t : config.af_at) {
      arm.af[t] = acceleration_factor(arm.mean, rnd, t);
      arm.n_to_reach[t] = experiments_to_reach(arm.mean, t);
    }
  }
  return result;
}

}  // namespace sozai
