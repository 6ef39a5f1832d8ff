#pragma once
/// Design spaces: the parameters of what can be made (continuous, integer,
/// categorical, a composition simplex over chosen elements, a library of
/// molecules or structures), the constraints on them (linear equalities and
/// inequalities, forbidden elements, a cap on critical elements), candidate
/// generation (lazy enumeration of finite spaces in chunks, uniform and
/// Sobol sampling) and the encoding of candidates to the tensor a surrogate
/// takes.
///
/// A candidate is a vector of doubles, one block per parameter: a value for
/// continuous and integer parameters, a choice index for categorical,
/// molecule and structure parameters, and one fraction per element for a
/// composition. `DesignSpace::raw_width()` is its length.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>
#include <torch/types.h>

namespace sozai {

enum class ParameterType : int32_t { Continuous = 0, Integer = 1, Categorical = 2, Composition = 3, Molecule = 4, Structure = 5 };

std::string to_string(ParameterType type);

/// One parameter. Fields that do not apply to its type stay empty.
struct Parameter {
  std::string name;
  ParameterType type = ParameterType::Continuous;
  double low = 0.0, high = 1.0;        ///< continuous, integer: bounds (inclusive)
  bool log_scale = false;              ///< continuous, integer: sampled and encoded in log space
  int64_t levels = 0;                  ///< continuous: grid points when enumerated (0: not enumerable)
  std::vector<std::string> choices;    ///< categorical: labels; molecule: SMILES; structure: CIF/POSCAR texts
  torch::Tensor descriptors;           ///< categorical/molecule/structure: [choices, k] encoding rows (else one-hot)
  std::vector<std::string> elements;   ///< composition: element symbols
  std::vector<double> element_low;     ///< composition: per-element lower bounds on the fraction
  std::vector<double> element_high;    ///< composition: per-element upper bounds
  double step = 0.0;                   ///< composition: grid step (0: continuous simplex, not enumerable)

  /// Values this parameter takes in a candidate (1, or the number of elements).
  int64_t raw_width() const;
  /// Columns of its encoding.
  int64_t encoded_width() const;
  /// Number of distinct values on its grid (0 if it has none).
  uint64_t cardinality() const;
};

/// sum_i coefficient_i * value_i  (<= or ==)  rhs, over named terms: a
/// continuous or integer parameter's name, or "composition.Element" for an
/// element's fraction.
struct LinearConstraint {
  std::vector<std::pair<std::string, double>> terms;
  double rhs = 0.0;
  bool equality = false;
  double tolerance = 1e-9;  ///< slack allowed for equalities and inequalities
};

/// A chunk of candidates: raw values [n, raw_width] (float64) and, for an
/// enumeration, the position of each in the full grid.
struct CandidateChunk {
  torch::Tensor values;
  torch::Tensor grid_index;  ///< [n] int64, undefined for samples
  uint64_t next = 0;         ///< grid position the next chunk starts at
  bool done = false;         ///< no grid positions are left
};

class DesignSpace {
 public:
  DesignSpace& add_continuous(const std::string& name, double low, double high, bool log_scale = false,
                              int64_t levels = 0);
  DesignSpace& add_integer(const std::string& name, int64_t low, int64_t high, bool log_scale = false);
  /// descriptors: optional [choices, k] rows used as the encoding (one-hot otherwise).
  DesignSpace& add_categorical(const std::string& name, const std::vector<std::string>& choices,
                               const torch::Tensor& descriptors = {});
  /// Fractions of `elements` that sum to 1, each within [low, high]; on a grid
  /// of `step` (e.g. 0.05) when step > 0.
  DesignSpace& add_composition(const std::string& name, const std::vector<std::string>& elements,
                               const std::vector<double>& low = {}, const std::vector<double>& high = {},
                               double step = 0.0);
  DesignSpace& add_molecules(const std::string& name, const std::vector<std::string>& smiles,
                             const torch::Tensor& descriptors = {});
  DesignSpace& add_structures(const std::string& name, const std::vector<std::string>& texts,
                              const torch::Tensor& descriptors = {});

  DesignSpace& add_linear_constraint(const LinearConstraint& c);
  /// Elements that must not appear (fraction 0) in any composition.
  DesignSpace& forbid_elements(const std::vector<std::string>& symbols);
  /// Caps the supply-risk-weighted fraction of critical elements,
  /// sum_e risk(e) * x_e <= max_fraction, summed over every composition
  /// parameter. `risk` overrides the built-in scores (symbol -> score in
  /// [0, 1]); empty = the element table's supply_risk.
  DesignSpace& set_critical_budget(double max_fraction, const std::map<std::string, double>& risk = {});

  const std::vector<Parameter>& parameters() const { return params_; }
  const Parameter& parameter(const std::string& name) const;
  const std::vector<LinearConstraint>& constraints() const { return constraints_; }
  /// Elements no composition may contain.
  const std::vector<std::string>& forbidden_elements() const { return forbidden_; }
  /// The critical-element budget (set_critical_budget), or -1 when none is set.
  double critical_budget() const { return critical_cap_; }
  /// Supply-risk score the budget weighs `symbol` by.
  double critical_risk(const std::string& symbol) const;
  /// Offset of parameter `index` in a raw candidate.
  int64_t raw_offset(size_t index) const { return offset(index); }
  int64_t raw_width() const;
  int64_t encoded_width() const;
  /// Column names of the encoding ("temperature", "route=cast", "alloy.Co"...).
  std::vector<std::string> encoded_names() const;

  /// Why a raw candidate [raw_width] is infeasible, or "" if it is feasible.
  std::string violation(const double* candidate) const;
  /// [n] bool feasibility of raw candidates [n, raw_width].
  torch::Tensor feasible(const torch::Tensor& candidates) const;
  /// Supply-risk-weighted critical fraction of each raw candidate [n]: the
  /// quantity the budget caps, usable as an objective to minimise.
  torch::Tensor critical_fraction(const torch::Tensor& candidates) const;

  /// Number of points of the full grid before constraints (product of the
  /// parameters' cardinalities); 0 if some parameter has no grid. Saturates
  /// at UINT64_MAX.
  uint64_t grid_size() const;
  /// Raw candidate at grid position `index` (mixed radix, last parameter
  /// fastest; compositions unranked in lexicographic order).
  std::vector<double> grid_point(uint64_t index) const;
  /// The next feasible grid points from position `start`: examines at most
  /// `max_examined` positions and returns at most `chunk` candidates, so a
  /// grid of 10^9 points is streamed in bounded memory.
  CandidateChunk enumerate(uint64_t start, int64_t chunk, uint64_t max_examined = 0) const;

  /// n feasible candidates drawn uniformly (rejection from the box, the
  /// simplex or the grid); Sobol: scrambled Sobol points in the unit cube
  /// mapped the same way. InputError if fewer than n feasible points were
  /// found in max_tries * n attempts.
  torch::Tensor sample(int64_t n, uint64_t seed, bool sobol = false, int64_t max_tries = 100) const;
  /// n scrambled Sobol points that respect bounds, simplexes and grids but
  /// not the linear constraints, forbidden elements or critical budget:
  /// starting points to project onto those when rejection cannot find
  /// feasible ones (an equality constraint has measure zero in the box).
  torch::Tensor sample_unconstrained(int64_t n, uint64_t seed) const;

  /// [n, encoded_width] float64: continuous and integer scaled to [0, 1]
  /// (log space where set), categorical one-hot or descriptor rows,
  /// compositions as fractions.
  torch::Tensor encode(const torch::Tensor& candidates) const;
  /// [2, encoded_width] float64: the least and greatest value each encoded
  /// column takes (0 and 1, or a descriptor column's range); the input
  /// bounds a surrogate normalises by.
  torch::Tensor encoded_bounds() const;
  /// A human-readable candidate: name -> value text.
  std::map<std::string, std::string> describe(const double* candidate) const;

 private:
  void check_new_name(const std::string& name) const;
  DesignSpace& add_choice(const std::string& name, ParameterType type, const std::vector<std::string>& values,
                          const torch::Tensor& descriptors);
  int64_t offset(size_t param) const;
  double term_value(const double* candidate, const std::string& term) const;
  void map_unit(const double* u, double* out) const;

  std::vector<Parameter> params_;
  std::vector<LinearConstraint> constraints_;
  std::vector<std::string> forbidden_;
  double critical_cap_ = -1.0;  ///< < 0: no budget
  std::map<std::string, double> critical_risk_;
};

}  // namespace sozai
