// Federated averaging of a GnnEnsemble: the secure and the plain
// aggregation train the same model (up to the fixed point), the coordinator
// receives nothing of a party's targets, and bad party data is named.
#include "common/error.h"
#include "common/strings.h"
#include "core/campaign/pool_campaign.h"
#include "core/campaign/prior.h"
#include "core/federated/fedavg.h"
#include "core/federated/privacy.h"
#include "federated_fixtures.h"
#include "models/gnn/pretrain.h"

#include <catch2/catch.hpp>

#include "../../test_util.h"

#include <algorithm>
#include <cstring>
#include <fstream>

using namespace sozai;
using namespace sozai::federated;
using namespace sozai::federated::fixtures;


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
  REQUIRE(secure_log.round_loss.size() == 4);
  for (double l : secure_log.round_loss) CHECK(std::isfinite(l));
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

TEST_CASE("a federated model is a campaign's prior: its predictions on the pool, learned from by transfer",
          "[federated][prior]") {
  const auto parties = alloy_parties();
  FederatedConfig fc;
  fc.rounds = 3;
  const auto model = federated_fit(small(), parties, fc);
  // The next campaign's pool: Fe-Ni-Co-Cr shares (a column order of its own, a process column beside).
  std::vector<std::vector<double>> rows;
  for (int i = 0; i <= 4; ++i)
    for (int j = 0; i + j <= 4; ++j) rows.push_back({j / 4.0, 1 - (i + j) / 4.0, i / 4.0, 0.0, 600.0 + 10 * i});
  const auto pool = torch::tensor(std::vector<double>(rows.size() * 5), torch::kFloat64).reshape({-1, 5});
  for (size_t r = 0; r < rows.size(); ++r)
    for (int c = 0; c < 5; ++c) pool[static_cast<int64_t>(r)][c] = rows[r][static_cast<size_t>(c)];
  const std::vector<std::string> columns{"Ni", "Co", "Fe", "Cr", "anneal_T"};
  const auto prior = Prior::from_model(model, pool, columns, true, "federated");
  REQUIRE(prior.rows() == pool.size(0));
  // Its outcome is the model's prediction of each row's formula (zero shares left out).
  const auto first = model.predict(std::vector<std::string>{"Co1"}).mean.item<double>();
  CHECK(prior.y[0].item<double>() == Approx(first).epsilon(1e-12));
  // A campaign takes it like any prior and proposes rows.
  PoolCampaign c(pool, columns, {prior}, CampaignConfig::from_json({{"n_init", 2}, {"seed", 1}}));
  c.tell(std::vector<int64_t>{0, 5}, {310.0, 420.0});
  CHECK(c.ask(1).rows.size() == 1);
  // Bad input is named.
  auto bad = pool.clone();
  bad.index_put_({0, torch::indexing::Slice(0, 4)}, 0.0);
  CHECK_THROWS_WITH(Prior::from_model(model, bad, columns), Catch::Contains("row 1") && Catch::Contains("element"));
  CHECK_THROWS_WITH(Prior::from_model(model, pool, columns, true, "", {"pressure"}), Catch::Contains("pressure"));
}

TEST_CASE("federated training starts every party from the shipped pretrained network", "[federated][pretrain]") {
  bool have = false;
  for (const auto& e : gnn::pretrained_registry()) have = have || e.name == "composition-mp";
  if (!have) SOZAI_SKIP("composition-mp is not shipped in this build");
  auto like = small();
  like.model = gnn::GraphModelConfig{};  // the pretrained network's architecture
  like.model.kind = "composition";
  like.n_members = 1;
  like.finetune.pretrained = "composition-mp";
  like.train.lr = 1e-12;  // one round that barely moves: the model is where the parties started
  const auto parties = alloy_parties();
  FederatedConfig fc;
  fc.rounds = 1;
  const auto model = federated_fit(like, parties, fc);
  // The members a pretrained ensemble draws before any training (the same seeds).
  gnn::GnnEnsemble start(like);
  start.prepare_external(start.featurize(parties[0].inputs), 0, 0.0, 1.0, {}, {});
  auto a = model.members()[0]->named_parameters(), b = start.members()[0]->named_parameters();
  REQUIRE(a.size() == b.size());
  int64_t compared = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].key() == b[i].key());
    CHECK((a[i].value() - b[i].value()).abs().max().item<double>() < 1e-6);
    compared += a[i].value().numel();
  }
  CHECK(compared > 10000);
  // A start from random weights is another network altogether.
  like.finetune.pretrained.clear();
  like.model.hidden = 8;
  const auto scratch = federated_fit(like, parties, fc);
  const auto sp = scratch.members()[0]->named_parameters();
  const bool other_network = sp.size() != a.size() || sp[0].value().sizes() != a[0].value().sizes();
  CHECK(other_network);
}

TEST_CASE("differential privacy: each party's update is clipped, the noise is the sum's, the epsilon reported",
          "[federated][privacy]") {
  const auto parties = alloy_parties();
  FederatedConfig fc;
  fc.rounds = 2;
  fc.local_epochs = 2;
  FederatedLog plain, clipped, noisy;
  federated_fit(small(), parties, fc, &plain);
  // Clipping alone: the averaged update is a weighted mean of updates of norm <= dp_clip.
  fc.dp_clip = 1e-3;
  federated_fit(small(), parties, fc, &clipped);
  REQUIRE(plain.round_update_norm[0] > 10 * fc.dp_clip);
  for (double n : clipped.round_update_norm) CHECK(n <= fc.dp_clip * (1 + 1e-3) + 1e-6);
  CHECK(clipped.dp_epsilon == 0);
  // With noise: the sum carries N(0, (z C)^2) per entry, far above a clipped update, and the epsilon is the accountant's.
  fc.dp_noise_multiplier = 2.0;
  fc.dp_delta = 1e-6;
  const auto model = federated_fit(small(), parties, fc, &noisy);
  int64_t entries = 0;
  for (auto& m : model.members()) for (auto& p : m->parameters()) entries += p.numel();
  const double expected = fc.dp_noise_multiplier * fc.dp_clip * std::sqrt(static_cast<double>(entries));
  CHECK(noisy.round_update_norm[0] > 0.5 * expected);
  CHECK(noisy.round_update_norm[0] < 2.0 * expected + fc.dp_clip);
  const auto spent = gaussian_privacy(2.0, 2, 1e-6);
  CHECK(noisy.dp_epsilon == Approx(spent.epsilon));
  CHECK(noisy.dp_delta == 1e-6);
  fc.dp_clip = 0;
  CHECK_THROWS_WITH(federated_fit(small(), parties, fc), Catch::Contains("dp_clip"));
}

TEST_CASE("the server optimiser (FedAvgM): momentum carries the last round's step, server_lr scales it",
          "[federated]") {
  const auto parties = alloy_parties();
  FederatedConfig fc;
  fc.rounds = 1;
  FederatedLog one, scaled;
  federated_fit(small(), parties, fc, &one);
  fc.server_lr = 0.5;
  federated_fit(small(), parties, fc, &scaled);
  // The same first round's mean update, half the step.
  CHECK(scaled.round_update_norm[0] == Approx(0.5 * one.round_update_norm[0]).epsilon(1e-9));
  // With momentum the second step holds the first: |v2| = |u2 + b u1| differs from |u2| by about b |u1|.
  fc.server_lr = 1.0;
  fc.rounds = 2;
  FederatedLog avg, mom;
  federated_fit(small(), parties, fc, &avg);
  fc.server_momentum = 0.9;
  federated_fit(small(), parties, fc, &mom);
  CHECK(mom.round_update_norm[0] == Approx(avg.round_update_norm[0]).epsilon(1e-9));
  CHECK(std::abs(mom.round_update_norm[1] - avg.round_update_norm[1]) > 0.1 * avg.round_update_norm[0]);
  fc.server_momentum = 1.0;
  CHECK_THROWS_WITH(federated_fit(small(), parties, fc), Catch::Contains("server_momentum"));
}

TEST_CASE("an interrupted federated simulation resumes to the model of an uninterrupted one", "[federated]") {
  const auto dir = test::make_temp_dir("sozai_federated_resume");
  const auto parties = alloy_parties();
  FederatedConfig fc;
  fc.rounds = 4;
  fc.local_epochs = 2;
  fc.server_momentum = 0.5;  // the server optimiser's state is in the checkpoint too
  fc.keep_messages = true;
  FederatedLog whole_log;
  const auto whole = federated_fit(small(), parties, fc, &whole_log);

  SimulationCheckpoint ck;
  ck.path = dir + "/fed.pt";
  ck.max_hours = 1e-9;  // stops after the first round of each call
  FederatedLog log1, log2, log3;
  federated_fit(small(), parties, fc, &log1, ck);
  CHECK_FALSE(log1.finished);
  CHECK(log1.round_loss.size() == 1);
  CHECK(std::filesystem::exists(ck.path));
  federated_fit(small(), parties, fc, &log2, ck);
  CHECK_FALSE(log2.finished);
  CHECK(log2.resumed_rounds == 1);
  CHECK(log2.round_loss.size() == 2);
  ck.max_hours = 0;
  const auto resumed = federated_fit(small(), parties, fc, &log3, ck);
  CHECK(log3.finished);
  CHECK(log3.resumed_rounds == 2);
  CHECK_FALSE(std::filesystem::exists(ck.path));  // finished: removed

  // The same model, bit for bit (the secure sums are exact; the masks differ
  // between calls but cancel), and the same log of what the coordinator saw.
  const auto x = parties[0].inputs;
  CHECK(torch::equal(whole.predict(x).mean, resumed.predict(x).mean));
  CHECK(torch::equal(whole.predict(x).variance, resumed.predict(x).variance));
  CHECK(log3.round_loss == whole_log.round_loss);
  CHECK(log3.round_update_norm == whole_log.round_update_norm);
  CHECK(log3.round_bytes == whole_log.round_bytes);
  CHECK(log3.coordinator_bytes == whole_log.coordinator_bytes);
  CHECK(log3.coordinator_received.size() == whole_log.coordinator_received.size());

  // A checkpoint of other settings or other rows is refused, naming what differs; it is kept.
  ck.max_hours = 1e-9;
  federated_fit(small(), parties, fc, nullptr, ck);
  ck.max_hours = 0;
  auto other = fc;
  other.local_epochs = 3;
  CHECK_THAT(test::message_of<InputError>([&] { federated_fit(small(), parties, other, nullptr, ck); }),
             Catch::Contains("other settings or data") && Catch::Contains("federation"));
  auto moved = parties;
  moved[1].y = moved[1].y + 1.0;
  CHECK_THAT(test::message_of<InputError>([&] { federated_fit(small(), moved, fc, nullptr, ck); }),
             Catch::Contains("other settings or data") && Catch::Contains("parties"));
  CHECK(std::filesystem::exists(ck.path));
  {
    auto bad = ck;
    bad.checkpoint_minutes = 0;
    CHECK_THROWS_WITH(federated_fit(small(), parties, fc, nullptr, bad), Catch::Contains("checkpoint_minutes"));
    SimulationCheckpoint nowhere;
    nowhere.max_hours = 1.0;
    CHECK_THROWS_WITH(federated_fit(small(), parties, fc, nullptr, nowhere), Catch::Contains("max_hours needs a checkpoint"));
  }
  // A file that is not a checkpoint is named.
  {
    std::ofstream(dir + "/junk.pt") << "not an archive";
    ck.path = dir + "/junk.pt";
    CHECK_THAT(test::message_of<StorageError>([&] { federated_fit(small(), parties, fc, nullptr, ck); }),
               Catch::Contains("junk.pt"));
  }
  test::remove_tree(dir);
}
