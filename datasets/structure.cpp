/// The structure readers' shared parts and parse_structure (see
/// structure.h). The readers themselves are cif.cpp and poscar.cpp. Both
/// work on string_views into the caller's text and build the tensors once
/// at the end, so that parsing thousands of small files costs little more
/// than reading them.

#include "datasets/structure_read.h"
#include "common/error.h"
#include "common/periodic_table.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>

namespace sozai {
namespace structure_detail {

/// An element read from a CIF symbol or label ("Fe", "Fe1", "Fe3+", "O2-",
/// "FE"): the element is the first two letters title-cased if that is a
/// symbol, else the first letter (pymatgen's rule). For type symbols the
/// remainder may be an oxidation state: digits with a sign before or after.
SpeciesRead read_species(string_view s, bool allow_oxidation) {
  SpeciesRead r;
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return r;
  size_t used = 1;
  char two[2] = {static_cast<char>(std::toupper(static_cast<unsigned char>(s[0]))), 0};
  if (s.size() >= 2 && std::isalpha(static_cast<unsigned char>(s[1]))) {
    two[1] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[1])));
    r.z = find_atomic_number(string_view(two, 2));
    if (r.z) used = 2;
  }
  if (!r.z) r.z = find_atomic_number(string_view(two, 1));
  if (!r.z || !allow_oxidation) return r;
  string_view rest = s.substr(used);
  if (rest.empty()) return r;
  double sign = 0.0;
  if (rest.front() == '+' || rest.front() == '-') {
    sign = rest.front() == '-' ? -1.0 : 1.0;
    rest.remove_prefix(1);
  } else if (rest.back() == '+' || rest.back() == '-') {
    sign = rest.back() == '-' ? -1.0 : 1.0;
    rest.remove_suffix(1);
  }
  if (sign == 0.0) return r;  // "Fe1": a label index, not a charge
  double v = 1.0;
  if (!rest.empty()) {
    const auto res = std::from_chars(rest.data(), rest.data() + rest.size(), v);
    if (res.ec != std::errc() || res.ptr != rest.data() + rest.size()) return r;
  }
  r.oxidation = sign * v;
  return r;
}

/// Reads a whole token as a double; a trailing standard uncertainty "(12)"
/// and a leading '+' are allowed. False when anything else is left over.
bool read_double(string_view s, double& v) {
  if (!s.empty() && s.back() == ')') {
    const auto open = s.rfind('(');
    if (open == string_view::npos) return false;
    s = s.substr(0, open);
  }
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  return res.ec == std::errc() && res.ptr == s.data() + s.size() && std::isfinite(v);
}

double det3(const double L[9]) {
  return L[0] * (L[4] * L[8] - L[5] * L[7]) - L[1] * (L[3] * L[8] - L[5] * L[6]) +
         L[2] * (L[3] * L[7] - L[4] * L[6]);
}

double norm3(const double* v) { return std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]); }

/// |det| below 1e-6 of the product of the vector lengths: the cell has (next
/// to) no volume and fractional coordinates are undefined.
bool singular(const double L[9]) {
  const double scale = norm3(L) * norm3(L + 3) * norm3(L + 6);
  return !(scale > 0.0) || !(std::fabs(det3(L)) > 1e-6 * scale);
}

/// inv such that frac = cart . inv (row vectors), i.e. inv = L^-1.
void inverse3(const double L[9], double inv[9]) {
  const double d = det3(L);
  inv[0] = (L[4] * L[8] - L[5] * L[7]) / d;
  inv[1] = (L[2] * L[7] - L[1] * L[8]) / d;
  inv[2] = (L[1] * L[5] - L[2] * L[4]) / d;
  inv[3] = (L[5] * L[6] - L[3] * L[8]) / d;
  inv[4] = (L[0] * L[8] - L[2] * L[6]) / d;
  inv[5] = (L[2] * L[3] - L[0] * L[5]) / d;
  inv[6] = (L[3] * L[7] - L[4] * L[6]) / d;
  inv[7] = (L[1] * L[6] - L[0] * L[7]) / d;
  inv[8] = (L[0] * L[4] - L[1] * L[3]) / d;
}

/// What both readers collect before the tensors are made.
Structure finish(SiteList&& s) {
  Structure out;
  const int64_t n = static_cast<int64_t>(s.z.size());
  out.name = std::move(s.name);
  out.lattice = torch::empty({3, 3}, torch::kFloat64);
  std::memcpy(out.lattice.data_ptr<double>(), s.lattice, sizeof(s.lattice));
  out.frac_coords = torch::empty({n, 3}, torch::kFloat64);
  out.cart_coords = torch::empty({n, 3}, torch::kFloat64);
  out.atomic_number = torch::empty({n}, torch::kInt64);
  out.occupancy = torch::empty({n}, torch::kFloat64);
  double* f = out.frac_coords.data_ptr<double>();
  double* c = out.cart_coords.data_ptr<double>();
  const double* L = s.lattice;
  for (int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < 3; ++k) f[3 * i + k] = s.frac[3 * i + k];
    for (int k = 0; k < 3; ++k) {
      c[3 * i + k] = f[3 * i] * L[k] + f[3 * i + 1] * L[3 + k] + f[3 * i + 2] * L[6 + k];
    }
  }
  if (n > 0) {
    std::memcpy(out.atomic_number.data_ptr<int64_t>(), s.z.data(), sizeof(int64_t) * n);
    std::memcpy(out.occupancy.data_ptr<double>(), s.occupancy.data(), sizeof(double) * n);
  }
  out.species.reserve(n);
  for (int64_t zi : s.z) out.species.push_back(element_symbol(static_cast<int>(zi)));
  out.labels = std::move(s.labels);
  out.oxidation_state = std::move(s.oxidation);
  return out;
}

bool starts_with_ci(string_view s, string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }


}  // namespace structure_detail

using namespace structure_detail;

Structure parse_structure(const std::string& text) {
  // A CIF has a data_ block header at the start of a line; a POSCAR never
  // does (its first line is free text, but "data_" there would be odd).
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
    if (starts_with_ci(string_view(text).substr(j), "data_")) return parse_cif(text);
    i = text.find('\n', i);
    if (i == std::string::npos) break;
    ++i;
  }
  return parse_poscar(text);
}

}  // namespace sozai
