// Deep ensembles: training reduces error on a learnable target, the mixture
// variance is larger far from the data than near it, save/load predicts
// the same numbers, and bad input is refused.

#include <sozai/core/common/error.h>
#include <sozai/datasets/composition.h>
#include <sozai/models/gnn/ensemble.h>

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
  std::vector<std::string> f;
  std::vector<double> yv;
  alloys(&f, &yv);
  auto y = torch::tensor(yv, torch::kFloat64);
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
  std::vector<std::string> f;
  std::vector<double> yv;
  alloys(&f, &yv);
  auto y = torch::tensor(yv, torch::kFloat64);
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
