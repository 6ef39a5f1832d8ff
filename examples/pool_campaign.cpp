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
    // Settings in their JSON form, as Python, the command line and the lab take them.
    auto cfg = sozai::CampaignConfig::from_json(
        {{"acquisition", "logei"},
         {"outcomes", {{{"name", ds.objective_names[0]}, {"direction", ds.maximize[0] ? "maximize" : "minimize"}}}}});
    sozai::PoolCampaign campaign(ds.X, cfg);
    for (int round = 0; round < 5; ++round) {
      auto rows = campaign.ask(4).rows;
      std::vector<double> measured;
      for (auto r : rows) measured.push_back(y[r].item<double>());
      campaign.tell(rows, measured);
      auto best = campaign.best();
      std::cout << "round " << round << ": best " << ds.objective_names[0] << " = " << best.value << " (row "
                << best.candidate.rows.front() << ")\n";
    }
    campaign.save("p3ht_campaign.json");
    auto again = sozai::PoolCampaign::load("p3ht_campaign.json");
    std::cout << "loaded: " << again.observed_indices().size() << " results; next proposal row " << again.ask(1).rows.front()
              << "\n";
    std::cout << "best in the whole pool: " << y.max().item<double>() << "\n";
  } catch (const sozai::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
