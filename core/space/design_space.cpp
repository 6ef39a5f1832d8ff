#include "common/error.h"
#include "core/space/design_space.h"
#include "core/space/sobol.h"
#include "datasets/elements.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

namespace sozai {

std::string to_string(ParameterType type) {
  switch (type) {
    case ParameterType::Continuous: return "continuous";
    case ParameterType::Integer: return "integer";
    case ParameterType::Categorical: return "categorical";
    case ParameterType::Composition: return "composition";
    case ParameterType::Molecule: return "molecule";
    case ParameterType::Structure: return "structure";
  }
  return "unknown";
}

namespace {

constexpr uint64_t kSaturated = std::numeric_limits<uint64_t>::max();

uint64_t sat_add(uint64_t a, uint64_t b) { return a > kSaturated - b ? kSaturated : a + b; }
uint64_t sat_mul(uint64_t a, uint64_t b) {
  if (a == 0 || b == 0) return 0;
  return a > kSaturated / b ? kSaturated : a * b;
}

bool is_choice(ParameterType t) {
  return t == ParameterType::Categorical || t == ParameterType::Molecule || t == ParameterType::Structure;
}

/// Grid of a composition in units of `step`: total units and per-element
/// bounds in units, and the number of completions count[i][r] of elements
/// i.. that sum to r units (saturating).
struct CompositionGrid {
  int64_t units = 0;
  std::vector<int64_t> lo, hi;
  std::vector<std::vector<uint64_t>> count;

  explicit CompositionGrid(const Parameter& p) {
    units = std::llround(1.0 / p.step);
    const size_t k = p.elements.size();
    lo.resize(k);
    hi.resize(k);
    for (size_t i = 0; i < k; ++i) {
      lo[i] = static_cast<int64_t>(std::ceil(p.element_low[i] / p.step - 1e-9));
      hi[i] = std::min<int64_t>(units, static_cast<int64_t>(std::floor(p.element_high[i] / p.step + 1e-9)));
    }
    count.assign(k + 1, std::vector<uint64_t>(static_cast<size_t>(units + 1), 0));
    count[k][0] = 1;
    for (size_t i = k; i-- > 0;) {
      for (int64_t r = 0; r <= units; ++r) {
        uint64_t c = 0;
        for (int64_t v = lo[i]; v <= std::min(hi[i], r); ++v) c = sat_add(c, count[i + 1][static_cast<size_t>(r - v)]);
        count[i][static_cast<size_t>(r)] = c;
      }
    }
  }
  uint64_t size() const { return count[0][static_cast<size_t>(units)]; }

  /// Units of the index-th grid point in lexicographic order.
  void unrank_units(uint64_t index, int64_t* u) const {
    int64_t r = units;
    for (size_t i = 0; i + 1 < count.size(); ++i) {
      for (int64_t v = lo[i]; v <= std::min(hi[i], r); ++v) {
        const uint64_t c = count[i + 1][static_cast<size_t>(r - v)];
        if (index < c) {
          u[i] = v;
          r -= v;
          break;
        }
        index -= c;
      }
    }
  }
  /// Fractions of the index-th grid point in lexicographic order of units.
  void unrank(uint64_t index, double* out, double step) const {
    std::vector<int64_t> u(lo.size());
    unrank_units(index, u.data());
    for (size_t i = 0; i < u.size(); ++i) out[i] = static_cast<double>(u[i]) * step;
  }
  /// Steps `u` to the next grid point in lexicographic order (what
  /// unrank_units(index + 1) gives, in O(elements) amortised); false after
  /// the last point.
  bool next(int64_t* u) const {
    const size_t k = lo.size();
    int64_t before = units;  // units left for elements i.. (for i = 0)
    std::vector<int64_t> left(k);
    for (size_t i = 0; i < k; ++i) {
      left[i] = before;
      before -= u[i];
    }
    for (size_t i = k - 1; i-- > 0;) {
      for (int64_t v = u[i] + 1; v <= std::min(hi[i], left[i]); ++v) {
        if (count[i + 1][static_cast<size_t>(left[i] - v)] == 0) continue;
        u[i] = v;
        int64_t r = left[i] - v;
        for (size_t j = i + 1; j < k; ++j) {  // the smallest completion
          int64_t w = lo[j];
          while (count[j + 1][static_cast<size_t>(r - w)] == 0) ++w;
          u[j] = w;
          r -= w;
        }
        return true;
      }
    }
    return false;
  }
};

/// The value at grid position `digit` of `card` of a parameter that is not a
/// composition: a continuous level (the last exactly `high`), an integer, or
/// a choice's index.
double grid_value(const Parameter& p, uint64_t digit, uint64_t card) {
  if (p.type == ParameterType::Continuous) {
    if (digit + 1 == card) return p.high;  // exact end point
    const double t = static_cast<double>(digit) / static_cast<double>(p.levels - 1);
    return p.log_scale ? std::exp(std::log(p.low) + t * (std::log(p.high) - std::log(p.low)))
                       : p.low + t * (p.high - p.low);
  }
  if (p.type == ParameterType::Integer) return p.low + static_cast<double>(digit);
  return static_cast<double>(digit);
}

/// Fractions on the simplex from k uniforms (flat Dirichlet via exponential
/// spacings), moved inside the lower bounds: x = low + (1 - sum low) y.
/// A point of the composition's simplex above its lower bounds from unit
/// values (uniform for u uniform); forbidden elements get no share.
void simplex_from_unit(const Parameter& p, const double* u, double* out, const std::vector<std::string>& forbidden) {
  const size_t k = p.elements.size();
  double total = 0.0, low_sum = 0.0;
  for (size_t i = 0; i < k; ++i) {
    const bool banned = std::find(forbidden.begin(), forbidden.end(), p.elements[i]) != forbidden.end();
    out[i] = banned ? 0.0 : -std::log1p(-std::min(u[i], 1.0 - 1e-16));
    total += out[i];
    low_sum += p.element_low[i];
  }
  for (size_t i = 0; i < k; ++i) out[i] = p.element_low[i] + (1.0 - low_sum) * (total > 0 ? out[i] / total : 1.0 / k);
}

}  // namespace

// ---------------------------------------------------------------- Parameter

int64_t Parameter::raw_width() const {
  return type == ParameterType::Composition ? static_cast<int64_t>(elements.size()) : 1;
}

int64_t Parameter::encoded_width() const {
  if (type == ParameterType::Composition) return static_cast<int64_t>(elements.size());
  if (is_choice(type)) return descriptors.defined() ? descriptors.size(1) : static_cast<int64_t>(choices.size());
  return 1;
}

uint64_t Parameter::cardinality() const {
  switch (type) {
    case ParameterType::Continuous: return levels > 0 ? static_cast<uint64_t>(levels) : 0;
    case ParameterType::Integer: return static_cast<uint64_t>(high - low) + 1;
    case ParameterType::Composition: return step > 0 ? CompositionGrid(*this).size() : 0;
    default: return choices.size();
  }
}

// ---------------------------------------------------------------- building

void DesignSpace::check_new_name(const std::string& name) const {
  SOZAI_CHECK(!name.empty(), "design space: a parameter needs a name");
  for (const auto& p : params_)
    SOZAI_CHECK(p.name != name, "design space: a parameter named '", name, "' already exists");
}

DesignSpace& DesignSpace::add_continuous(const std::string& name, double low, double high, bool log_scale,
                                         int64_t levels) {
  check_new_name(name);
  SOZAI_CHECK(std::isfinite(low) && std::isfinite(high) && low < high && std::isfinite(high - low),
              "design space: parameter '", name, "' needs finite bounds with low < high and a finite width, got [",
              low, ", ", high, "]");
  SOZAI_CHECK(!log_scale || low > 0, "design space: parameter '", name, "' is on a log scale, so low must be > 0, got ",
              low);
  SOZAI_CHECK(levels == 0 || levels >= 2, "design space: parameter '", name,
              "' needs at least 2 grid levels (or 0 for none), got ", levels);
  Parameter p;
  p.name = name;
  p.type = ParameterType::Continuous;
  p.low = low;
  p.high = high;
  p.log_scale = log_scale;
  p.levels = levels;
  params_.push_back(p);
  return *this;
}

DesignSpace& DesignSpace::add_integer(const std::string& name, int64_t low, int64_t high, bool log_scale) {
  check_new_name(name);
  SOZAI_CHECK(low <= high, "design space: integer parameter '", name, "' needs low <= high, got [", low, ", ", high, "]");
  SOZAI_CHECK(!log_scale || low > 0, "design space: parameter '", name, "' is on a log scale, so low must be > 0, got ",
              low);
  Parameter p;
  p.name = name;
  p.type = ParameterType::Integer;
  p.low = static_cast<double>(low);
  p.high = static_cast<double>(high);
  p.log_scale = log_scale;
  params_.push_back(p);
  return *this;
}

namespace {
Parameter choice_parameter(const std::string& name, ParameterType type, const std::vector<std::string>& choices,
                           const torch::Tensor& descriptors) {
  SOZAI_CHECK(!choices.empty(), "design space: ", to_string(type), " parameter '", name, "' needs at least one choice");
  std::set<std::string> seen;
  for (size_t i = 0; i < choices.size(); ++i)
    SOZAI_CHECK(seen.insert(choices[i]).second, "design space: ", to_string(type), " parameter '", name,
                "' lists choice ", i, " ('", choices[i].substr(0, 60), "') twice");
  Parameter p;
  p.name = name;
  p.type = type;
  p.choices = choices;
  if (descriptors.defined()) {
    SOZAI_CHECK(descriptors.dim() == 2 && descriptors.size(0) == static_cast<int64_t>(choices.size()),
                "design space: descriptors of '", name, "' must be [", choices.size(), ", k], got ", descriptors.sizes());
    auto d = descriptors.to(torch::kFloat64).contiguous();
    SOZAI_CHECK(torch::isfinite(d).all().item<bool>(), "design space: descriptors of '", name,
                "' contain NaN or infinity");
    p.descriptors = d;
  }
  return p;
}
}  // namespace

DesignSpace& DesignSpace::add_categorical(const std::string& name, const std::vector<std::string>& choices,
                                          const torch::Tensor& descriptors) {
  return add_choice(name, ParameterType::Categorical, choices, descriptors);
}

DesignSpace& DesignSpace::add_molecules(const std::string& name, const std::vector<std::string>& smiles,
                                        const torch::Tensor& descriptors) {
  return add_choice(name, ParameterType::Molecule, smiles, descriptors);
}

DesignSpace& DesignSpace::add_structures(const std::string& name, const std::vector<std::string>& texts,
                                         const torch::Tensor& descriptors) {
  return add_choice(name, ParameterType::Structure, texts, descriptors);
}

DesignSpace& DesignSpace::add_choice(const std::string& name, ParameterType type,
                                     const std::vector<std::string>& values, const torch::Tensor& descriptors) {
  check_new_name(name);
  params_.push_back(choice_parameter(name, type, values, descriptors));
  return *this;
}

DesignSpace& DesignSpace::add_composition(const std::string& name, const std::vector<std::string>& elements,
                                          const std::vector<double>& low, const std::vector<double>& high,
                                          double step) {
  check_new_name(name);
  const size_t k = elements.size();
  SOZAI_CHECK(k >= 1, "design space: composition '", name, "' needs at least one element");
  std::set<std::string> seen;
  for (const auto& e : elements) {
    SOZAI_CHECK(find_atomic_number(e.data(), e.size()) != 0, "design space: composition '", name, "' has unknown element '", e,
                "'");
    SOZAI_CHECK(seen.insert(e).second, "design space: composition '", name, "' lists element ", e, " twice");
  }
  SOZAI_CHECK(low.empty() || low.size() == k, "design space: composition '", name, "' has ", k,
              " elements but ", low.size(), " lower bounds");
  SOZAI_CHECK(high.empty() || high.size() == k, "design space: composition '", name, "' has ", k,
              " elements but ", high.size(), " upper bounds");
  Parameter p;
  p.name = name;
  p.type = ParameterType::Composition;
  p.elements = elements;
  p.element_low = low.empty() ? std::vector<double>(k, 0.0) : low;
  p.element_high = high.empty() ? std::vector<double>(k, 1.0) : high;
  double lo_sum = 0.0, hi_sum = 0.0;
  for (size_t i = 0; i < k; ++i) {
    SOZAI_CHECK(p.element_low[i] >= 0 && p.element_low[i] <= p.element_high[i] && p.element_high[i] <= 1,
                "design space: composition '", name, "', element ", elements[i],
                ": bounds must satisfy 0 <= low <= high <= 1, got [", p.element_low[i], ", ", p.element_high[i], "]");
    lo_sum += p.element_low[i];
    hi_sum += p.element_high[i];
  }
  SOZAI_CHECK(lo_sum <= 1 + 1e-12 && hi_sum >= 1 - 1e-12, "design space: composition '", name,
              "' cannot sum to 1 within its bounds (lower bounds sum to ", lo_sum, ", upper to ", hi_sum, ")");
  if (step > 0) {
    const double units = 1.0 / step;
    SOZAI_CHECK(std::fabs(units - std::round(units)) < 1e-9 && units <= 1e6, "design space: composition '", name,
                "' grid step must divide 1 (e.g. 0.05, 0.01), got ", step);
    p.step = step;
    SOZAI_CHECK(CompositionGrid(p).size() > 0, "design space: composition '", name,
                "' has no grid point within its bounds at step ", step);
  } else {
    SOZAI_CHECK(step == 0, "design space: composition '", name, "' grid step must be > 0 (or 0 for none), got ", step);
  }
  params_.push_back(p);
  return *this;
}

DesignSpace& DesignSpace::add_linear_constraint(const LinearConstraint& c) {
  SOZAI_CHECK(!c.terms.empty(), "design space: a linear constraint needs at least one term");
  SOZAI_CHECK(std::isfinite(c.rhs), "design space: a linear constraint's right-hand side must be finite");
  for (const auto& [term, coef] : c.terms) {
    SOZAI_CHECK(std::isfinite(coef), "design space: coefficient of '", term, "' must be finite");
    // Resolves the name now, so a typo fails here and not at the first check.
    const auto dot = term.find('.');
    const std::string pname = dot == std::string::npos ? term : term.substr(0, dot);
    const auto& p = parameter(pname);
    if (p.type == ParameterType::Composition) {
      SOZAI_CHECK(dot != std::string::npos, "design space: constraint term '", term,
                  "' names a composition; use 'composition.Element'");
      const auto el = term.substr(dot + 1);
      SOZAI_CHECK(std::find(p.elements.begin(), p.elements.end(), el) != p.elements.end(),
                  "design space: constraint term '", term, "': composition '", pname, "' has no element ", el);
    } else {
      SOZAI_CHECK(p.type == ParameterType::Continuous || p.type == ParameterType::Integer,
                  "design space: constraint term '", term, "' must be a continuous or integer parameter, '", pname,
                  "' is ", to_string(p.type));
    }
  }
  constraints_.push_back(c);
  return *this;
}

DesignSpace& DesignSpace::forbid_elements(const std::vector<std::string>& symbols) {
  for (const auto& s : symbols) {
    SOZAI_CHECK(find_atomic_number(s.data(), s.size()) != 0, "design space: cannot forbid unknown element '", s, "'");
    forbidden_.push_back(s);
  }
  return *this;
}

DesignSpace& DesignSpace::set_critical_budget(double max_fraction, const std::map<std::string, double>& risk) {
  SOZAI_CHECK(max_fraction >= 0 && max_fraction <= 1, "design space: critical budget must be in [0, 1], got ",
              max_fraction);
  for (const auto& [s, r] : risk) {
    SOZAI_CHECK(find_atomic_number(s.data(), s.size()) != 0, "design space: critical risk given for unknown element '", s, "'");
    SOZAI_CHECK(r >= 0 && r <= 1, "design space: critical risk of ", s, " must be in [0, 1], got ", r);
  }
  critical_cap_ = max_fraction;
  critical_risk_ = risk;
  return *this;
}

// ---------------------------------------------------------------- queries

const Parameter& DesignSpace::parameter(const std::string& name) const {
  for (const auto& p : params_)
    if (p.name == name) return p;
  throw InputError(str("design space: no parameter named '", name, "'"));
}

int64_t DesignSpace::offset(size_t param) const {
  int64_t o = 0;
  for (size_t i = 0; i < param; ++i) o += params_[i].raw_width();
  return o;
}

int64_t DesignSpace::raw_width() const { return offset(params_.size()); }

int64_t DesignSpace::encoded_width() const {
  int64_t w = 0;
  for (const auto& p : params_) w += p.encoded_width();
  return w;
}

std::vector<std::string> DesignSpace::encoded_names() const {
  std::vector<std::string> names;
  for (const auto& p : params_) {
    if (p.type == ParameterType::Composition) {
      for (const auto& e : p.elements) names.push_back(p.name + "." + e);
    } else if (is_choice(p.type)) {
      if (p.descriptors.defined()) {
        for (int64_t j = 0; j < p.descriptors.size(1); ++j) names.push_back(p.name + ".d" + std::to_string(j));
      } else {
        for (size_t j = 0; j < p.choices.size(); ++j)
          names.push_back(p.type == ParameterType::Categorical ? p.name + "=" + p.choices[j]
                                                               : p.name + "=" + std::to_string(j));
      }
    } else {
      names.push_back(p.name);
    }
  }
  return names;
}

double DesignSpace::term_value(const double* c, const std::string& term) const {
  const auto dot = term.find('.');
  const std::string pname = dot == std::string::npos ? term : term.substr(0, dot);
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& p = params_[i];
    if (p.name != pname) continue;
    const int64_t o = offset(i);
    if (p.type != ParameterType::Composition) return c[o];
    const auto el = term.substr(dot + 1);
    const auto at = std::find(p.elements.begin(), p.elements.end(), el) - p.elements.begin();
    return c[o + at];
  }
  return std::numeric_limits<double>::quiet_NaN();  // unreachable: names are resolved when added
}

namespace {
double risk_of(const std::map<std::string, double>& custom, const std::string& symbol) {
  if (custom.empty()) return supply_risk(symbol);
  auto it = custom.find(symbol);
  return it == custom.end() ? 0.0 : it->second;
}
}  // namespace

double DesignSpace::critical_risk(const std::string& symbol) const { return risk_of(critical_risk_, symbol); }

std::string DesignSpace::violation(const double* c) const {
  // The message is built only when something is wrong: a stream per call
  // (its locale lookups) cost more than the checks in a screen of 10^8 points.
  double critical = 0.0;
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& p = params_[i];
    const double* v = c + offset(i);
    switch (p.type) {
      case ParameterType::Continuous:
      case ParameterType::Integer:
        if (!(v[0] >= p.low && v[0] <= p.high)) {
          return str(p.name, " = ", v[0], " is outside [", p.low, ", ", p.high, "]");
        }
        if (p.type == ParameterType::Integer && v[0] != std::round(v[0])) {
          return str(p.name, " = ", v[0], " is not an integer");
        }
        break;
      case ParameterType::Composition: {
        double total = 0.0;
        for (size_t e = 0; e < p.elements.size(); ++e) {
          if (!(v[e] >= p.element_low[e] - 1e-12 && v[e] <= p.element_high[e] + 1e-12)) {
            return str(p.name, ".", p.elements[e], " = ", v[e], " is outside [", p.element_low[e], ", ",
                       p.element_high[e], "]");
          }
          if (v[e] > 0 && std::find(forbidden_.begin(), forbidden_.end(), p.elements[e]) != forbidden_.end()) {
            return str(p.name, " contains the forbidden element ", p.elements[e]);
          }
          total += v[e];
          if (critical_cap_ >= 0) critical += risk_of(critical_risk_, p.elements[e]) * v[e];
        }
        if (std::fabs(total - 1.0) > 1e-6) {
          return str(p.name, " fractions sum to ", total, ", not 1");
        }
        break;
      }
      default: {
        const double idx = v[0];
        if (!(idx >= 0 && idx < static_cast<double>(p.choices.size()) && idx == std::floor(idx))) {
          return str(p.name, " = ", idx, " is not a choice index in [0, ", p.choices.size(), ")");
        }
      }
    }
  }
  for (size_t k = 0; k < constraints_.size(); ++k) {
    const auto& lc = constraints_[k];
    double lhs = 0.0;
    for (const auto& [term, coef] : lc.terms) lhs += coef * term_value(c, term);
    const bool ok = lc.equality ? std::fabs(lhs - lc.rhs) <= lc.tolerance : lhs <= lc.rhs + lc.tolerance;
    if (!ok) {
      return str("linear constraint ", k, " violated: left side ", lhs, (lc.equality ? " != " : " > "), lc.rhs);
    }
  }
  if (critical_cap_ >= 0 && critical > critical_cap_ + 1e-12) {
    return str("critical-element fraction ", critical, " exceeds the budget ", critical_cap_);
  }
  return "";
}

namespace {
torch::Tensor checked_candidates(const torch::Tensor& candidates, int64_t width, const char* op) {
  SOZAI_CHECK(candidates.defined() && candidates.dim() == 2 && candidates.size(1) == width, "design space: ", op,
              " needs candidates of shape [n, ", width, "], got ",
              candidates.defined() ? candidates.sizes() : torch::IntArrayRef{});
  return candidates.to(torch::kCPU, torch::kFloat64).contiguous();
}
}  // namespace

torch::Tensor DesignSpace::feasible(const torch::Tensor& candidates) const {
  auto c = checked_candidates(candidates, raw_width(), "feasible");
  const int64_t n = c.size(0), w = raw_width();
  auto out = torch::empty({n}, torch::kBool);
  auto* o = out.data_ptr<bool>();
  const double* d = c.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) o[i] = violation(d + i * w).empty();
  return out;
}

torch::Tensor DesignSpace::critical_fraction(const torch::Tensor& candidates) const {
  auto c = checked_candidates(candidates, raw_width(), "critical_fraction");
  const int64_t n = c.size(0), w = raw_width();
  auto out = torch::zeros({n}, torch::kFloat64);
  auto* o = out.data_ptr<double>();
  const double* d = c.data_ptr<double>();
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& p = params_[i];
    if (p.type != ParameterType::Composition) continue;
    const int64_t off = offset(i);
    for (size_t e = 0; e < p.elements.size(); ++e) {
      const double r = risk_of(critical_risk_, p.elements[e]);
      for (int64_t row = 0; row < n; ++row) o[row] += r * d[row * w + off + static_cast<int64_t>(e)];
    }
  }
  return out;
}

// ---------------------------------------------------------------- grids

uint64_t DesignSpace::grid_size() const {
  if (params_.empty()) return 0;
  uint64_t n = 1;
  for (const auto& p : params_) n = sat_mul(n, p.cardinality());
  return n;
}

std::vector<double> DesignSpace::grid_point(uint64_t index) const {
  const uint64_t size = grid_size();
  SOZAI_CHECK(size > 0, "design space: not every parameter has a grid (continuous parameters need levels, "
                        "compositions a step), so it cannot be enumerated");
  SOZAI_CHECK(index < size, "design space: grid index ", index, " is outside the grid of ", size, " points");
  std::vector<double> out(static_cast<size_t>(raw_width()));
  for (size_t i = params_.size(); i-- > 0;) {
    const auto& p = params_[i];
    const uint64_t card = p.cardinality();
    const uint64_t digit = index % card;
    index /= card;
    double* v = out.data() + offset(i);
    if (p.type == ParameterType::Composition) CompositionGrid(p).unrank(digit, v, p.step);
    else v[0] = grid_value(p, digit, card);
  }
  return out;
}

CandidateChunk DesignSpace::enumerate(uint64_t start, int64_t chunk, uint64_t max_examined) const {
  SOZAI_CHECK(chunk >= 1, "design space: enumerate needs chunk >= 1, got ", chunk);
  const uint64_t size = grid_size();
  SOZAI_CHECK(size > 0, "design space: not every parameter has a grid (continuous parameters need levels, "
                        "compositions a step), so it cannot be enumerated");
  if (max_examined == 0) max_examined = std::max<uint64_t>(static_cast<uint64_t>(chunk) * 64, uint64_t{1} << 20);
  const int64_t w = raw_width();
  // Composition grids are built once per call, not per point.
  std::vector<std::unique_ptr<CompositionGrid>> grids(params_.size());
  std::vector<uint64_t> cards(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    cards[i] = params_[i].cardinality();
    if (params_[i].type == ParameterType::Composition) grids[i] = std::make_unique<CompositionGrid>(params_[i]);
  }
  std::vector<double> values, point(static_cast<size_t>(w));
  std::vector<int64_t> where;
  uint64_t pos = start, examined = 0;
  // The digits of `start` (mixed radix, last parameter fastest), then each
  // next position by incrementing them: a composition steps to its next
  // grid point instead of being unranked again.
  std::vector<uint64_t> digit(params_.size());
  std::vector<std::vector<int64_t>> units(params_.size());
  auto set_value = [&](size_t i) {
    const auto& p = params_[i];
    double* v = point.data() + offset(i);
    if (p.type == ParameterType::Composition) {
      for (size_t e = 0; e < units[i].size(); ++e) v[e] = static_cast<double>(units[i][e]) * p.step;
    } else {
      v[0] = grid_value(p, digit[i], cards[i]);
    }
  };
  if (pos < size) {
    uint64_t index = pos;
    for (size_t i = params_.size(); i-- > 0;) {
      digit[i] = index % cards[i];
      index /= cards[i];
      if (grids[i]) {
        units[i].resize(params_[i].elements.size());
        grids[i]->unrank_units(digit[i], units[i].data());
      }
      set_value(i);
    }
  }
  while (pos < size && static_cast<int64_t>(where.size()) < chunk && examined < max_examined) {
    if (violation(point.data()).empty()) {
      values.insert(values.end(), point.begin(), point.end());
      where.push_back(static_cast<int64_t>(pos));
    }
    ++pos;
    ++examined;
    if (pos >= size) break;
    for (size_t i = params_.size(); i-- > 0;) {  // increment, carrying into slower parameters
      if (++digit[i] < cards[i]) {
        if (grids[i]) grids[i]->next(units[i].data());
        set_value(i);
        break;
      }
      digit[i] = 0;
      if (grids[i]) grids[i]->unrank_units(0, units[i].data());
      set_value(i);
    }
  }
  CandidateChunk out;
  const auto n = static_cast<int64_t>(where.size());
  out.values = torch::from_blob(values.data(), {n, w}, torch::kFloat64).clone();
  out.grid_index = torch::from_blob(where.data(), {n}, torch::kInt64).clone();
  out.next = pos;
  out.done = pos >= size;
  return out;
}

// ---------------------------------------------------------------- sampling

namespace {
/// Unit-cube dimensions a parameter consumes when sampled.
int64_t unit_dims(const Parameter& p) {
  return p.type == ParameterType::Composition && p.step == 0 ? static_cast<int64_t>(p.elements.size()) : 1;
}
}  // namespace

void DesignSpace::map_unit(const double* u, double* out) const {
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& p = params_[i];
    double* v = out + offset(i);
    const double x = std::min(u[0], std::nextafter(1.0, 0.0));
    switch (p.type) {
      case ParameterType::Continuous:
        v[0] = p.log_scale ? std::exp(std::log(p.low) + x * (std::log(p.high) - std::log(p.low)))
                           : p.low + x * (p.high - p.low);
        break;
      case ParameterType::Integer:
        if (p.log_scale) {
          // Uniform in log space over [low - 0.5, high + 0.5), then rounded.
          const double a = std::log(p.low - 0.5 > 0 ? p.low - 0.5 : p.low * 0.5), b = std::log(p.high + 0.5);
          v[0] = std::min(p.high, std::max(p.low, std::round(std::exp(a + x * (b - a)))));
        } else {
          v[0] = std::min(p.high, p.low + std::floor(x * (p.high - p.low + 1)));
        }
        break;
      case ParameterType::Composition:
        if (p.step > 0) {
          const CompositionGrid g(p);
          g.unrank(std::min(g.size() - 1, static_cast<uint64_t>(x * static_cast<double>(g.size()))), v, p.step);
        } else {
          simplex_from_unit(p, u, v, forbidden_);
        }
        break;
      default: v[0] = std::floor(x * static_cast<double>(p.choices.size()));
    }
    u += unit_dims(p);
  }
}

torch::Tensor DesignSpace::sample(int64_t n, uint64_t seed, bool sobol, int64_t max_tries) const {
  SOZAI_CHECK(!params_.empty(), "design space: sample needs at least one parameter");
  SOZAI_CHECK(n >= 0, "design space: sample needs n >= 0, got ", n);
  SOZAI_CHECK(max_tries >= 1, "design space: max_tries must be >= 1, got ", max_tries);
  int64_t dims = 0;
  for (const auto& p : params_) dims += unit_dims(p);
  const int64_t w = raw_width();
  std::vector<double> out;
  out.reserve(static_cast<size_t>(n * w));
  std::vector<double> point(static_cast<size_t>(w));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  std::unique_ptr<SobolEngine> engine;
  if (sobol) engine = std::make_unique<SobolEngine>(dims, /*scramble=*/true, seed);
  const int64_t budget = std::max<int64_t>(n, 1) * max_tries;
  int64_t drawn = 0, kept = 0;
  const int64_t batch = 1024;
  while (kept < n && drawn < budget) {
    torch::Tensor units;
    if (sobol) {
      units = engine->draw(batch);
    } else {
      units = torch::empty({batch, dims}, torch::kFloat64);
      auto* u = units.data_ptr<double>();
      for (int64_t i = 0; i < batch * dims; ++i) u[i] = uni(rng);
    }
    const double* u = units.data_ptr<double>();
    for (int64_t r = 0; r < batch && kept < n && drawn < budget; ++r, ++drawn) {
      map_unit(u + r * dims, point.data());
      if (!violation(point.data()).empty()) continue;
      out.insert(out.end(), point.begin(), point.end());
      ++kept;
    }
  }
  SOZAI_CHECK(kept == n, "design space: found only ", kept, " feasible candidates of ", n, " in ", drawn,
              " draws; the constraints leave too little of the space (raise max_tries or relax them)");
  return torch::from_blob(out.data(), {n, w}, torch::kFloat64).clone();
}

torch::Tensor DesignSpace::sample_unconstrained(int64_t n, uint64_t seed) const {
  SOZAI_CHECK(!params_.empty(), "design space: sample needs at least one parameter");
  SOZAI_CHECK(n >= 0, "design space: sample needs n >= 0, got ", n);
  int64_t dims = 0;
  for (const auto& p : params_) dims += unit_dims(p);
  const int64_t w = raw_width();
  auto out = torch::empty({n, w}, torch::kFloat64);
  if (n == 0) return out;
  SobolEngine engine(dims, /*scramble=*/true, seed);
  auto units = engine.draw(n);
  for (int64_t r = 0; r < n; ++r) map_unit(units.data_ptr<double>() + r * dims, out.data_ptr<double>() + r * w);
  return out;
}

// ---------------------------------------------------------------- encoding

torch::Tensor DesignSpace::encode(const torch::Tensor& candidates) const {
  auto c = checked_candidates(candidates, raw_width(), "encode");
  const int64_t n = c.size(0), w = raw_width(), ew = encoded_width();
  auto out = torch::zeros({n, ew}, torch::kFloat64);
  double* o = out.data_ptr<double>();
  const double* d = c.data_ptr<double>();
  for (int64_t row = 0; row < n; ++row) {
    const double* v = d + row * w;
    double* e = o + row * ew;
    for (const auto& p : params_) {
      switch (p.type) {
        case ParameterType::Continuous:
        case ParameterType::Integer:
          if (p.high == p.low) {
            e[0] = 0.0;
          } else {
            e[0] = p.log_scale ? (std::log(v[0]) - std::log(p.low)) / (std::log(p.high) - std::log(p.low))
                               : (v[0] - p.low) / (p.high - p.low);
          }
          break;
        case ParameterType::Composition:
          std::copy(v, v + p.elements.size(), e);
          break;
        default: {
          const auto idx = static_cast<int64_t>(v[0]);
          SOZAI_CHECK(v[0] == std::floor(v[0]) && idx >= 0 && idx < static_cast<int64_t>(p.choices.size()),
                      "design space: encode: row ", row, ", parameter '", p.name, "' has choice index ", v[0],
                      " outside [0, ", p.choices.size(), ")");
          if (p.descriptors.defined()) {
            const int64_t k = p.descriptors.size(1);
            const double* drow = p.descriptors.data_ptr<double>() + idx * k;
            std::copy(drow, drow + k, e);
          } else {
            e[idx] = 1.0;
          }
        }
      }
      v += p.raw_width();
      e += p.encoded_width();
    }
  }
  return out;
}

torch::Tensor DesignSpace::encoded_bounds() const {
  auto out = torch::zeros({2, encoded_width()}, torch::kFloat64);
  out[1].fill_(1.0);
  int64_t e = 0;
  for (const auto& p : params_) {
    if (is_choice(p.type) && p.descriptors.defined()) {
      const int64_t k = p.descriptors.size(1);
      out[0].slice(0, e, e + k).copy_(std::get<0>(p.descriptors.min(0)));
      out[1].slice(0, e, e + k).copy_(std::get<0>(p.descriptors.max(0)));
    }
    e += p.encoded_width();
  }
  return out;
}

std::map<std::string, std::string> DesignSpace::describe(const double* c) const {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& p = params_[i];
    const double* v = c + offset(i);
    std::ostringstream s;
    if (p.type == ParameterType::Composition) {
      for (size_t e = 0; e < p.elements.size(); ++e)
        if (v[e] > 0) s << p.elements[e] << v[e];
    } else if (is_choice(p.type)) {
      const auto idx = static_cast<size_t>(v[0]);
      s << (idx < p.choices.size() ? p.choices[idx] : "?");
    } else if (p.type == ParameterType::Integer) {
      s << static_cast<int64_t>(v[0]);
    } else {
      s << v[0];
    }
    out[p.name] = s.str();
  }
  return out;
}

}  // namespace sozai
