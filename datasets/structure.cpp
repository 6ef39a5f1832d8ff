/// CIF and POSCAR readers (see structure.h).
///
/// Both readers work on string_views into the caller's text and build the
/// tensors once at the end, so that parsing thousands of small files costs
/// little more than reading them.

#include "common/error.h"
#include "datasets/structure.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>
#include <unordered_map>

namespace sozai {
namespace {

using std::string_view;

// 118 symbols so that any real file's elements are recognised; the graph
// decides separately which atomic numbers it can featurise.
const std::array<std::string, 119>& symbol_table() {
  static const std::array<std::string, 119> t = {
      "",   "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",  "S",
      "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As",
      "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn",
      "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho",
      "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",  "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po",
      "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md",
      "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};
  return t;
}

int lookup_element(string_view s) {
  static const std::unordered_map<std::string, int> map = [] {
    std::unordered_map<std::string, int> m;
    const auto& t = symbol_table();
    for (int z = 1; z < static_cast<int>(t.size()); ++z) m.emplace(t[z], z);
    return m;
  }();
  if (s.empty() || s.size() > 2) return 0;
  const auto it = map.find(std::string(s));
  return it == map.end() ? 0 : it->second;
}

/// An element read from a CIF symbol or label ("Fe", "Fe1", "Fe3+", "O2-",
/// "FE"): the element is the first two letters title-cased if that is a
/// symbol, else the first letter (pymatgen's rule). For type symbols the
/// remainder may be an oxidation state: digits with a sign before or after.
struct SpeciesRead {
  int z = 0;
  double oxidation = std::numeric_limits<double>::quiet_NaN();
};

SpeciesRead read_species(string_view s, bool allow_oxidation) {
  SpeciesRead r;
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return r;
  size_t used = 1;
  char two[2] = {static_cast<char>(std::toupper(static_cast<unsigned char>(s[0]))), 0};
  if (s.size() >= 2 && std::isalpha(static_cast<unsigned char>(s[1]))) {
    two[1] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[1])));
    r.z = lookup_element(string_view(two, 2));
    if (r.z) used = 2;
  }
  if (!r.z) r.z = lookup_element(string_view(two, 1));
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
struct SiteList {
  std::string name;
  double lattice[9];
  std::vector<double> frac;  // 3 per site
  std::vector<int64_t> z;
  std::vector<std::string> labels;
  std::vector<double> occupancy, oxidation;
};

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
  for (int64_t zi : s.z) out.species.push_back(symbol_table()[zi]);
  out.labels = std::move(s.labels);
  out.oxidation_state = std::move(s.oxidation);
  return out;
}

// ====================================================================== CIF

struct Token {
  string_view text;
  int line = 0;
  bool quoted = false;  ///< quoted or text field: never a tag or keyword
};

bool starts_with_ci(string_view s, string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/// CIF 1.1 lexical rules: '#' starts a comment at a token boundary; a
/// quoted string ends at its quote followed by whitespace (so "O'Neil"
/// style apostrophes inside survive); a text field runs from a ';' in
/// column 1 to the next line starting with ';'.
std::vector<Token> tokenize_cif(const std::string& text) {
  std::vector<Token> tokens;
  tokens.reserve(text.size() / 8);
  const size_t n = text.size();
  size_t i = 0;
  int line = 1;
  bool line_start = true;
  while (i < n) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      ++i;
      line_start = true;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
      line_start = false;
      continue;
    }
    if (c == ';' && line_start) {
      const int start_line = line;
      size_t end = text.find("\n;", i);
      SOZAI_CHECK(end != std::string::npos, "CIF line ", start_line,
                  ": text field opened with ';' is never closed (expected a line starting with ';')");
      string_view body(text.data() + i + 1, end - i - 1);
      line += static_cast<int>(std::count(body.begin(), body.end(), '\n')) + 1;
      tokens.push_back({body, start_line, true});
      i = end + 2;
      line_start = false;
      continue;
    }
    line_start = false;
    if (c == '#') {
      while (i < n && text[i] != '\n') ++i;
      continue;
    }
    if (c == '\'' || c == '"') {
      size_t j = i + 1;
      while (j < n && text[j] != '\n' && !(text[j] == c && (j + 1 == n || is_space(text[j + 1])))) ++j;
      SOZAI_CHECK(j < n && text[j] == c, "CIF line ", line, ": quoted string starting with ", c,
                  " is not closed on its line");
      tokens.push_back({string_view(text.data() + i + 1, j - i - 1), line, true});
      i = j + 1;
      continue;
    }
    size_t j = i;
    while (j < n && !is_space(text[j])) ++j;
    tokens.push_back({string_view(text.data() + i, j - i), line, false});
    i = j;
  }
  return tokens;
}

/// One data block: every tag (lower-cased) with its values, one for a
/// plain item, one per row for a loop column.
struct CifBlock {
  std::string name;
  int line = 0;
  std::unordered_map<std::string, std::vector<Token>> items;

  const std::vector<Token>* find(const char* tag) const {
    const auto it = items.find(tag);
    return it == items.end() ? nullptr : &it->second;
  }
};

bool is_reserved(const Token& t) {
  if (t.quoted) return false;
  return starts_with_ci(t.text, "data_") || starts_with_ci(t.text, "loop_") || starts_with_ci(t.text, "save_") ||
         starts_with_ci(t.text, "global_") || starts_with_ci(t.text, "stop_");
}
bool is_tag(const Token& t) { return !t.quoted && !t.text.empty() && t.text[0] == '_'; }

std::string lower(string_view s) {
  std::string out(s);
  for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

/// Walks all blocks (so that the count is known for the error message) and
/// keeps the items of block `want` only.
CifBlock read_block(const std::vector<Token>& tokens, int64_t want) {
  CifBlock block;
  int64_t index = -1;  // block being read; -1 before the first data_
  bool found = false;
  const size_t n = tokens.size();
  size_t i = 0;
  auto keep = [&] { return index == want; };
  while (i < n) {
    const Token& t = tokens[i];
    if (!t.quoted && starts_with_ci(t.text, "data_")) {
      ++index;
      if (keep()) {
        block.name = std::string(t.text.substr(5));
        block.line = t.line;
        found = true;
      }
      ++i;
      continue;
    }
    if (!t.quoted && starts_with_ci(t.text, "save_")) {
      // A save frame (dictionaries, some CIF 1.1 exports): its items do not
      // describe the structure, so skip to the closing bare "save_".
      const int opened = t.line;
      ++i;
      while (i < n && !(!tokens[i].quoted && lower(tokens[i].text) == "save_")) ++i;
      SOZAI_CHECK(i < n, "CIF line ", opened, ": save frame '", t.text, "' is never closed by 'save_'");
      ++i;
      continue;
    }
    if (!t.quoted && (starts_with_ci(t.text, "global_") || starts_with_ci(t.text, "stop_"))) {
      ++i;
      continue;
    }
    if (!t.quoted && starts_with_ci(t.text, "loop_")) {
      const int loop_line = t.line;
      ++i;
      std::vector<std::string> tags;
      while (i < n && is_tag(tokens[i])) tags.push_back(lower(tokens[i++].text));
      SOZAI_CHECK(!tags.empty(), "CIF line ", loop_line, ": loop_ without any tags");
      size_t first = i;
      while (i < n && !is_tag(tokens[i]) && !is_reserved(tokens[i])) ++i;
      const size_t count = i - first;
      SOZAI_CHECK(count % tags.size() == 0, "CIF line ", loop_line, ": loop of ", tags.size(), " tags (", tags[0],
                  ", ...) holds ", count, " values, not a multiple of ", tags.size());
      if (keep()) {
        for (size_t k = 0; k < tags.size(); ++k) {
          auto& col = block.items[tags[k]];
          col.clear();
          col.reserve(count / tags.size());
          for (size_t v = first + k; v < i; v += tags.size()) col.push_back(tokens[v]);
        }
      }
      continue;
    }
    if (is_tag(t)) {
      SOZAI_CHECK(i + 1 < n && !is_tag(tokens[i + 1]) && !is_reserved(tokens[i + 1]), "CIF line ", t.line,
                  ": tag ", t.text, " has no value");
      if (keep()) block.items[lower(t.text)] = {tokens[i + 1]};
      i += 2;
      continue;
    }
    SOZAI_CHECK(false, "CIF line ", t.line, ": value '", t.text, "' outside any tag or loop");
  }
  SOZAI_CHECK(index >= 0, "CIF: no data block (expected a line starting with data_)");
  SOZAI_CHECK(found, "CIF: data block ", want, " requested but the text has ", index + 1, " data block(s)");
  return block;
}

const char* const kCellTags[6] = {"_cell_length_a",    "_cell_length_b",   "_cell_length_c",
                                  "_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma"};

/// One required number: the tag must exist with a single readable value.
double required_number(const CifBlock& b, const char* tag) {
  const auto* v = b.find(tag);
  SOZAI_CHECK(v && !v->empty(), "CIF data block '", b.name, "' (line ", b.line, "): missing cell: no ", tag);
  const Token& t = v->front();
  double x = 0.0;
  SOZAI_CHECK(read_double(t.text, x), "CIF line ", t.line, ": ", tag, " = '", t.text, "' is not a number");
  return x;
}

/// Cell parameters to vectors, exactly as pymatgen's
/// Lattice.from_parameters(vesta=False) so that Cartesian coordinates agree.
void lattice_from_parameters(const double p[6], double L[9]) {
  const double deg = M_PI / 180.0;
  const double ca = std::cos(p[3] * deg), cb = std::cos(p[4] * deg), cg = std::cos(p[5] * deg);
  const double sa = std::sin(p[3] * deg), sb = std::sin(p[4] * deg);
  double val = (ca * cb - cg) / (sa * sb);
  val = std::max(-1.0, std::min(1.0, val));
  const double gamma_star = std::acos(val);
  const double a = p[0], b = p[1], c = p[2];
  const double v[9] = {a * sb, 0.0, a * cb, -b * sa * std::cos(gamma_star), b * sa * std::sin(gamma_star), b * ca,
                       0.0, 0.0, c};
  std::copy(v, v + 9, L);
}

/// A symmetry operator x' = R x + t on fractional coordinates.
struct SymOp {
  double R[9] = {0};
  double t[3] = {0};
};

/// One component such as "-x+1/2", "x-y", "0.5+z", "2*x", "+y": a sum of
/// signed terms, each a number, a variable, or a number times a variable.
bool parse_component(string_view s, double row[3], double& shift) {
  size_t i = 0;
  const size_t n = s.size();
  bool any = false;
  auto skip = [&] {
    while (i < n && (s[i] == ' ' || s[i] == '\t')) ++i;
  };
  auto var_of = [](char c) {
    switch (c) {
      case 'x': case 'X': return 0;
      case 'y': case 'Y': return 1;
      case 'z': case 'Z': return 2;
      default: return -1;
    }
  };
  auto number = [&](double& v) {
    size_t j = i;
    while (j < n && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
    const auto res = std::from_chars(s.data() + i, s.data() + j, v);
    if (res.ec != std::errc() || res.ptr != s.data() + j) return false;
    i = j;
    skip();
    if (i < n && s[i] == '/') {
      ++i;
      skip();
      size_t k = i;
      while (k < n && (std::isdigit(static_cast<unsigned char>(s[k])) || s[k] == '.')) ++k;
      double d = 0.0;
      const auto r2 = std::from_chars(s.data() + i, s.data() + k, d);
      if (r2.ec != std::errc() || r2.ptr != s.data() + k || d == 0.0) return false;
      v /= d;
      i = k;
    }
    return true;
  };
  while (true) {
    skip();
    if (i >= n) break;
    double sign = 1.0;
    bool had_sign = false;
    while (i < n && (s[i] == '+' || s[i] == '-')) {
      if (s[i] == '-') sign = -sign;
      had_sign = true;
      ++i;
      skip();
    }
    if (any && !had_sign) return false;  // "x y": two terms without an operator
    if (i >= n) return false;
    if (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.') {
      double v = 0.0;
      if (!number(v)) return false;
      skip();
      if (i < n && s[i] == '*') {
        ++i;
        skip();
      }
      const int var = i < n ? var_of(s[i]) : -1;
      if (var >= 0) {
        row[var] += sign * v;
        ++i;
      } else {
        shift += sign * v;
      }
    } else {
      const int var = var_of(s[i]);
      if (var < 0) return false;
      ++i;
      skip();
      double coef = 1.0;
      if (i < n && (s[i] == '*' || s[i] == '/')) {
        const bool divide = s[i] == '/';
        ++i;
        skip();
        double v = 0.0;
        if (!number(v) || v == 0.0) return false;
        coef = divide ? 1.0 / v : v;
      }
      row[var] += sign * coef;
    }
    any = true;
  }
  return any;
}

SymOp parse_symop(const Token& t, const char* tag) {
  SymOp op;
  string_view s = t.text;
  int k = 0;
  size_t start = 0;
  bool ok = true;
  for (size_t i = 0; i <= s.size() && ok; ++i) {
    if (i == s.size() || s[i] == ',') {
      if (k >= 3) {
        ok = false;
        break;
      }
      ok = parse_component(s.substr(start, i - start), op.R + 3 * k, op.t[k]);
      ++k;
      start = i + 1;
    }
  }
  SOZAI_CHECK(ok && k == 3, "CIF line ", t.line, ": ", tag, " '", t.text,
              "' is not a symmetry operator (expected three components such as '-x+1/2, y, z')");
  return op;
}

/// Operators of the block, the identity alone when none are listed (then
/// the space group, if named, must be P1).
std::vector<SymOp> symmetry_operators(const CifBlock& b) {
  static const char* const kOpTags[] = {"_symmetry_equiv_pos_as_xyz", "_space_group_symop_operation_xyz",
                                        "_space_group_symop.operation_xyz", "_symmetry_equiv.pos_as_xyz"};
  for (const char* tag : kOpTags) {
    const auto* v = b.find(tag);
    if (!v || v->empty()) continue;
    std::vector<SymOp> ops;
    ops.reserve(v->size());
    for (const Token& t : *v) ops.push_back(parse_symop(t, tag));
    return ops;
  }
  static const char* const kGroupTags[] = {"_symmetry_space_group_name_h-m", "_space_group_name_h-m_alt",
                                           "_symmetry_int_tables_number", "_space_group_it_number"};
  for (const char* tag : kGroupTags) {
    const auto* v = b.find(tag);
    if (!v || v->empty()) continue;
    const Token& t = v->front();
    std::string g;
    for (char ch : t.text) {
      if (!std::isspace(static_cast<unsigned char>(ch))) g.push_back(static_cast<char>(std::toupper(ch)));
    }
    const bool p1 = g == "P1" || g == "1" || g == "?" || g == ".";
    SOZAI_CHECK_T(UnsupportedError, p1, "CIF line ", t.line, ": space group ", tag, " = '", t.text,
                  "' but no symmetry operators (_symmetry_equiv_pos_as_xyz or _space_group_symop_operation_xyz); "
                  "sozai does not derive operators from a space-group symbol, list them in the file");
  }
  SymOp id;
  id.R[0] = id.R[4] = id.R[8] = 1.0;
  return {id};
}

/// Fractional values near 1/3 or 2/3 to the exact value (pymatgen's
/// CifParser does the same, for the same reason: 0.3333 under a 3-fold
/// axis would otherwise give three sites 1e-4 apart).
double snap_third(double f) {
  static const double kThirds[2] = {1.0 / 3.0, 2.0 / 3.0};
  for (double c : kThirds) {
    if (std::fabs(1.0 - f / c) < 1e-4) return c;
  }
  return f;
}

/// The column `tag` of the atom-site loop, or null; when present it must
/// have one value per site.
const std::vector<Token>* site_column(const CifBlock& b, const char* tag, size_t sites, int loop_line) {
  const auto* v = b.find(tag);
  if (!v) return nullptr;
  SOZAI_CHECK(v->size() == sites, "CIF line ", v->empty() ? loop_line : v->front().line, ": ", tag, " has ",
              v->size(), " values but _atom_site_fract_x has ", sites, "; expected them in one loop");
  return v;
}

Structure cif_structure(const CifBlock& b, const CifOptions& opt) {
  SiteList out;
  out.name = b.name;
  double p[6];
  for (int k = 0; k < 6; ++k) p[k] = required_number(b, kCellTags[k]);
  for (int k = 0; k < 3; ++k) {
    SOZAI_CHECK(p[k] > 0.0, "CIF line ", b.find(kCellTags[k])->front().line, ": ", kCellTags[k], " = ", p[k],
                " must be > 0");
    SOZAI_CHECK(p[3 + k] > 0.0 && p[3 + k] < 180.0, "CIF line ", b.find(kCellTags[3 + k])->front().line, ": ",
                kCellTags[3 + k], " = ", p[3 + k], " must lie in (0, 180) degrees");
  }
  lattice_from_parameters(p, out.lattice);
  // Volume / abc from the angles alone: catches coplanar cells (e.g. all
  // angles 120) before rounding makes their vectors look independent.
  const double deg = M_PI / 180.0;
  const double ca = std::cos(p[3] * deg), cb = std::cos(p[4] * deg), cg = std::cos(p[5] * deg);
  const double v2 = 1.0 - ca * ca - cb * cb - cg * cg + 2.0 * ca * cb * cg;
  SOZAI_CHECK(v2 > 1e-12 && !singular(out.lattice), "CIF line ", b.find(kCellTags[3])->front().line,
              ": singular cell: the cell parameters a=", p[0], " b=", p[1], " c=", p[2], " alpha=", p[3],
              " beta=", p[4], " gamma=", p[5], " give a cell of zero volume");

  const auto* fx = b.find("_atom_site_fract_x");
  const auto* fy = b.find("_atom_site_fract_y");
  const auto* fz = b.find("_atom_site_fract_z");
  SOZAI_CHECK(fx && fy && fz, "CIF data block '", b.name, "' (line ", b.line,
              "): missing coordinates: no _atom_site_fract_x/y/z loop (Cartesian-only CIFs are not supported)");
  const size_t sites = fx->size();
  const int loop_line = sites ? fx->front().line : b.line;
  SOZAI_CHECK(sites > 0, "CIF data block '", b.name, "': the atom-site loop has no rows");
  site_column(b, "_atom_site_fract_y", sites, loop_line);
  site_column(b, "_atom_site_fract_z", sites, loop_line);
  const auto* type = site_column(b, "_atom_site_type_symbol", sites, loop_line);
  const auto* label = site_column(b, "_atom_site_label", sites, loop_line);
  const auto* occ = site_column(b, "_atom_site_occupancy", sites, loop_line);
  SOZAI_CHECK(type || label, "CIF line ", loop_line,
              ": the atom-site loop has neither _atom_site_type_symbol nor _atom_site_label; no species");

  // Oxidation states declared per atom type ("Fe3+" -> 3), used when the
  // site's own symbol carries none.
  std::unordered_map<std::string, double> type_oxidation;
  if (const auto* ts = b.find("_atom_type_symbol")) {
    if (const auto* on = b.find("_atom_type_oxidation_number"); on && on->size() == ts->size()) {
      for (size_t k = 0; k < ts->size(); ++k) {
        double v = 0.0;
        if (read_double((*on)[k].text, v)) type_oxidation[std::string((*ts)[k].text)] = v;
      }
    }
  }

  const std::vector<SymOp> ops = symmetry_operators(b);
  const double tol = opt.site_tolerance;
  std::vector<double> images;  // the images of the current site, 3 per image
  for (size_t s = 0; s < sites; ++s) {
    const Token& sym_tok = type ? (*type)[s] : (*label)[s];
    const char* sym_field = type ? "_atom_site_type_symbol" : "_atom_site_label";
    const SpeciesRead sp = read_species(sym_tok.text, type != nullptr);
    SOZAI_CHECK(sp.z > 0, "CIF line ", sym_tok.line, ": unknown element '", sym_tok.text, "' in ", sym_field,
                " (site ", s + 1, ")");
    double oxidation = sp.oxidation;
    if (std::isnan(oxidation) && type) {
      const auto it = type_oxidation.find(std::string(sym_tok.text));
      if (it != type_oxidation.end()) oxidation = it->second;
    }
    double occupancy = 1.0;
    if (occ) {
      const Token& t = (*occ)[s];
      if (t.quoted || (t.text != "?" && t.text != ".")) {
        SOZAI_CHECK(read_double(t.text, occupancy), "CIF line ", t.line, ": _atom_site_occupancy = '", t.text,
                    "' is not a number (site ", s + 1, ")");
        SOZAI_CHECK(occupancy >= 0.0 && occupancy <= 1.0 + 1e-3, "CIF line ", t.line, ": _atom_site_occupancy = ",
                    occupancy, " must lie in [0, 1] (site ", s + 1, ")");
        occupancy = std::min(occupancy, 1.0);
      }
    }
    double f[3];
    const std::vector<Token>* cols[3] = {fx, b.find("_atom_site_fract_y"), b.find("_atom_site_fract_z")};
    static const char* const kCoordTags[3] = {"_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z"};
    for (int k = 0; k < 3; ++k) {
      const Token& t = (*cols[k])[s];
      SOZAI_CHECK(read_double(t.text, f[k]), "CIF line ", t.line, ": ", kCoordTags[k], " = '", t.text,
                  "' is not a number (site ", s + 1, ")");
      f[k] = snap_third(f[k]);
    }
    if (occupancy <= 0.0) continue;  // a vacant site holds no atom

    images.clear();
    for (const SymOp& op : ops) {
      double g[3];
      for (int k = 0; k < 3; ++k) {
        g[k] = op.R[3 * k] * f[0] + op.R[3 * k + 1] * f[1] + op.R[3 * k + 2] * f[2] + op.t[k];
        g[k] -= std::floor(g[k]);
      }
      bool duplicate = false;
      for (size_t m = 0; m < images.size() && !duplicate; m += 3) {
        bool same = true;
        for (int k = 0; k < 3 && same; ++k) {
          const double d = g[k] - images[m + k];
          same = std::fabs(d - std::round(d)) < tol;
        }
        duplicate = same;
      }
      if (duplicate) continue;
      images.insert(images.end(), g, g + 3);
      out.frac.insert(out.frac.end(), g, g + 3);
      out.z.push_back(sp.z);
      out.labels.emplace_back(label ? (*label)[s].text : sym_tok.text);
      out.occupancy.push_back(occupancy);
      out.oxidation.push_back(oxidation);
    }
  }
  SOZAI_CHECK(!out.z.empty(), "CIF data block '", b.name, "': every site has occupancy 0; no atoms");
  return finish(std::move(out));
}

// =================================================================== POSCAR

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
  return lookup_element(name.substr(0, k));
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

int element_number(const std::string& symbol) { return lookup_element(symbol); }

const std::string& element_symbol(int64_t z) {
  SOZAI_CHECK(z >= 1 && z <= 118, "element_symbol: atomic number ", z, " outside 1..118");
  return symbol_table()[z];
}

Structure parse_cif(const std::string& text, const CifOptions& options) {
  SOZAI_CHECK(options.block >= 0, "parse_cif: block must be >= 0, got ", options.block);
  SOZAI_CHECK(options.site_tolerance > 0.0 && options.site_tolerance < 0.5,
              "parse_cif: site_tolerance must lie in (0, 0.5), got ", options.site_tolerance);
  const auto tokens = tokenize_cif(text);
  return cif_structure(read_block(tokens, options.block), options);
}

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
      out.labels.push_back(symbol_table()[z]);
      out.occupancy.push_back(1.0);
      out.oxidation.push_back(std::numeric_limits<double>::quiet_NaN());
    }
  }
  SOZAI_CHECK(!out.z.empty(), "POSCAR line ", counts_line->number, ": the atom counts sum to 0; no atoms");
  return finish(std::move(out));
}

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
