#pragma once
/// The periodic table's symbols, Z = 1 (H) .. 118 (Og): the one table every
/// parser (formulas, CIF, POSCAR, design spaces) reads element symbols with.
/// What sozai knows about each element beyond its symbol (Magpie
/// properties, critical-materials lists) is datasets/elements.h.

#include <cstddef>
#include <string>
#include <string_view>

namespace sozai {

constexpr int kMaxAtomicNumber = 118;

/// Atomic number of the exact symbol s ("Fe"; case-sensitive: "FE" is not
/// one), or 0 when it is not an element. Never throws, O(1): for parsers
/// that make their own error message.
int find_atomic_number(std::string_view s) noexcept;
inline int find_atomic_number(const char* s, std::size_t len) noexcept {
  return find_atomic_number(std::string_view(s, len));
}
/// Atomic number of a symbol; InputError naming an unknown symbol.
int atomic_number(const std::string& symbol);
/// Symbol of atomic number 1..118; InputError otherwise.
const std::string& element_symbol(int z);

}  // namespace sozai
