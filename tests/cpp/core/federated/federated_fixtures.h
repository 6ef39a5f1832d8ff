#pragma once
// Parties and a small ensemble shared by the federated tests.
#include "common/strings.h"
#include "core/federated/fedavg.h"

#include <algorithm>

namespace sozai {
namespace federated {
namespace fixtures {

/// Fe-Ni-Co-Cr compositions on a grid, split into 3 parties by Fe share
/// (non-IID), with a smooth made-up property.
inline std::vector<PartyData> alloy_parties() {
  std::vector<PartyData> parties(3);
  for (int i = 0; i <= 6; ++i)
    for (int j = 0; i + j <= 6; ++j)
      for (int k = 0; i + j + k <= 6; ++k) {
        const double fe = i / 6.0, ni = j / 6.0, co = k / 6.0, cr = 1 - fe - ni - co;
        auto& p = parties[static_cast<size_t>(std::min(2, i / 2))];
        p.inputs.push_back(str("Fe", fe + 0.01, "Ni", ni + 0.01, "Co", co + 0.01, "Cr", cr + 0.01));
        p.y = p.y.defined() ? torch::cat({p.y, torch::tensor({300 + 200 * fe - 80 * ni * co + 50 * cr}, torch::kFloat64)})
                            : torch::tensor({300 + 200 * fe - 80 * ni * co + 50 * cr}, torch::kFloat64);
      }
  return parties;
}

inline gnn::GnnEnsembleConfig small() {
  gnn::GnnEnsembleConfig c;
  c.kind = "composition";
  c.n_members = 2;
  c.model.hidden = 8;
  c.model.head_hidden = 8;
  c.model.layers = 1;
  c.train.batch_size = 16;
  c.train.lr = 5e-3;
  c.train.progress = false;
  return c;
}


}  // namespace fixtures
}  // namespace federated
}  // namespace sozai
