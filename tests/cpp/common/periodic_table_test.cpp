// The one periodic table: symbols of Z = 1..118 that every parser reads,
// and the property table of datasets/ agrees with it.
#include "common/periodic_table.h"
#include "common/error.h"
#include "datasets/elements.h"
#include "datasets/structure.h"

#include <catch2/catch.hpp>

#include "../test_util.h"

using namespace sozai;

TEST_CASE("symbols and atomic numbers of Z = 1..118", "[common][elements]") {
  for (int z = 1; z <= kMaxAtomicNumber; ++z) {
    INFO("Z = " << z);
    CHECK(find_atomic_number(element_symbol(z)) == z);
    CHECK(atomic_number(element_symbol(z)) == z);
  }
  CHECK(element_symbol(26) == "Fe");
  CHECK(element_symbol(118) == "Og");
  CHECK(find_atomic_number("Co") == 27);
  CHECK(find_atomic_number("CO") == 0);   // case-sensitive
  CHECK(find_atomic_number("co") == 0);
  CHECK(find_atomic_number("Xx") == 0);
  CHECK(find_atomic_number("") == 0);
  CHECK(find_atomic_number("Fe2") == 0);
  CHECK_THAT(test::message_of<InputError>([] { atomic_number("Qq"); }), Catch::Contains("unknown element symbol 'Qq'"));
  CHECK_THAT(test::message_of<InputError>([] { element_symbol(119); }), Catch::Contains("outside 1..118"));
  // The Magpie table covers 1..103 with the same symbols.
  for (int z = 1; z <= kNumElements; ++z) CHECK(element(z).symbol == element_symbol(z));
  CHECK_THAT(test::message_of<InputError>([] { element("Rf"); }), Catch::Contains("atomic number 104"));
}

TEST_CASE("structure readers know every element of the table", "[common][elements][crystal]") {
  // A POSCAR of superheavy elements (a toy cell): read by the shared table.
  const std::string poscar =
      "toy\n1.0\n5 0 0\n0 5 0\n0 0 5\nTs Og\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n";
  auto s = parse_poscar(poscar);
  CHECK(s.species == std::vector<std::string>{"Ts", "Og"});
  CHECK(s.atomic_number[1].item<int64_t>() == 118);
}
