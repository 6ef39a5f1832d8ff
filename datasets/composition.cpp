/// Formula parsing, Magpie statistics and composition graphs (composition.h).

#include "common/error.h"
#include "datasets/composition.h"
#include "datasets/csv.h"

#include <ATen/Parallel.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

namespace sozai {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// UTF-8 encodings of the hydrate separators: middle dot U+00B7, bullet
/// U+2022, dot operator U+22C5.
constexpr const char* kHydrateDots[] = {"\xC2\xB7", "\xE2\x80\xA2", "\xE2\x8B\x85"};

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/// Recursive-descent parser over a flat stack of (Z, amount) entries: a
/// closing bracket multiplies the entries pushed since its opening bracket,
/// so nesting costs no allocation per group.
class FormulaParser {
 public:
  explicit FormulaParser(const std::string& s) : s_(s), n_(s.size()) {}

  Composition parse() {
    skip_space();
    if (i_ == n_) fail(0, s_.empty() ? "empty formula" : "blank formula");
    std::size_t part_start = 0;  // first entry of the current hydrate part
    double part_mult = 1.0;
    while (true) {
      skip_space();
      if (i_ == n_) break;
      const char c = s_[i_];
      if (is_upper(c)) {
        element();
      } else if (c == '(' || c == '[') {
        groups_.push_back({c, i_, entries_.size()});
        ++i_;
      } else if (c == ')' || c == ']') {
        close_group(c);
      } else if (std::size_t len = hydrate_dot()) {
        if (!groups_.empty())
          fail(i_, "hydrate dot inside the bracket opened at character ", char_pos(groups_.back().pos));
        if (entries_.size() == part_start) fail(i_, "hydrate dot with no elements before it");
        scale(part_start, part_mult);
        i_ += len;
        skip_space();
        part_start = entries_.size();
        part_mult = number_starts() ? number("hydrate multiplier") : 1.0;
        skip_space();
        if (i_ == n_) fail(i_, "nothing after the hydrate dot");
      } else if (is_digit(c) || c == '.') {
        fail(i_, "number '", peek_number(), "' without an element or bracket before it");
      } else if (c == '-') {
        fail(i_, "negative amounts are not allowed");
      } else {
        fail(i_, "unexpected character '", utf8_char_at(i_), "'");
      }
    }
    if (!groups_.empty())
      fail(groups_.back().pos, "unbalanced '", groups_.back().open, "': no closing '",
           closing(groups_.back().open), "'");
    if (entries_.size() == part_start) fail(i_, "nothing after the hydrate dot");
    scale(part_start, part_mult);
    return finish();
  }

 private:
  struct Entry {
    int z;
    double amount;
  };
  struct Group {
    char open;
    std::size_t pos;    // byte offset of the opening bracket
    std::size_t first;  // first entry inside the group
  };

  template <typename... Args>
  [[noreturn]] void fail(std::size_t byte_pos, const Args&... what) const {
    throw InputError(str("parse_formula: ", what..., " at character ", char_pos(byte_pos), " of formula \"", s_,
                         "\""));
  }

  /// 1-based character (not byte) position, so that a formula holding "·"
  /// still points at the right character.
  std::size_t char_pos(std::size_t byte_pos) const {
    std::size_t chars = 0;
    for (std::size_t k = 0; k < byte_pos && k < n_; ++k)
      if ((static_cast<unsigned char>(s_[k]) & 0xC0) != 0x80) ++chars;
    return chars + 1;
  }

  std::string utf8_char_at(std::size_t k) const {
    std::size_t len = 1;
    while (k + len < n_ && (static_cast<unsigned char>(s_[k + len]) & 0xC0) == 0x80) ++len;
    return s_.substr(k, len);
  }

  static char closing(char open) { return open == '(' ? ')' : ']'; }

  void skip_space() {
    while (i_ < n_ && is_space(s_[i_])) ++i_;
  }

  std::size_t hydrate_dot() const {
    for (const char* d : kHydrateDots) {
      const std::size_t len = std::strlen(d);
      if (s_.compare(i_, len, d) == 0) return len;
    }
    return 0;
  }

  bool number_starts() const {
    if (i_ >= n_) return false;
    if (is_digit(s_[i_])) return true;
    return s_[i_] == '.';  // ".5"; a lone '.' is reported by number()
  }

  /// End (exclusive) of the number text starting at i_: digits, an optional
  /// fraction, an optional exponent that is only taken when digits follow
  /// it (so a stray 'e' is reported as a character, not swallowed).
  std::size_t scan_number(std::size_t k) const {
    while (k < n_ && is_digit(s_[k])) ++k;
    if (k < n_ && s_[k] == '.') {
      ++k;
      while (k < n_ && is_digit(s_[k])) ++k;
    }
    if (k < n_ && (s_[k] == 'e' || s_[k] == 'E')) {
      std::size_t e = k + 1;
      if (e < n_ && (s_[e] == '+' || s_[e] == '-')) ++e;
      if (e < n_ && is_digit(s_[e])) {
        while (e < n_ && is_digit(s_[e])) ++e;
        k = e;
      }
    }
    return k;
  }

  std::string peek_number() const { return s_.substr(i_, scan_number(i_) - i_); }

  double number(const char* what) {
    const std::size_t start = i_;
    const std::size_t end = scan_number(i_);
    const char* b = s_.data() + start;
    // A '.' must have a digit after it: "Fe1." or "Fe." is a typo, not 1.
    const char* dot = static_cast<const char*>(std::memchr(b, '.', end - start));
    if (dot != nullptr && (dot + 1 == s_.data() + end || !is_digit(dot[1])))
      fail(start + (dot - b), "malformed ", what, " '", s_.substr(start, end - start), "' (a '.' needs a digit after it)");
    double v = 0;
    const auto r = std::from_chars(b, s_.data() + end, v);
    if (r.ec != std::errc() || r.ptr != s_.data() + end || !std::isfinite(v))
      fail(start, "malformed or out-of-range ", what, " '", s_.substr(start, end - start), "'");
    i_ = end;
    return v;
  }

  void element() {
    const std::size_t start = i_++;
    while (i_ < n_ && is_lower(s_[i_])) ++i_;
    const int z = find_atomic_number(s_.data() + start, i_ - start);
    if (z == 0) fail(start, "unknown element '", s_.substr(start, i_ - start), "'");
    skip_space();
    const double amount = number_starts() ? number("amount") : 1.0;
    entries_.push_back({z, amount});
  }

  void close_group(char c) {
    if (groups_.empty()) fail(i_, "unbalanced '", c, "': no opening bracket before it");
    const Group g = groups_.back();
    if (closing(g.open) != c)
      fail(i_, "'", c, "' closes the '", g.open, "' opened at character ", char_pos(g.pos));
    if (entries_.size() == g.first) fail(g.pos, "empty group '", g.open, closing(g.open), "'");
    groups_.pop_back();
    ++i_;
    skip_space();
    if (number_starts()) scale(g.first, number("group multiplier"));
  }

  void scale(std::size_t first, double m) {
    if (m == 1.0) return;
    for (std::size_t k = first; k < entries_.size(); ++k) entries_[k].amount *= m;
  }

  /// Sums repeated elements in order of first appearance and normalises.
  Composition finish() const {
    int slot[kNumElements + 1];
    std::fill(std::begin(slot), std::end(slot), -1);
    Composition c;
    c.formula = s_;
    std::vector<double> sums;
    std::vector<int> zs;
    for (const Entry& e : entries_) {
      if (slot[e.z] < 0) {
        slot[e.z] = static_cast<int>(zs.size());
        zs.push_back(e.z);
        sums.push_back(0.0);
      }
      sums[slot[e.z]] += e.amount;
    }
    for (std::size_t k = 0; k < zs.size(); ++k) {
      if (sums[k] == 0.0) continue;  // "Fe0Ni1": Fe is not present
      c.atomic_numbers.push_back(zs[k]);
      c.amounts.push_back(sums[k]);
      c.total += sums[k];
    }
    if (!(c.total > 0.0) || !std::isfinite(c.total))
      throw InputError(str("parse_formula: total amount is ", c.total, " (every element has amount 0) in formula \"",
                           s_, "\""));
    c.fractions.reserve(c.amounts.size());
    for (double a : c.amounts) c.fractions.push_back(a / c.total);
    return c;
  }

  const std::string& s_;
  const std::size_t n_;
  std::size_t i_ = 0;
  std::vector<Entry> entries_;
  std::vector<Group> groups_;
};

/// A Composition can also be filled in by hand: check it once, before the
/// loops that trust it (sizes, atomic numbers, finite non-negative fractions).
void check_composition(const Composition& c, const char* where) {
  SOZAI_CHECK(c.fractions.size() == c.atomic_numbers.size(), where, ": composition \"", c.formula, "\" has ",
              c.atomic_numbers.size(), " elements but ", c.fractions.size(), " fractions");
  for (std::size_t i = 0; i < c.size(); ++i) {
    SOZAI_CHECK(c.atomic_numbers[i] >= 1 && c.atomic_numbers[i] <= kNumElements, where, ": composition \"",
                c.formula, "\", element ", i, ": atomic number ", c.atomic_numbers[i], " outside 1..", kNumElements);
    SOZAI_CHECK(std::isfinite(c.fractions[i]) && c.fractions[i] >= 0, where, ": composition \"", c.formula,
                "\", element ", i, ": fraction ", c.fractions[i], " is not a finite number >= 0");
  }
}

const char* const kStatNames[kNumCompositionStats] = {"mean", "avg_dev", "min", "max", "range"};

/// Writes the 110 statistics of `c` to out (double; the caller converts).
template <typename T>
void features_into(const Composition& c, T* out) {
  const std::size_t k = c.size();
  for (int p = 0; p < kNumElementProperties; ++p) {
    double wsum = 0, mean = 0, lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (std::size_t i = 0; i < k; ++i) {
      const double v = element(c.atomic_numbers[i]).properties[p];
      if (std::isnan(v)) continue;  // missing: left out, the rest renormalised
      wsum += c.fractions[i];
      mean += c.fractions[i] * v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    T* o = out + p * kNumCompositionStats;
    if (wsum == 0) {
      for (int s = 0; s < kNumCompositionStats; ++s) o[s] = static_cast<T>(kNaN);
      continue;
    }
    mean /= wsum;
    double dev = 0;
    for (std::size_t i = 0; i < k; ++i) {
      const double v = element(c.atomic_numbers[i]).properties[p];
      if (!std::isnan(v)) dev += c.fractions[i] * std::abs(v - mean);
    }
    o[0] = static_cast<T>(mean);
    o[1] = static_cast<T>(dev / wsum);
    o[2] = static_cast<T>(lo);
    o[3] = static_cast<T>(hi);
    o[4] = static_cast<T>(hi - lo);
  }
}

struct PropertyMoments {
  std::array<double, kNumElementProperties> mean{}, std{};
  PropertyMoments() {
    for (int p = 0; p < kNumElementProperties; ++p) {
      double n = 0, s = 0, ss = 0;
      for (int z = 1; z <= kNumElements; ++z) {
        const double v = element(z).properties[p];
        if (std::isnan(v)) continue;
        n += 1;
        s += v;
      }
      mean[p] = s / n;
      for (int z = 1; z <= kNumElements; ++z) {
        const double v = element(z).properties[p];
        if (!std::isnan(v)) ss += (v - mean[p]) * (v - mean[p]);
      }
      std[p] = std::sqrt(ss / n);
      SOZAI_ASSERT(n > 0 && std[p] > 0);
    }
  }
};

const PropertyMoments& moments() {
  static const PropertyMoments m;
  return m;
}

}  // namespace

double Composition::fraction_of(int Z) const {
  for (std::size_t i = 0; i < atomic_numbers.size(); ++i)
    if (atomic_numbers[i] == Z) return fractions[i];
  return 0.0;
}

Composition parse_formula(const std::string& formula) { return FormulaParser(formula).parse(); }

std::vector<Composition> parse_formulas(const std::vector<std::string>& formulas) {
  std::vector<Composition> out;
  out.reserve(formulas.size());
  for (std::size_t r = 0; r < formulas.size(); ++r) {
    try {
      out.push_back(parse_formula(formulas[r]));
    } catch (const InputError& e) {
      throw InputError(str("formula ", r, ": ", e.what()));
    }
  }
  return out;
}

const std::vector<std::string>& composition_feature_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& p : element_property_names())
      for (const char* s : kStatNames) v.push_back(str(s, "_", p));
    return v;
  }();
  return names;
}

std::vector<double> composition_feature_values(const Composition& c) {
  check_composition(c, "composition_feature_values");
  std::vector<double> out(kNumCompositionFeatures);
  features_into(c, out.data());
  return out;
}

torch::Tensor composition_features(const std::vector<Composition>& compositions) {
  const auto n = static_cast<int64_t>(compositions.size());
  auto out = torch::empty({n, kNumCompositionFeatures}, torch::kFloat32);
  for (const auto& c : compositions) check_composition(c, "composition_features");
  float* o = out.data_ptr<float>();
  moments();  // nothing lazy left to initialise inside the parallel region
  // Each row is independent and nothing in features_into throws.
  at::parallel_for(0, n, 256, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) features_into(compositions[r], o + r * kNumCompositionFeatures);
  });
  return out;
}

torch::Tensor composition_features(const std::vector<std::string>& formulas) {
  return composition_features(parse_formulas(formulas));
}

const std::array<double, kNumElementProperties>& element_property_means() { return moments().mean; }
const std::array<double, kNumElementProperties>& element_property_stds() { return moments().std; }

namespace {
/// An element's Magpie properties standardised as composition_graph's node
/// features (a missing property becomes 0, the mean).
void standardised_properties(const ElementInfo& el, float* out) {
  const auto& m = moments();
  for (int p = 0; p < kNumElementProperties; ++p) {
    const double v = el.properties[p];
    out[p] = std::isnan(v) ? 0.0f : static_cast<float>((v - m.mean[p]) / m.std[p]);
  }
}
}  // namespace

torch::Tensor read_element_table(const std::string& path) {
  const auto table = read_csv(path, /*has_header=*/true);
  SOZAI_CHECK(table.header.size() >= 2, path, ": an element table needs a symbol column and at least one value column");
  SOZAI_CHECK(!table.rows.empty(), path, ": no elements");
  const auto d = static_cast<int64_t>(table.header.size() - 1);
  auto out = torch::zeros({kNumElements + 1, d}, torch::kFloat32);
  float* o = out.data_ptr<float>();
  std::vector<int> line_of_z(kNumElements + 1, 0);
  // Symbols of the periodic table past Lr: real rows of mat2vec.csv that no
  // formula sozai reads can name.
  static const std::set<std::string> beyond = {"Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn",
                                                "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const std::string& symbol = table.rows[r][0];
    const int line = table.line_of_row[r];
    if (beyond.count(symbol)) continue;
    int z = 0;
    try {
      z = element(symbol).Z;
    } catch (const InputError&) {
      throw InputError(str(path, ": line ", line, ", column '", table.header[0], "': unknown element '", symbol, "'"));
    }
    SOZAI_CHECK(line_of_z[z] == 0, path, ": line ", line, ": element ", symbol, " already given on line ",
                line_of_z[z]);
    line_of_z[z] = line;
    for (int64_t j = 0; j < d; ++j)
      o[z * d + j] = static_cast<float>(parse_cell_double(table, r, static_cast<size_t>(j + 1),
                                                          table.header[static_cast<size_t>(j + 1)]));
  }
  return out;
}

torch::Tensor magpie_element_table() {
  auto out = torch::zeros({kNumElements + 1, kNumElementProperties}, torch::kFloat32);
  float* o = out.data_ptr<float>();
  for (int z = 1; z <= kNumElements; ++z) standardised_properties(element(z), o + z * kNumElementProperties);
  return out;
}

MaterialGraph composition_graph(const Composition& c) {
  const auto k = static_cast<int64_t>(c.size());
  SOZAI_CHECK(k > 0, "composition_graph: composition of \"", c.formula, "\" has no elements");
  check_composition(c, "composition_graph");
  MaterialGraph g;
  g.kind = "composition";
  g.x = torch::empty({k, kNumElementProperties}, torch::kFloat32);
  g.atomic_number = torch::empty({k}, torch::kInt64);
  g.node_weight = torch::empty({k}, torch::kFloat32);
  float* x = g.x.data_ptr<float>();
  for (int64_t i = 0; i < k; ++i) {
    const auto& el = element(c.atomic_numbers[i]);
    standardised_properties(el, x + i * kNumElementProperties);
    g.atomic_number.data_ptr<int64_t>()[i] = el.Z;
    g.node_weight.data_ptr<float>()[i] = static_cast<float>(c.fractions[i]);
  }
  const int64_t E = k * (k - 1);
  g.edge_index = torch::empty({2, E}, torch::kInt64);
  g.edge_attr = torch::empty({E, 2}, torch::kFloat32);
  int64_t* src = g.edge_index.data_ptr<int64_t>();
  int64_t* dst = src + E;
  float* ea = g.edge_attr.data_ptr<float>();
  int64_t e = 0;
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) {
      if (i == j) continue;
      src[e] = i;
      dst[e] = j;
      ea[2 * e] = static_cast<float>(c.fractions[i]);
      ea[2 * e + 1] = static_cast<float>(c.fractions[j]);
      ++e;
    }
  return g;
}

double critical_fraction(const Composition& c) {
  check_composition(c, "critical_fraction");
  double f = 0;
  for (std::size_t i = 0; i < c.size(); ++i)
    if (supply_risk(c.atomic_numbers[i]) > 0) f += c.fractions[i];
  return f;
}

}  // namespace sozai
