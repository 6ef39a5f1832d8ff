// JSON form of design spaces and candidates: every parameter type and
// constraint survives a round trip (same encoding, same feasibility), and
// malformed spaces and candidates are refused with the place named.
#include "common/error.h"
#include "core/space/design_space_json.h"

#include <catch2/catch.hpp>

using namespace sozai;
using nlohmann::json;

namespace {
DesignSpace mixed_space() {
  DesignSpace s;
  s.add_continuous("T", 300.0, 900.0).add_continuous("t", 1.0, 100.0, true, 5).add_integer("n", 1, 6);
  s.add_categorical("route", {"cast", "forged", "printed"},
                    torch::tensor({1.0, 0.5, 2.0, -1.0, 3.0, 0.0}, torch::kFloat64).reshape({3, 2}));
  s.add_composition("alloy", {"Fe", "Co", "Ni"}, {0.1, 0.0, 0.0}, {1.0, 0.5, 1.0}, 0.05);
  s.add_linear_constraint({{{"T", 1.0}, {"alloy.Co", 200.0}}, 950.0, false});
  s.forbid_elements({"Ni"});
  s.set_critical_budget(0.4, {{"Co", 0.9}});
  return s;
}
}  // namespace

TEST_CASE("a design space survives a JSON round trip", "[space][json]") {
  auto s = mixed_space();
  const auto text = space_to_json(s).dump();
  auto back = space_from_json(json::parse(text));
  CHECK(space_to_json(back).dump() == text);
  REQUIRE(back.raw_width() == s.raw_width());
  REQUIRE(back.encoded_width() == s.encoded_width());
  CHECK(back.encoded_names() == s.encoded_names());
  auto X = s.sample(64, 3);
  CHECK(torch::equal(back.encode(X), s.encode(X)));
  CHECK(torch::equal(back.feasible(X), s.feasible(X)));
  CHECK(torch::allclose(back.critical_fraction(X), s.critical_fraction(X)));
  CHECK(back.grid_size() == s.grid_size());
  // Constraints, forbidden elements and the critical budget came back.
  std::vector<double> ni = {300, 10, 1, 0, 0.5, 0.0, 0.5};  // Ni is forbidden
  std::vector<double> hot = {900, 10, 1, 0, 0.7, 0.3, 0.0};  // 900 + 200 * 0.3 > 950
  std::vector<double> risky = {300, 10, 1, 0, 0.5, 0.5, 0.0};  // 0.9 * 0.5 > 0.4
  std::vector<double> fine = {300, 10, 1, 0, 0.8, 0.2, 0.0};
  CHECK_THAT(back.violation(ni.data()), Catch::Matchers::Contains("forbidden"));
  CHECK_FALSE(back.violation(hot.data()).empty());
  CHECK_FALSE(back.violation(risky.data()).empty());
  CHECK(back.violation(fine.data()).empty());
}

TEST_CASE("encoded_bounds covers every encoded value", "[space][json]") {
  auto s = mixed_space();
  auto b = s.encoded_bounds();
  auto E = s.encode(s.sample(200, 1));
  CHECK((E >= b[0] - 1e-12).all().item<bool>());
  CHECK((E <= b[1] + 1e-12).all().item<bool>());
  CHECK(b[0][3].item<double>() == 1.0);  // route's descriptor columns
  CHECK(b[1][3].item<double>() == 3.0);
  CHECK(b[0][4].item<double>() == -1.0);
  CHECK(b[1][4].item<double>() == 0.5);
}

TEST_CASE("candidates convert to named values and back", "[space][json]") {
  auto s = mixed_space();
  auto X = s.sample(20, 7);
  for (int64_t i = 0; i < X.size(0); ++i) {
    const double* c = X[i].data_ptr<double>();
    auto j = candidate_to_json(s, c);
    CHECK(j.at("route").is_string());
    CHECK(j.at("n").is_number_integer());
    CHECK(j.at("alloy").at("Fe").is_number());
    auto back = candidate_from_json(s, json::parse(j.dump()));
    for (int64_t k = 0; k < s.raw_width(); ++k) CHECK(back[k] == c[k]);
  }
}

TEST_CASE("malformed spaces name the parameter and field", "[space][json]") {
  auto msg = [](const std::string& text) {
    try {
      space_from_json(json::parse(text), "spec.json");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  using Catch::Matchers::Contains;
  CHECK_THAT(msg(R"({"parameters": []})"), Contains("non-empty"));
  CHECK_THAT(msg(R"({"parameters": [{"name": "T", "type": "continuous", "low": 1}]})"),
             Contains("parameters[0] ('T'): missing field 'high'"));
  CHECK_THAT(msg(R"({"parameters": [{"name": "T", "type": "continuous", "low": 1, "high": "9"}]})"),
             Contains("'high' must be a number"));
  CHECK_THAT(msg(R"({"parameters": [{"name": "T", "type": "continous", "low": 1, "high": 9}]})"),
             Contains("unknown type 'continous'"));
  CHECK_THAT(msg(R"({"parameters": [{"name": "T", "type": "continuous", "low": 1, "high": 9, "hgih": 2}]})"),
             Contains("unknown field 'hgih'"));
  CHECK_THAT(msg(R"({"parameters": [{"name": "T", "type": "continuous", "low": 9, "high": 1}]})"),
             Contains("parameters[0]: design space: parameter 'T'"));
  CHECK_THAT(msg(R"({"parameters": [{"name": "n", "type": "integer", "low": 0.5, "high": 3}]})"),
             Contains("whole numbers"));
  CHECK_THAT(msg(R"({"parameters": [{"name": "c", "type": "categorical", "choices": "ab"}]})"),
             Contains("'choices' has the wrong type"));
  CHECK_THAT(msg(R"({"parameters": [{"name": "T", "type": "continuous", "low": 1, "high": 9}],
                     "constraints": [{"terms": {"X": 1}, "rhs": 2}]})"),
             Contains("constraints[0]"));
  CHECK_THAT(msg(R"([1, 2])"), Contains("must be a JSON object"));
}

TEST_CASE("malformed candidates name the parameter", "[space][json]") {
  auto s = mixed_space();
  auto good = candidate_to_json(s, s.sample(1, 0)[0].data_ptr<double>());
  auto msg = [&](const std::function<void(json&)>& edit) {
    json j = good;
    edit(j);
    try {
      candidate_from_json(s, j, "experiment 4");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  using Catch::Matchers::Contains;
  CHECK(msg([](json&) {}) == "no error");
  CHECK_THAT(msg([](json& j) { j.erase("T"); }), Contains("experiment 4: parameter 'T' is missing"));
  CHECK_THAT(msg([](json& j) { j["T"] = "hot"; }), Contains("'T' must be a number"));
  CHECK_THAT(msg([](json& j) { j["T"] = 1e6; }), Contains("outside the design space"));
  CHECK_THAT(msg([](json& j) { j["n"] = 2.5; }), Contains("whole number"));
  CHECK_THAT(msg([](json& j) { j["route"] = "welded"; }), Contains("not one of its choices"));
  CHECK_THAT(msg([](json& j) { j["colour"] = "red"; }), Contains("unknown parameter 'colour'"));
  CHECK_THAT(msg([](json& j) { j["alloy"]["Pt"] = 0.1; }), Contains("no element 'Pt'"));
  CHECK_THAT(msg([](json& j) { j["alloy"] = {{"Fe", 0.5}}; }), Contains("sum to"));
}
