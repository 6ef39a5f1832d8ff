/// Tests of formula parsing (forms found in real data, errors with
/// positions), the Magpie statistics against hand-computed values, the
/// composition graph and the critical fraction. Comparison with pymatgen on
/// every shared formula is in tests/python/test_composition.py; here every
/// shared formula must at least parse.

#include "common/error.h"
#include "datasets/composition.h"
#include "datasets/csv.h"

#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

#include "../test_util.h"

namespace {

using Catch::Matchers::Contains;
using sozai::test::message_of;

/// symbol -> raw amount, for comparisons that print well.
std::map<std::string, double> amounts(const sozai::Composition& c) {
  std::map<std::string, double> m;
  for (size_t i = 0; i < c.size(); ++i) m[c.symbol(i)] = c.amounts[i];
  return m;
}

std::vector<std::string> symbols(const sozai::Composition& c) {
  std::vector<std::string> v;
  for (size_t i = 0; i < c.size(); ++i) v.push_back(c.symbol(i));
  return v;
}

double prop(const char* symbol, const char* name) {
  const auto& names = sozai::element_property_names();
  for (int p = 0; p < sozai::kNumElementProperties; ++p)
    if (names[p] == name) return sozai::element(symbol).properties[p];
  FAIL("no property " << name);
  return 0;
}

int prop_index(const char* name) {
  const auto& names = sozai::element_property_names();
  for (int p = 0; p < sozai::kNumElementProperties; ++p)
    if (names[p] == name) return p;
  FAIL("no property " << name);
  return -1;
}

}  // namespace

TEST_CASE("parse_formula: forms found in real data", "[datasets][composition]") {
  using M = std::map<std::string, double>;
  const std::vector<std::pair<std::string, M>> cases = {
      {"Al0.25 Co1 Fe1 Ni1", {{"Al", 0.25}, {"Co", 1}, {"Fe", 1}, {"Ni", 1}}},
      {"K12O16V4", {{"K", 12}, {"O", 16}, {"V", 4}}},
      {"Fe0.620C0.000953Mn0.000521", {{"Fe", 0.620}, {"C", 0.000953}, {"Mn", 0.000521}}},
      {"(Ba0.5Sr0.5)TiO3", {{"Ba", 0.5}, {"Sr", 0.5}, {"Ti", 1}, {"O", 3}}},
      {"Ca(OH)2", {{"Ca", 1}, {"O", 2}, {"H", 2}}},
      {"Ag(W3Br7)2", {{"Ag", 1}, {"W", 6}, {"Br", 14}}},
      {"Ag2Mo(I2O7)2", {{"Ag", 2}, {"Mo", 1}, {"I", 4}, {"O", 14}}},
      {"K4[Fe(CN)6]", {{"K", 4}, {"Fe", 1}, {"C", 6}, {"N", 6}}},
      {"[Co(NH3)6]2(SO4)3", {{"Co", 2}, {"N", 12}, {"H", 36}, {"S", 3}, {"O", 12}}},
      {"((CH3)2)3Si", {{"C", 6}, {"H", 18}, {"Si", 1}}},
      {"CuSO4\xC2\xB7" "5H2O", {{"Cu", 1}, {"S", 1}, {"O", 9}, {"H", 10}}},
      {"Na2CO3 \xE2\x80\xA2 10 H2O", {{"Na", 2}, {"C", 1}, {"O", 13}, {"H", 20}}},
      {"CuSO4.5H2O", {{"Cu", 1}, {"S", 1}, {"O", 5.5}, {"H", 2}}},  // '.' is a decimal point
      {"FeOFe", {{"Fe", 2}, {"O", 1}}},
      {"Fe1e-3Ni", {{"Fe", 1e-3}, {"Ni", 1}}},
      {"Fe2.5E+1Ni.5", {{"Fe", 25}, {"Ni", 0.5}}},
      {"Fe0Ni1", {{"Ni", 1}}},
      {"  Fe 2 O 3  ", {{"Fe", 2}, {"O", 3}}},
      {"Cf", {{"Cf", 1}}},
  };
  for (const auto& [formula, expected] : cases) {
    INFO(formula);
    const auto c = sozai::parse_formula(formula);
    const auto got = amounts(c);
    REQUIRE(got.size() == expected.size());
    for (const auto& [sym, amount] : expected) CHECK(got.at(sym) == Approx(amount).epsilon(1e-14));
    double total = 0, fsum = 0;
    for (size_t i = 0; i < c.size(); ++i) {
      total += c.amounts[i];
      fsum += c.fractions[i];
      CHECK(c.fractions[i] == Approx(c.amounts[i] / c.total).epsilon(1e-15));
    }
    CHECK(c.total == Approx(total));
    CHECK(fsum == Approx(1.0).epsilon(1e-14));
    CHECK(c.formula == formula);
  }
}

TEST_CASE("parse_formula: elements keep the order of first appearance", "[datasets][composition]") {
  const auto c = sozai::parse_formula("Ag(W3Br7)2Ag");
  CHECK(symbols(c) == std::vector<std::string>{"Ag", "W", "Br"});
  CHECK(c.amounts == std::vector<double>{2, 6, 14});
  CHECK(c.fraction_of(74) == Approx(6.0 / 22));
  CHECK(c.fraction_of(26) == 0.0);
  // Fractions exactly as 1 / 13 etc. for the MPEA style.
  const auto a = sozai::parse_formula("Al0.25 Co1 Fe1 Ni1");
  CHECK(a.fractions[0] == 0.25 / 3.25);
  CHECK(a.fractions[1] == 1 / 3.25);
}

TEST_CASE("parse_formula: errors name the formula and the position", "[datasets][composition]") {
  struct Bad {
    std::string formula, fragment;
    int position;  // 1-based character; 0: no position in the message
  };
  const std::vector<Bad> cases = {
      {"", "empty formula", 1},
      {"   ", "blank formula", 1},
      {"AlXx2", "unknown element 'Xx'", 3},
      {"Fe2Q", "unknown element 'Q'", 4},
      {"fe2", "unexpected character 'f'", 1},
      {"Fe(Ni", "unbalanced '('", 3},
      {"FeNi)2", "unbalanced ')'", 5},
      {"(Fe]2", "']' closes the '('", 4},
      {"Fe()2", "empty group '()'", 3},
      {"Fe-1Ni", "negative amounts", 3},
      {"Fe1.Ni", "a '.' needs a digit", 4},
      {"Fe.Ni", "a '.' needs a digit", 3},
      {"2H2O", "number '2' without an element", 1},
      {"Fe2 3O", "number '3' without an element", 5},
      {"Fe$", "unexpected character '$'", 3},
      {"Fe2e", "unexpected character 'e'", 4},
      {"Fe1e999", "out-of-range amount '1e999'", 3},
      {"CuSO4\xC2\xB7", "nothing after the hydrate dot", 7},
      {"\xC2\xB7H2O", "hydrate dot with no elements", 1},
      {"Fe\xC2\xB7Xx", "unknown element 'Xx'", 4},
      {"(Fe\xC2\xB7Ni)", "hydrate dot inside the bracket", 4},
      {"Fe0", "total amount is 0", 0},
      {"(Fe2Ni)0", "total amount is 0", 0},
  };
  for (const auto& b : cases) {
    INFO(b.formula);
    const auto msg = message_of<sozai::InputError>([&] { sozai::parse_formula(b.formula); });
    CHECK_THAT(msg, Contains(b.fragment));
    CHECK_THAT(msg, Contains("\"" + b.formula + "\""));
    if (b.position > 0) CHECK_THAT(msg, Contains("at character " + std::to_string(b.position) + " "));
  }
  const auto msg = message_of<sozai::InputError>([] { sozai::parse_formulas({"NaCl", "Fe2O3", "Xy"}); });
  CHECK_THAT(msg, Contains("formula 2:"));
  CHECK_THAT(msg, Contains("'Xy'"));
}

TEST_CASE("composition features: names and hand-computed statistics", "[datasets][composition]") {
  const auto& names = sozai::composition_feature_names();
  REQUIRE(names.size() == 110);
  CHECK(names[0] == "mean_Number");
  CHECK(names[1] == "avg_dev_Number");
  CHECK(names[4] == "range_Number");
  CHECK(names[5] == "mean_MendeleevNumber");
  CHECK(names[109] == "range_SpaceGroupNumber");
  CHECK(std::set<std::string>(names.begin(), names.end()).size() == 110);

  // Fe3Al: fractions 0.75, 0.25 of Z 26 and 13.
  const auto f = sozai::composition_feature_values(sozai::parse_formula("Fe3Al"));
  REQUIRE(f.size() == 110);
  CHECK(f[0] == Approx(22.75));
  CHECK(f[1] == Approx(0.75 * 3.25 + 0.25 * 9.75));
  CHECK(f[2] == 13);
  CHECK(f[3] == 26);
  CHECK(f[4] == 13);
  const int mt = prop_index("MeltingT");
  const double fe = prop("Fe", "MeltingT"), al = prop("Al", "MeltingT");
  const double mean = 0.75 * fe + 0.25 * al;
  CHECK(f[5 * mt] == Approx(mean));
  CHECK(f[5 * mt + 1] == Approx(0.75 * std::abs(fe - mean) + 0.25 * std::abs(al - mean)));
  CHECK(f[5 * mt + 4] == Approx(std::abs(fe - al)));

  // A single element: mean = value, no deviation, zero range.
  const auto w = sozai::composition_feature_values(sozai::parse_formula("W"));
  for (int p = 0; p < sozai::kNumElementProperties; ++p) {
    CHECK(w[5 * p] == sozai::element("W").properties[p]);
    CHECK(w[5 * p + 1] == 0);
    CHECK(w[5 * p + 4] == 0);
  }
}

TEST_CASE("composition features: missing properties are left out, not zero", "[datasets][composition]") {
  // Cf has no Magpie values: CfFe3 has Fe's statistics, Cf alone has NaN.
  const auto mixed = sozai::composition_feature_values(sozai::parse_formula("CfFe3"));
  const auto fe = sozai::composition_feature_values(sozai::parse_formula("Fe"));
  for (int k = 0; k < 110; ++k) CHECK(mixed[k] == Approx(fe[k]).epsilon(1e-14).margin(1e-12));
  for (double v : sozai::composition_feature_values(sozai::parse_formula("Cf"))) CHECK(std::isnan(v));
}

TEST_CASE("composition features: batch tensor matches single rows", "[datasets][composition]") {
  const std::vector<std::string> formulas = {"NaCl", "Fe0.7Ni0.3", "(Ba0.5Sr0.5)TiO3", "K4[Fe(CN)6]"};
  const auto t = sozai::composition_features(formulas);
  REQUIRE(t.sizes() == torch::IntArrayRef({4, 110}));
  CHECK(t.scalar_type() == torch::kFloat32);
  for (size_t r = 0; r < formulas.size(); ++r) {
    const auto v = sozai::composition_feature_values(sozai::parse_formula(formulas[r]));
    for (int k = 0; k < 110; ++k) CHECK(t[r][k].item<float>() == static_cast<float>(v[k]));
  }
  CHECK(sozai::composition_features(std::vector<std::string>{}).sizes() == torch::IntArrayRef({0, 110}));
  CHECK_THAT(message_of<sozai::InputError>([] { sozai::composition_features(std::vector<std::string>{"Fe", "("}); }),
             Contains("formula 1:"));
}

TEST_CASE("compositions filled in by hand are checked", "[datasets][composition]") {
  sozai::Composition c;
  c.formula = "hand-made";
  c.atomic_numbers = {26, 200};
  c.fractions = {0.5, 0.5};
  CHECK_THAT(message_of<sozai::InputError>([&] { sozai::composition_features(std::vector<sozai::Composition>{c}); }),
             Contains("atomic number 200"));
  c.atomic_numbers = {26};
  CHECK_THAT(message_of<sozai::InputError>([&] { sozai::composition_graph(c); }), Contains("2 fractions"));
  c.atomic_numbers = {26, 28};
  c.fractions = {0.5, -0.5};
  CHECK_THAT(message_of<sozai::InputError>([&] { sozai::critical_fraction(c); }), Contains("fraction -0.5"));
}

TEST_CASE("composition graph: nodes, weights, complete directed edges", "[datasets][composition]") {
  // Number over Z = 1..97: mean 49, population std sqrt((97^2 - 1) / 12) = 28.
  CHECK(sozai::element_property_means()[0] == Approx(49.0));
  CHECK(sozai::element_property_stds()[0] == Approx(28.0));

  const auto c = sozai::parse_formula("SrTiO3");
  const auto g = sozai::composition_graph(c);
  g.validate();
  CHECK(g.kind == "composition");
  REQUIRE(g.num_nodes() == 3);
  REQUIRE(g.num_edges() == 6);
  CHECK(g.x.scalar_type() == torch::kFloat32);
  CHECK(g.x.size(1) == 22);
  CHECK(g.atomic_number.scalar_type() == torch::kInt64);
  CHECK(g.atomic_number[0].item<int64_t>() == 38);
  CHECK(g.atomic_number[2].item<int64_t>() == 8);
  CHECK(g.node_weight[2].item<float>() == Approx(0.6f));
  CHECK(g.node_weight.sum().item<float>() == Approx(1.0f));
  CHECK(g.x[1][0].item<float>() == Approx((22.0 - 49.0) / 28.0));
  const int en = prop_index("Electronegativity");
  CHECK(g.x[2][en].item<float>() ==
        Approx((prop("O", "Electronegativity") - sozai::element_property_means()[en]) /
               sozai::element_property_stds()[en]));
  std::set<std::pair<int64_t, int64_t>> pairs;
  for (int64_t e = 0; e < 6; ++e) {
    const int64_t s = g.edge_index[0][e].item<int64_t>(), d = g.edge_index[1][e].item<int64_t>();
    CHECK(s != d);
    pairs.insert({s, d});
    CHECK(g.edge_attr[e][0].item<float>() == g.node_weight[s].item<float>());
    CHECK(g.edge_attr[e][1].item<float>() == g.node_weight[d].item<float>());
  }
  CHECK(pairs.size() == 6);

  const auto one = sozai::composition_graph(sozai::parse_formula("Fe"));
  one.validate();
  CHECK(one.num_nodes() == 1);
  CHECK(one.num_edges() == 0);
  CHECK(one.edge_attr.sizes() == torch::IntArrayRef({0, 2}));

  // Missing properties become 0 (the table mean), so features stay finite.
  const auto cf = sozai::composition_graph(sozai::parse_formula("CfO2"));
  cf.validate();
  CHECK(cf.x[0].abs().sum().item<float>() == 0.0f);

  const auto b = sozai::batch_graphs({g, one, cf});
  CHECK(b.num_graphs() == 3);
  CHECK(b.num_nodes() == 6);
  CHECK(b.num_edges() == 8);
}

TEST_CASE("critical_fraction: sum of fractions on either list", "[datasets][composition]") {
  CHECK(sozai::critical_fraction(sozai::parse_formula("Fe1 Co1")) == Approx(0.5));
  CHECK(sozai::critical_fraction(sozai::parse_formula("Fe2O3")) == 0.0);
  // Nd and B (EU: boron/borate) are critical, Fe is not.
  CHECK(sozai::critical_fraction(sozai::parse_formula("Nd2Fe14B")) == Approx(3.0 / 17));
  CHECK(sozai::critical_fraction(sozai::parse_formula("LiCoO2")) == Approx(0.5));
}

TEST_CASE("parse_formula: every formula of the shared alloy and ceramic sets", "[datasets][composition]") {
  SOZAI_REQUIRE_DATA_DIR(dir);
  const std::vector<std::tuple<std::string, std::string, size_t>> sets = {
      {"alloys/MPEA_dataset.csv", "FORMULA", 1545},
      {"alloys/matbench_steels_yield.csv", "formula", 312},
      {"ceramics/matbench_castelli.csv", "formula", 18928},
      {"ceramics/matbench_dielectric.csv", "formula", 4764},
      {"ceramics/matbench_expt_gap.csv", "formula", 4604},
  };
  for (const auto& [file, column, rows] : sets) {
    INFO(file);
    const auto t = sozai::read_csv(std::string(dir) + "/" + file, true);
    size_t col = 0;
    while (col < t.header.size() && t.header[col] != column) ++col;
    REQUIRE(col < t.header.size());
    CHECK(t.rows.size() == rows);
    std::vector<std::string> formulas;
    for (const auto& r : t.rows) formulas.push_back(r[col]);
    const auto comps = sozai::parse_formulas(formulas);
    REQUIRE(comps.size() == rows);
    const auto feats = sozai::composition_features(comps);
    CHECK(feats.isfinite().all().item<bool>());  // every element in these sets is in magpie.csv
  }
}
