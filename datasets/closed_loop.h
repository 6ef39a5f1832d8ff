#pragma once
/// Readers for closed-loop experiment datasets used as campaign pools:
/// PV-Lab/Benchmarking CSVs and Olympus data.csv + config.json.

#include <torch/types.h>

#include <string>
#include <vector>

namespace sozai {

/// One pool of real experiments after averaging repeated inputs.
struct ClosedLoopDataset {
  std::string name;                          ///< registry name or file stem
  std::vector<std::string> input_names;      ///< names of the columns of X (after encoding)
  std::vector<std::string> objective_names;  ///< names of the columns of Y
  std::vector<bool> maximize;                ///< direction of each objective
  torch::Tensor X;                           ///< [n, d] float64, encoded inputs, unique rows
  torch::Tensor Y;                           ///< [n, m] float64, mean over repeats
  torch::Tensor counts;                      ///< [n] int64, how many raw rows were averaged
  int64_t raw_rows = 0;                      ///< rows in the file before averaging
};

/// Reads a PV-Lab benchmarking CSV: header row, inputs in all but the last
/// column, objective in the last. Repeated inputs are averaged.
ClosedLoopDataset read_pvlab_csv(const std::string& path, bool maximize,
                                 const std::string& name = "");

/// Reads an Olympus dataset folder (data.csv without header + config.json).
/// continuous/discrete parameters become one column each; categorical ones
/// are one-hot encoded ("name=option") unless every option has a numeric
/// descriptor vector, in which case the descriptors are used. Ordinal
/// measurements become their option index (0 = first option). Directions
/// come from config.json's "default_goal". Repeated inputs are averaged.
ClosedLoopDataset read_olympus_dir(const std::string& dir, const std::string& name = "");

/// Loads a registered closed-loop dataset by registry name (see registry.h).
ClosedLoopDataset load_closed_loop(const std::string& name);

/// Averages rows of Y whose X rows are identical; returns the dataset with
/// unique X (in order of first appearance) and counts.
ClosedLoopDataset average_repeats(const ClosedLoopDataset& raw);

}  // namespace sozai
