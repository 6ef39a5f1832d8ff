// Batches from continuous and mixed design spaces: every acquisition by
// name returns feasible, distinct, seeded candidates; pending experiments
// move proposals; the optimiser beats dense random search on the
// acquisition it maximises.
#include "core/bo/analytic.h"
#include "core/bo/select.h"
#include "common/error.h"
#include "models/gp/exact_gp.h"

#include <catch2/catch.hpp>

#include "../../test_util.h"
#include "bo_test_util.h"

using namespace sozai;

namespace {
torch::Tensor objective(const DesignSpace& s, const torch::Tensor& raw) {
  auto X = s.encode(raw);
  return torch::sin(5 * X.select(1, 0)) * torch::cos(4 * X.select(1, 1)) + X.select(1, 1);
}

ExactGP fitted(const DesignSpace& s, const torch::Tensor& raw, const torch::Tensor& y) {
  ExactGPConfig cfg;
  cfg.restarts = 2;
  ExactGP gp(cfg);
  gp.set_input_bounds(torch::zeros({s.encoded_width()}, torch::kFloat64),
                      torch::ones({s.encoded_width()}, torch::kFloat64));
  gp.fit({s.encode(raw), y});
  return gp;
}

/// A batch from the space by `spec` on models fitted over the encoded raw
/// observations; pending: raw candidates.
torch::Tensor in_space(const DesignSpace& s, const std::vector<const Surrogate*>& models, const torch::Tensor& raw,
                       const torch::Tensor& Y, int64_t q, const AcquisitionSpec& spec,
                       const torch::Tensor& pending = {}, const OptimizeConfig& oc = {}) {
  auto P = pending.defined() && pending.numel() > 0 ? s.encode(pending) : torch::Tensor();
  auto acq = make_acquisition(spec, models, {s.encode(raw), Y, P});
  return select_in_space(s, *acq, q, oc);
}
}  // namespace

TEST_CASE("every acquisition proposes feasible, distinct, seeded batches in a space", "[bo][space]") {
  DesignSpace s;
  s.add_continuous("T", 300.0, 900.0).add_continuous("t", 1.0, 100.0, true);
  s.add_linear_constraint({{{"T", 1.0}, {"t", 2.0}}, 950.0, false});
  auto raw = s.sample(12, 4);
  auto y = objective(s, raw);
  auto gp = fitted(s, raw, y);
  OptimizeConfig oc;
  oc.restarts = 3;
  oc.raw_samples = 128;
  for (std::string acq : {"logei", "ucb", "qlognei", "qucb", "thompson"}) {
    INFO(acq);
    auto spec = test::spec_for(acq);
    spec.seed = 3;
    spec.mc_samples = 64;
    auto batch = in_space(s, {&gp}, raw, y, 3, spec, {}, oc);
    REQUIRE(batch.sizes() == torch::IntArrayRef({3, 2}));
    for (int64_t i = 0; i < 3; ++i) CHECK(s.violation(batch[i].data_ptr<double>()).empty());
    CHECK((batch[0] - batch[1]).abs().max().item<double>() > 1e-6);
    CHECK((batch[1] - batch[2]).abs().max().item<double>() > 1e-6);
    CHECK(torch::equal(batch, in_space(s, {&gp}, raw, y, 3, spec, {}, oc)));
    // The first pick is what a batch of one proposes; with it pending, the
    // proposal moves.
    auto one = in_space(s, {&gp}, raw, y, 1, spec, {}, oc);
    CHECK(torch::allclose(one[0], batch[0]));
    if (acq != "thompson") {  // Thompson paths ignore pending outcomes by design
      auto moved = in_space(s, {&gp}, raw, y, 1, spec, one, oc);
      CHECK((moved[0] - one[0]).abs().max().item<double>() > 1e-3);
    }
  }
}

TEST_CASE("the optimiser beats dense random search on LogEI", "[bo][space]") {
  DesignSpace s;
  s.add_composition("c", {"Fe", "Ni", "Co"}, {0.0, 0.0, 0.0}, {1.0, 1.0, 0.5});
  s.set_critical_budget(0.3, {{"Co", 1.0}});
  auto raw = s.sample(10, 5);
  auto X = s.encode(raw);
  auto y = torch::sin(6 * X.select(1, 0)) + X.select(1, 1) * X.select(1, 2) * 4;
  auto gp = fitted(s, raw, y);
  auto spec = test::spec_for("logei");
  auto pick = in_space(s, {&gp}, raw, y, 1, spec);
  REQUIRE(s.violation(pick[0].data_ptr<double>()).empty());
  AcquisitionParams p;
  p.best_f = best_latent_value(gp, y, true);
  auto value = [&](const torch::Tensor& r) {
    auto post = gp.latent_posterior(s.encode(r));
    return analytic_acquisition_differentiable(post.mean.squeeze(1), post.variance.squeeze(1), p);
  };
  auto dense = s.sample(4000, 99);
  CHECK(value(pick)[0].item<double>() >= value(dense).max().item<double>() - 1e-9);
}

TEST_CASE("multi-objective batches in a space", "[bo][space]") {
  DesignSpace s;
  s.add_continuous("a", 0.0, 1.0).add_continuous("b", 0.0, 1.0);
  auto raw = s.sample(12, 6);
  auto f1 = torch::sin(3 * raw.select(1, 0)) + 0.3 * raw.select(1, 1);
  auto f2 = torch::cos(3 * raw.select(1, 0)) - 0.2 * raw.select(1, 1);
  auto Y = torch::stack({f1, f2}, 1);
  auto g1 = fitted(s, raw, f1), g2 = fitted(s, raw, f2);
  auto spec = test::spec_for("qlognehvi");
  spec.outcomes = {Outcome::maximize(), Outcome::maximize()};
  spec.mc_samples = 32;
  OptimizeConfig oc;
  oc.restarts = 2;
  oc.raw_samples = 64;
  auto batch = in_space(s, {&g1, &g2}, raw, Y, 2, spec, {}, oc);
  REQUIRE(batch.size(0) == 2);
  for (int64_t i = 0; i < 2; ++i) CHECK(s.violation(batch[i].data_ptr<double>()).empty());
  CHECK((batch[0] - batch[1]).abs().max().item<double>() > 1e-6);
  CHECK_THAT(test::message_of<InputError>([&] { in_space(s, {&g1, &g2}, raw, f1, 1, spec); }),
             Catch::Contains("Y_observed must be [12, 2]"));
}

namespace {
/// An ExactGP behind the plain Surrogate interface (as a transfer model is).
class Forwarding : public Surrogate {
 public:
  explicit Forwarding(const ExactGP& gp) : gp_(gp) {}
  void fit(const Dataset&) override {}
  Posterior posterior(const torch::Tensor& X) const override { return gp_.posterior(X); }
  Posterior latent_posterior(const torch::Tensor& X) const override { return gp_.latent_posterior(X); }
  torch::Tensor latent_covariance(const torch::Tensor& A, const torch::Tensor& B) const override {
    return gp_.latent_covariance(A, B);
  }
  double latent_noise() const override { return gp_.latent_noise(); }
  torch::Tensor transform_outcome(const torch::Tensor& Y) const override { return gp_.transform_outcome(Y); }
  torch::Tensor untransform_outcome(const torch::Tensor& Z) const override { return gp_.untransform_outcome(Z); }
  std::string name() const override { return "forwarding"; }

 private:
  const ExactGP& gp_;
};
}  // namespace

TEST_CASE("analytic batches over a space score any surrogate as the GP's own kriging believer does", "[bo][space]") {
  auto X = torch::rand({10, 2}, at::TensorOptions().dtype(torch::kFloat64));
  auto y = torch::sin(4 * X.select(1, 0)) + X.select(1, 1);
  auto gp = test::fixed_gp(X, y, 1e-3);
  Forwarding other(gp);
  auto C = torch::rand({50, 2}, at::TensorOptions().dtype(torch::kFloat64));
  auto pending = torch::tensor({{0.2, 0.8}}, torch::kFloat64);
  for (std::string name : {"logei", "ucb", "ei"}) {
    INFO(name);
    auto spec = test::spec_for(name);
    auto a = make_acquisition(spec, {&gp}, {X, y.unsqueeze(1), pending});
    auto b = make_acquisition(spec, {&other}, {X, y.unsqueeze(1), pending});
    auto ba = a->start_batch(), bb = b->start_batch();
    for (int step = 0; step < 3; ++step) {
      CHECK(torch::allclose(ba->score(C), bb->score(C), 1e-6, 1e-6));
      ba->add(C[step]);
      bb->add(C[step]);
    }
    // The fantasies lower the variance, and so the optimism, near them.
    auto near = torch::tensor({{0.2, 0.8}}, torch::kFloat64);
    auto fresh = make_acquisition(spec, {&other}, {X, y.unsqueeze(1), torch::Tensor()})->start_batch();
    CHECK(bb->score(near).item<double>() < fresh->score(near).item<double>());
  }
}
