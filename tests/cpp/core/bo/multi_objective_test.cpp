// Multi-objective and constrained Monte-Carlo acquisition: qNEHVI against
// a plain Monte-Carlo EHVI, the log variant, constraints, ParEGO, greedy
// batches against direct evaluation, and bad input.
#include "core/bo/multi_objective.h"
#include "core/bo/pareto.h"
#include "common/error.h"
#include "models/gp/exact_gp.h"

#include <set>

#include <catch2/catch.hpp>

#include "../../test_util.h"
#include "bo_test_util.h"

using namespace sozai;

namespace {

ExactGP fixed_gp(const torch::Tensor& X, const torch::Tensor& y, double noise = 1e-6) {
  return test::fixed_gp(X, y, noise, 0.3);
}

struct Problem {
  torch::Tensor pool, Y, available;
  std::vector<ExactGP> gps;
  std::vector<const Surrogate*> models() const {
    std::vector<const Surrogate*> m;
    for (const auto& g : gps) m.push_back(&g);
    return m;
  }
};

/// Two conflicting objectives (both maximised) and a constraint outcome.
Problem problem(int64_t n_pool, int64_t n_obs, uint64_t seed, double noise = 1e-6) {
  torch::manual_seed(seed);
  Problem p;
  p.pool = torch::rand({n_pool, 2}, torch::kFloat64);
  auto x0 = p.pool.select(1, 0), x1 = p.pool.select(1, 1);
  auto f1 = torch::sin(3 * x0) + 0.3 * x1;
  auto f2 = torch::cos(3 * x0) - 0.2 * x1 * x1;
  auto c = x0 + x1;  // constraint outcome
  p.Y = torch::stack({f1, f2, c}, 1);
  p.available = torch::ones({n_pool}, torch::kBool);
  p.available.slice(0, 0, n_obs).fill_(false);
  auto Xo = p.pool.slice(0, 0, n_obs);
  p.gps.reserve(3);
  for (int64_t j = 0; j < 3; ++j) p.gps.push_back(fixed_gp(Xo, p.Y.slice(0, 0, n_obs).select(1, j), noise));
  return p;
}

MultiOutcomeConfig two_objectives(const std::string& kind) {
  MultiOutcomeConfig c;
  c.kind = kind;
  c.outcomes = {Outcome{}, Outcome{}};
  c.ref_point = {-0.5, -1.5};
  return c;
}

}  // namespace

TEST_CASE("qNEHVI with q = 1 matches a plain Monte-Carlo EHVI", "[bo][mo]") {
  auto p = problem(120, 10, 31);
  auto models = p.models();
  models.resize(2);
  auto Xo = p.pool.slice(0, 0, 10);
  auto Yo = p.Y.slice(0, 0, 10).slice(1, 0, 2);
  auto cfg = two_objectives("qnehvi");
  cfg.samples = 2048;
  auto C = p.pool.slice(0, 10, 40);
  auto value = multi_outcome_acquisition(models, C, Xo, Yo, cfg);
  REQUIRE(value.size(0) == 30);

  // Oracle: noise-free observations, so the front is the observed one;
  // independent outputs; pseudo-random draws; HVI by exact hypervolume
  // differences in normalised units (as the acquisition reports them).
  auto ref = torch::tensor(cfg.ref_point, torch::kFloat64);
  auto scale = std::get<0>(Yo.max(0)) - ref;
  auto front = (Yo - ref) / scale;
  auto zero = torch::zeros({2}, torch::kFloat64);
  const double base = hypervolume(front, zero);
  torch::manual_seed(5);
  const int64_t S = 3000;
  for (int64_t i = 0; i < 30; i += 3) {
    auto x = C.slice(0, i, i + 1);
    std::vector<torch::Tensor> draws;
    for (int j = 0; j < 2; ++j) {
      auto post = p.gps[j].posterior(x);
      draws.push_back(post.mean.reshape({1}) + post.variance.reshape({1}).sqrt() * torch::randn({S}, torch::kFloat64));
    }
    auto Ys = (torch::stack(draws, 1) - ref) / scale;  // [S, 2]
    double sum = 0.0;
    for (int64_t s = 0; s < S; ++s) sum += hypervolume(torch::cat({front, Ys.slice(0, s, s + 1)}, 0), zero) - base;
    const double oracle = sum / S;
    INFO("candidate " << i << " oracle " << oracle << " qNEHVI " << value[i].item<double>());
    CHECK(value[i].item<double>() == Approx(oracle).margin(0.004 + 0.1 * oracle));
  }

  // The log variant is the log of the same where the improvement is clear.
  cfg.kind = "qlognehvi";
  cfg.tau = 1e-6;
  auto logv = multi_outcome_acquisition(models, C, Xo, Yo, cfg);
  for (int64_t i = 0; i < 30; ++i)
    if (value[i].item<double>() > 1e-3) CHECK(logv[i].item<double>() == Approx(std::log(value[i].item<double>())).margin(0.02));
}

TEST_CASE("greedy multi-objective batches: distinct picks, each the argmax given earlier ones", "[bo][mo]") {
  auto p = problem(200, 12, 32, 1e-4);
  auto models = p.models();
  models.resize(2);
  auto Xo = p.pool.slice(0, 0, 12);
  auto Yo = p.Y.slice(0, 0, 12).slice(1, 0, 2);
  for (std::string kind : {"qnehvi", "qlognehvi", "qparego"}) {
    INFO(kind);
    auto cfg = two_objectives(kind);
    cfg.samples = 64;
    cfg.chunk = 45;
    std::vector<int64_t> pending = {30};
    auto batch = select_batch_multi(models, p.pool, p.available, 3, Xo, Yo, cfg, pending);
    REQUIRE(batch.size() == 3);
    CHECK(std::set<int64_t>(batch.begin(), batch.end()).size() == 3);
    for (auto r : batch) CHECK((r >= 12 && r != 30));
    CHECK(select_batch_multi(models, p.pool, p.available, 3, Xo, Yo, cfg, pending) == batch);
    for (int64_t j = 0; j < 3; ++j) {
      std::vector<int64_t> members = pending;
      members.insert(members.end(), batch.begin(), batch.begin() + j);
      auto free = p.available.clone();
      for (auto r : members) free[r] = false;
      auto rows = torch::nonzero(free).reshape({-1});
      auto v = multi_outcome_acquisition(models, p.pool.index_select(0, rows), Xo, Yo, cfg,
                                         p.pool.index_select(0, torch::tensor(members, torch::kInt64)), j);
      CHECK(rows[v.argmax().item<int64_t>()].item<int64_t>() == batch[j]);
    }
  }
}

TEST_CASE("outcome constraints steer picks to the feasible region", "[bo][mo]") {
  // Constraint x0 + x1 <= 0.8, learned from 25 noise-free observations;
  // the objectives prefer large x0, partly outside it. Each pick must be
  // plausibly feasible under the constraint's own model.
  auto p = problem(400, 25, 33, 1e-6);
  auto Xo = p.pool.slice(0, 0, 25);
  auto Yo = p.Y.slice(0, 0, 25);
  auto pof = [&](int64_t r) {
    auto post = p.gps[2].posterior(p.pool.slice(0, r, r + 1));
    const double z = (0.8 - post.mean.item<double>()) / post.variance.sqrt().item<double>();
    return 0.5 * std::erfc(-z / std::sqrt(2.0));
  };
  for (std::string kind : {"qlognehvi", "qnehvi", "qparego"}) {
    INFO(kind);
    MultiOutcomeConfig cfg = two_objectives(kind);
    cfg.outcomes.push_back(outcome_from_string("<= 0.8"));
    for (auto r : select_batch_multi(p.models(), p.pool, p.available, 5, Xo, Yo, cfg)) CHECK(pof(r) > 0.1);
  }
  // Single objective with a constraint: qlognei over the feasible best.
  MultiOutcomeConfig one;
  one.kind = "qlognei";
  one.outcomes = {Outcome{}, outcome_from_string("<=0.8")};
  std::vector<const Surrogate*> two = {&p.gps[0], &p.gps[2]};
  auto Y2 = torch::stack({Yo.select(1, 0), Yo.select(1, 2)}, 1);
  for (auto r : select_batch_multi(two, p.pool, p.available, 4, Xo, Y2, one)) CHECK(pof(r) > 0.1);
  // Without the constraint the first pick is one it would rule out.
  one.outcomes[1] = outcome_from_string(">= -100");
  auto free = select_batch_multi(two, p.pool, p.available, 1, Xo, Y2, one);
  CHECK(p.Y[free[0]][2].item<double>() > 0.8);
  CHECK(pof(free[0]) < 0.1);
}

TEST_CASE("outcomes, reference points and errors", "[bo][mo]") {
  CHECK(outcome_from_string("MAX").role == Outcome::Role::Maximize);
  CHECK(outcome_from_string("min").role == Outcome::Role::Minimize);
  auto o = outcome_from_string(">= 2.5");
  CHECK((o.role == Outcome::Role::AtLeast && o.bound == 2.5 && o.slack(3.0) == 0.5));
  CHECK(to_string(outcome_from_string("<=1e-3")) == "<=0.001");
  CHECK_THAT(test::message_of<InputError>([] { outcome_from_string("<= abc", "column Df"); }),
             Catch::Contains("column Df"));
  auto Y = torch::tensor({1.0, 4.0, 3.0, 2.0, 0.0, 0.0}, torch::kFloat64).reshape({3, 2});
  auto ref = infer_reference_point(Y, {true, false});
  // Oriented (maximise col 0, minimise col 1): (1,-4), (3,-2), (0,0); the
  // front is (3,-2), (0,0): nadir (0,-2), range (3, 2).
  CHECK(ref[0] == Approx(0.0 - 0.3));
  CHECK(ref[1] == Approx(2.0 + 0.2));

  auto p = problem(50, 8, 34);
  auto Xo = p.pool.slice(0, 0, 8);
  auto Yo = p.Y.slice(0, 0, 8);
  MultiOutcomeConfig cfg;
  cfg.outcomes = {Outcome{}, Outcome{}, Outcome{}};
  cfg.outcomes[2].role = Outcome::Role::Minimize;
  auto models = p.models();
  cfg.kind = "qlognei";
  CHECK_THAT(test::message_of<InputError>([&] { select_batch_multi(models, p.pool, p.available, 1, Xo, Yo, cfg); }),
             Catch::Contains("one objective"));
  cfg.kind = "qnehvi";
  cfg.ref_point = {0.0};
  CHECK_THAT(test::message_of<InputError>([&] { select_batch_multi(models, p.pool, p.available, 1, Xo, Yo, cfg); }),
             Catch::Contains("ref_point has 1 values for 3 objectives"));
  cfg.ref_point.clear();
  CHECK_THAT(test::message_of<InputError>(
                 [&] { select_batch_multi(models, p.pool, p.available, 1, Xo, Yo.slice(1, 0, 2), cfg); }),
             Catch::Contains("Y_observed must be [8, 3]"));
  cfg.kind = "qfoo";
  CHECK_THAT(test::message_of<InputError>([&] { select_batch_multi(models, p.pool, p.available, 1, Xo, Yo, cfg); }),
             Catch::Contains("qnehvi, qlognehvi, qparego or qlognei"));
}
