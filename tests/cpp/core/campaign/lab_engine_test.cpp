// LabEngine's saved state: the text json::dump writes for it, put together
// from parts written once, and a state that rebuilds the same engine.
#include "core/campaign/lab_engine.h"

#include <catch2/catch.hpp>

#include <cmath>

using namespace sozai;
using nlohmann::json;

namespace {

json pool_over(const std::string& name, int lo, int hi) {
  json pool = json::array();
  for (int i = lo; i <= hi; ++i) pool.push_back({{"x", i}});
  return {{"name", name},
          {"parameters", {{{"name", "x"}, {"type", "integer"}, {"low", lo}, {"high", hi}}}},
          {"objectives", {{{"name", "y"}, {"direction", "maximize"}}}},
          {"pool", pool},
          {"n_init", 2},
          {"seed", 4}};
}

double f(double x) { return -std::pow(x - 7.0, 2) + 0.1 * std::sin(3.0 * x); }

}  // namespace

TEST_CASE("a lab engine's state is json::dump's text of it, and rebuilds the same engine", "[lab][campaign]") {
  LabPriorSource earlier{"c0000000000a", pool_over("earlier", 0, 10), {}, {}};
  for (int x = 0; x <= 10; ++x) {
    earlier.parameters.push_back({{"x", x}});
    earlier.values.push_back({{"y", f(x)}});
  }
  auto next = pool_over("next", 0, 20);
  next["priors"] = {earlier.id};
  for (bool with_priors : {false, true}) {
    INFO("with priors: " << with_priors);
    auto engine = with_priors ? LabEngine::create(next, {earlier}) : LabEngine::create(pool_over("alone", 0, 20));
    for (int round = 0; round < 4; ++round) {
      const auto text = engine.state();
      // Exactly what json::dump writes (keys in its order, numbers as it writes them).
      CHECK(json::parse(text).dump() == text);
      CHECK(json::parse(text).contains("priors") == with_priors);
      // The same engine back: the same state, and the same next proposal.
      auto again = LabEngine::from_state(text);
      CHECK(again.state() == text);
      auto p = engine.ask(1), q = again.ask(1);
      REQUIRE(p.size() == 1);
      REQUIRE(q.size() == 1);
      CHECK(p[0].parameters == q[0].parameters);
      engine.tell(p[0], {f(p[0].parameters.at("x").get<double>())});
    }
  }
}
