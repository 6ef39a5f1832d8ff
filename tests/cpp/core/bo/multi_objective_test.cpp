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

AcquisitionSpec two_objectives(const std::string& kind) {
  auto c = test::spec_for(kind);
  c.outcomes = {Outcome::maximize(), Outcome::maximize()};
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
  cfg.mc_samples = 2048;
  auto C = p.pool.slice(0, 10, 40);
  auto value = test::values_at(*make_acquisition(cfg, models, {Xo, Yo}), C);
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
  cfg.kind = AcquisitionKind::qLogNEHVI;
  cfg.sampling.tau = 1e-6;
  auto logv = test::values_at(*make_acquisition(cfg, models, {Xo, Yo}), C);
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
    cfg.mc_samples = 64;
    cfg.sampling.chunk = 45;
    std::vector<int64_t> pending = {30};
    auto batch = test::pick_rows(cfg, models, Xo, Yo, p.pool, p.available, 3, pending);
    REQUIRE(batch.size() == 3);
    CHECK(std::set<int64_t>(batch.begin(), batch.end()).size() == 3);
    for (auto r : batch) CHECK((r >= 12 && r != 30));
    CHECK(test::pick_rows(cfg, models, Xo, Yo, p.pool, p.available, 3, pending) == batch);
    auto acq = make_acquisition(cfg, models, {Xo, Yo, p.pool.index_select(0, torch::tensor(pending, torch::kInt64))});
    for (int64_t j = 0; j < 3; ++j) {
      std::vector<int64_t> members = pending;
      members.insert(members.end(), batch.begin(), batch.begin() + j);
      auto free = p.available.clone();
      for (auto r : members) free[r] = false;
      auto rows = torch::nonzero(free).reshape({-1});
      // The value of the next pick after the pending point and the first j picks.
      auto step = acq->start_batch();
      for (int64_t k = 0; k < j; ++k) step->add(p.pool[batch[k]]);
      torch::Tensor v;
      {
        torch::NoGradGuard no_grad;
        v = step->score(p.pool.index_select(0, rows));
      }
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
    auto cfg = two_objectives(kind);
    cfg.outcomes.push_back(Outcome::at_most("", 0.8));
    for (auto r : test::pick_rows(cfg, p.models(), Xo, Yo, p.pool, p.available, 5)) CHECK(pof(r) > 0.1);
  }
  // Single objective with a constraint: qlognei over the feasible best.
  auto one = test::spec_for("qlognei");
  one.outcomes = {Outcome::maximize(), Outcome::at_most("", 0.8)};
  std::vector<const Surrogate*> two = {&p.gps[0], &p.gps[2]};
  auto Y2 = torch::stack({Yo.select(1, 0), Yo.select(1, 2)}, 1);
  for (auto r : test::pick_rows(one, two, Xo, Y2, p.pool, p.available, 4)) CHECK(pof(r) > 0.1);
  // Without the constraint the first pick is one it would rule out.
  one.outcomes[1] = Outcome::at_least("", -100);
  auto free = test::pick_rows(one, two, Xo, Y2, p.pool, p.available, 1);
  CHECK(p.Y[free[0]][2].item<double>() > 0.8);
  CHECK(pof(free[0]) < 0.1);
}

TEST_CASE("outcomes, reference points and errors", "[bo][mo]") {
  using nlohmann::json;
  CHECK(outcome_from_json(json{{"direction", "maximize"}}, "o").maximizes());
  CHECK(outcome_from_json(json{{"direction", "minimize"}}, "o").direction == Outcome::Direction::Minimize);
  auto o = outcome_from_json(json{{"name", "Df"}, {"direction", "at_least"}, {"limit", 2.5}}, "o");
  CHECK((o.direction == Outcome::Direction::AtLeast && o.limit == 2.5 && o.slack(3.0) == 0.5 && o.name == "Df"));
  CHECK(outcome_to_json(Outcome::at_most("", 1e-3)) == json{{"direction", "at_most"}, {"limit", 1e-3}});
  CHECK(outcome_from_json(outcome_to_json(o), "o") == o);
  CHECK_THAT(test::message_of<InputError>([] {
               outcome_from_json(json{{"direction", "at_most"}, {"limit", "abc"}}, "column Df");
             }),
             Catch::Contains("column Df"));
  CHECK_THAT(test::message_of<InputError>([] { outcome_from_json(json{{"direction", "up"}}, "o"); }),
             Catch::Contains("direction must be maximize, minimize, at_most or at_least"));
  CHECK_THAT(test::message_of<InputError>([] {
               outcome_from_json(json{{"direction", "maximize"}, {"limit", 1}}, "o");
             }),
             Catch::Contains("'limit' belongs to at_most / at_least"));
  // The text of state files from before format 2, read only to load them.
  CHECK(outcome_from_legacy_text("MAX", "o").maximizes());
  CHECK(outcome_from_legacy_text("<=1e-3", "o") == Outcome::at_most("", 1e-3));
  CHECK_THAT(test::message_of<InputError>([] { outcome_from_legacy_text("<= abc", "column Df"); }),
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
  auto cfg = test::spec_for("qlognei");
  cfg.outcomes = {Outcome::maximize(), Outcome::maximize(), Outcome::minimize()};
  auto models = p.models();
  CHECK_THAT(test::message_of<InputError>([&] { test::pick_rows(cfg, models, Xo, Yo, p.pool, p.available, 1); }),
             Catch::Contains("one objective"));
  cfg.kind = AcquisitionKind::qNEHVI;
  cfg.ref_point = {0.0};
  CHECK_THAT(test::message_of<InputError>([&] { test::pick_rows(cfg, models, Xo, Yo, p.pool, p.available, 1); }),
             Catch::Contains("ref_point has 1 values for 3 objectives"));
  cfg.ref_point.clear();
  CHECK_THAT(test::message_of<InputError>(
                 [&] { test::pick_rows(cfg, models, Xo, Yo.slice(1, 0, 2), p.pool, p.available, 1); }),
             Catch::Contains("Y_observed must be [8, 3]"));
  CHECK_THAT(test::message_of<InputError>([&] { acquisition_info("qfoo"); }),
             Catch::Contains("unknown acquisition 'qfoo'"));
}
