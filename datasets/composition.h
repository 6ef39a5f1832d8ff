#pragma once
/// Chemical compositions: formula parsing, Magpie-style element-property
/// statistics and composition graphs (elements as nodes, weighted by their
/// fractions, fully connected) for composition networks.

#include "datasets/elements.h"
#include "datasets/graph.h"

#include <torch/types.h>

#include <array>
#include <string>
#include <vector>

namespace sozai {

/// A parsed formula: distinct elements in order of first appearance, their
/// summed amounts as written (after bracket multipliers), and the fractions
/// amount / total, which sum to 1. Elements whose total amount is 0 (e.g.
/// "Fe0Ni1") are dropped, as pymatgen does; unlike pymatgen, which also
/// drops amounts below 1e-8 (Composition.amount_tolerance), every positive
/// amount is kept, however small.
struct Composition {
  std::string formula;               ///< the input text
  std::vector<int> atomic_numbers;   ///< [k] Z of each element
  std::vector<double> amounts;       ///< [k] raw amounts (e.g. Ca(OH)2 -> Ca 1, O 2, H 2)
  std::vector<double> fractions;     ///< [k] amounts / total, sum 1
  double total = 0;                  ///< sum of amounts, > 0

  std::size_t size() const { return atomic_numbers.size(); }
  /// Symbol of element i (order of first appearance).
  const char* symbol(std::size_t i) const { return element(atomic_numbers[i]).symbol; }
  /// Fraction of element Z, 0 when absent.
  double fraction_of(int Z) const;
};

/// Parses a chemical formula as written in real datasets:
/// - element symbols (case-sensitive) each followed by an optional amount;
///   no amount means 1. Amounts are decimal numbers, optionally with a
///   leading point (".5") and an exponent ("1e-3", "2.5E+1"): "K12O16V4",
///   "Fe0.620C0.000953Mn0.000521", "Ag0.5Ge1Pb1.75S4";
/// - whitespace between any two tokens: "Al0.25 Co1 Fe1 Ni1";
/// - groups in round or square brackets, nested, each with an optional
///   multiplier: "(Ba0.5Sr0.5)TiO3", "Ca(OH)2", "K4[Fe(CN)6]";
///   the closing bracket must match the opening one;
/// - hydrates and adducts joined by a middle dot "·" (U+00B7), bullet "•"
///   (U+2022) or dot operator "⋅" (U+22C5), each part with an optional
///   leading multiplier: "CuSO4·5H2O" = CuSO4 + 5 H2O.
///   An ASCII '.' is ALWAYS part of a number (a decimal point), never a
///   hydrate dot: "CuSO4.5H2O" reads as O4.5, because the steel and alloy
///   data write "Fe0.620" and pymatgen reads it the same way. A '.' that is
///   not followed by a digit is an error.
/// Repeated elements are summed ("FeOFe" -> Fe 2, O 1).
///
/// Errors (InputError; the message quotes the formula and gives the 1-based
/// character position): empty or blank input, unknown element symbol,
/// unbalanced or mismatched brackets, an empty group "()", a malformed
/// number, a negative sign, any other character, and a total amount that
/// is zero (no element with a positive amount).
Composition parse_formula(const std::string& formula);

/// Parses many formulas; an error names the 0-based index of the formula in
/// `formulas` as well as the formula and position.
std::vector<Composition> parse_formulas(const std::vector<std::string>& formulas);

// --- Element-property statistics (Magpie) ---------------------------------

/// Statistics per property, in this order: fraction-weighted mean,
/// average absolute deviation from that mean (Magpie's "avg_dev",
/// sum_i f_i |p_i - mean|), minimum, maximum and range (max - min) over the
/// elements present.
constexpr int kNumCompositionStats = 5;
/// 22 properties x 5 statistics.
constexpr int kNumCompositionFeatures = kNumElementProperties * kNumCompositionStats;

/// Names of the 110 features, property-major: feature 5*p + s is statistic
/// s of property p, named "<stat>_<property>" with stat in mean, avg_dev,
/// min, max, range, e.g. "mean_Number", "avg_dev_Number", ...,
/// "range_SpaceGroupNumber".
const std::vector<std::string>& composition_feature_names();

/// The 110 features of one composition, in double precision.
/// Missing properties (NaN in the element table; in practice only elements
/// Cf..Lr, which magpie.csv lacks): statistics of a property use only the
/// elements that have it, with their fractions renormalised to sum 1 among
/// them; if no element of the composition has the property, its five
/// statistics are NaN.
std::vector<double> composition_feature_values(const Composition& c);

/// Features of many compositions: [n, 110] float32 (CPU). Compositions
/// filled in by hand are checked first (sizes, Z in 1..103, finite
/// fractions >= 0), as in every function below that takes one.
torch::Tensor composition_features(const std::vector<Composition>& compositions);
/// Parses (parse_formulas) and featurises: [n, 110] float32 (CPU).
torch::Tensor composition_features(const std::vector<std::string>& formulas);

// --- Composition graph ------------------------------------------------------

/// Per-property mean and standard deviation over the elements that have the
/// property in the table (population std, ddof 0; the 97 elements of
/// magpie.csv). Used to standardise node features; fixed, so a graph's
/// features never depend on the other graphs of a dataset.
const std::array<double, kNumElementProperties>& element_property_means();
const std::array<double, kNumElementProperties>& element_property_stds();

/// Composition as a graph, kind "composition":
/// - nodes: the k elements in order of first appearance;
///   x [k, 22] float32 = (property - element_property_means()) /
///   element_property_stds(), with a missing property set to 0 (the mean);
/// - atomic_number [k] int64; node_weight [k] float32 = fractions;
/// - edges: every ordered pair (i, j), i != j, so k (k - 1) directed edges,
///   both directions stored; a single element gives 0 edges;
///   edge_index [2, k(k-1)] int64 in row-major order of (i, j);
///   edge_attr [E, 2] float32 = (fraction of source, fraction of target).
MaterialGraph composition_graph(const Composition& c);

// --- Element tables ----------------------------------------------------------

/// A per-element embedding read from a CSV whose first column holds element
/// symbols and whose other columns are numbers (mat2vec.csv, magpie.csv):
/// [kNumElements + 1, D] float32 with row Z for element Z; row 0 and the
/// rows of elements the file lacks are 0. Symbols past Lr (Z > 103, which
/// sozai's formulas cannot contain) are skipped. InputError naming the
/// file, line and column for an unknown symbol, a repeated element or a
/// cell that is not a finite number; StorageError when it cannot be read.
torch::Tensor read_element_table(const std::string& path);

/// The Magpie properties of composition_graph's node features as a table
/// [kNumElements + 1, 22] float32 (standardised; missing values 0).
torch::Tensor magpie_element_table();

// --- Critical elements ------------------------------------------------------

/// Sum of the fractions of the elements whose supply_risk is nonzero, i.e.
/// that are on the USGS 2022 or the EU 2023 list (elements.h). In [0, 1].
double critical_fraction(const Composition& c);

}  // namespace sozai
