// Federated averaging of a GnnEnsemble: the secure and the plain
// aggregation train the same model (up to the fixed point), the coordinator
// receives nothing of a party's targets, and bad party data is named.
#include "common/error.h"
#include "common/strings.h"
#include "core/federated/fedavg.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>

using namespace sozai;
using namespace sozai::federated;

namespace {

/// Fe-Ni-Co-Cr compositions on a grid, split into 3 parties by Fe share
/// (non-IID), with a smooth made-up property.
std::vector<PartyData> alloy_parties() {
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

gnn::GnnEnsembleConfig small() {
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

}  // namespace

TEST_CASE("federated averaging: secure and plain aggregation train the same model; targets never reach the coordinator",
          "[federated]") {
  const auto parties = alloy_parties();
  FederatedConfig fc;
  fc.rounds = 4;
  fc.keep_messages = true;
  FederatedLog secure_log, plain_log;
  const auto secure = federated_fit(small(), parties, fc, &secure_log);
  fc.secure = false;
  const auto plain = federated_fit(small(), parties, fc, &plain_log);
  REQUIRE(secure.fitted());
  const auto x = parties[1].inputs;
  const auto a = secure.predict(x), b = plain.predict(x);
  CHECK(torch::isfinite(a.mean).all().item<bool>());
  // The same model up to rounding (the secure sums' fixed point, float32 in
  // the clear), which training carries along: predictions agree to 0.1 % of
  // the targets' spread.
  std::vector<torch::Tensor> ys;
  for (const auto& p : parties) ys.push_back(p.y);
  const double spread = torch::cat(ys).std().item<double>();
  CHECK((a.mean - b.mean).abs().max().item<double>() < 1e-3 * spread);
  CHECK(secure_log.round_bytes.size() == 4);
  CHECK(secure_log.coordinator_bytes == static_cast<int64_t>(secure_log.coordinator_received.size()));
  CHECK(secure_log.max_quantisation_error > 0);
  CHECK(secure_log.variance_scale > 0);
  // No party's target, as float64 or float32, appears in what the coordinator received.
  const auto& got = secure_log.coordinator_received;
  for (const auto& p : parties)
    for (int64_t r = 0; r < p.y.numel(); ++r) {
      const double v = p.y[r].item<double>();
      const float f = static_cast<float>(v);
      uint8_t b8[8], b4[4];
      std::memcpy(b8, &v, 8);
      std::memcpy(b4, &f, 4);
      CHECK(std::search(got.begin(), got.end(), b8, b8 + 8) == got.end());
      CHECK(std::search(got.begin(), got.end(), b4, b4 + 4) == got.end());
    }
}

TEST_CASE("FedProx keeps the local training near the global model", "[federated]") {
  const auto parties = alloy_parties();
  FederatedConfig fc;
  fc.rounds = 1;
  fc.local_epochs = 3;
  FederatedLog avg, prox;
  federated_fit(small(), parties, fc, &avg);
  fc.proximal_mu = 1e3;
  federated_fit(small(), parties, fc, &prox);
  REQUIRE(avg.round_update_norm.size() == 1);
  CHECK(avg.round_update_norm[0] > 0);
  // The same start, data and seeds: only the proximal term differs.
  CHECK(prox.round_update_norm[0] < 0.5 * avg.round_update_norm[0]);
  fc.proximal_mu = -1;
  CHECK_THROWS_WITH(federated_fit(small(), parties, fc), Catch::Contains("proximal_mu"));
}

TEST_CASE("federated averaging names bad party data", "[federated]") {
  auto parties = alloy_parties();
  FederatedConfig fc;
  fc.rounds = 1;
  CHECK_THROWS_WITH(federated_fit(small(), {parties[0]}, fc), Catch::Contains("2..255 parties"));
  auto bad = parties;
  bad[1].inputs[0] = "Xx2O3";
  CHECK_THROWS_WITH(federated_fit(small(), bad, fc), Catch::Contains("party 2") && Catch::Contains("Xx"));
  bad = parties;
  bad[2].y = bad[2].y.narrow(0, 0, 3);
  CHECK_THROWS_WITH(federated_fit(small(), bad, fc), Catch::Contains("party 3") && Catch::Contains("targets"));
  bad = parties;
  bad[0].conditions = torch::ones({static_cast<int64_t>(bad[0].inputs.size()), 1}, torch::kFloat64);
  CHECK_THROWS_WITH(federated_fit(small(), bad, fc), Catch::Contains("condition column"));
}
