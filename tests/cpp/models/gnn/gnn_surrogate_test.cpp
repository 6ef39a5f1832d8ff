// Graph-network surrogates over a pool of graphs, and campaigns that use
// them: the ensemble's posterior and covariance, the deep-kernel GP, and
// PoolCampaign / pool_campaign over graphs.

#include "core/campaign/pool_campaign.h"
#include "common/error.h"
#include "datasets/composition.h"
#include "models/gnn/gnn_surrogate.h"

#include <set>
#include <torch/linalg.h>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

#include "../../test_util.h"

using namespace sozai;
using namespace sozai::gnn;

namespace {

/// Fe-Ni-Co alloys on a grid (66) and a smooth made-up property of them.
std::shared_ptr<const GraphBatch> alloy_pool(torch::Tensor* y) {
  std::vector<MaterialGraph> graphs;
  std::vector<double> values;
  for (int a = 0; a <= 10; ++a) {
    for (int b = 0; a + b <= 10; ++b) {
      const double fe = a / 10.0, ni = b / 10.0, co = (10 - a - b) / 10.0;
      graphs.push_back(composition_graph(parse_formula(str("Fe", fe, "Ni", ni, "Co", co))));
      values.push_back(100 * fe * fe + 50 * ni - 30 * fe * co + 10);
    }
  }
  *y = torch::tensor(values, torch::kFloat64);
  return std::make_shared<const GraphBatch>(batch_graphs(graphs));
}

GnnSurrogateConfig small(const std::string& kind) {
  GnnSurrogateConfig c;
  c.kind = kind;
  c.ensemble.kind = "composition";
  c.ensemble.n_members = 3;
  c.ensemble.model.hidden = c.ensemble.model.head_hidden = 16;
  c.ensemble.model.layers = 2;
  c.ensemble.train.max_epochs = 60;
  c.ensemble.train.lr = 3e-3;
  c.dkl_dims = 3;
  c.gp.restarts = 2;
  return c;
}

torch::Tensor rows_of(std::vector<int64_t> r) {
  return torch::tensor(r, torch::kInt64).to(torch::kFloat64).unsqueeze(1);
}

}  // namespace

TEST_CASE("GnnSurrogate (ensemble): posterior and epistemic covariance over the pool", "[gnn][surrogate]") {
  torch::Tensor y;
  auto pool = alloy_pool(&y);
  GnnSurrogate s(pool, small("gnn"));
  std::vector<int64_t> train;
  for (int64_t i = 0; i < pool->num_graphs(); i += 3) train.push_back(i);
  const auto X = rows_of(train);
  s.fit(Dataset{X, y.index_select(0, X.squeeze(1).to(torch::kInt64))});
  const auto all = torch::arange(pool->num_graphs(), torch::kFloat64).unsqueeze(1);
  const auto post = s.posterior(all);
  const auto direct = s.ensemble().predict(*pool);
  CHECK(torch::allclose(post.mean, direct.mean));
  CHECK(torch::allclose(post.variance, direct.variance));
  // The covariance is symmetric, positive semi-definite, and its diagonal
  // (the epistemic part) never exceeds the full predictive variance.
  const auto K = s.latent_covariance(all, all);
  CHECK(torch::allclose(K, K.t()));
  CHECK(torch::linalg::eigvalsh(K, "L").min().item<double>() > -1e-8 * K.diagonal().max().item<double>());
  CHECK((K.diagonal() <= post.variance.squeeze(1) * (1 + 1e-9)).all().item<bool>());
  CHECK(s.name() == "GnnEnsemble(composition x3)");

  using test::message_of;
  CHECK_THAT(message_of<InputError>([&] { s.posterior(rows_of({66})); }), Catch::Contains("[0, 66)"));
  CHECK_THAT(message_of<InputError>([&] { s.posterior(torch::full({1, 1}, 0.5, torch::kFloat64)); }),
             Catch::Contains("whole pool rows"));
  CHECK_THAT(message_of<InputError>([&] { GnnSurrogate(pool, [] { auto c = small("gnn"); c.kind = "mlp"; return c; }()); }),
             Catch::Contains("gnn, gnn-dkl or gp-pretrained"));
}

TEST_CASE("GnnSurrogate (deep kernel): a GP on the learned embedding", "[gnn][surrogate]") {
  torch::Tensor y;
  auto pool = alloy_pool(&y);
  GnnSurrogate s(pool, small("gnn-dkl"));
  const auto X = rows_of({0, 5, 10, 20, 30, 40, 50, 60, 65});
  const auto yx = y.index_select(0, X.squeeze(1).to(torch::kInt64));
  s.fit(Dataset{X, yx});
  REQUIRE(s.gp() != nullptr);
  CHECK(s.gp()->train_inputs().size(1) == 3);
  const auto at_data = s.posterior(X);
  CHECK((at_data.mean.squeeze(1) - yx).abs().max().item<double>() < 0.25 * (yx.max() - yx.min()).item<double>());
  const auto all = s.posterior(torch::arange(66, torch::kFloat64).unsqueeze(1));
  CHECK(torch::isfinite(all.mean).all().item<bool>());
  // Less sure away from the data than at it.
  CHECK(all.variance.mean().item<double>() > at_data.variance.mean().item<double>());
  CHECK(s.name() == "DeepKernelGP(composition x3, 3 dims)");
}

TEST_CASE("PoolCampaign over graphs with a GNN surrogate", "[gnn][surrogate][campaign]") {
  torch::Tensor y;
  auto pool = alloy_pool(&y);
  CampaignConfig cfg;
  cfg.acquisition.kind = AcquisitionKind::LogEI;
  cfg.surrogate = "gnn";
  cfg.n_init = 4;
  cfg.gnn.n_members = 2;
  cfg.gnn.hidden = 16;
  cfg.gnn.max_epochs = 40;
  PoolCampaign c(pool, cfg);
  c.tell(c.ask(4).rows, std::vector<double>{10, 20, 30, 40});  // made-up first results
  const auto batch = c.ask(3).rows;
  REQUIRE(batch.size() == 3);
  CHECK(std::set<int64_t>(batch.begin(), batch.end()).size() == 3);
  for (auto r : batch) CHECK(std::find(c.observed_indices().begin(), c.observed_indices().end(), r) ==
                             c.observed_indices().end());
  REQUIRE(c.model() != nullptr);
  CHECK(c.model()->name() == "GnnEnsemble(composition x2)");

  // Saved campaigns keep rows and settings; the graphs come back by hand.
  auto back = PoolCampaign::from_json(c.to_json());
  CHECK(back.config().gnn.hidden == 16);
  CHECK(back.pending_rows() == c.pending_rows());
  CHECK_THAT(test::message_of<InputError>([&] { back.ask(1); }), Catch::Contains("attach_graphs"));
  CHECK_THROWS_AS(back.attach_graphs(std::make_shared<const GraphBatch>(select_graphs(*pool, torch::arange(3)))),
                  InputError);
  back.attach_graphs(pool);
  CHECK(back.ask(1).rows.size() == 1);

  // A GP cannot model graphs.
  cfg.surrogate = "gp";
  CHECK_THROWS_AS(PoolCampaign(pool, cfg), InputError);

  // The replay helper over graphs, deep-kernel surrogate.
  cfg.surrogate = "gnn-dkl";
  cfg.n_init = 3;
  const auto order = pool_campaign(pool, y, cfg, 7, /*q=*/2);
  CHECK(order.size() == 7);
  CHECK(std::set<int64_t>(order.begin(), order.end()).size() == 7);
}
