/// Tests of the element table and the critical-materials lists: every
/// compiled-in value against shared/data/elements/magpie.csv (when
/// SOZAI_DATA_DIR is set), symbol lookups and their errors, and list
/// memberships that the published lists make well known.

#include "common/error.h"
#include "datasets/csv.h"
#include "datasets/elements.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

#include "../test_util.h"

namespace {

using Catch::Matchers::Contains;
using sozai::test::message_of;

int count_members(bool (*on_list)(int)) {
  int n = 0;
  for (int z = 1; z <= sozai::kNumElements; ++z) n += on_list(z) ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("element table: every value equals magpie.csv", "[datasets][composition][elements]") {
  SOZAI_REQUIRE_DATA_DIR(dir);
  const auto t = sozai::read_csv(std::string(dir) + "/elements/magpie.csv", true);
  REQUIRE(t.header.size() == 1 + sozai::kNumElementProperties);
  CHECK(t.header[0] == "element");
  for (int p = 0; p < sozai::kNumElementProperties; ++p)
    CHECK(t.header[p + 1] == sozai::element_property_names()[p]);
  std::set<int> seen;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto& e = sozai::element(t.rows[r][0]);
    seen.insert(e.Z);
    for (int p = 0; p < sozai::kNumElementProperties; ++p) {
      const double csv = sozai::parse_cell_double(t, r, p + 1, t.header[p + 1], /*allow_nan=*/true);
      INFO(e.symbol << " " << t.header[p + 1] << ": table " << e.properties[p] << ", csv " << csv);
      if (std::isnan(csv))
        CHECK(std::isnan(e.properties[p]));
      else
        CHECK(e.properties[p] == csv);  // exact: the generator writes round-trip text
    }
  }
  CHECK(seen.size() == t.rows.size());
  // Elements magpie.csv lacks are all-NaN, never zero-filled.
  for (int z = 1; z <= sozai::kNumElements; ++z) {
    if (seen.count(z)) continue;
    for (double v : sozai::element(z).properties) CHECK(std::isnan(v));
  }
}

TEST_CASE("element table: Number is Z and symbols round-trip", "[datasets][composition][elements]") {
  for (int z = 1; z <= 97; ++z) CHECK(sozai::element_property(z, 0) == z);
  for (int z = 1; z <= sozai::kNumElements; ++z) {
    const auto& e = sozai::element(z);
    CHECK(e.Z == z);
    CHECK(sozai::atomic_number(e.symbol) == z);
    CHECK(sozai::find_atomic_number(e.symbol, std::strlen(e.symbol)) == z);
  }
  CHECK(std::string(sozai::element(26).symbol) == "Fe");
  CHECK(sozai::element("W").Z == 74);
  CHECK(sozai::element("Lr").Z == 103);
  CHECK(std::isnan(sozai::element_property(98, 3)));
  // Spot values from magpie.csv: Fe melting point, O electronegativity.
  CHECK(sozai::element("Fe").properties[3] == 1811.0);
  CHECK(sozai::element("O").properties[7] == 3.44);
}

TEST_CASE("element lookups: unknown symbols and Z are InputErrors", "[datasets][composition][elements]") {
  CHECK_THAT(message_of<sozai::InputError>([] { sozai::atomic_number("CO"); }), Contains("'CO'"));
  CHECK_THAT(message_of<sozai::InputError>([] { sozai::element("fe"); }), Contains("'fe'"));
  CHECK_THAT(message_of<sozai::InputError>([] { sozai::element("Xx"); }), Contains("'Xx'"));
  CHECK_THAT(message_of<sozai::InputError>([] { sozai::element(""); }), Contains("''"));
  CHECK_THAT(message_of<sozai::InputError>([] { sozai::element(0); }), Contains("atomic number 0"));
  CHECK_THAT(message_of<sozai::InputError>([] { sozai::element(104); }), Contains("atomic number 104"));
  CHECK_THAT(message_of<sozai::InputError>([] { sozai::element_property(26, 22); }), Contains("property index 22"));
  CHECK_THAT(message_of<sozai::InputError>([] { sozai::supply_risk(-1); }), Contains("atomic number -1"));
  CHECK(sozai::find_atomic_number("Fea", 3) == 0);
  CHECK(sozai::find_atomic_number("F", 1) == 9);
  CHECK(sozai::find_atomic_number("Q", 1) == 0);
  CHECK(sozai::find_atomic_number("", 0) == 0);
}

TEST_CASE("critical lists: sizes and well-known memberships", "[datasets][composition][elements]") {
  CHECK(sozai::usgs_2022_critical_minerals().size() == 50);
  CHECK(sozai::eu_2023_critical_raw_materials().size() == 34);
  // USGS lists rare earths and PGMs one by one: 50 entries, 50 elements.
  CHECK(count_members(&sozai::usgs_2022_critical) == 50);
  // EU: the groups HREE, LREE, PGM expand to 10 + 5 + 5 elements; of the 31
  // other entries feldspar maps to none and the rest to one element each,
  // with C (natural graphite, coking coal) and P (phosphate rock,
  // phosphorus) twice: 20 + 30 - 2 = 48.
  CHECK(count_members(&sozai::eu_2023_critical) == 48);

  for (const char* s : {"Co", "Li", "Nd", "Dy", "Pt", "Ga", "W"}) {
    INFO(s);
    CHECK(sozai::usgs_2022_critical(sozai::atomic_number(s)));
    CHECK(sozai::eu_2023_critical(sozai::atomic_number(s)));
    CHECK(sozai::supply_risk(s) == 1.0);
  }
  for (const char* s : {"Fe", "O", "N", "Au", "Ag", "Os", "Mo"}) {
    INFO(s);
    CHECK_FALSE(sozai::usgs_2022_critical(sozai::atomic_number(s)));
    CHECK_FALSE(sozai::eu_2023_critical(sozai::atomic_number(s)));
    CHECK(sozai::supply_risk(s) == 0.0);
  }
  // On one list only: copper, helium, strontium, phosphorus, silicon are
  // EU-only; caesium, chromium, tin, zinc, zirconium, indium, tellurium are
  // USGS-only.
  for (const char* s : {"Cu", "He", "Sr", "P", "Si", "B"}) {
    INFO(s);
    CHECK(sozai::eu_2023_critical(sozai::atomic_number(s)));
    CHECK_FALSE(sozai::usgs_2022_critical(sozai::atomic_number(s)));
    CHECK(sozai::supply_risk(s) == 0.5);
  }
  for (const char* s : {"Cs", "Cr", "Sn", "Zn", "Zr", "In", "Te", "Rb"}) {
    INFO(s);
    CHECK(sozai::usgs_2022_critical(sozai::atomic_number(s)));
    CHECK_FALSE(sozai::eu_2023_critical(sozai::atomic_number(s)));
    CHECK(sozai::supply_risk(s) == 0.5);
  }
  // Mineral commodities map to their principal element.
  CHECK(sozai::supply_risk("Ba") == 1.0);  // barite / baryte
  CHECK(sozai::supply_risk("F") == 1.0);   // fluorspar
  CHECK(sozai::supply_risk("C") == 1.0);   // graphite; coking coal
  CHECK_THAT(message_of<sozai::InputError>([] { sozai::supply_risk("Qq"); }), Contains("'Qq'"));
}
