#pragma once
/// A candidate pool from a user's CSV: numeric input columns and, optionally,
/// a target column whose filled cells are results already measured.

#include <torch/types.h>

#include <string>
#include <vector>

namespace sozai {

struct PoolTable {
  std::vector<std::string> input_names;
  torch::Tensor X;                      ///< [N, d] float64
  std::vector<int64_t> measured_rows;   ///< rows whose target cell is filled
  std::vector<double> measured_values;
};

/// Reads a CSV with a header row. Every column but `target_column` (may be
/// empty: no target) is a numeric input; an empty or non-numeric input cell
/// is an InputError naming file, row and column; an empty target cell means
/// "not measured yet"; an unknown target column lists the header.
PoolTable read_pool_csv(const std::string& path, const std::string& target_column = "");

}  // namespace sozai
