// Importing property tables: bad rows of every kind are reported by line
// with their reason and the good rows are kept, in order, with provenance.

#include "common/error.h"
#include "datasets/property_import.h"

#include <filesystem>
#include <fstream>
#include <sstream>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

#include "../test_util.h"

using namespace sozai;

namespace {
std::map<int, std::string> reasons(const PropertyImportReport& r) {
  std::map<int, std::string> out;
  for (const auto& b : r.bad_rows) out[b.line] = b.reason;
  return out;
}
}  // namespace

#ifdef SOZAI_WITH_RDKIT
TEST_CASE("polymer import keeps good rows and reports bad ones by line", "[datasets][import]") {
  PropertyImportOptions o;
  o.kind = "polymer";
  o.input_column = "Smiles";
  o.target_columns = {"Tg"};
  o.target_units = {"degC"};
  o.morgan_bits = 256;
  auto r = import_property_csv(test::fixture("polymers_bad.csv"), o);
  CHECK(r.data.inputs == std::vector<std::string>{"*CC*", "*CC(*)c1ccccc1", "*CC(Cl)*"});
  CHECK(reasons(r.report) == std::map<int, std::string>{{4, "invalid SMILES"},
                                                        {5, "missing target"},
                                                        {6, "non-numeric target"},
                                                        {7, "malformed row"},
                                                        {9, "invalid repeat unit"}});
  CHECK(r.report.rows_read == 8);
  CHECK(r.report.rows_kept == 3);
  CHECK(r.report.summary().find("kept 3 of 8 rows") != std::string::npos);
  for (const auto& b : r.report.bad_rows) CHECK(b.message.find("row " + std::to_string(b.line)) != std::string::npos);
  CHECK(r.data.targets.sizes() == torch::IntArrayRef({3, 1}));
  CHECK(r.data.targets[2][0].item<double>() == 81.0);
  CHECK(r.data.features.sizes() == torch::IntArrayRef({3, 256}));
  CHECK(r.data.graphs.num_graphs() == 3);
  CHECK(r.data.graphs.graph(0).num_nodes() == 2);  // *CC*: two carbons
  CHECK(r.data.provenance.at("input_sha256").size() == 64);
  CHECK(r.data.provenance.at("featurizer").find("polymer_graph") != std::string::npos);
}
#endif

TEST_CASE("composition import separates unknown elements from malformed formulas", "[datasets][import]") {
  PropertyImportOptions o;
  o.kind = "composition";
  o.input_column = "formula";
  o.target_columns = {"target"};
  auto r = import_property_csv(test::fixture("compositions_bad.csv"), o);
  CHECK(r.data.inputs == std::vector<std::string>{"Fe0.7Ni0.3", "Al2O3", "Ca(OH)2"});
  CHECK(reasons(r.report) ==
        std::map<int, std::string>{{4, "unknown element"}, {5, "malformed formula"}, {6, "missing target"}});
  CHECK(r.data.features.size(1) == 110);
  CHECK(r.data.feature_names.size() == 110);
  CHECK(r.data.graphs.num_graphs() == 3);
  auto counts = r.report.counts();
  CHECK(counts["unknown element"] == 1);
  // A written import reads back identically.
  const auto path = test::make_temp_dir("sozai_import") + "/c.h5";
  write_featurized(r.data, path);
  auto back = read_featurized(path);
  CHECK(back.inputs == r.data.inputs);
  CHECK(torch::equal(back.features, r.data.features));
}

TEST_CASE("crystal import reports malformed structures", "[datasets][import]") {
  std::ifstream f(std::string(SOZAI_TEST_FIXTURES) + "/structures/NaCl_Fm-3m.cif");
  std::stringstream cif;
  cif << f.rdbuf();
  std::string text = cif.str();
  std::string quoted;
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  const auto dir = test::make_temp_dir("sozai_import");
  const auto csv = dir + "/crystals.csv";
  {
    std::ofstream out(csv);
    out << "id,cif,energy\n";
    out << "a,\"" << quoted << "\",-1.5\n";
    out << "b,\"data_x\n_cell_length_a 4.0\n\",-2.0\n";  // no cell angles, no atoms
    out << "c,\"" << quoted << "\",-1.25\n";
  }
  PropertyImportOptions o;
  o.kind = "crystal";
  o.input_column = "cif";
  o.target_columns = {"energy"};
  o.max_neighbors = 6;
  auto r = import_property_csv(csv, o);
  CHECK(r.data.size() == 2);
  REQUIRE(r.report.bad_rows.size() == 1);
  CHECK(r.report.bad_rows[0].reason == "malformed structure");
  CHECK(r.report.bad_rows[0].line == 3 + static_cast<int>(std::count(text.begin(), text.end(), '\n')));
  CHECK(r.data.graphs.num_graphs() == 2);
  CHECK(!r.data.features.defined());
}

TEST_CASE("whole-file problems are errors, not bad rows", "[datasets][import]") {
  using test::message_of;
  PropertyImportOptions o;
  o.kind = "composition";
  o.input_column = "formula";
  o.target_columns = {"yield"};
  CHECK_THAT(message_of<InputError>([&] { import_property_csv(test::fixture("compositions_bad.csv"), o); }),
             Catch::Contains("no column 'yield'; the header has 'formula', 'target'"));
  o.kind = "alloy";
  CHECK_THAT(message_of<InputError>([&] { import_property_csv(test::fixture("compositions_bad.csv"), o); }),
             Catch::Contains("kind must be polymer, composition or crystal"));
  CHECK_THAT(message_of<InputError>([] { property_import_preset("nope"); }), Catch::Contains("no import preset"));
  o.kind = "composition";
  o.target_columns = {"target"};
  CHECK_THAT(message_of<StorageError>([&] { import_property_csv("/nonexistent/x.csv", o); }),
             Catch::Contains("/nonexistent/x.csv"));
}

TEST_CASE("process conditions are appended beside the composition", "[datasets][import]") {
  PropertyImportOptions o;
  o.kind = "composition";
  o.input_column = "formula";
  o.target_columns = {"ys"};
  o.numeric_conditions = {"T"};
  o.categorical_conditions = {"route"};
  auto r = import_property_csv(test::fixture("alloys_conditions.csv"), o);
  CHECK(r.data.inputs == std::vector<std::string>{"Fe0.7Ni0.3", "AlCoCrFeNi", "CoCrFeMnNi"});
  CHECK(reasons(r.report) == std::map<int, std::string>{{3, "missing condition"}});
  const auto& names = r.data.feature_names;
  REQUIRE(names.size() == 110 + 1 + 3);
  CHECK(std::vector<std::string>(names.end() - 4, names.end()) ==
        std::vector<std::string>{"T", "route=cast", "route=unknown", "route=wrought"});
  auto tail = r.data.features.narrow(1, 110, 4);
  auto expect = torch::tensor({{25.f, 1.f, 0.f, 0.f}, {600.f, 0.f, 1.f, 0.f}, {-196.f, 1.f, 0.f, 0.f}});
  CHECK(torch::equal(tail, expect));
  o.numeric_conditions = {"route"};
  o.categorical_conditions = {};
  auto bad = import_property_csv(test::fixture("alloys_conditions.csv"), o);
  CHECK(bad.report.counts()["non-numeric condition"] == 3);
}
