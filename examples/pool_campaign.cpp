// A closed-loop campaign from C++: load a real pool, ask for a batch of 4,
// "measure" them from the recorded results, tell, repeat; then save the
// state and show that a loaded campaign carries on.
//
//   SOZAI_DATA_DIR=../shared/data build/bin/example_pool_campaign
#include "core/campaign/pool_campaign.h"
#include "common/error.h"
#include "datasets/closed_loop.h"

#include <iostream>

int main() {
  try {
    auto ds = sozai::load_closed_loop("p3ht");
    auto y = ds.Y.select(1, 0);
    sozai::CampaignConfig cfg;
    cfg.acquisition = "logei";
    sozai::PoolCampaign campaign(ds.X, ds.maximize[0], cfg);
    for (int round = 0; round < 5; ++round) {
      auto rows = campaign.ask(4);
      std::vector<double> measured;
      for (auto r : rows) measured.push_back(y[r].item<double>());
      campaign.tell(rows, measured);
      auto best = campaign.best();
      std::cout << "round " << round << ": best " << ds.objective_names[0] << " = " << best.second << " (row "
                << best.first << ")\n";
    }
    campaign.save("p3ht_campaign.json");
    auto again = sozai::PoolCampaign::load("p3ht_campaign.json");
    std::cout << "loaded: " << again.observed_indices().size() << " results; next proposal row " << again.ask(1)[0]
              << "\n";
    std::cout << "best in the whole pool: " << y.max().item<double>() << "\n";
  } catch (const sozai::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
