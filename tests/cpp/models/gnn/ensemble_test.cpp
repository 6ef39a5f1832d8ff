// Deep ensembles: training reduces error on a learnable target, the mixture
// variance is larger far from the data than near it, save/load predicts
// the same numbers, and bad input is refused.

#include "common/error.h"
#include "datasets/composition.h"
#include "models/gnn/ensemble.h"

#include <cmath>
#include <filesystem>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

#include "../../test_util.h"

using namespace sozai;
using namespace sozai::gnn;

namespace {

/// Binary Fe-Ni-Co alloys on a grid and a smooth made-up property of them
/// (a stand-in for a measured one: the test needs a target a model can learn).
void alloys(std::vector<std::string>* formulas, std::vector<double>* y) {
  for (int a = 0; a <= 10; ++a) {
    for (int b = 0; a + b <= 10; ++b) {
      const double fe = a / 10.0, ni = b / 10.0, co = (10 - a - b) / 10.0;
      formulas->push_back(str("Fe", fe, "Ni", ni, "Co", co));
      y->push_back(100 * fe * fe + 50 * ni - 30 * fe * co + 10);
    }
  }
}

/// The alloys as formulas and a float64 target tensor.
std::pair<std::vector<std::string>, torch::Tensor> alloy_data() {
  std::vector<std::string> f;
  std::vector<double> yv;
  alloys(&f, &yv);
  return {f, torch::tensor(yv, torch::kFloat64)};
}

GnnEnsembleConfig small(const std::string& kind) {
  GnnEnsembleConfig c;
  c.kind = kind;
  c.n_members = 3;
  c.seed = 7;
  c.model.hidden = 32;
  c.model.head_hidden = 32;
  c.model.layers = 2;
  c.train.max_epochs = 120;
  c.train.batch_size = 16;
  c.train.lr = 3e-3;
  c.train.patience = 40;
  c.train.progress = false;
  return c;
}

}  // namespace

TEST_CASE("a composition ensemble learns, is less sure far from its data, and round-trips", "[gnn][ensemble]") {
  const auto [f, y] = alloy_data();
  GnnEnsemble e(small("composition"));
  auto report = e.fit(f, y);
  CHECK(report.epochs.size() == 3);
  auto post = e.predict(f);
  const double mae = (post.mean.squeeze(1) - y).abs().mean().item<double>();
  const double spread = (y - y.mean()).abs().mean().item<double>();
  INFO("training MAE " << mae << " against a mean-predictor MAE of " << spread);
  CHECK(mae < 0.35 * spread);
  CHECK((post.variance > 0).all().item<bool>());
  // Far from Fe-Ni-Co alloys: oxides and halides of other elements.
  auto far = e.predict(std::vector<std::string>{"Al2O3", "NaCl", "SiC", "Li2O", "MgF2", "BaTiO3"});
  CHECK(far.variance.mean().item<double>() > 2.0 * post.variance.mean().item<double>());

  const auto path = test::make_temp_dir("sozai_gnn") + "/m.pt";
  e.save(path);
  auto back = GnnEnsemble::load(path);
  auto again = back.predict(f);
  CHECK(torch::allclose(again.mean, post.mean, 1e-10, 1e-10));
  CHECK(torch::allclose(again.variance, post.variance, 1e-10, 1e-10));
}

TEST_CASE("the same seed trains the same ensemble", "[gnn][ensemble]") {
  const auto [f, y] = alloy_data();
  auto c = small("composition");
  c.n_members = 2;
  c.train.max_epochs = 10;
  GnnEnsemble a(c), b(c);
  a.fit(f, y);
  b.fit(f, y);
  CHECK(torch::equal(a.predict(f).mean, b.predict(f).mean));
}

TEST_CASE("ensemble input errors", "[gnn][ensemble]") {
  using test::message_of;
  CHECK_THAT(message_of<InputError>([] { GnnEnsemble(small("alloy")); }), Catch::Contains("kind must be"));
  GnnEnsemble e(small("composition"));
  CHECK_THAT(message_of<InputError>([&] { e.predict(std::vector<std::string>{"Fe"}); }),
             Catch::Contains("has not been fitted"));
  CHECK_THAT(message_of<InputError>([&] {
               e.fit(std::vector<std::string>{"Fe", "Ni", "Xy2"}, torch::tensor({1.0, 2.0, 3.0}, torch::kFloat64));
             }),
             Catch::Contains("input 2"));
  CHECK_THAT(message_of<InputError>([&] {
               e.fit(std::vector<std::string>{"Fe", "Ni"}, torch::tensor({1.0, std::nan("")}, torch::kFloat64));
             }),
             Catch::Contains("y contains NaN"));
  CHECK_THAT(message_of<StorageError>([] { GnnEnsemble::load("/nonexistent/model.pt"); }),
             Catch::Contains("/nonexistent/model.pt"));
}

TEST_CASE("members trained side by side give the same ensemble as one after another", "[gnn][ensemble]") {
  const auto [f, y] = alloy_data();
  auto c = small("composition");
  c.train.max_epochs = 8;
  c.train.threads = 1;
  GnnEnsemble serial(c);
  serial.fit(f, y);
  c.train.threads = 3;
  GnnEnsemble parallel(c);
  parallel.fit(f, y);
  CHECK(torch::equal(serial.predict(f).mean, parallel.predict(f).mean));
  CHECK(torch::equal(serial.predict(f).variance, parallel.predict(f).variance));
  CHECK(serial.report().epochs == parallel.report().epochs);
}

TEST_CASE("single members, embeddings and MC dropout", "[gnn][ensemble]") {
  const auto [f, y] = alloy_data();
  auto c = small("composition");
  c.train.max_epochs = 20;
  GnnEnsemble e(c);
  e.fit(f, y);
  const auto g = e.featurize(f);
  torch::Tensor members;
  const auto post = e.predict(g, {}, &members);
  // The ensemble mean is the members' mean; member i alone predicts row i.
  for (int64_t m = 0; m < c.n_members; ++m) {
    const auto one = e.predict_member(m, g);
    CHECK(torch::allclose(one.mean.squeeze(1), members[m], 1e-12, 1e-12));
    CHECK((one.variance > 0).all().item<bool>());
  }
  CHECK(torch::allclose(post.mean.squeeze(1), members.mean(0), 1e-12, 1e-12));
  CHECK(e.report().member_variance_scale.size() == 3);
  CHECK_THROWS_AS(e.predict_member(3, g), InputError);
  const auto z = e.embed(g);
  CHECK(z.sizes() == torch::IntArrayRef({g.num_graphs(), c.model.hidden}));
  CHECK(torch::isfinite(z).all().item<bool>());

  // MC dropout: repeatable, and the samples add spread to each member.
  c.model.dropout = 0.2;
  c.mc_dropout_samples = 8;
  c.n_members = 1;
  GnnEnsemble mc(c);
  mc.fit(f, y);
  const auto a = mc.predict(g), b = mc.predict(g);
  CHECK(torch::equal(a.mean, b.mean));
  torch::Tensor samples;
  mc.predict(g, {}, &samples);
  CHECK(samples.size(0) == 8);
  CHECK(samples.std(0).mean().item<double>() > 0);
  c.model.dropout = 0.0;
  CHECK_THROWS_AS(GnnEnsemble(c), InputError);  // MC dropout without dropout
}
