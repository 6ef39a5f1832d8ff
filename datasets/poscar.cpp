/// The POSCAR reader (see structure.h): VASP 4 and 5 files, direct or
/// Cartesian coordinates, selective dynamics.

#include "datasets/structure_read.h"
#include "common/error.h"
#include "common/periodic_table.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

namespace sozai {
namespace {

using namespace structure_detail;

struct Line {
  string_view text;
  int number;
};

std::vector<string_view> split_ws(string_view s) {
  std::vector<string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    size_t j = i;
    while (j < s.size() && !is_space(s[j])) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

/// The element of a POSCAR species name: "Fe", "Fe_pv", "Fe/1a2b", "Fe2".
int poscar_element(string_view name) {
  size_t k = 0;
  while (k < name.size() && std::isalpha(static_cast<unsigned char>(name[k]))) ++k;
  return find_atomic_number(name.substr(0, k));
}

/// n numbers from the start of the line (trailing tokens are ignored: flags,
/// labels, comments).
void poscar_numbers(const Line& l, int count, double* out, const char* what) {
  const auto tok = split_ws(l.text);
  SOZAI_CHECK(static_cast<int>(tok.size()) >= count, "POSCAR line ", l.number, ": ", what, " needs ", count,
              " numbers, got '", l.text, "'");
  for (int k = 0; k < count; ++k) {
    SOZAI_CHECK(read_double(tok[k], out[k]), "POSCAR line ", l.number, ": ", what, ": '", tok[k],
                "' is not a number");
  }
}

}  // namespace

Structure parse_poscar(const std::string& text) {
  std::vector<Line> lines;
  {
    size_t i = 0;
    int number = 1;
    while (i <= text.size()) {
      size_t j = text.find('\n', i);
      if (j == std::string::npos) j = text.size();
      string_view l(text.data() + i, j - i);
      if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
      lines.push_back({l, number++});
      i = j + 1;
    }
  }
  size_t at = 0;
  auto next = [&](const char* what) -> const Line& {
    SOZAI_CHECK(at < lines.size(), "POSCAR: file ends before the ", what, " (line ", at + 1, ")");
    return lines[at++];
  };
  SiteList out;
  const Line& comment = next("comment line");
  out.name = std::string(comment.text);
  while (!out.name.empty() && is_space(out.name.back())) out.name.pop_back();
  while (!out.name.empty() && is_space(out.name.front())) out.name.erase(out.name.begin());

  const Line& scale_line = next("scale factor");
  const auto scale_tok = split_ws(scale_line.text);
  SOZAI_CHECK(!scale_tok.empty(), "POSCAR line ", scale_line.number, ": expected the scale factor, got an empty line");
  double scale[3] = {1.0, 1.0, 1.0};
  int nscale = 1;
  {
    double v[3];
    SOZAI_CHECK(read_double(scale_tok[0], v[0]), "POSCAR line ", scale_line.number, ": scale factor '",
                scale_tok[0], "' is not a number");
    if (scale_tok.size() >= 3 && read_double(scale_tok[1], v[1]) && read_double(scale_tok[2], v[2])) {
      nscale = 3;
      for (int k = 0; k < 3; ++k) {
        SOZAI_CHECK(v[k] > 0.0, "POSCAR line ", scale_line.number,
                    ": per-axis scale factors must be > 0, got ", v[k]);
        scale[k] = v[k];
      }
    } else {
      SOZAI_CHECK(v[0] != 0.0, "POSCAR line ", scale_line.number, ": scale factor must not be 0");
      scale[0] = scale[1] = scale[2] = v[0];
    }
  }
  double L[9];
  for (int k = 0; k < 3; ++k) poscar_numbers(next("lattice vectors"), 3, L + 3 * k, "lattice vector");
  const int lattice_line = lines[at - 3].number;
  SOZAI_CHECK(!singular(L), "POSCAR lines ", lattice_line, "-", lattice_line + 2,
              ": singular lattice: the three lattice vectors are (nearly) linearly dependent");
  double cart_scale[3] = {scale[0], scale[1], scale[2]};
  if (nscale == 1 && scale[0] < 0.0) {
    // Negative: the wanted cell volume; every length scales by the cube root.
    const double s = std::cbrt(-scale[0] / std::fabs(det3(L)));
    cart_scale[0] = cart_scale[1] = cart_scale[2] = s;
  }
  for (int r = 0; r < 3; ++r) {
    for (int k = 0; k < 3; ++k) out.lattice[3 * r + k] = L[3 * r + k] * cart_scale[k];
  }

  const Line& l6 = next("species or counts line");
  auto tok6 = split_ws(l6.text);
  SOZAI_CHECK(!tok6.empty(), "POSCAR line ", l6.number, ": expected species names or atom counts, got an empty line");
  std::vector<int> species;
  const Line* counts_line = &l6;
  int64_t first_count = 0;
  const bool vasp4 = std::from_chars(tok6[0].data(), tok6[0].data() + tok6[0].size(), first_count).ec == std::errc();
  if (!vasp4) {
    for (auto name : tok6) {
      const int z = poscar_element(name);
      SOZAI_CHECK(z > 0, "POSCAR line ", l6.number, ": unknown element '", name, "' in the species line");
      species.push_back(z);
    }
    counts_line = &next("atom counts");
  }
  const auto count_tok = split_ws(counts_line->text);
  std::vector<int64_t> counts;
  for (auto c : count_tok) {
    int64_t v = 0;
    const auto r = std::from_chars(c.data(), c.data() + c.size(), v);
    if (r.ec != std::errc() || r.ptr != c.data() + c.size()) break;  // a trailing comment
    SOZAI_CHECK(v >= 0, "POSCAR line ", counts_line->number, ": atom count ", v, " must be >= 0");
    counts.push_back(v);
  }
  SOZAI_CHECK(!counts.empty(), "POSCAR line ", counts_line->number, ": expected atom counts, got '",
              counts_line->text, "'");
  // VASP 4 has no species line. Two conventions name them anyway: the
  // comment line starting with the symbols (ASE), or a symbol after the
  // coordinates of every atom (pymatgen). Comment line first.
  bool species_per_atom = false;
  if (vasp4) {
    for (auto name : split_ws(comment.text)) {
      if (species.size() == counts.size()) break;
      const int z = poscar_element(name);
      if (z == 0) break;
      species.push_back(z);
    }
    species_per_atom = species.size() != counts.size();
  }
  SOZAI_CHECK(species_per_atom || species.size() == counts.size(), "POSCAR line ", counts_line->number, ": ",
              counts.size(), " atom counts for ", species.size(), " species on line ", l6.number);

  const Line* mode = &next("coordinate mode (Direct or Cartesian)");
  auto first_char = [](string_view s) {
    for (char c : s) {
      if (!is_space(c)) return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return '\0';
  };
  const bool selective = first_char(mode->text) == 's';
  if (selective) mode = &next("coordinate mode (Direct or Cartesian)");
  const char m = first_char(mode->text);
  SOZAI_CHECK(m == 'c' || m == 'k' || m == 'd', "POSCAR line ", mode->number,
              ": expected 'Direct' or 'Cartesian', got '", mode->text, "'");
  const bool cartesian = m == 'c' || m == 'k';
  double inv[9];
  inverse3(out.lattice, inv);
  // The symbol after the coordinates (and the T/F flags) when per atom.
  const size_t symbol_column = selective ? 6 : 3;
  for (size_t sp = 0; sp < counts.size(); ++sp) {
    for (int64_t a = 0; a < counts[sp]; ++a) {
      double v[3];
      const Line& l = next("atom coordinates");
      poscar_numbers(l, 3, v, "atom coordinates");
      int z = 0;
      if (species_per_atom) {
        const auto tok = split_ws(l.text);
        z = tok.size() > symbol_column ? poscar_element(tok[symbol_column]) : 0;
        SOZAI_CHECK(z > 0, "POSCAR line ", l.number, ": VASP 4 file (no species line on line ", l6.number,
                    "), the comment line (line 1) does not start with ", counts.size(),
                    " element symbols, and this atom has no element symbol after its coordinates",
                    selective ? " and flags" : "", "; add a species line after the lattice vectors");
      } else {
        z = species[sp];
      }
      if (cartesian) {
        const double c[3] = {v[0] * cart_scale[0], v[1] * cart_scale[1], v[2] * cart_scale[2]};
        for (int k = 0; k < 3; ++k) v[k] = c[0] * inv[k] + c[1] * inv[3 + k] + c[2] * inv[6 + k];
      }
      out.frac.insert(out.frac.end(), v, v + 3);
      out.z.push_back(z);
      out.labels.push_back(element_symbol(static_cast<int>(z)));
      out.occupancy.push_back(1.0);
      out.oxidation.push_back(std::numeric_limits<double>::quiet_NaN());
    }
  }
  SOZAI_CHECK(!out.z.empty(), "POSCAR line ", counts_line->number, ": the atom counts sum to 0; no atoms");
  return finish(std::move(out));
}

}  // namespace sozai
