#include "core/bo/optimize.h"
#include "common/error.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <string>
#include <vector>

namespace sozai {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

/// A relaxed variable: z in [lo, hi] maps to raw = low + width * z.
struct Var {
  int64_t raw_pos = 0;
  int64_t enc_col = 0;
  double low = 0.0, width = 1.0;
  double lo = 0.0, hi = 1.0;
  bool integer = false;
  bool log_scale = false;
  double log_low = 0.0, log_span = 1.0;  // log-scale encoding
};

struct HalfSpace {
  std::vector<std::pair<int64_t, double>> a;  // (var, coefficient in z units)
  double b = 0.0;
  bool equality = false;
};

/// The linear feasible set of a design space in relaxed (z) coordinates.
struct Relaxation {
  std::vector<Var> vars;
  std::vector<std::vector<int64_t>> simplexes;  // var indices of each composition
  std::vector<HalfSpace> halfspaces;
  std::vector<size_t> discrete;                 // parameter indices of categorical-like parameters
  std::vector<bool> in_simplex;                 // per var: part of a composition
};

Relaxation relax(const DesignSpace& space) {
  Relaxation r;
  const auto& params = space.parameters();
  std::vector<int64_t> var_of_raw(space.raw_width(), -1);
  int64_t col = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& p = params[i];
    const int64_t off = space.raw_offset(i);
    if (p.type == ParameterType::Continuous || p.type == ParameterType::Integer) {
      Var v;
      v.raw_pos = off;
      v.enc_col = col;
      v.low = p.low;
      v.width = p.high - p.low;
      v.lo = 0.0;
      v.hi = v.width > 0 ? 1.0 : 0.0;
      v.integer = p.type == ParameterType::Integer;
      v.log_scale = p.log_scale && v.width > 0;
      if (v.log_scale) {
        v.log_low = std::log(p.low);
        v.log_span = std::log(p.high) - v.log_low;
      }
      var_of_raw[off] = static_cast<int64_t>(r.vars.size());
      r.vars.push_back(v);
    } else if (p.type == ParameterType::Composition) {
      std::vector<int64_t> group;
      const auto& forbidden = space.forbidden_elements();
      for (size_t e = 0; e < p.elements.size(); ++e) {
        Var v;
        v.raw_pos = off + static_cast<int64_t>(e);
        v.enc_col = col + static_cast<int64_t>(e);
        v.lo = p.element_low[e];
        v.hi = std::find(forbidden.begin(), forbidden.end(), p.elements[e]) != forbidden.end() ? 0.0
                                                                                               : p.element_high[e];
        var_of_raw[v.raw_pos] = static_cast<int64_t>(r.vars.size());
        group.push_back(static_cast<int64_t>(r.vars.size()));
        r.vars.push_back(v);
      }
      r.simplexes.push_back(group);
    } else {
      r.discrete.push_back(i);
    }
    col += p.encoded_width();
  }
  r.in_simplex.assign(r.vars.size(), false);
  for (const auto& g : r.simplexes)
    for (auto i : g) r.in_simplex[i] = true;
  // Linear constraints: a term names a parameter or "composition.Element".
  auto raw_position = [&](const std::string& term) -> int64_t {
    const auto dot = term.find('.');
    const std::string pname = dot == std::string::npos ? term : term.substr(0, dot);
    for (size_t i = 0; i < params.size(); ++i) {
      if (params[i].name != pname) continue;
      if (params[i].type != ParameterType::Composition) return space.raw_offset(i);
      const auto& el = params[i].elements;
      const auto at = std::find(el.begin(), el.end(), term.substr(dot + 1)) - el.begin();
      return space.raw_offset(i) + at;
    }
    throw InputError(str("optimize_acquisition: linear constraint term '", term, "' names no parameter"));
  };
  for (const auto& lc : space.constraints()) {
    HalfSpace h;
    h.b = lc.rhs;
    h.equality = lc.equality;
    for (const auto& [term, coef] : lc.terms) {
      const int64_t v = var_of_raw[raw_position(term)];
      SOZAI_CHECK(v >= 0, "optimize_acquisition: linear constraint term '", term,
                  "' is not a continuous, integer or composition value");
      h.b -= coef * r.vars[v].low;
      if (r.vars[v].width != 0) h.a.emplace_back(v, coef * r.vars[v].width);
    }
    if (!h.a.empty()) r.halfspaces.push_back(h);
  }
  if (space.critical_budget() >= 0) {
    HalfSpace h;
    h.b = space.critical_budget();
    for (size_t i = 0; i < params.size(); ++i) {
      if (params[i].type != ParameterType::Composition) continue;
      for (size_t e = 0; e < params[i].elements.size(); ++e) {
        const double risk = space.critical_risk(params[i].elements[e]);
        if (risk != 0) h.a.emplace_back(var_of_raw[space.raw_offset(i) + e], risk);
      }
    }
    if (!h.a.empty()) r.halfspaces.push_back(h);
  }
  return r;
}

/// Projection onto the bounds and every composition simplex (with its bounds).
void project_box_simplex(const Relaxation& r, const std::vector<double>& lo, const std::vector<double>& hi,
                         std::vector<double>& z) {
  for (size_t i = 0; i < z.size(); ++i)
    if (!r.in_simplex[i]) z[i] = std::min(std::max(z[i], lo[i]), hi[i]);
  for (const auto& g : r.simplexes) {
    // sum_i clamp(y_i - lambda, lo_i, hi_i) = 1 by bisection on lambda.
    std::vector<double> y;
    for (auto i : g) y.push_back(z[i]);
    double a = -kNegInf, b = kNegInf;  // min and max of the bracket, grown below
    for (size_t k = 0; k < g.size(); ++k) {
      a = std::min(a, y[k] - hi[g[k]]);
      b = std::max(b, y[k] - lo[g[k]]);
    }
    a -= 1.0;
    b += 1.0;
    auto total = [&](double lam) {
      double s = 0.0;
      for (size_t k = 0; k < g.size(); ++k) s += std::min(std::max(y[k] - lam, lo[g[k]]), hi[g[k]]);
      return s;
    };
    for (int it = 0; it < 200 && b - a > 1e-15 * (1.0 + std::abs(a) + std::abs(b)); ++it) {
      const double mid = 0.5 * (a + b);
      (total(mid) > 1.0 ? a : b) = mid;
    }
    const double lam = 0.5 * (a + b);
    for (size_t k = 0; k < g.size(); ++k) z[g[k]] = std::min(std::max(y[k] - lam, lo[g[k]]), hi[g[k]]);
  }
}

void project_halfspace(const HalfSpace& h, std::vector<double>& z) {
  double dot = 0.0, norm2 = 0.0;
  for (const auto& [i, a] : h.a) {
    dot += a * z[i];
    norm2 += a * a;
  }
  // Aim a hair inside an inequality so rounding never leaves it violated.
  const double target = h.equality ? h.b : h.b - 1e-11 * (1.0 + std::abs(h.b));
  const double excess = dot - target;
  if (norm2 == 0 || (!h.equality && excess <= 0)) return;
  for (const auto& [i, a] : h.a) z[i] -= excess / norm2 * a;
}

/// Euclidean projection onto the intersection (Dykstra's algorithm; the
/// box-and-simplex set is applied last, so bounds and sums hold exactly).
std::vector<double> project(const Relaxation& r, const std::vector<double>& lo, const std::vector<double>& hi,
                            std::vector<double> z) {
  if (r.halfspaces.empty()) {
    project_box_simplex(r, lo, hi, z);
    return z;
  }
  const size_t n = z.size(), sets = r.halfspaces.size() + 1;
  std::vector<std::vector<double>> inc(sets, std::vector<double>(n, 0.0));
  for (int cycle = 0; cycle < 2000; ++cycle) {
    double change = 0.0;
    for (size_t k = 0; k < sets; ++k) {
      std::vector<double> t(n);
      for (size_t i = 0; i < n; ++i) t[i] = z[i] + inc[k][i];
      std::vector<double> p = t;
      if (k + 1 < sets)
        project_halfspace(r.halfspaces[k], p);
      else
        project_box_simplex(r, lo, hi, p);
      for (size_t i = 0; i < n; ++i) {
        inc[k][i] = t[i] - p[i];
        change = std::max(change, std::abs(p[i] - z[i]));
      }
      z = p;
    }
    if (change < 1e-13) break;
  }
  return z;
}

class Problem {
 public:
  Problem(const DesignSpace& space, const EncodedAcquisition& acq) : space_(space), acq_(acq), r_(relax(space)) {
    lo_.resize(r_.vars.size());
    hi_.resize(r_.vars.size());
    for (size_t i = 0; i < r_.vars.size(); ++i) {
      lo_[i] = r_.vars[i].lo;
      hi_[i] = r_.vars[i].hi;
    }
    for (const auto& v : r_.vars) cols_.push_back(v.enc_col);
  }

  const Relaxation& relaxation() const { return r_; }
  int64_t evaluations() const { return evals_; }

  std::vector<double> z_of(const torch::Tensor& raw) const {
    const double* p = raw.data_ptr<double>();
    std::vector<double> z;
    for (const auto& v : r_.vars) z.push_back(v.width != 0 ? (p[v.raw_pos] - v.low) / v.width : 0.0);
    return z;
  }
  void set_z(torch::Tensor& raw, const std::vector<double>& z) const {
    double* p = raw.data_ptr<double>();
    for (size_t i = 0; i < z.size(); ++i) {
      const auto& v = r_.vars[i];
      double x = v.low + v.width * z[i];
      if (v.width != 0 && z[i] == 1.0) x = v.low + v.width;  // exact upper bound
      p[v.raw_pos] = x;
    }
  }

  /// Acquisition of raw candidates [b, raw_width] (no gradient).
  torch::Tensor value(const torch::Tensor& raw) {
    torch::NoGradGuard no_grad;
    ++evals_;
    return acq_(space_.encode(raw)).to(torch::kCPU, torch::kFloat64).reshape({-1});
  }

  /// Value and gradient in z at a point, the other columns from `raw`.
  double value_and_grad(const torch::Tensor& raw, const std::vector<double>& z, std::vector<double>& grad) {
    ++evals_;
    auto base = space_.encode(raw.unsqueeze(0));  // constant columns
    auto zt = torch::tensor(z, torch::kFloat64).requires_grad_(true);
    std::vector<torch::Tensor> cols;
    for (size_t i = 0; i < r_.vars.size(); ++i) {
      const auto& v = r_.vars[i];
      auto zi = zt[static_cast<int64_t>(i)];
      if (v.width == 0)
        cols.push_back(zi * 0.0 + base[0][v.enc_col]);
      else if (v.log_scale)
        cols.push_back((torch::log(v.low + v.width * zi.clamp_min(0.0)) - v.log_low) / v.log_span);
      else
        cols.push_back(zi);
    }
    auto enc = base.index_copy(1, torch::tensor(cols_, torch::kInt64), torch::stack(cols).unsqueeze(0));
    auto val = acq_(enc).reshape({-1})[0];
    const double f = val.item<double>();
    grad.assign(z.size(), 0.0);
    if (!std::isfinite(f) || !val.requires_grad()) return std::isfinite(f) ? f : kNegInf;
    auto g = torch::autograd::grad({val}, {zt})[0].contiguous();
    for (size_t i = 0; i < z.size(); ++i) {
      grad[i] = g[static_cast<int64_t>(i)].item<double>();
      if (!std::isfinite(grad[i])) grad[i] = 0.0;
    }
    return f;
  }

  /// Projected L-BFGS ascent from raw's relaxed values with bounds lo/hi.
  void ascend(torch::Tensor& raw, const std::vector<double>& lo, const std::vector<double>& hi,
              const OptimizeConfig& cfg) {
    const size_t n = r_.vars.size();
    if (n == 0) return;
    auto z = project(r_, lo, hi, z_of(raw));
    std::vector<double> g;
    set_z(raw, z);
    double f = value_and_grad(raw, z, g);
    if (!std::isfinite(f)) return;
    std::deque<std::pair<std::vector<double>, std::vector<double>>> mem;  // (s, y) for -f
    auto dot = [](const std::vector<double>& a, const std::vector<double>& b) {
      double s = 0.0;
      for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
      return s;
    };
    for (int64_t it = 0; it < cfg.max_iter; ++it) {
      // Two-loop recursion on the gradient of -f gives a descent direction
      // of -f, i.e. an ascent direction d of f.
      std::vector<double> q(n);
      for (size_t i = 0; i < n; ++i) q[i] = g[i];
      std::vector<double> alpha(mem.size());
      for (size_t k = mem.size(); k-- > 0;) {
        alpha[k] = dot(mem[k].first, q) / dot(mem[k].second, mem[k].first);
        for (size_t i = 0; i < n; ++i) q[i] -= alpha[k] * mem[k].second[i];
      }
      double gamma = 1.0;
      if (!mem.empty()) gamma = dot(mem.back().first, mem.back().second) / dot(mem.back().second, mem.back().second);
      else {
        double gmax = 0.0;
        for (double v : g) gmax = std::max(gmax, std::abs(v));
        gamma = gmax > 0 ? 0.1 / gmax : 1.0;  // first step: at most 0.1 of the unit box
      }
      for (size_t i = 0; i < n; ++i) q[i] *= gamma;
      for (size_t k = 0; k < mem.size(); ++k) {
        const double beta = dot(mem[k].second, q) / dot(mem[k].second, mem[k].first);
        for (size_t i = 0; i < n; ++i) q[i] += (alpha[k] - beta) * mem[k].first[i];
      }
      if (dot(q, g) <= 0) {  // not an ascent direction: restart from the gradient
        mem.clear();
        double gmax = 0.0;
        for (double v : g) gmax = std::max(gmax, std::abs(v));
        if (gmax == 0) break;
        for (size_t i = 0; i < n; ++i) q[i] = g[i] * 0.1 / gmax;
      }
      // Armijo search along the projection arc.
      double step = 1.0, f_new = kNegInf;
      std::vector<double> z_new, g_new;
      bool accepted = false;
      for (int ls = 0; ls < 30; ++ls, step *= 0.5) {
        std::vector<double> t(n);
        for (size_t i = 0; i < n; ++i) t[i] = z[i] + step * q[i];
        z_new = project(r_, lo, hi, t);
        double gain = 0.0, moved = 0.0;
        for (size_t i = 0; i < n; ++i) {
          gain += g[i] * (z_new[i] - z[i]);
          moved = std::max(moved, std::abs(z_new[i] - z[i]));
        }
        if (moved < 1e-12) break;
        auto trial = raw.clone();
        set_z(trial, z_new);
        f_new = value_and_grad(trial, z_new, g_new);
        if (std::isfinite(f_new) && f_new >= f + 1e-4 * gain) {
          accepted = true;
          break;
        }
      }
      if (!accepted) {
        // A stale curvature model near the constraints: retry once along
        // the projected gradient before giving up.
        if (mem.empty()) break;
        mem.clear();
        continue;
      }
      std::vector<double> s(n), y(n);
      double moved = 0.0;
      for (size_t i = 0; i < n; ++i) {
        s[i] = z_new[i] - z[i];
        y[i] = g[i] - g_new[i];  // gradient difference of -f
        moved = std::max(moved, std::abs(s[i]));
      }
      const bool small = std::abs(f_new - f) <= 1e-12 * (1.0 + std::abs(f)) || moved < 1e-10;
      if (dot(s, y) > 1e-12 * std::sqrt(dot(s, s) * dot(y, y))) {
        mem.emplace_back(s, y);
        if (static_cast<int64_t>(mem.size()) > cfg.history) mem.pop_front();
      }
      z = z_new;
      g = g_new;
      f = f_new;
      set_z(raw, z);
      if (small) break;
    }
  }

  /// Integers rounded, compositions on a grid snapped to it, and the other
  /// relaxed values re-projected with them fixed. False if no feasible
  /// point remains.
  bool round_and_repair(torch::Tensor& raw) {
    auto lo = lo_, hi = hi_;
    auto z = z_of(raw);
    for (size_t i = 0; i < r_.vars.size(); ++i) {
      const auto& v = r_.vars[i];
      if (!v.integer || v.width == 0) continue;
      const double x = std::min(std::max(std::round(v.low + v.width * z[i]), v.low), v.low + v.width);
      lo[i] = hi[i] = z[i] = (x - v.low) / v.width;
    }
    z = project(r_, lo, hi, z);
    set_z(raw, z);
    const bool on_grid = snap_grids(raw);
    for (size_t i = 0; i < r_.vars.size(); ++i)  // integers exactly integral
      if (r_.vars[i].integer) raw.data_ptr<double>()[r_.vars[i].raw_pos] = std::round(raw.data_ptr<double>()[r_.vars[i].raw_pos]);
    return on_grid && space_.violation(raw.data_ptr<double>()).empty();
  }

  /// Compositions with a grid step: largest-remainder rounding to the grid
  /// within the element bounds. False when some composition could not be
  /// put on its grid feasibly (it is left as it was).
  bool snap_grids(torch::Tensor& raw) {
    bool ok = true;
    const auto& params = space_.parameters();
    double* p = raw.data_ptr<double>();
    for (size_t i = 0; i < params.size(); ++i) {
      const auto& par = params[i];
      if (par.type != ParameterType::Composition || par.step <= 0) continue;
      const int64_t off = space_.raw_offset(i), k = static_cast<int64_t>(par.elements.size());
      const int64_t units = std::llround(1.0 / par.step);
      std::vector<int64_t> u(k);
      std::vector<std::pair<double, int64_t>> rem;
      int64_t used = 0;
      for (int64_t e = 0; e < k; ++e) {
        const double x = p[off + e] / par.step;
        u[e] = static_cast<int64_t>(std::floor(x + 1e-12));
        used += u[e];
        rem.emplace_back(x - u[e], e);
      }
      std::sort(rem.begin(), rem.end(), [](auto& a, auto& b) { return a.first > b.first; });
      for (size_t j = 0; j < rem.size() && used < units; ++j) {
        const int64_t e = rem[j].second;
        if ((u[e] + 1) * par.step <= par.element_high[e] + 1e-12) {
          ++u[e];
          ++used;
        }
      }
      if (used != units) {
        ok = false;
        continue;
      }
      std::vector<double> old(p + off, p + off + k);
      for (int64_t e = 0; e < k; ++e) p[off + e] = static_cast<double>(u[e]) * par.step;
      if (!space_.violation(p).empty()) {
        std::copy(old.begin(), old.end(), p + off);
        ok = false;
      }
    }
    return ok;
  }

  /// Exhaustive coordinate search over discrete parameters and integer +-1
  /// steps; true if anything changed.
  bool discrete_search(torch::Tensor& raw, double& best) {
    bool changed = false;
    const auto& params = space_.parameters();
    for (int sweep = 0; sweep < 3; ++sweep) {
      bool improved = false;
      std::vector<torch::Tensor> trials;
      auto consider = [&](const std::vector<torch::Tensor>& cands) {
        std::vector<torch::Tensor> ok;
        for (const auto& c : cands)
          if (space_.violation(c.data_ptr<double>()).empty()) ok.push_back(c);
        if (ok.empty()) return;
        auto v = value(torch::stack(ok));
        const int64_t k = v.argmax().item<int64_t>();
        if (v[k].item<double>() > best + 1e-12 * (1.0 + std::abs(best))) {
          best = v[k].item<double>();
          raw = ok[k].clone();
          improved = changed = true;
        }
      };
      for (auto i : r_.discrete) {
        const auto& p = params[i];
        const int64_t off = space_.raw_offset(i);
        std::vector<torch::Tensor> cands;
        for (size_t c = 0; c < p.choices.size(); ++c) {
          if (static_cast<double>(c) == raw.data_ptr<double>()[off]) continue;
          auto t = raw.clone();
          t.data_ptr<double>()[off] = static_cast<double>(c);
          cands.push_back(t);
        }
        consider(cands);
      }
      for (const auto& v : r_.vars) {
        if (!v.integer || v.width == 0) continue;
        std::vector<torch::Tensor> cands;
        for (double step : {-1.0, 1.0}) {
          auto t = raw.clone();
          t.data_ptr<double>()[v.raw_pos] += step;
          cands.push_back(t);
        }
        consider(cands);
      }
      if (!improved) break;
    }
    return changed;
  }

  const std::vector<double>& lo() const { return lo_; }
  const std::vector<double>& hi() const { return hi_; }

 private:
  const DesignSpace& space_;
  const EncodedAcquisition& acq_;
  Relaxation r_;
  std::vector<double> lo_, hi_;
  std::vector<int64_t> cols_;
  int64_t evals_ = 0;
};

/// Feasible starting points: scrambled Sobol points of the space, or, when
/// rejection cannot find enough (an equality constraint on continuous
/// parameters has measure zero in the box), Sobol points of the relaxed
/// box projected onto the feasible set.
torch::Tensor start_points(const DesignSpace& space, Problem& pb, const OptimizeConfig& cfg) {
  try {
    return space.sample(cfg.raw_samples, cfg.seed, /*sobol=*/true, /*max_tries=*/20);
  } catch (const InputError&) {
  }
  auto raw = space.sample_unconstrained(cfg.raw_samples, cfg.seed);
  std::vector<torch::Tensor> ok;
  for (int64_t i = 0; i < raw.size(0); ++i) {
    auto r = raw[i].clone().contiguous();
    pb.set_z(r, project(pb.relaxation(), pb.lo(), pb.hi(), pb.z_of(r)));
    if (space.violation(r.data_ptr<double>()).empty()) ok.push_back(r);
  }
  SOZAI_CHECK(!ok.empty(), "optimize_acquisition: no feasible starting point: neither rejection sampling nor "
              "projection onto the constraints found one (are the constraints contradictory?)");
  return torch::stack(ok);
}

}  // namespace

torch::Tensor project_to_space(const DesignSpace& space, const torch::Tensor& candidate) {
  SOZAI_CHECK(candidate.defined() && candidate.dim() == 1 && candidate.size(0) == space.raw_width(),
              "project_to_space: candidate must be [", space.raw_width(), "]");
  EncodedAcquisition none = [](const torch::Tensor& X) { return X.new_zeros({X.size(0)}); };
  Problem pb(space, none);
  auto raw = candidate.to(torch::kCPU, torch::kFloat64).contiguous().clone();
  pb.set_z(raw, project(pb.relaxation(), pb.lo(), pb.hi(), pb.z_of(raw)));
  return raw;
}

OptimizeResult optimize_acquisition(const DesignSpace& space, const EncodedAcquisition& acquisition,
                                    const OptimizeConfig& cfg) {
  SOZAI_CHECK(cfg.restarts >= 1 && cfg.raw_samples >= 1 && cfg.max_iter >= 0 && cfg.history >= 1 && cfg.rounds >= 1,
              "optimize_acquisition: restarts, raw_samples, history and rounds must be >= 1 and max_iter >= 0");
  SOZAI_CHECK(!space.parameters().empty(), "optimize_acquisition: the design space has no parameters");
  Problem pb(space, acquisition);
  auto raw = start_points(space, pb, cfg);
  auto vals = pb.value(raw);
  auto order = std::get<1>(torch::nan_to_num(vals, kNegInf).sort(0, /*descending=*/true));
  OptimizeResult best;
  best.candidate = raw[order[0].item<int64_t>()].clone();
  best.value = vals[order[0].item<int64_t>()].item<double>();
  const int64_t starts = std::min<int64_t>(cfg.restarts, raw.size(0));
  // Without integers or discrete parameters one continuous search is all.
  bool mixed = !pb.relaxation().discrete.empty();
  for (const auto& v : pb.relaxation().vars) mixed = mixed || v.integer;
  const int64_t rounds = mixed ? cfg.rounds : 1;
  for (int64_t s = 0; s < starts; ++s) {
    auto x = raw[order[s].item<int64_t>()].clone().contiguous();
    double fx = vals[order[s].item<int64_t>()].item<double>();
    for (int64_t round = 0; round < rounds; ++round) {
      auto trial = x.clone();
      pb.ascend(trial, pb.lo(), pb.hi(), cfg);
      if (pb.round_and_repair(trial)) {
        const double ft = pb.value(trial.unsqueeze(0))[0].item<double>();
        if (ft >= fx) {
          x = trial;
          fx = ft;
        }
      }
      if (!pb.discrete_search(x, fx) && round > 0) break;
    }
    if (space.violation(x.data_ptr<double>()).empty() && fx > best.value) {
      best.candidate = x;
      best.value = fx;
    }
  }
  best.evaluations = pb.evaluations();
  return best;
}

}  // namespace sozai
