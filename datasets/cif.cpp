/// The CIF reader (see structure.h): CIF 1.1 tokens, one data block, cell
/// parameters as pymatgen reads them, symmetry operators applied and
/// duplicate sites merged.

#include "datasets/structure_read.h"
#include "common/error.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>

namespace sozai {
namespace {

using namespace structure_detail;

struct Token {
  string_view text;
  int line = 0;
  bool quoted = false;  ///< quoted or text field: never a tag or keyword
};

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

}  // namespace

Structure parse_cif(const std::string& text, const CifOptions& options) {
  SOZAI_CHECK(options.block >= 0, "parse_cif: block must be >= 0, got ", options.block);
  SOZAI_CHECK(options.site_tolerance > 0.0 && options.site_tolerance < 0.5,
              "parse_cif: site_tolerance must lie in (0, 0.5), got ", options.site_tolerance);
  const auto tokens = tokenize_cif(text);
  return cif_structure(read_block(tokens, options.block), options);
}

}  // namespace sozai
