#include "common/periodic_table.h"
#include "common/error.h"

#include <array>

namespace sozai {

namespace {

const std::array<std::string, kMaxAtomicNumber + 1>& symbols() {
  static const std::array<std::string, kMaxAtomicNumber + 1> t = {
      "",   "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",  "S",
      "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As",
      "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn",
      "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho",
      "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",  "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po",
      "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md",
      "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};
  return t;
}

/// A symbol is one uppercase letter and at most one lowercase letter, so a
/// 26 x 27 array indexes every possible one.
struct SymbolIndex {
  int z[26 * 27] = {};
  SymbolIndex() {
    const auto& t = symbols();
    for (int i = 1; i <= kMaxAtomicNumber; ++i) z[key(t[i][0], t[i].size() > 1 ? t[i][1] : '\0')] = i;
  }
  static int key(char a, char b) { return (a - 'A') * 27 + (b ? b - 'a' + 1 : 0); }
};

}  // namespace

int find_atomic_number(std::string_view s) noexcept {
  static const SymbolIndex index;
  if (s.empty() || s.size() > 2 || s[0] < 'A' || s[0] > 'Z') return 0;
  if (s.size() == 2 && (s[1] < 'a' || s[1] > 'z')) return 0;
  return index.z[SymbolIndex::key(s[0], s.size() == 2 ? s[1] : '\0')];
}

int atomic_number(const std::string& symbol) {
  const int z = find_atomic_number(symbol);
  SOZAI_CHECK(z != 0, "unknown element symbol '", symbol, "' (symbols are case-sensitive, e.g. 'Co', 'Fe')");
  return z;
}

const std::string& element_symbol(int z) {
  SOZAI_CHECK(z >= 1 && z <= kMaxAtomicNumber, "element_symbol: atomic number ", z, " outside 1..", kMaxAtomicNumber);
  return symbols()[z];
}

}  // namespace sozai
